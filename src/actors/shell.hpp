#pragma once

// The read verbs of the remote shell (`volar shell`, docs/protocol.md): `shell.ls`,
// `shell.inspect`, `shell.state`, `shell.explain`, and `events` (with an optional
// long poll for `events --follow`). The api actor checks the token and calls in
// here; nothing here changes state. Work that reads the whole log (state as of an
// earlier seq, explain) runs on a detached helper so that no scheduler thread
// blocks on disk.

#include "actors/api.hpp"
#include "actors/context.hpp"

#include <caf/typed_response_promise.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace volant {

/// Whether `verb` is one of the verbs above.
bool is_shell_verb(const std::string& verb);

/// Answers `verb` (one of the above) through `rp`.
void answer_shell(api_actor::pointer self, daemon_context* ctx, const std::string& verb,
                  const nlohmann::json& args, caf::typed_response_promise<std::string> rp);

} // namespace volant
