#pragma once

// Admission (pure): whether the host takes more VMs, memory and vCPUs, counted
// against what is *committed* (recorded VMs plus the replicas wanted and not
// created yet), and the warning a command gets when it overcommits vCPUs.
// Memory is never overcommitted; vCPUs are by default (a warning), up to
// cores x `--cpu-overcommit` when that is set (issue 14; README "Quick start").

#include "events/error.hpp"
#include "events/state.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace volant {

/// What the host has committed to: recorded VMs plus wanted replicas.
struct committed_usage {
  std::int64_t memory_mib = 0;
  std::int64_t cpu = 0;
  std::int64_t vms = 0;
};

committed_usage committed(const world& w);

/// What the deployments of `quota` hold and want, counted as `committed`
/// (a deleted deployment's VMs no longer count).
committed_usage committed(const world& w, std::string_view quota);

/// What a command asks for on top of what is committed, and the quota it
/// counts against (empty: none).
struct demand {
  std::int64_t cpu = 0;
  std::int64_t memory_mib = 0;
  std::int64_t vms = 0;
  std::string quota{};
};

/// Ok, or why the host cannot take `d` (the VM limit, the pool, memory, the
/// vCPU limit) or its quota cannot (max_vms, max_cpu, max_memory_gb), with
/// the numbers: "quota production: need 4 CPU, 2 of 64 free".
status admit(const world& w, const demand& d);

/// Only the quota part of `admit`.
status admit_quota(const world& w, const demand& d);

/// What the recorded VMs of the deployments in `quota` hold.
committed_usage recorded(const world& w, std::string_view quota);

/// Why `used` plus `d` exceeds `q` ("quota production: need 4 CPU, 2 of 64
/// free"), or empty.
std::string quota_misfit(const quota_spec& q, const committed_usage& used, const demand& d);

/// The vCPUs the host admits (cores x overcommit), or 0 when there is no limit.
std::int64_t cpu_limit(const host_config& c);

/// vCPUs left under the limit by the recorded VMs (the largest number when
/// there is no limit): what one more VM may take, as memory_free_mib.
std::int64_t cpu_free(const world& w);

/// The number of addresses in the pool.
std::int64_t pool_size(const host_config& c);

error insufficient_memory(std::int64_t need, std::int64_t free);
error insufficient_cpu(std::int64_t need, std::int64_t free, const host_config& c);

/// The one-line warning for a command that took committed vCPUs from `before`
/// to `after` on `cores` cores: when it crosses the cores, or grows beyond
/// them; none otherwise.
std::optional<std::string> cpu_overcommit_warning(std::int64_t before, std::int64_t after,
                                                  std::int64_t cores);

/// a + b and a * b for non-negative operands, saturating instead of overflowing.
std::int64_t add_sat(std::int64_t a, std::int64_t b);
std::int64_t mul_sat(std::int64_t a, std::int64_t b);

} // namespace volant
