#pragma once

// The api's `credentials.*` verbs (docs/protocol.md): the CA's certificates as
// the daemon sees them, a client certificate for another machine, revocation
// and rotation. They work on <data-dir>/tls through src/tls; volantd reads the
// files again at every handshake, so a change holds from the next connection.

#include "actors/context.hpp"
#include "events/error.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace volant {

/// Whether `verb` is one of credentials.show|export|revoke|rotate.
bool is_credentials_verb(const std::string& verb);

/// The reply JSON of a credentials verb, or its error.
expected<std::string> answer_credentials(const daemon_context& ctx,
                                         const std::string& verb,
                                         const nlohmann::json& args);

} // namespace volant
