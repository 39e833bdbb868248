#include "wire/views.hpp"

#include "wire/json.hpp"

#include <algorithm>
#include <tuple>

namespace volant::wire {

bool is_ready(const vm_record& vm) {
  return vm.status == vm_status::ready;
}

std::string plugin_label(const plugin_ref& ref) {
  return ref.version.empty() ? ref.name : ref.name + ":" + ref.version;
}

nlohmann::json vm_view(const world& w, const vm_record& vm) {
  auto j = to_json(vm);
  auto d = w.deployments.find(vm.deployment);
  j["plugin"] = d == w.deployments.end() ? "" : plugin_label(d->second.spec.tmpl.plugin);
  j["labels"] = d == w.deployments.end() ? nlohmann::json::object()
                                         : nlohmann::json(d->second.spec.tmpl.vm_labels);
  j["memory"] = vm.memory_mib;
  j["pid"] = vm.handle.pid;
  j["driver"] = vm.handle.driver;
  return j;
}

nlohmann::json vms_view(const world& w, const vm_filter& filter) {
  auto rows = nlohmann::json::array();
  std::vector<const vm_record*> selected;
  for (const auto& [name, vm] : w.vms) {
    if (!filter.deployment.empty() && vm.deployment != filter.deployment)
      continue;
    if (!filter.match.empty()) {
      auto d = w.deployments.find(vm.deployment);
      if (d == w.deployments.end())
        continue;
      const auto& have = d->second.spec.tmpl.vm_labels;
      bool all = true;
      for (const auto& [k, v] : filter.match) {
        auto it = have.find(k);
        all = all && it != have.end() && it->second == v;
      }
      if (!all)
        continue;
    }
    selected.push_back(&vm);
  }
  std::sort(selected.begin(), selected.end(), [](auto* a, auto* b) {
    return std::tie(a->deployment, a->index) < std::tie(b->deployment, b->index);
  });
  for (const auto* vm : selected)
    rows.push_back(vm_view(w, *vm));
  return rows;
}

nlohmann::json deployment_row(const world& w, const deployment_state& d,
                              const restart_policy& policy) {
  auto vms = vms_of(w, d.spec.name);
  std::size_t ready = 0;
  std::size_t updated = 0; // ready and made from the current revision
  for (const auto* vm : vms) {
    ready += is_ready(*vm);
    updated += is_ready(*vm) && vm->revision == d.revision;
  }
  return {{"name", d.spec.name},
          {"plugin", plugin_label(d.spec.tmpl.plugin)},
          {"desired", d.spec.replicas},
          {"current", vms.size()},
          {"ready", ready},
          {"updated", updated},
          {"created_at", format_time(d.created_at)},
          {"updated_at", format_time(d.updated_at)},
          {"revision", d.revision},
          {"paused", d.spec.paused},
          {"auto_restart", d.spec.auto_restart},
          {"blocked", reconcile(w, d.spec.name, policy).blocked}};
}

nlohmann::json deployments_view(const world& w, const restart_policy& policy) {
  auto rows = nlohmann::json::array();
  for (const auto& [name, d] : w.deployments)
    rows.push_back(deployment_row(w, d, policy));
  return rows;
}

nlohmann::json deployment_detail(const world& w, const deployment_state& d,
                                 const restart_policy& policy,
                                 const nlohmann::json& events) {
  auto j = deployment_row(w, d, policy);
  j["spec"] = encode_spec(d.spec);
  vm_filter only{d.spec.name, {}};
  j["vms"] = vms_view(w, only);
  j["events"] = events;
  return j;
}

nlohmann::json resources_view(const world& w) {
  const auto& h = w.host;
  return {{"host", h.config.id},
          {"cpu_total", h.config.cpu_total},
          {"cpu_used", h.cpu_used},
          {"memory_total_mib", h.config.memory_total_mib},
          {"memory_used_mib", h.memory_used_mib},
          {"vms", w.vms.size()},
          {"max_vms", h.config.max_vms},
          {"max_replicas", h.config.max_replicas},
          {"pool_first", to_string_ip(h.config.pool_first)},
          {"pool_last", to_string_ip(h.config.pool_last)},
          {"ips_used", h.leases.size()}};
}

nlohmann::json plugins_view(const world& w) {
  auto rows = nlohmann::json::array();
  for (const auto& [name, versions] : w.plugins.by_name)
    for (const auto& [version, m] : versions) {
      auto j = to_json(m);
      rows.push_back({{"name", m.name},
                      {"version", m.version},
                      {"runtime", m.runtime},
                      {"description", m.description},
                      {"health", j["health"]}});
    }
  return rows;
}

} // namespace volant::wire
