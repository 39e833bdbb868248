#pragma once

// The mutating verbs of docs/protocol.md as core commands, and what they reply.

#include "events/commands.hpp"
#include "events/error.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>

namespace volant::wire {

/// Seals one secret env value of `deployment` (volantd's sealer, passed in by
/// the api so that this layer holds no key and no crypto).
using seal_fn = std::function<expected<std::string>(
    const std::string& deployment, const std::string& key, const std::string& value)>;

/// Whether `verb` changes state (and so becomes a command).
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
