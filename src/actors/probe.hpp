#pragma once

#include "actors/actors.hpp"
#include "actors/context.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>

namespace volant {

struct probe_actor_state {
  daemon_context* ctx = nullptr;
  controller_actor controller;
  std::string vm;
  ipv4 ip = 0;
  driver_handle handle;
  health_check check;
  probe_state probe;
  std::chrono::steady_clock::time_point started;
  bool checking = false;
  std::uint64_t checks = 0;
  static inline const char* name = "probe";
};

/// Checks VM `vm` (at `ip`, workload `handle`) with `check` until told to exit.
probe_actor::behavior_type
probe(probe_actor::stateful_pointer<probe_actor_state> self, daemon_context* ctx,
      controller_actor controller, std::string vm, ipv4 ip, driver_handle handle,
      health_check check);

} // namespace volant
