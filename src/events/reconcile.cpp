#include "events/plan.hpp"

#include <algorithm>
#include <limits>
#include <tuple>

namespace volant {

namespace {

std::int64_t pool_size(const host_config& c) {
  return c.pool_last < c.pool_first
             ? 0
             : std::int64_t{c.pool_last} - std::int64_t{c.pool_first} + 1;
}

std::int64_t free_addresses(const host_state& host) {
  const auto& c = host.config;
  auto first = host.leases.lower_bound(c.pool_first);
  auto last = host.leases.upper_bound(c.pool_last);
  return pool_size(c) - std::distance(first, last);
}

/// Simulated host capacity while a plan admits its creates one by one. Only
/// what is recorded counts: removals release capacity once they are carried
/// out.
struct admission {
  bool configured = false;
  std::int64_t memory_free = 0;
  std::int64_t vms = 0;
  std::int64_t max_vms = 0;
  std::int64_t addresses_free = 0;
  std::string pool;

  explicit admission(const world& w)
      : configured(w.host.configured), memory_free(memory_free_mib(w)),
        vms(static_cast<std::int64_t>(w.vms.size())),
        max_vms(w.host.config.max_vms), addresses_free(free_addresses(w.host)),
        pool(to_string_ip(w.host.config.pool_first) + "-"
             + to_string_ip(w.host.config.pool_last)) {}

