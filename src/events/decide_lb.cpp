// Load balancer commands (issue 13, docs/traffic.md): create, switch, delete.

#include "events/decide_parts.hpp"
#include "events/plan.hpp"
#include "events/validate.hpp"

#include <algorithm>

namespace volant::decide_detail {

namespace {

error no_lb(const std::string& name) {
  return make_error(ec::unknown_lb, "load balancer " + quoted(name)
                                        + " does not exist (see: volar lb list)");
}

/// Ready VMs of `deployment` (a terminating one does not count) and its replicas.
std::pair<std::size_t, std::size_t> ready_of(const world& w, const std::string& deployment) {
  std::size_t ready = 0;
  for (const auto* vm : vms_of(w, deployment))
    ready += vm->status == vm_status::ready ? 1 : 0;
  auto d = w.deployments.find(deployment);
  auto want = d == w.deployments.end() ? 0 : std::max(d->second.spec.replicas, 0);
  return {ready, static_cast<std::size_t>(want)};
}

} // namespace

result decide_one(const world& w, const create_lb& cmd, unix_nanos now) {
  const auto& s = cmd.spec;
  if (auto st = validate_name(s.name, "load balancer name"); !st)
    return st.error_value();
  if (w.lbs.contains(s.name))
    return make_error(ec::duplicate_name,
                      "load balancer " + quoted(s.name) + " already exists");
  if (!w.deployments.contains(s.deployment))
    return no_deployment(s.deployment);
  if (s.port == 0)
    return make_error(ec::invalid_argument, "port must be 1..65535, got 0");
  if (!s.listen.empty()) {
    auto ip = parse_ipv4(s.listen);
    if (!ip)
      return make_error(ec::invalid_argument, "listen address " + quoted(s.listen)
                                                  + " is not an IPv4 address");
    if (*ip == 0)
      return make_error(ec::invalid_argument,
                        "listen address 0.0.0.0 is a wildcard: it would collide with the "
                        "replicas' own port " + std::to_string(s.port)
                            + " (give a specific address)");
  }
  if (!s.health_path.empty() && s.health_path.front() != '/')
    return make_error(ec::invalid_health_check,
                      "health check path " + quoted(s.health_path) + " must start with '/'");
  for (const auto& [name, other] : w.lbs)
    if (other.port == s.port && other.listen == s.listen)
      return make_error(ec::conflict,
                        "load balancer " + quoted(name) + " listens on "
                            + (s.listen.empty() ? std::string("the default address")
                                                : s.listen)
                            + ":" + std::to_string(s.port) + " already");
  return events{lb_created{s, now}};
}

result decide_one(const world& w, const switch_lb& cmd, unix_nanos now) {
  events out;
  auto lb = w.lbs.find(cmd.name);
  if (!w.deployments.contains(cmd.to))
    return no_deployment(cmd.to);
  auto [ready, want] = ready_of(w, cmd.to);
  if (ready == 0)
    return make_error(ec::conflict, "deployment " + quoted(cmd.to)
                                        + " has no ready VM: nothing would serve "
                                        + quoted(cmd.name));
  if (cmd.require_all_ready && ready < want)
    return make_error(ec::conflict, "deployment " + quoted(cmd.to) + " has "
                                        + std::to_string(ready) + " of "
                                        + std::to_string(want)
                                        + " VMs ready (--require-all-ready)");
  if (lb == w.lbs.end()) {
    if (!cmd.create)
      return no_lb(cmd.name);
    lb_spec spec;
    spec.name = cmd.name;
    spec.deployment = cmd.to;
    auto created = decide_one(w, create_lb{spec}, now);
    if (!created)
      return created;
    return created;
  }
  if (lb->second.deployment == cmd.to)
    return make_error(ec::conflict, "load balancer " + quoted(cmd.name)
                                        + " points at " + quoted(cmd.to) + " already");
  return events{lb_switched{cmd.name, lb->second.deployment, cmd.to, now}};
}

result decide_one(const world& w, const delete_lb& cmd, unix_nanos now) {
  if (!w.lbs.contains(cmd.name))
    return no_lb(cmd.name);
  return events{lb_deleted{cmd.name, now}};
}

} // namespace volant::decide_detail
