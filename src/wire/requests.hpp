#pragma once

// The mutating verbs of docs/protocol.md as core commands, and what they reply.

#include "events/commands.hpp"
#include "events/error.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace volant::wire {

/// Whether `verb` changes state (and so becomes a command).
bool is_mutation(const std::string& verb);

/// The command a mutating request asks for; errors name the bad argument.
expected<command> command_from_request(const std::string& verb, const nlohmann::json& args);

/// After the command committed: the read verb + args whose answer is the reply
/// (e.g. deployments.show of the created deployment), or "" for a fixed reply.
std::pair<std::string, nlohmann::json> reply_query(const std::string& verb,
                                                   const nlohmann::json& args);

} // namespace volant::wire
