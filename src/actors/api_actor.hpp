#pragma once

#include "actors/actors.hpp"
#include "actors/context.hpp"

namespace volant {

/// The published control endpoint: checks the token of every request, turns
/// mutating verbs into commands for the controller and answers reads.
api_actor::behavior_type api(api_actor::pointer self, daemon_context* ctx);

} // namespace volant
