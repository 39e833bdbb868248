#pragma once

#include "actors/actors.hpp"
#include "actors/context.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace volant {

struct deployment_actor_state {
  daemon_context* ctx = nullptr;
  std::string name;
  controller_actor controller;
  std::map<std::string, vm_actor> vms; ///< live VM actors by VM name
  /// Work for VM actors being spawned (waiting for their launch info).
  std::map<std::string, std::vector<std::function<void(const vm_actor&)>>> spawning;
  std::map<std::string, std::uint32_t> crashes;
  std::map<std::string, crash_history> recent; ///< for back-off and escalation
  bool reconciling = false;
  bool dirty = false;  ///< a change arrived during a round: run another
  std::uint64_t rounds = 0;
  std::string blocked; ///< the last plan's reason for not progressing
  /// What a VM recreated for a failure hands to its successor (restarts,
  /// back-off, reason), by VM name, from the recreate until the create.
  std::map<std::string, create_vm> carried;
  static inline const char* name_ = "deployment";
};

/// Runs the reconcile loop of deployment `name` (on every change and on a timer)
/// and parents its VM actors.
deployment_actor::behavior_type
deployment(deployment_actor::stateful_pointer<deployment_actor_state> self,
           daemon_context* ctx, std::string name, controller_actor controller);

} // namespace volant
