#pragma once

// The mutating verbs of docs/protocol.md as core commands, and what they reply.

#include "events/commands.hpp"
#include "events/error.hpp"
#include "events/limits.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace volant::wire {

/// Seals one secret env value of `deployment` (volantd's sealer, passed in by
/// the api so that this layer holds no key and no crypto).
using seal_fn = std::function<expected<std::string>(
    const std::string& deployment, const std::string& key, const std::string& value)>;

/// A request as the api received it, its arguments parsed and checked.
struct decoded_request {
  std::string verb;
  /// The arguments: an object in which every argument the verb takes has the
  /// type and range docs/protocol.md gives it (others are ignored), so that
  /// reading them with `value(key, default)` cannot throw.
  nlohmann::json args;
  /// The command of a mutating verb (is_mutation), else empty.
  std::optional<command> cmd;
};

/// Decodes one request of docs/protocol.md as the api does, before anything
/// is promised: check_request (src/wire/request_check.hpp: size, depth, the
/// verb, the kind of every argument) and, for a mutating verb, the command,
/// with secret env sealed by `seal`. Errors name the argument; an unknown verb
/// is an error. Never throws, whatever the bytes (tests/fuzz/request.cpp).
expected<decoded_request> decode_request(const std::string& verb,
                                         std::string_view args_text,
                                         std::size_t max_bytes = default_max_request_bytes,
                                         const seal_fn& seal = {});

/// Whether `verb` changes state and becomes a command from its arguments
/// alone (`deployments.undo` changes state too, but the api composes its
/// command from the journal: events/undo.hpp).
bool is_mutation(const std::string& verb);

/// The command a mutating request asks for; errors name the bad argument.
/// Secret env (`secret_env` of deployments.create and deployments.update, plain
/// values over the authenticated channel) is sealed with `seal` here, so that
/// the command, and every event made from it, carries sealed values only.
expected<command> command_from_request(const std::string& verb, const nlohmann::json& args,
                                       const seal_fn& seal = {});

/// `args` with every secret env value replaced by "***" (for logs).
nlohmann::json redact_request(const nlohmann::json& args);

/// After the command committed: the read verb + args whose answer is the reply
/// (e.g. deployments.show of the created deployment), or "" for a fixed reply.
std::pair<std::string, nlohmann::json> reply_query(const std::string& verb,
                                                   const nlohmann::json& args);

} // namespace volant::wire