  /// Why one more VM of `memory_mib` does not fit, or empty after taking it.
  std::string take(std::int64_t memory_mib) {
    if (!configured)
      return "host is not configured";
    if (vms + 1 > max_vms)
      return "host VM limit reached (" + std::to_string(max_vms) + " VMs)";
    if (memory_mib > memory_free)
      return "insufficient memory: need " + std::to_string(memory_mib)
             + " MiB, " + std::to_string(std::max<std::int64_t>(memory_free, 0))
             + " MiB free";
    if (addresses_free < 1)
      return "IP pool exhausted (" + pool + ")";
    vms += 1;
    memory_free -= memory_mib;
    addresses_free -= 1;
    return {};
  }
};

/// max_unavailable resolved against `replicas` (percentages round down, as
/// Kubernetes), at least 1 so that a rollout always progresses.
std::int64_t max_unavailable(const update_strategy& s, std::int64_t replicas) {
  const auto& mu = s.max_unavailable;
  auto n = mu.percent ? replicas * mu.value / 100 : std::int64_t{mu.value};
  return std::max<std::int64_t>(n, 1);
}

/// Wanted replicas that are missing or not ready (of any revision): what a
/// rolling update counts as unavailable already.
std::int64_t unavailable(const deployment_state& d,
                         const std::vector<const vm_record*>& vms) {
  std::int64_t present = 0;
  std::int64_t not_ready = 0;
  for (const auto* vm : vms)
    if (wants_index(d, vm->index)) {
      ++present;
      not_ready += vm->status != vm_status::ready ? 1 : 0;
    }
  return (std::max(d.spec.replicas, 0) - present) + not_ready;
}

/// A deleted deployment's leftovers: every VM goes.
plan remove_all(const world& w, const std::string& deployment) {
  plan out;
  for (const auto* vm : vms_of(w, deployment))
    out.goals[vm->name] = vm_goal{false, false, vm->revision, false, false, false};
  return out;
}

} // namespace

std::uint64_t backoff_ms(std::uint32_t restarts, const restart_policy& policy) {
  if (restarts == 0 || policy.initial_ms == 0)
    return 0;
  auto shift = restarts - 1;
  // initial << shift <= max  <=>  initial <= max >> shift: no overflow
  // possible.
  if (shift >= 64 || policy.initial_ms > (policy.max_ms >> shift))
    return policy.max_ms;
  return policy.initial_ms << shift;
}

std::uint64_t next_backoff_ms(const vm_record& vm, unix_nanos now,
                              const restart_policy& policy) {
  auto stable_ns = static_cast<unix_nanos>(policy.reset_after_ms) * 1'000'000;
  bool stable = now != 0 && vm.started_at != 0 && now - vm.started_at >= stable_ns;
  if (vm.restarts == 0 || stable)
    return 0;
  if (vm.backoff_ms == 0)
    return std::min(policy.initial_ms, policy.max_ms);
  return vm.backoff_ms > policy.max_ms / 2 ? policy.max_ms : vm.backoff_ms * 2;
}

plan reconcile(const world& w, const std::string& deployment) {
  auto i = w.deployments.find(deployment);
  if (i == w.deployments.end())
    return remove_all(w, deployment);
  const auto& d = i->second;
  auto n = static_cast<std::uint32_t>(std::max(d.spec.replicas, 0));
  auto vms = vms_of(w, deployment);
  plan out;
  vm_goal base{true, d.spec.paused, d.revision, false, d.spec.auto_restart,
               effective_health_check(w, d).enabled};
  // Recreates of ready VMs still allowed by a rolling update now.
  auto budget = d.spec.strategy.kind == strategy_kind::rolling
                  ? max_unavailable(d.spec.strategy, n) - unavailable(d, vms)
                  : std::numeric_limits<std::int64_t>::max();
  admission capacity{w};
  // Both ascending: walk the wanted indexes and the VMs side by side; a VM
  // at an index that is not wanted (above the count, or a hole) goes.
  auto next = vms.begin();
  auto unwanted = [&](const vm_record& vm) {
    auto goal = base;
    goal.keep = false;
    out.goals[vm.name] = goal;
  };
  for (auto index : wanted_indexes(d)) {
    while (next != vms.end() && (*next)->index < index)
      unwanted(**next++);
    if (next != vms.end() && (*next)->index == index) {
      const auto& vm = **next++;
      auto goal = base;
      goal.recreate = vm.replace_requested;
      goal.outdated = vm.revision != d.revision;
      if (vm.revision != d.revision) {
        // A VM that is not ready costs no availability: it goes at once.
        goal.replace = vm.status != vm_status::ready || budget-- > 0;
      }
      out.goals[vm.name] = goal;
    } else if (!d.spec.paused && out.blocked.empty()) {
      // Creates are admitted in index order: stop at the first misfit.
      out.blocked = capacity.take(d.spec.tmpl.memory_mib);
      if (out.blocked.empty())
        out.create.push_back(index);
    }
  }
  for (; next != vms.end(); ++next)
    unwanted(**next);
  return out;
}

std::vector<std::string> orphans(const world& w) {
  std::vector<const vm_record*> found;
  for (const auto& [name, vm] : w.vms)
    if (!w.deployments.contains(vm.deployment))
      found.push_back(&vm);
  std::sort(found.begin(), found.end(),
            [](const vm_record* a, const vm_record* b) {
              return std::tie(a->deployment, b->index)
                     < std::tie(b->deployment, a->index);
            });
  std::vector<std::string> out;
  out.reserve(found.size());
  for (const auto* vm : found)
    out.push_back(vm->name);
  return out;
}

std::vector<std::string> scale_down_victims(const world& w,
                                            const std::string& deployment,
                                            std::uint32_t keep) {
  std::vector<std::string> out;
  auto d = w.deployments.find(deployment);
  if (d == w.deployments.end())
    return out;
  auto kept = d->second;
  kept.spec.replicas = static_cast<std::int32_t>(keep);
  auto vms = vms_of(w, deployment);
  for (auto i = vms.rbegin(); i != vms.rend(); ++i)
    if (!wants_index(kept, (*i)->index))
      out.push_back((*i)->name);
  return out;
}

expected<ipv4> allocate_ip(const host_state& host) {
  if (!host.configured)
    return make_error(ec::invalid_host_config, "host is not configured");
  const auto& c = host.config;
  // Leases are ordered by address: walk them from the pool's start and take the
  // first gap. 64-bit so that a pool ending at 255.255.255.255 cannot wrap.
  std::uint64_t candidate = c.pool_first;
  for (auto i = host.leases.lower_bound(c.pool_first);
       i != host.leases.end() && i->first == candidate; ++i)
    ++candidate;
  if (candidate > c.pool_last)
    return make_error(ec::ip_pool_exhausted,
                      "IP pool exhausted: all " + std::to_string(pool_size(c))
                          + " addresses of " + to_string_ip(c.pool_first) + "-"
                          + to_string_ip(c.pool_last) + " are in use");
  return static_cast<ipv4>(candidate);
}

health_check effective_health_check(const world& w, const deployment_state& d) {
  if (d.spec.tmpl.health)
    return *d.spec.tmpl.health;
  if (const auto* manifest = w.plugins.find(d.spec.tmpl.plugin))
    return manifest->health;
  return health_check{};
}

} // namespace volant
