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

bool is_one_of(vm_status s, std::initializer_list<vm_status> set) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

/// The reason a VM is restarted or recreated: its last error, else its status.
std::string reason_of(const vm_record& vm) {
  return vm.last_error.empty() ? std::string(to_string(vm.status))
                               : vm.last_error;
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

/// "5 s", "1.5 s".
std::string seconds_text(std::uint64_t ms) {
  auto text = std::to_string(ms / 1000);
  if (auto tenths = ms % 1000 / 100; tenths != 0)
    text += "." + std::to_string(tenths);
  return text + " s";
}

/// One reconcile pass over one live deployment.
struct planner {
  const deployment_state& d;
  const restart_policy& policy;
  unix_nanos now;
  admission capacity;
  plan out;
  /// Recreates of ready VMs still allowed by a rolling update in this plan.
  std::int64_t rolling_budget = std::numeric_limits<std::int64_t>::max();

  void create(std::uint32_t index) {
    if (!out.blocked.empty())
      return; // creates are admitted in index order: stop at the first misfit
    out.blocked = capacity.take(d.spec.tmpl.memory_mib);
    if (out.blocked.empty())
      out.actions.emplace_back(create_vm_action{d.spec.name, index});
  }

  /// Paused deployment: freeze what runs. A starting VM is left to settle
  /// first; pending, stopped and failed ones stay as they are.
  void pause(const vm_record& vm) {
    if (is_one_of(vm.status,
                  {vm_status::running, vm_status::ready, vm_status::unhealthy}))
      out.actions.emplace_back(pause_vm_action{vm.name});
  }

  /// A VM from an older revision. Recreate strategy: all at once. Rolling: VMs
  /// that are not ready cost no availability and go at once; ready ones go
  /// while the budget of max_unavailable lasts. (max_surge has no use while
  /// replicas keep fixed names: a replica is replaced in place.)
  void outdated(const vm_record& vm) {
    if (is_one_of(vm.status, {vm_status::starting, vm_status::stopping,
                              vm_status::restarting}))
      return; // an actor owns it right now; the next pass sees it settled
    if (d.spec.strategy.kind == strategy_kind::rolling
        && vm.status == vm_status::ready) {
      if (rolling_budget < 1)
        return;
      --rolling_budget;
    }
    out.actions.emplace_back(
        recreate_vm_action{vm.name, "revision " + std::to_string(vm.revision)
                                        + " -> " + std::to_string(d.revision)});
  }

  static bool ready_since_start(const vm_record& vm) {
    return vm.ready_at != 0 && vm.ready_at >= vm.started_at;
  }

  /// Restarted in place, and not ready since that start: a restart in place
  /// did not help, so the next remedy is a fresh VM.
  static bool failed_since_restart(const vm_record& vm) {
    return vm.restarts > 0 && !ready_since_start(vm);
  }

  /// A VM resumed after a pause is `running` again but was ready since its
  /// start: the deadline does not apply to it.
  bool past_ready_deadline(const vm_record& vm) const {
    auto deadline = static_cast<unix_nanos>(policy.ready_deadline_ms) * 1'000'000;
    return vm.restarts > 0 && now != 0 && vm.started_at != 0
           && !ready_since_start(vm) && now - vm.started_at >= deadline;
  }

  /// A recreated VM waits out the back-off it carried over before its start.
  bool backing_off(const vm_record& vm) const {
    auto until = vm.created_at + static_cast<unix_nanos>(vm.backoff_ms) * 1'000'000;
    return vm.status == vm_status::pending && vm.backoff_ms > 0 && now != 0
           && now < until;
  }

  void recreate_failed(const vm_record& vm, std::string reason) {
    out.actions.emplace_back(recreate_vm_action{
        vm.name, std::move(reason), true, vm.restarts + 1,
        next_backoff_ms(vm, now, policy)});
  }

  void existing(const vm_record& vm) {
    if (d.spec.paused)
      return pause(vm);
    if (vm.status == vm_status::paused) {
      // Thaw first; the other rules (revision, health) apply once it runs.
      out.actions.emplace_back(resume_vm_action{vm.name});
      return;
    }
    if (vm.revision != d.revision)
      return outdated(vm);
    switch (vm.status) {
    case vm_status::pending:
    case vm_status::stopped:
      if (!backing_off(vm))
        out.actions.emplace_back(start_vm_action{vm.name});
      break;
    case vm_status::exited:
    case vm_status::unhealthy:
      if (!d.spec.auto_restart)
        break; // left for inspection
      if (failed_since_restart(vm))
        recreate_failed(vm, reason_of(vm) + " (again after a restart)");
      else
        out.actions.emplace_back(restart_vm_action{
            vm.name, reason_of(vm), next_backoff_ms(vm, now, policy)});
      break;
    case vm_status::failed:
      if (d.spec.auto_restart)
        recreate_failed(vm, reason_of(vm));
      break;
    case vm_status::running:
      if (d.spec.auto_restart && past_ready_deadline(vm))
        recreate_failed(vm, "not ready within " + seconds_text(policy.ready_deadline_ms)
                                + " of its restart");
      break;
    default:
      break; // starting, ready, stopping, restarting: nothing to do (paused
             // was resumed above)
    }
  }
};

/// max_unavailable resolved against `replicas` (percentages round down, as
/// Kubernetes), at least 1 so that a rollout always progresses.
std::int64_t max_unavailable(const update_strategy& s, std::int64_t replicas) {
  const auto& mu = s.max_unavailable;
  auto n = mu.percent ? replicas * mu.value / 100 : std::int64_t{mu.value};
  return std::max<std::int64_t>(n, 1);
}

/// Replicas below `n` that are missing or not ready (of any revision): what a
/// rolling update counts as unavailable already.
std::int64_t unavailable(const std::vector<const vm_record*>& vms,
                         std::int64_t n) {
  auto present
      = std::count_if(vms.begin(), vms.end(),
                      [&](const vm_record* vm) { return vm->index < n; });
  auto not_ready
      = std::count_if(vms.begin(), vms.end(), [&](const vm_record* vm) {
          return vm->index < n && vm->status != vm_status::ready;
        });
  return (n - present) + not_ready;
}

plan remove_all(const world& w, const std::string& deployment) {
  plan out;
  auto vms = vms_of(w, deployment);
  for (auto i = vms.rbegin(); i != vms.rend(); ++i)
    out.actions.emplace_back(remove_vm_action{(*i)->name});
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

plan reconcile(const world& w, const std::string& deployment,
               const restart_policy& policy, unix_nanos now) {
  auto i = w.deployments.find(deployment);
  if (i == w.deployments.end())
    return remove_all(w, deployment);
  const auto& d = i->second;
  auto n = static_cast<std::uint32_t>(std::max(d.spec.replicas, 0));
  planner p{d, policy, now, admission{w}, {}};
  for (auto& victim : scale_down_victims(w, deployment, n))
    p.out.actions.emplace_back(remove_vm_action{std::move(victim)});
  auto vms = vms_of(w, deployment);
  if (d.spec.strategy.kind == strategy_kind::rolling)
    p.rolling_budget
        = max_unavailable(d.spec.strategy, n) - unavailable(vms, n);
  auto next = vms.begin();
  for (std::uint32_t index = 0; index < n; ++index) {
    if (next != vms.end() && (*next)->index == index)
      p.existing(**next++);
    else if (!d.spec.paused)
      p.create(index);
  }
  return p.out;
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
  auto vms = vms_of(w, deployment);
  for (auto i = vms.rbegin(); i != vms.rend() && (*i)->index >= keep; ++i)
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
