// The hosts of a cluster (issue 16, docs/hosts.md): a host joins with its
// capacity, the leader journals a host whose lease expired as lost (its VMs
// are removed, and reconcile creates them again on the others), and a new
// VM goes where `place` puts it.

#include "events/decide_parts.hpp"
#include "events/placement.hpp"
#include "events/plan.hpp"

#include <algorithm>
#include <map>

namespace volant::decide_detail {

expected<std::string> place_vm(const world& w, const deployment_state& d) {
  if (w.hosts.empty())
    return w.host.config.id;
  auto hosts = cluster_capacities(w, hosts_of(w), d.spec.name);
  auto p = place(std::move(hosts),
                 {d.spec.tmpl.cpu, d.spec.tmpl.memory_mib, 1, d.spec.multi_host});
  if (p.hosts.empty())
    return make_error(ec::conflict, "no host can take a VM of deployment "
                                        + quoted(d.spec.name) + ": " + p.reason);
  return p.hosts.front();
}

expected<ipv4> allocate_ip_on(const world& w, const std::string& host) {
  auto h = w.hosts.find(host);
  if (h == w.hosts.end() || h->second.subnet == 0)
    return allocate_ip(w.host);
  const auto& c = w.host.config;
  auto first = std::max<ipv4>(c.pool_first, h->second.subnet + 1);
  auto last = std::min<ipv4>(c.pool_last, h->second.subnet + 254);
  return allocate_ip(w.host, first, last);
}

std::vector<std::uint32_t> spread_victims(const world& w, const deployment_state& d,
                                          std::int32_t n) {
  std::map<std::uint32_t, std::string> host_of; // wanted slot -> its VM's host
  for (const auto* vm : vms_of(w, d.spec.name))
    if (wants_index(d, vm->index))
      host_of[vm->index] = vm->host;
  std::vector<std::uint32_t> out;
  auto wanted = wanted_indexes(d);
  for (auto it = wanted.rbegin(); it != wanted.rend() && std::ssize(out) < n; ++it)
    if (!host_of.contains(*it))
      out.push_back(*it); // not created yet: costs nothing
  while (std::ssize(out) < n && !host_of.empty()) {
    std::map<std::string, std::vector<std::uint32_t>> by_host;
    for (const auto& [index, host] : host_of)
      by_host[host].push_back(index);
    auto most = std::max_element(by_host.begin(), by_host.end(), [](const auto& a, const auto& b) {
      return a.second.size() < b.second.size()
             || (a.second.size() == b.second.size() && a.second.back() < b.second.back());
    });
    out.push_back(most->second.back());
    host_of.erase(most->second.back());
  }
  return out;
}

result decide_one(const world& w, const join_host& cmd, unix_nanos now) {
  auto h = cmd.host;
  if (h.name.empty())
    return make_error(ec::invalid_argument, "a host needs a name (volantd --host-name)");
  if (h.cpu_total < 1 || h.memory_total_mib < 1)
    return make_error(ec::invalid_argument, "host " + quoted(h.name)
                                                + " needs at least one core and 1 MiB");
  h.lost = false;
  h.since = now;
  auto old = w.hosts.find(h.name);
  // Its own /24 of the cluster pool: kept from before, else the lowest free.
  h.subnet = old != w.hosts.end() ? old->second.subnet : 0;
  if (h.subnet == 0 && w.host.configured) {
    std::vector<std::string> names{h.name};
    std::map<std::string, ipv4> have;
    for (const auto& [name, other] : w.hosts)
      if (other.subnet != 0)
        have[name] = other.subnet;
    auto plan = assign_subnets(w.host.config.pool_first, w.host.config.pool_last, names, have);
    if (!plan.subnets.contains(h.name))
      return make_error(ec::ip_pool_exhausted, plan.why);
    h.subnet = plan.subnets.at(h.name);
  }
  if (old != w.hosts.end() && !old->second.lost) {
    h.draining = old->second.draining; // a restart does not end a drain
    h.since = old->second.since;
    if (old->second == h)
      return events{};
    h.since = now;
  }
  return events{host_joined{std::move(h), now}};
}

result decide_one(const world& w, const lose_host& cmd, unix_nanos now) {
  auto h = w.hosts.find(cmd.name);
  if (h == w.hosts.end())
    return make_error(ec::invalid_argument, "host " + quoted(cmd.name) + " not found");
  // At most `per_append` VMs go in one append (etcd allows 128 operations a
  // transaction); the leader repeats the command while the lost host holds
  // more.
  constexpr std::size_t per_append = 100;
  events out;
  if (!h->second.lost)
    out.push_back(host_lost{cmd.name, cmd.reason, now});
  std::size_t removed = 0;
  for (const auto& [name, vm] : w.vms) {
    if (vm.host != cmd.name)
      continue;
    if (removed == per_append)
      break;
    bool pinned = false; // a persistent volume keeps its VM on its host
    for (const auto& [id, vol] : w.volumes)
      pinned = pinned || vol.vm == name;
    if (pinned)
      continue;
    for (auto& ev : release_volumes(w, name, now))
      out.push_back(std::move(ev));
    out.push_back(vm_removed{name, now});
    ++removed;
  }
  return out;
}

result decide_one(const world& w, const drain_host& cmd, unix_nanos now) {
  if (w.hosts.empty()) {
    if (cmd.name != w.host.config.id)
      return make_error(ec::invalid_argument,
                        "host " + quoted(cmd.name) + " not found (see: volar hosts list)");
    return make_error(ec::conflict, "host " + quoted(cmd.name)
                                        + " is the only host: its replicas have nowhere to "
                                          "go (volantd runs without --cluster)");
  }
  auto h = w.hosts.find(cmd.name);
  if (h == w.hosts.end())
    return make_error(ec::invalid_argument,
                      "host " + quoted(cmd.name) + " not found (see: volar hosts list)");
  if (h->second.lost)
    return make_error(ec::conflict, "host " + quoted(cmd.name)
                                        + " is lost: its replicas were moved already");
  if (h->second.draining)
    return events{};
  bool elsewhere = false;
  for (const auto& [name, other] : w.hosts)
    elsewhere = elsewhere || (name != cmd.name && !other.lost && !other.draining);
  if (!elsewhere)
    return make_error(ec::conflict, "host " + quoted(cmd.name)
                                        + " is the only host taking VMs: its replicas have "
                                          "nowhere to go");
  auto host = h->second;
  host.draining = true;
  return events{host_joined{std::move(host), now}};
}

} // namespace volant::decide_detail
