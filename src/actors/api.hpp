#pragma once

// The control endpoint's interface, shared by volantd and volar. Only CAF
// built-in types cross the wire (docs/protocol.md).

#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <string>

namespace volant {

using request_atom = caf::atom_constant<caf::atom("request")>;

/// The published control endpoint: every volar command is one request.
using api_actor = caf::typed_actor<
  /// (token, verb, JSON arguments) -> JSON reply, or a volant error.
  caf::replies_to<request_atom, std::string, std::string, std::string>::with<std::string>,
  /// The same with a request id (wire/reply_cache.hpp): a retry of a mutating
  /// request joins the first or gets its answer; it never runs twice.
  caf::replies_to<request_atom, std::string, std::string, std::string,
                  std::string>::with<std::string>>;

/// The documented default port of the control endpoint.
inline constexpr std::uint16_t default_port = 7462;

} // namespace volant
