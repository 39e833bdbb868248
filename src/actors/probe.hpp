#pragma once

#include "actors/actors.hpp"
#include "actors/context.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>

namespace volant {

struct probe_actor_state {
  daemon_context* ctx = nullptr;
  vm_actor parent;  ///< its VM actor, told the transitions
  std::string vm;
  std::uint64_t incarnation = 0; ///< the run it checks
  ipv4 ip = 0;
  driver_handle handle;
  /// One lane per check: [0] the health check (restarts), [1] the readiness
  /// check (READY), each with its own state and timer; a disabled one idles.
  struct lane {
    health_check check;
    probe_state probe;
    bool checking = false;
    std::uint64_t checks = 0;
  };
  lane lanes[2];
  std::chrono::steady_clock::time_point started;
  static inline const char* name = "probe";
};

/// Checks run `incarnation` of VM `vm` (at `ip`, workload `handle`) with `check`
/// and, when enabled, `readiness`, until told to exit, and tells `parent` each
/// transition of each (healthy, unhealthy; ready, not ready).
probe_actor::behavior_type
probe(probe_actor::stateful_pointer<probe_actor_state> self, daemon_context* ctx,
      vm_actor parent, std::string vm, std::uint64_t incarnation, ipv4 ip,
      driver_handle handle, health_check check, health_check readiness);

} // namespace volant
