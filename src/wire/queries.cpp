#include "wire/queries.hpp"

#include <algorithm>

#include "events/admission.hpp"
#include "events/placement.hpp"
#include "events/validate.hpp"
#include "wire/json.hpp"
#include "wire/manifest.hpp"
#include "wire/views.hpp"

namespace volant::wire {

namespace {

using json = nlohmann::json;

expected<std::string> string_arg(const json& args, const char* key) {
  auto it = args.find(key);
  if (it == args.end() || !it->is_string() || it->get<std::string>().empty())
    return make_error(ec::invalid_argument, std::string("missing argument '") + key + "'");
  return it->get<std::string>();
}

expected<const deployment_state*> find_deployment(const world& w, const json& args) {
  auto name = string_arg(args, "name");
  if (!name)
    return name.error_value();
  auto it = w.deployments.find(*name);
  if (it == w.deployments.end())
    return make_error(ec::unknown_deployment, "deployment '" + *name + "' not found");
  return &it->second;
}

std::string volume_status(const world& w, const volume_record& vol) {
  if (!vol.vm.empty())
    return vol.purge ? "attached, purged once its VM is gone" : "attached";
  auto d = w.deployments.find(vol.deployment);
  if (d == w.deployments.end())
    return "kept: deployment deleted";
  if (!wants_index(d->second, vol.index))
    return "kept: replica " + std::to_string(vol.index) + " scaled away";
  return "detached";
}

json volume_row(const world& w, const volume_record& vol) {
  return {{"name", volume_name(vol.deployment, vol.index, vol.path)},
          {"id", vol.id},
          {"deployment", vol.deployment},
          {"index", vol.index},
          {"path", vol.path},
          {"size_mib", vol.size_mib > 0 ? vol.size_mib : default_volume_mib},
          {"vm", std::string(slot_name(vol.vm))},
          {"status", volume_status(w, vol)},
          {"created_at", format_time(vol.created_at)}};
}

json quota_row(const world& w, const quota_spec& q) {
  auto used = committed(w, q.name);
  auto members = json::array();
  for (const auto& [name, d] : w.deployments)
    if (d.spec.quota == q.name)
      members.push_back(name);
  return {{"name", q.name},
          {"max_vms", q.max_vms},
          {"max_cpu", q.max_cpu},
          {"max_memory_mib", q.max_memory_mib},
          {"used", {{"vms", used.vms}, {"cpu", used.cpu}, {"memory_mib", used.memory_mib}}},
          {"deployments", members}};
}

json autoscaler_row(const world& w, const autoscaler_spec& a) {
  auto row = to_json(a);
  auto d = w.deployments.find(a.deployment);
  row["replicas"] = d == w.deployments.end() ? json(nullptr) : json(d->second.spec.replicas);
  return row;
}

} // namespace

expected<json> answer_query(const world& w, const daemon_info& info, const std::string& verb,
                            const json& args) {
  if (verb == "ping")
    return json{{"version", info.version},
                {"started_at", format_time(info.started_at)},
                {"data_dir", info.data_dir},
                {"driver", info.driver},
                {"last_seq", w.last_seq}};
  if (verb == "deployments.list")
    return deployments_view(w);
  if (verb == "deployments.show") {
    auto d = find_deployment(w, args);
    if (!d)
      return d.error_value();
    return deployment_detail(w, **d, json::array());
  }
  if (verb == "vms.list") {
    vm_filter filter;
    if (auto it = args.find("deployment"); it != args.end() && it->is_string())
      filter.deployment = it->get<std::string>();
    // An unknown deployment is an error; one with no VMs is an empty list.
    if (!filter.deployment.empty() && !w.deployments.count(filter.deployment)
        && std::none_of(w.vms.begin(), w.vms.end(), [&](const auto& kv) {
             return kv.second.deployment == filter.deployment;
           }))
      return make_error(ec::unknown_deployment,
                        "deployment '" + filter.deployment
                            + "' does not exist (see: volar deployments list)");
    if (auto it = args.find("labels"); it != args.end() && it->is_object())
      for (const auto& [k, v] : it->items())
        filter.match[k] = v.is_string() ? v.get<std::string>() : v.dump();
    return vms_view(w, filter);
  }
  if (verb == "vms.show") {
    auto name = string_arg(args, "name");
    if (!name)
      return name.error_value();
    const auto* vm = find_vm(w, *name);
    if (vm == nullptr)
      return make_error(ec::unknown_vm, "VM '" + *name + "' not found");
    return vm_view(w, *vm);
  }
  if (verb == "lb.list" || verb == "lb.show") {
    auto view = [&](const lb_view& v) {
      auto servers = json::array();
      for (const auto& s : v.servers)
        servers.push_back({{"name", std::string(slot_name(s.vm))},
                           {"id", s.vm},
                           {"server", s.name},
                           {"address", to_string_ip(s.ip) + ":" + std::to_string(s.port)}});
      std::string check = v.check.how == lb_check::kind::none  ? "none"
                          : v.check.how == lb_check::kind::tcp ? "tcp"
                                                               : "http " + v.check.path;
      return json{{"name", v.spec.name},
                  {"deployment", v.spec.deployment},
                  {"address", v.listen + ":" + std::to_string(v.spec.port)},
                  {"listen", v.listen},
                  {"port", v.spec.port},
                  {"target_port", v.target_port},
                  {"drain_timeout_ms", v.spec.drain_timeout_ms},
                  {"algorithm", std::string(to_string(v.spec.algorithm))},
                  {"check", check},
                  {"servers", servers}};
    };
    if (verb == "lb.list") {
      auto rows = json::array();
      for (const auto& v : project_lbs(w, info.lbs))
        rows.push_back(view(v));
      return rows;
    }
    auto name = string_arg(args, "name");
    if (!name)
      return name.error_value();
    auto v = project_lb(w, *name, info.lbs);
    if (!v)
      return make_error(ec::unknown_lb, "load balancer '" + *name
                                            + "' does not exist (see: volar lb list)");
    return view(*v);
  }
  if (verb == "volumes.list") {
    auto deployment = args.value("deployment", std::string{});
    auto rows = json::array();
    for (const auto& [id, vol] : w.volumes)
      if (deployment.empty() || vol.deployment == deployment)
        rows.push_back(volume_row(w, vol));
    return rows;
  }
  if (verb == "hpa.list") {
    auto rows = json::array();
    for (const auto& [name, a] : w.autoscalers)
      rows.push_back(autoscaler_row(w, a));
    return rows;
  }
  if (verb == "hpa.show") {
    auto name = string_arg(args, "name");
    if (!name)
      return name.error_value();
    auto a = w.autoscalers.find(*name);
    if (a == w.autoscalers.end())
      return make_error(ec::unknown_autoscaler,
                        "autoscaler '" + *name + "' not found (see: volar hpa list)");
    return autoscaler_row(w, a->second);
  }
  if (verb == "hosts.list") {
    // One row per host: a cluster's (lost ones too), or a single volantd's own
    // (issue 16).
    bool cluster = !w.hosts.empty();
    auto hosts = cluster ? cluster_capacities(w, hosts_of(w)) : host_capacities(w);
    for (const auto& [name, h] : w.hosts) // lost, and holding no VM
      if (h.lost && std::none_of(hosts.begin(), hosts.end(),
                                 [&](const host_capacity& c) { return c.name == name; })) {
        host_capacity lost;
        lost.name = name;
        lost.cpu = h.cpu_total;
        lost.memory_mib = h.memory_total_mib;
        lost.unschedulable = "lost";
        hosts.push_back(lost);
      }
    auto rows = json::array();
    for (const auto& h : hosts) {
      std::int64_t vms = 0;
      for (const auto& [name, vm] : w.vms)
        vms += vm.host == h.name || (!cluster && vm.host.empty()) ? 1 : 0;
      json row = {{"name", h.name},
                  {"cpu", h.cpu},
                  {"cpu_limit", h.cpu_limit},
                  {"cpu_used", h.cpu_used},
                  {"memory_mib", h.memory_mib},
                  {"memory_mib_used", h.memory_mib_used},
                  {"vms", vms},
                  {"lease_age_ms", nullptr},
                  {"state", h.unschedulable.empty() ? "ready" : h.unschedulable},
                  {"cluster", cluster}};
      if (auto known = w.hosts.find(h.name); cluster)
        row["since"] = known == w.hosts.end() ? json(nullptr)
                                              : json(format_time(known->second.since));
      rows.push_back(std::move(row));
    }
    return rows;
  }
  if (verb == "quotas.list") {
    auto rows = json::array();
    for (const auto& [name, q] : w.quotas)
      rows.push_back(quota_row(w, q));
    return rows;
  }
  if (verb == "quotas.show") {
    auto name = string_arg(args, "name");
    if (!name)
      return name.error_value();
    auto q = w.quotas.find(*name);
    if (q == w.quotas.end())
      return make_error(ec::unknown_quota,
                        "quota '" + *name + "' is not defined (see: volar quotas list)");
    return quota_row(w, q->second);
  }
  if (verb == "debug.resources") {
    auto j = resources_view(w);
    j["driver"] = info.driver;
    j["limits"] = info.limits;
    if (!info.qemu.is_null())
      j["qemu"] = info.qemu;
    return j;
  }
  if (verb == "plugins.list")
    return plugins_view(w);
  if (verb == "plugins.show") {
    auto name = string_arg(args, "name");
    if (!name)
      return name.error_value();
    plugin_ref ref{*name, args.value("version", std::string{})};
    const auto* m = w.plugins.find(ref);
    if (!m)
      return plugin_not_installed(plugin_label(ref));
    return manifest_to_json(*m);
  }
  return make_error(ec::invalid_argument, "unknown request '" + verb + "'");
}

} // namespace volant::wire
