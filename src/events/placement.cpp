#include "events/placement.hpp"

#include "events/admission.hpp"
#include "events/events.hpp"

#include <algorithm>
#include <map>
#include <set>

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

subnet_plan assign_subnets(ipv4 first, ipv4 last, const std::vector<std::string>& hosts,
                           const std::map<std::string, ipv4>& have, bool release_gone) {
  subnet_plan plan;
  std::set<ipv4> taken;
  std::set<std::string> listed(hosts.begin(), hosts.end());
  for (const auto& [host, net] : have)
    if (listed.contains(host) || !release_gone) {
      taken.insert(net);
      if (listed.contains(host))
        plan.subnets[host] = net;
    }
  // Whole /24s inside the pool: .1-.254 of each (a CIDR's pool starts at .1
  // and ends at .254).
  std::uint64_t start = (static_cast<std::uint64_t>(first) + 254) & ~std::uint64_t{255};
  std::vector<std::string> waiting;
  for (const auto& host : listed)
    if (!plan.subnets.contains(host))
      waiting.push_back(host);
  auto next = start;
  for (const auto& host : waiting) {
    while (next + 254 <= last && taken.contains(static_cast<ipv4>(next)))
      next += 256;
    if (next + 254 > last) {
      plan.why = "the cluster pool " + to_string_ip(first) + "-" + to_string_ip(last)
                 + " has no /24 left for host '" + host + "'";
      break;
    }
    plan.subnets[host] = static_cast<ipv4>(next);
    taken.insert(static_cast<ipv4>(next));
  }
  return plan;
}

std::vector<host_capacity> hosts_of(const world& w) {
  std::vector<host_capacity> out;
  for (const auto& [name, h] : w.hosts) {
    if (h.lost) // cluster_capacities adds it back as lost while VMs name it
      continue;
    host_capacity c;
    c.name = name;
    c.cpu = h.cpu_total;
    c.cpu_limit = static_cast<std::int64_t>(h.cpu_total) * h.cpu_overcommit_milli / 1000;
    c.memory_mib = h.memory_total_mib;
    if (h.draining)
      c.unschedulable = "draining";
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<host_capacity> cluster_capacities(const world& w,
                                              const std::vector<host_capacity>& registered,
                                              const std::string& deployment) {
  std::map<std::string, host_capacity> by_name;
  for (const auto& h : registered) {
    auto& mine = by_name[h.name];
    mine = h;
    mine.cpu_used = 0;
    mine.memory_mib_used = 0;
    mine.replicas = 0;
  }
  for (const auto& [name, vm] : w.vms) {
    auto it = by_name.find(vm.host);
    if (it == by_name.end()) {
      host_capacity lost;
      lost.name = vm.host;
      lost.unschedulable = "lost";
      it = by_name.emplace(vm.host, lost).first;
    }
    it->second.cpu_used += vm.cpu;
    it->second.memory_mib_used += vm.memory_mib;
    if (!deployment.empty() && vm.deployment == deployment)
      ++it->second.replicas;
  }
  std::vector<host_capacity> out;
  for (auto& [name, h] : by_name)
    out.push_back(std::move(h));
  return out;
}

reschedule_plan reschedule(const world& w, const std::vector<host_capacity>& registered) {
  reschedule_plan plan;
  std::set<std::string> away; // hosts that cannot keep their VMs
  for (const auto& h : cluster_capacities(w, registered))
    if (!h.unschedulable.empty())
      away.insert(h.name);
  // Deployment by deployment; moves already planned count as placed.
  std::map<std::string, std::vector<const vm_record*>> by_deployment;
  for (const auto& [name, vm] : w.vms)
    if (away.contains(vm.host))
      by_deployment[vm.deployment].push_back(&vm);
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> extra; // host -> cpu, memory
  for (const auto& [dep_name, vms] : by_deployment) {
    auto d = w.deployments.find(dep_name);
    bool spread = d != w.deployments.end() && d->second.spec.multi_host;
    bool pinned = false;
    std::string pin_path;
    if (d != w.deployments.end())
      for (const auto& v : d->second.spec.tmpl.volumes)
        if (v.persistent) {
          pinned = true;
          pin_path = v.path;
          break;
        }
    auto hosts = cluster_capacities(w, registered, dep_name);
    for (auto& h : hosts) { // what earlier deployments' moves take
      h.cpu_used += extra[h.name].first;
      h.memory_mib_used += extra[h.name].second;
    }
    for (const auto* vm : vms) {
      if (pinned) {
        plan.stuck.emplace_back(vm->name, "its persistent volume " + pin_path
                                              + " is on host '" + vm->host
                                              + "': unschedulable until the host is back");
        continue;
      }
      auto p = place(hosts, {vm->cpu, vm->memory_mib, 1, spread});
      if (p.hosts.empty()) {
        plan.stuck.emplace_back(vm->name, "no host can take it: " + p.reason);
        continue;
      }
      const auto& to = p.hosts.front();
      plan.moves.push_back({vm->name, vm->host, to});
      extra[to].first += vm->cpu;
      extra[to].second += vm->memory_mib;
      for (auto& h : hosts)
        if (h.name == to) {
          h.cpu_used += vm->cpu;
          h.memory_mib_used += vm->memory_mib;
          ++h.replicas;
        }
    }
  }
  return plan;
}

} // namespace volant
