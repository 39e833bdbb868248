#include "events/placement.hpp"

#include "events/admission.hpp"

#include <algorithm>
#include <map>

namespace volant {

namespace {

/// How full the host would be with one more replica: the mean of its CPU and
/// memory shares (Nomad's binpack score, reversed).
double fullness(const host_capacity& h, const placement_request& r) {
  auto share = [](std::int64_t used, std::int64_t total) {
    return total <= 0 ? 1.0 : static_cast<double>(used) / static_cast<double>(total);
  };
  return (share(h.cpu_used + r.cpu, h.cpu) + share(h.memory_mib_used + r.memory_mib, h.memory_mib))
         / 2;
}

/// Empty when `h` can take one more replica, else why not.
std::string misfit(const host_capacity& h, const placement_request& r) {
  if (!h.unschedulable.empty())
    return h.unschedulable;
  if (h.memory_mib_used + r.memory_mib > h.memory_mib)
    return "insufficient memory";
  if (h.cpu_limit > 0 && h.cpu_used + r.cpu > h.cpu_limit)
    return "insufficient CPU";
  return {};
}

} // namespace

placement place(std::vector<host_capacity> hosts, const placement_request& r) {
  placement out;
  std::sort(hosts.begin(), hosts.end(),
            [](const host_capacity& a, const host_capacity& b) { return a.name < b.name; });
  for (std::int32_t i = 0; i < r.count; ++i) {
    host_capacity* best = nullptr;
    for (auto& h : hosts) {
      if (!misfit(h, r).empty())
        continue;
      if (best == nullptr) {
        best = &h;
        continue;
      }
      if (r.spread) {
        if (h.replicas != best->replicas) {
          if (h.replicas < best->replicas)
            best = &h;
        } else if (fullness(h, r) < fullness(*best, r)) {
          best = &h;
        }
      } else if (fullness(h, r) > fullness(*best, r)) {
        best = &h;
      }
    }
    if (best == nullptr) {
      out.unplaced = r.count - i;
      std::map<std::string, int> why;
      for (const auto& h : hosts)
        ++why[misfit(h, r)];
      out.reason = "0/" + std::to_string(hosts.size()) + " hosts can take it";
      std::string parts;
      for (const auto& [text, n] : why)
        parts += (parts.empty() ? ": " : ", ") + std::to_string(n) + " " + text;
      out.reason += parts;
      return out;
    }
    out.hosts.push_back(best->name);
    best->cpu_used += r.cpu;
    best->memory_mib_used += r.memory_mib;
    ++best->replicas;
  }
  return out;
}

std::vector<host_capacity> host_capacities(const world& w, const std::string& deployment) {
  host_capacity h;
  h.name = w.host.config.id;
  h.cpu = w.host.config.cpu_total;
  h.cpu_limit = cpu_limit(w.host.config);
  h.memory_mib = w.host.config.memory_total_mib;
  auto used = committed(w);
  h.cpu_used = used.cpu;
  h.memory_mib_used = used.memory_mib;
  if (!deployment.empty())
    for (const auto& [name, vm] : w.vms)
      if (vm.deployment == deployment)
        ++h.replicas;
  return {h};
}

} // namespace volant
