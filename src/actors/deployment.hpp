#pragma once

#include "actors/actors.hpp"
#include "actors/context.hpp"
#include "actors/supervise.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <map>
#include <set>
#include <string>

namespace volant {

struct deployment_actor_state {
  daemon_context* ctx = nullptr;
  std::string name;
  controller_actor controller;
  std::map<std::string, vm_actor> vms; ///< live VM actors by VM name
  std::set<std::string> fetching;      ///< VM records asked of the controller
  deployment_push last;                ///< the latest plan (records dropped)
  std::map<std::string, vm_goal> told; ///< the goal each VM actor has now
  supervision children;                ///< its VM actors' crashes
  std::uint64_t pushes = 0;
  /// VM actors ended on purpose (forget_atom): their exits are expected.
  std::set<caf::actor_addr> forgotten;
  static inline const char* name_ = "deployment";
};

/// Parents the VM actors of deployment `name`: spawns one for every VM the
/// controller's plan names and hands each its goal; restarts crashed ones.
deployment_actor::behavior_type
deployment(deployment_actor::stateful_pointer<deployment_actor_state> self,
           daemon_context* ctx, std::string name, controller_actor controller);

} // namespace volant
