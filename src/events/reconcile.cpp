#include "events/plan.hpp"

#include "events/admission.hpp"

#include "events/rollout.hpp"

#include <algorithm>
#include <functional>
#include <limits>
#include <tuple>

namespace volant {

namespace {

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
  std::int64_t cpu_free = 0; ///< under the vCPU limit (none: the largest number)
  std::int64_t vms = 0;
  std::int64_t max_vms = 0;
  std::int64_t addresses_free = 0;
  std::string pool;
  /// The deployment's quota (null: none) and what its VMs hold.
  const quota_spec* quota = nullptr;
  committed_usage quota_used;

  admission(const world& w, const std::string& quota_name)
      : configured(w.host.configured), memory_free(memory_free_mib(w)),
        cpu_free(volant::cpu_free(w)),
        vms(static_cast<std::int64_t>(w.vms.size())),
        max_vms(w.host.config.max_vms), addresses_free(free_addresses(w.host)),
        pool(to_string_ip(w.host.config.pool_first) + "-"
             + to_string_ip(w.host.config.pool_last)) {
    if (auto q = w.quotas.find(quota_name); !quota_name.empty() && q != w.quotas.end()) {
      quota = &q->second;
      quota_used = recorded(w, quota_name);
    }
  }

  /// Why one more VM of `memory_mib` and `cpu` does not fit, or empty after
  /// taking it.
  std::string take(std::int64_t memory_mib, std::int64_t cpu) {
    if (!configured)
      return "host is not configured";
    if (vms + 1 > max_vms)
      return "host VM limit reached (" + std::to_string(max_vms) + " VMs)";
    if (memory_mib > memory_free)
      return "insufficient memory: need " + std::to_string(memory_mib)
             + " MiB, " + std::to_string(std::max<std::int64_t>(memory_free, 0))
             + " MiB free";
    if (cpu > cpu_free)
      return "insufficient CPU: need " + std::to_string(cpu) + " vCPUs, "
             + std::to_string(std::max<std::int64_t>(cpu_free, 0)) + " free under --cpu-overcommit";
    if (addresses_free < 1)
      return "IP pool exhausted (" + pool + ")";
    if (quota != nullptr)
      if (auto why = quota_misfit(*quota, quota_used, {cpu, memory_mib, 1}); !why.empty())
        return why;
    quota_used.vms += 1;
    quota_used.cpu += cpu;
    quota_used.memory_mib += memory_mib;
    vms += 1;
    memory_free -= memory_mib;
    cpu_free -= cpu;
    addresses_free -= 1;
    return {};
  }
};

/// A deleted deployment's leftovers: every VM goes.
plan remove_all(const world& w, const std::string& deployment) {
  plan out;
  for (const auto* vm : vms_of(w, deployment))
    out.goals[vm->name] = vm_goal{false, false, vm->revision, false, false, false};
  return out;
}

/// A VM serves: ready (and, for the rollout, ready long enough).
bool serving(const vm_record& vm) {
  return vm.status == vm_status::ready;
}

/// How long a VM of `deployment` that leaves is given to finish its sessions:
/// the longest drain timeout of the load balancers in front of it (0: none).
std::uint64_t lb_drain_ms(const world& w, const std::string& deployment) {
  std::uint64_t out = 0;
  for (const auto& [name, lb] : w.lbs)
    if (lb.deployment == deployment)
      out = std::max<std::uint64_t>(out, lb.drain_timeout_ms);
  return out;
}

/// Behind a load balancer, a ready VM that leaves (scaled down, replaced,
/// deleted with its deployment) is drained first: terminating (out of the
/// load balancer), stopped at zero sessions or after the drain timeout.
void drain_behind_lbs(plan& out, const world& w, const std::string& deployment) {
  auto drain = lb_drain_ms(w, deployment);
  for (auto& [name, goal] : out.goals) {
    auto vm = w.vms.find(name);
    if (vm == w.vms.end())
      continue;
    if (vm->second.status == vm_status::terminating)
      goal.terminate_at = vm->second.terminate_at;
    bool retiring = !goal.keep || (goal.replace && vm->second.revision != goal.revision);
    if (drain == 0 || !retiring)
      continue;
    if (goal.drain_ms > 0 || serving(vm->second))
      goal.drain_ms = std::max(goal.drain_ms, drain);
    if (goal.retire_reason.empty())
      goal.retire_reason = !goal.keep ? "removed" : "replaced by revision "
                                                        + std::to_string(goal.revision);
  }
}

/// `volar hosts drain` (issue 16): a draining host's replicas move to the
/// other hosts one at a time. The next one leaves like a scaled-down VM
/// (drained out of its load balancers first, then stopped and removed), and
/// its slot is created again where placement puts it. One that does not
/// serve goes first; one that serves only when every other VM of the
/// deployment does, so that the others carry its load meanwhile.
void move_off_draining_hosts(plan& out, const world& w, const deployment_state& d,
                             const std::vector<const vm_record*>& vms) {
  if (w.hosts.empty())
    return;
  auto draining = [&](const vm_record& vm) {
    auto h = w.hosts.find(vm.host);
    return h != w.hosts.end() && h->second.draining;
  };
  const vm_record* idle = nullptr;    // on a draining host, not serving
  const vm_record* serving_ = nullptr; // on a draining host, serving
  bool all_serve = true;
  for (const auto* vm : vms) {
    auto g = out.goals.find(vm->name);
    if (g == out.goals.end())
      continue;
    if (draining(*vm) && (!g->second.keep || vm->status == vm_status::terminating
                          || vm->status == vm_status::stopping))
      return; // one is on its way already
    all_serve = all_serve && serving(*vm);
    if (!draining(*vm))
      continue;
    if (!serving(*vm) && idle == nullptr)
      idle = vm;
    if (serving(*vm) && serving_ == nullptr)
      serving_ = vm;
  }
  // Every wanted slot filled and serving: the one that leaves is carried.
  std::int32_t serving_count = 0;
  for (const auto* vm : vms)
    serving_count += serving(*vm) ? 1 : 0;
  all_serve = all_serve && serving_count >= d.spec.replicas;
  const auto* next = idle != nullptr ? idle : all_serve ? serving_ : nullptr;
  if (next == nullptr)
    return;
  auto& goal = out.goals[next->name];
  goal.keep = false;
  goal.retire_reason = "host " + next->host + " is draining";
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

namespace {


/// Counts the rollout's progress the same way for both strategies: a slot is
/// done when it holds one available VM of the revision and nothing else.
void count_rollout(plan& out, const std::vector<std::uint32_t>& wanted,
                   const std::map<std::uint32_t, std::vector<const vm_record*>>& by_slot,
                   std::uint64_t revision, std::size_t total,
                   const std::function<bool(const vm_record&)>& available) {
  out.replicas = static_cast<std::uint32_t>(wanted.size());
  std::size_t in_wanted = 0;
  for (auto index : wanted) {
    auto i = by_slot.find(index);
    if (i == by_slot.end())
      continue;
    in_wanted += i->second.size();
    if (i->second.size() == 1 && i->second.front()->revision == revision
        && available(*i->second.front()))
      ++out.updated;
  }
  out.complete = out.updated == out.replicas && in_wanted == total;
}

/// The recreate strategy (and any deployment without a rollout in flight):
/// every outdated VM is replaced at once, the lifecycle's way.
void plan_recreate(plan& out, const world& w, const deployment_state& d,
                   const std::vector<const vm_record*>& vms, const vm_goal& base) {
  admission capacity{w, d.spec.quota};
  auto next = vms.begin();
  auto unwanted = [&](const vm_record& vm) {
    auto goal = base;
    goal.keep = false;
    out.goals[vm.name] = goal;
  };
  for (auto index : wanted_indexes(d)) {
    while (next != vms.end() && (*next)->index < index)
      unwanted(**next++);
    bool found = false;
    while (next != vms.end() && (*next)->index == index) {
      const auto& vm = **next++;
      auto goal = base;
      if (found) { // a second VM in a slot (a rolling update's, before a switch)
        goal.keep = false;
        out.goals[vm.name] = goal;
        continue;
      }
      found = true;
      goal.recreate = vm.replace_requested;
      goal.outdated = vm.revision != d.revision;
      goal.replace = goal.outdated;
      out.goals[vm.name] = goal;
    }
    if (!found && !d.spec.paused && out.blocked.empty()) {
      // Creates are admitted in index order: stop at the first misfit.
      out.blocked = capacity.take(d.spec.tmpl.memory_mib, d.spec.tmpl.cpu);
      if (out.blocked.empty())
        out.create.push_back(index);
    }
  }
  for (; next != vms.end(); ++next)
    unwanted(**next);
}

/// The rolling strategy: the planner of rollout.hpp over the slots.
void plan_rolling(plan& out, const world& w, const deployment_state& d,
                  const std::vector<const vm_record*>& vms, const vm_goal& base,
                  const std::vector<std::uint32_t>& wanted, unix_nanos now) {
  const auto& strategy = d.spec.strategy;
  auto replicas = static_cast<std::int64_t>(wanted.size());
  auto min_ready = static_cast<unix_nanos>(std::max(strategy.min_ready_seconds, 0))
                   * 1'000'000'000;
  auto drain = static_cast<std::uint64_t>(std::max(strategy.termination_grace_ms, 0));
  auto available = [&](const vm_record& vm) {
    if (!serving(vm))
      return false;
    if (min_ready == 0 || vm.revision != d.revision)
      return true; // old VMs proved themselves long ago
    if (now - vm.ready_at >= min_ready)
      return true;
    auto at = vm.ready_at + min_ready;
    out.recheck_at = out.recheck_at == 0 ? at : std::min(out.recheck_at, at);
    return false;
  };
  // Planner slot k is the k-th wanted index; VMs elsewhere get slots above.
  std::map<std::uint32_t, std::uint32_t> slot_of; // index -> planner slot
  for (std::size_t k = 0; k < wanted.size(); ++k)
    slot_of[wanted[k]] = static_cast<std::uint32_t>(k);
  auto spare = static_cast<std::uint32_t>(replicas);
  std::map<std::uint32_t, std::vector<const vm_record*>> by_slot; // planner slot
  for (const auto* vm : vms) {
    auto i = slot_of.find(vm->index);
    if (i == slot_of.end()) {
      slot_of[vm->index] = spare++;
      i = slot_of.find(vm->index);
    }
    by_slot[i->second].push_back(vm);
  }
  // What each VM is to the planner. In a wanted slot without a VM of the
  // revision, the old VM that is not available (or already terminating) is
  // replaced in place (it costs no availability and keeps its IP): to the
  // planner it is the slot's new candidate, starting.
  std::vector<rollout_candidate> candidates;
  std::vector<const vm_record*> of_candidate;
  std::map<std::string, bool> in_place; // old VMs replaced in place
  using phase = rollout_candidate::phase;
  for (const auto& [slot, list] : by_slot) {
    bool wanted_slot = slot < replicas;
    bool has_current = std::any_of(list.begin(), list.end(), [&](const vm_record* vm) {
      return vm->revision == d.revision;
    });
    // The old VM the slot keeps for now: available first, then the newest.
    const vm_record* keeper = nullptr;
    if (!has_current)
      for (const auto* vm : list)
        if (vm->status != vm_status::terminating
            && (keeper == nullptr || (available(*vm) && !available(*keeper))
                || (available(*vm) == available(*keeper)
                    && vm->revision > keeper->revision)))
          keeper = vm;
    for (const auto* vm : list) {
      rollout_candidate c{slot, vm->revision == d.revision, phase::starting};
      bool alone = list.size() == 1 || (!has_current && vm == keeper);
      if (vm->status == vm_status::terminating) {
        if (wanted_slot && !has_current && list.size() == 1) {
          c.current = true; // being replaced in place
          in_place[vm->name] = true;
        } else {
          c.state = phase::terminating;
        }
      } else if (c.current) {
        c.state = available(*vm) ? phase::available : phase::starting;
      } else if (wanted_slot && alone && !available(*vm) && !strategy.rollout_paused) {
        c.current = true; // not serving: replaced in place at once
        in_place[vm->name] = true;
      } else if (wanted_slot && !has_current && vm != keeper) {
        c.slot = spare++; // a second old VM: it goes
      } else {
        c.state = available(*vm) ? phase::available : phase::unavailable;
      }
      candidates.push_back(c);
      of_candidate.push_back(vm);
    }
  }
  auto limits = resolve_rollout_limits(strategy, replicas);
  bool persistent = std::any_of(d.spec.tmpl.volumes.begin(), d.spec.tmpl.volumes.end(),
                                [](const volume& v) { return v.persistent; });
  if (persistent)
    limits.surge = 0; // the old VM stops before the new one starts
  auto step = plan_rollout(replicas, limits, candidates);
  // Admission of the starts: creates in empty slots and surge candidates.
  admission capacity{w, d.spec.quota};
  std::vector<std::pair<std::uint32_t, bool>> starts; // wanted index, surge
  std::string misfit;
  for (auto slot : step.start) {
    auto index = wanted[slot];
    auto list = by_slot.find(slot);
    bool surge = list != by_slot.end() && !list->second.empty();
    if (surge && (strategy.rollout_paused || d.spec.paused))
      continue;
    if (!surge && d.spec.paused)
      continue;
    if (!misfit.empty())
      break;
    misfit = capacity.take(d.spec.tmpl.memory_mib, d.spec.tmpl.cpu);
    if (!misfit.empty()) {
      if (!surge) {
        out.blocked = misfit;
        break;
      }
      continue;
    }
    starts.emplace_back(index, surge);
  }
  bool surge_misfit = !misfit.empty() && out.blocked.empty();
  if (surge_misfit && limits.unavailable >= 1 && limits.surge > 0) {
    // No room for surge VMs: go on in place, within max-unavailable.
    out.note = "no room for surge VMs (" + misfit + "): replacing in place";
    auto in_place_limits = limits;
    in_place_limits.surge = 0;
    step = plan_rollout(replicas, in_place_limits, candidates);
    starts.clear();
    admission again{w, d.spec.quota};
    for (auto slot : step.start) {
      auto list = by_slot.find(slot);
      if (list != by_slot.end() && !list->second.empty())
        continue; // no surge
      if (d.spec.paused)
        continue;
      if (auto why = again.take(d.spec.tmpl.memory_mib, d.spec.tmpl.cpu); !why.empty()) {
        out.blocked = why;
        break;
      }
      starts.emplace_back(wanted[slot], false);
    }
  } else if (surge_misfit) {
    out.blocked = "rollout blocked: no room for a surge VM (" + misfit
                  + ") and max-unavailable is 0";
  }
  for (const auto& [index, surge] : starts)
    (surge ? out.surge : out.create).push_back(index);
  // Goals: everything is kept as it is unless the step says otherwise.
  std::map<std::uint32_t, bool> retire, drop;
  if (!strategy.rollout_paused && !d.spec.paused)
    for (auto slot : step.retire)
      retire[slot] = true;
  for (auto slot : step.drop)
    drop[slot] = true;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const auto& c = candidates[i];
    const auto& vm = *of_candidate[i];
    auto goal = base;
    goal.recreate = vm.replace_requested;
    goal.outdated = vm.revision != d.revision;
    bool draining = serving(vm) || vm.status == vm_status::terminating;
    if (c.slot >= replicas || drop.contains(c.slot) || c.state == phase::terminating) {
      goal.keep = false;
      goal.drain_ms = draining ? drain : 0;
      goal.retire_reason = c.slot >= replicas ? "scaled down" : "replaced in its slot";
    } else if (in_place.contains(vm.name)) {
      goal.replace = true;
      goal.drain_ms = draining ? drain : 0;
      goal.retire_reason = "revision " + std::to_string(vm.revision) + " -> "
                           + std::to_string(d.revision);
    } else if (!c.current && retire.contains(c.slot)) {
      bool has_current = std::any_of(candidates.begin(), candidates.end(), [&](const auto& o) {
        return o.slot == c.slot && o.current;
      });
      if (has_current) {
        goal.keep = false;
        goal.retire_reason = "replaced by revision " + std::to_string(d.revision);
      } else {
        goal.replace = true; // in place: no room to surge
        goal.retire_reason = "revision " + std::to_string(vm.revision) + " -> "
                             + std::to_string(d.revision);
      }
      goal.drain_ms = draining ? drain : 0;
    }
    out.goals[vm.name] = goal;
  }
}

} // namespace

plan reconcile(const world& w, const std::string& deployment, unix_nanos now) {
  auto i = w.deployments.find(deployment);
  if (i == w.deployments.end()) {
    auto out = remove_all(w, deployment);
    drain_behind_lbs(out, w, deployment);
    return out;
  }
  const auto& d = i->second;
  auto vms = vms_of(w, deployment);
  plan out;
  vm_goal base{true, d.spec.paused, d.revision, false, d.spec.auto_restart,
               effective_health_check(w, d).enabled};
  base.readiness = effective_readiness_check(w, d).enabled;
  auto wanted = wanted_indexes(d);
  if (d.spec.strategy.kind == strategy_kind::rolling)
    plan_rolling(out, w, d, vms, base, wanted, now);
  else
    plan_recreate(out, w, d, vms, base);
  std::map<std::uint32_t, std::vector<const vm_record*>> by_index;
  for (const auto* vm : vms)
    by_index[vm->index].push_back(vm);
  auto min_ready = static_cast<unix_nanos>(std::max(d.spec.strategy.min_ready_seconds, 0))
                   * 1'000'000'000;
  bool rolling = d.spec.strategy.kind == strategy_kind::rolling;
  count_rollout(out, wanted, by_index, d.revision, vms.size(), [&](const vm_record& vm) {
    return serving(vm) && (!rolling || min_ready == 0 || now - vm.ready_at >= min_ready);
  });
  move_off_draining_hosts(out, w, d, vms);
  drain_behind_lbs(out, w, deployment);
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
  return allocate_ip(host, host.config.pool_first, host.config.pool_last);
}

expected<ipv4> allocate_ip(const host_state& host, ipv4 first, ipv4 last) {
  if (!host.configured)
    return make_error(ec::invalid_host_config, "host is not configured");
  // Leases are ordered by address: walk them from the range's start and take
  // the first gap. 64-bit so that a pool ending at 255.255.255.255 cannot wrap.
  std::uint64_t candidate = first;
  for (auto i = host.leases.lower_bound(first);
       i != host.leases.end() && i->first == candidate; ++i)
    ++candidate;
  if (candidate > last)
    return make_error(ec::ip_pool_exhausted,
                      "IP pool exhausted: all "
                          + std::to_string(static_cast<std::uint64_t>(last) - first + 1)
                          + " addresses of " + to_string_ip(first) + "-" + to_string_ip(last)
                          + " are in use");
  return static_cast<ipv4>(candidate);
}

namespace {

/// The deployment's override of a check, else its plugin's, else none.
health_check check_or_plugins(const world& w, const deployment_state& d,
                              const std::optional<health_check>& override_,
                              health_check plugin_manifest::*of_plugin) {
  if (override_)
    return *override_;
  if (const auto* manifest = w.plugins.find(d.spec.tmpl.plugin))
    return manifest->*of_plugin;
  return health_check{};
}

} // namespace

health_check effective_health_check(const world& w, const deployment_state& d) {
  return check_or_plugins(w, d, d.spec.tmpl.health, &plugin_manifest::health);
}

health_check effective_readiness_check(const world& w, const deployment_state& d) {
  return check_or_plugins(w, d, d.spec.tmpl.readiness, &plugin_manifest::readiness);
}

} // namespace volant
