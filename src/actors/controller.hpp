#pragma once

#include "actors/actors.hpp"
#include "actors/context.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <map>
#include <string>

namespace volant {

struct controller_state {
  daemon_context* ctx = nullptr;
  world w;                      ///< committed events + decided ones awaiting commit
  std::uint64_t in_flight = 0;  ///< appends not yet committed
  std::uint64_t snapshot_seq = 0;
  std::map<std::string, deployment_actor> deployments;
  std::map<std::string, std::uint32_t> crashes; ///< deployment actor -> count
  std::map<std::string, crash_history> recent;  ///< for back-off and escalation
  static inline const char* name = "controller";
};

/// Holds the folded state, decides every command (so admission, IP allocation and
/// names are decided in one place, in order), and parents the deployment actors.
/// `initial` is the state loaded from the log at start.
controller_actor::behavior_type
controller(controller_actor::stateful_pointer<controller_state> self,
           daemon_context* ctx, world initial);

} // namespace volant
