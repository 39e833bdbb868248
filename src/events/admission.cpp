#include "events/admission.hpp"

#include "events/plan.hpp"

#include <algorithm>
#include <limits>
#include <map>

namespace volant {

// A create or scale-up is admitted against what is *committed*, not only what
// is recorded: the memory, vCPUs and VM slots of every recorded VM, plus, for
// each deployment that is not paused, every replica index below its desired
// count that has no VM yet (its template's memory and vCPUs and one slot) and,
// for an existing VM, any growth of the template over what the VM holds (a
// pending recreate). Without the reservation two creates in a row could both
// be admitted before the reconcile loop records a single VM. A paused
// deployment reserves only the VMs it keeps; its missing replicas are admitted
// again by the reconcile loop after resume (which may then report itself
// blocked).

namespace {

constexpr auto int64_max = std::numeric_limits<std::int64_t>::max();

/// The deployment that `vm` is a wanted replica of (not paused), or null.
const deployment_state* reserving(const world& w, const vm_record& vm) {
  auto i = w.deployments.find(vm.deployment);
  if (i == w.deployments.end() || i->second.spec.paused || !wants_index(i->second, vm.index))
    return nullptr;
  return &i->second;
}

std::string ratio_text(std::uint32_t milli) {
  auto text = std::to_string(milli / 1000);
  if (auto frac = milli % 1000; frac != 0) {
    auto digits = std::to_string(1000 + frac).substr(1);
    while (digits.back() == '0')
      digits.pop_back();
    text += "." + digits;
  }
  return text;
}

} // namespace

std::int64_t add_sat(std::int64_t a, std::int64_t b) {
  return a > int64_max - b ? int64_max : a + b;
}

std::int64_t mul_sat(std::int64_t a, std::int64_t b) {
  if (a == 0 || b == 0)
    return 0;
  return a > int64_max / b ? int64_max : a * b;
}

std::int64_t pool_size(const host_config& c) {
  return c.pool_last < c.pool_first ? 0
                                    : std::int64_t{c.pool_last} - std::int64_t{c.pool_first} + 1;
}

std::int64_t cpu_limit(const host_config& c) {
  return c.cpu_overcommit_milli == 0
             ? 0
             : std::max<std::int64_t>(1, std::int64_t{c.cpu_total} * c.cpu_overcommit_milli / 1000);
}

std::int64_t cpu_free(const world& w) {
  auto limit = cpu_limit(w.host.config);
  return limit > 0 ? limit - w.host.cpu_used : int64_max;
}

error insufficient_memory(std::int64_t need, std::int64_t free) {
  return make_error(ec::insufficient_memory,
                    "insufficient memory: need " + std::to_string(need) + " MiB, "
                        + std::to_string(std::max<std::int64_t>(free, 0)) + " MiB free");
}

error insufficient_cpu(std::int64_t need, std::int64_t free, const host_config& c) {
  return make_error(ec::insufficient_cpu,
                    "insufficient CPU: need " + std::to_string(need) + " vCPUs, "
                        + std::to_string(std::max<std::int64_t>(free, 0)) + " of "
                        + std::to_string(cpu_limit(c)) + " free ("
                        + std::to_string(c.cpu_total) + " cores x --cpu-overcommit "
                        + ratio_text(c.cpu_overcommit_milli) + ")");
}

namespace {

/// `committed` over the deployments `counts` accepts (and their VMs); VMs of
/// a deleted deployment count for the host only.
template <class Counts>
committed_usage committed_by(const world& w, committed_usage u, Counts counts) {
  std::map<std::string_view, std::int64_t> present;
  for (const auto& [name, vm] : w.vms) {
    const auto* d = reserving(w, vm);
    if (d != nullptr && counts(*d)) {
      present[vm.deployment] += 1;
      u.memory_mib
          = add_sat(u.memory_mib, std::max<std::int64_t>(0, d->spec.tmpl.memory_mib - vm.memory_mib));
      u.cpu = add_sat(u.cpu, std::max<std::int64_t>(0, d->spec.tmpl.cpu - vm.cpu));
    }
  }
  for (const auto& [name, d] : w.deployments) {
    if (d.spec.paused || !counts(d))
      continue;
    auto missing = std::max<std::int64_t>(0, d.spec.replicas - present[name]);
    u.vms += missing;
    u.memory_mib = add_sat(u.memory_mib, mul_sat(missing, d.spec.tmpl.memory_mib));
    u.cpu = add_sat(u.cpu, mul_sat(missing, d.spec.tmpl.cpu));
  }
  return u;
}

std::string gib_text(std::int64_t mib) {
  auto text = std::to_string(mib / 1024);
  if (auto rest = mib % 1024; rest != 0) {
    auto tenths = rest * 10 / 1024;
    if (tenths != 0)
      text += "." + std::to_string(tenths);
  }
  return text + " GB";
}

} // namespace

committed_usage committed(const world& w) {
  return committed_by(w,
                      {w.host.memory_used_mib, w.host.cpu_used,
                       static_cast<std::int64_t>(w.vms.size())},
                      [](const deployment_state&) { return true; });
}

committed_usage recorded(const world& w, std::string_view quota) {
  committed_usage u;
  for (const auto& [name, vm] : w.vms) {
    auto d = w.deployments.find(vm.deployment);
    if (d != w.deployments.end() && d->second.spec.quota == quota) {
      u.vms += 1;
      u.memory_mib = add_sat(u.memory_mib, vm.memory_mib);
      u.cpu = add_sat(u.cpu, vm.cpu);
    }
  }
  return u;
}

committed_usage committed(const world& w, std::string_view quota) {
  return committed_by(w, recorded(w, quota),
                      [&](const deployment_state& d) { return d.spec.quota == quota; });
}

std::string quota_misfit(const quota_spec& q, const committed_usage& used, const demand& d) {
  auto free_of = [](std::int64_t max, std::int64_t in_use) {
    return std::to_string(std::max<std::int64_t>(0, max - in_use));
  };
  auto prefix = "quota " + q.name + ": need ";
  if (q.max_vms >= 0 && d.vms > 0 && used.vms + d.vms > q.max_vms)
    return prefix + std::to_string(d.vms) + (d.vms == 1 ? " VM, " : " VMs, ")
           + free_of(q.max_vms, used.vms) + " of " + std::to_string(q.max_vms) + " free";
  if (q.max_cpu >= 0 && d.cpu > 0 && used.cpu + d.cpu > q.max_cpu)
    return prefix + std::to_string(d.cpu) + " CPU, " + free_of(q.max_cpu, used.cpu) + " of "
           + std::to_string(q.max_cpu) + " free";
  if (q.max_memory_mib >= 0 && d.memory_mib > 0
      && used.memory_mib + d.memory_mib > q.max_memory_mib)
    return prefix + std::to_string(d.memory_mib) + " MiB of memory, "
           + free_of(q.max_memory_mib, used.memory_mib) + " MiB of "
           + gib_text(q.max_memory_mib) + " free";
  return {};
}

status admit_quota(const world& w, const demand& d) {
  if (d.quota.empty())
    return ok();
  auto q = w.quotas.find(d.quota);
  if (q == w.quotas.end())
    return make_error(ec::unknown_quota, "quota '" + d.quota
                                             + "' is not defined (see: volar quotas list)");
  if (auto why = quota_misfit(q->second, committed(w, d.quota), d); !why.empty())
    return make_error(ec::quota_exceeded, why);
  return ok();
}

status admit(const world& w, const demand& d) {
  const auto& c = w.host.config;
  auto u = committed(w);
  if (d.vms > 0 && u.vms + d.vms > c.max_vms)
    return make_error(ec::host_vm_limit, "host VM limit reached: " + std::to_string(d.vms)
                                             + " more VMs would make "
                                             + std::to_string(u.vms + d.vms)
                                             + ", the limit is " + std::to_string(c.max_vms));
  if (d.vms > 0 && u.vms + d.vms > pool_size(c))
    return make_error(ec::ip_pool_exhausted,
                      "IP pool exhausted: " + std::to_string(u.vms + d.vms)
                          + " addresses needed, the pool " + to_string_ip(c.pool_first) + "-"
                          + to_string_ip(c.pool_last) + " has " + std::to_string(pool_size(c)));
  auto free = c.memory_total_mib - u.memory_mib;
  if (d.memory_mib > 0 && d.memory_mib > free)
    return insufficient_memory(d.memory_mib, free);
  if (auto limit = cpu_limit(c); limit > 0 && d.cpu > 0 && u.cpu + d.cpu > limit)
    return insufficient_cpu(d.cpu, limit - u.cpu, c);
  return admit_quota(w, d);
}

std::optional<std::string> cpu_overcommit_warning(std::int64_t before, std::int64_t after,
                                                  std::int64_t cores) {
  if (after <= cores || after <= before)
    return std::nullopt;
  auto pct = cores > 0 ? after * 100 / cores : 0;
  return "vCPUs overcommitted: " + std::to_string(after) + " committed on "
         + std::to_string(cores) + " cores (" + std::to_string(pct)
         + " %); volantd --cpu-overcommit RATIO refuses beyond cores x RATIO";
}

} // namespace volant
