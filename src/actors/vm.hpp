#pragma once

#include "actors/actors.hpp"
#include "actors/context.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <memory>

namespace volant {

/// Where the VM actor is with its workload (the journal has the durable status).
enum class vm_phase : std::uint8_t { idle, starting, running, stopping, paused };

struct vm_actor_state {
  daemon_context* ctx = nullptr;
  controller_actor controller;
  launch_info info;
  vm_phase phase = vm_phase::idle;
  driver_handle handle;
  bool remove_after_stop = false;
  bool restart_after_stop = false;
  bool stop_when_started = false;
  std::uint64_t restart_backoff_ms = 0;
  std::uint64_t stop_generation = 0;
  std::uint32_t starts = 0;
  probe_actor prober;          ///< while running with a health check
  /// The watched pid, shared with the exit functor (which runs after the state is
  /// gone) so that a dying actor ends its watch.
  std::shared_ptr<std::pair<std::int64_t, std::uint64_t>> watched
    = std::make_shared<std::pair<std::int64_t, std::uint64_t>>(0, 0); ///< pid, id
  std::uint32_t probe_crashes = 0;
  crash_history probe_recent;
  static inline const char* name = "vm";
};

/// Drives one replica through the driver: start, stop (graceful, then forced),
/// restart after a back-off, and reports what happened as commands. Spawned with
/// the VM's record, it adopts a workload that still runs or reports it gone.
vm_actor::behavior_type vm_actor_fn(vm_actor::stateful_pointer<vm_actor_state> self,
                                    daemon_context* ctx, launch_info info,
                                    controller_actor controller);

std::string_view to_string(vm_phase phase);

} // namespace volant
