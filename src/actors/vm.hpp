#pragma once

#include "actors/actors.hpp"
#include "actors/context.hpp"
#include "actors/supervise.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <deque>
#include <memory>

namespace volant {

struct vm_actor_state {
  daemon_context* ctx = nullptr;
  controller_actor controller;
  vm_machine machine;              ///< all lifecycle policy lives in here
  launch_template launch;          ///< from the deployment's latest push
  std::deque<vm_input> inputs;     ///< answers of effects, fed in order
  bool stepping = false;
  probe_actor prober;              ///< while a run is probed
  /// The exit watch of the current run, shared with the exit functor (which
  /// runs after the state is gone) so that a dying actor ends its watch.
  struct watch_slot {
    std::int64_t pid = 0;
    std::uint64_t id = 0;
    std::uint64_t run = 0;
  };
  std::shared_ptr<watch_slot> watched = std::make_shared<watch_slot>();
  supervision probes;              ///< its probe's crashes
  std::uint64_t starts = 0;        ///< runs started by this actor
  static inline const char* name = "vm";
};

/// Runs the lifecycle machine of one VM, spawned on its record as decided now.
/// `recovering`: spawned because the daemon (or its controller) came back, so a
/// run found dead is reported as such.
vm_actor::behavior_type vm_actor_fn(vm_actor::stateful_pointer<vm_actor_state> self,
                                    daemon_context* ctx, vm_record record,
                                    controller_actor controller, bool recovering);

} // namespace volant
