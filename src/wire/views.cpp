#include "wire/views.hpp"

#include "events/admission.hpp"
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

std::string resolved_plugin_label(const world& w, const plugin_ref& ref) {
  if (!ref.version.empty())
    return plugin_label(ref);
  const auto* m = w.plugins.find(ref);
  return m == nullptr ? ref.name : ref.name + ":" + m->version;
}

nlohmann::json vm_view(const world& w, const vm_record& vm) {
  auto j = to_json(vm);
  // Shown by its slot's name; a rolling update's surge VM has a key of its
  // own ("web-3@4"), which `id` gives.
  j["id"] = vm.name;
  j["name"] = std::string(slot_name(vm.name));
  auto d = w.deployments.find(vm.deployment);
  j["plugin"]
      = d == w.deployments.end() ? "" : resolved_plugin_label(w, d->second.spec.tmpl.plugin);
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
    return std::tie(a->deployment, a->index, a->revision)
           < std::tie(b->deployment, b->index, b->revision);
  });
  for (const auto* vm : selected)
    rows.push_back(vm_view(w, *vm));
  return rows;
}

nlohmann::json rollout_view(const deployment_state& d, const plan& p) {
  const auto& r = d.rollout;
  const auto& s = d.spec.strategy;
  return {{"revision", r.revision},
          {"phase", std::string(to_string(r.phase))},
          {"updated", r.updated},
          {"started_at", format_time(r.started_at)},
          {"progress_at", format_time(r.progress_at)},
          {"reason", r.reason},
          {"revert_of", r.revert_of},
          {"paused", s.rollout_paused},
          {"stable_revision", d.stable_revision},
          {"note", p.note}};
}

nlohmann::json deployment_row(const world& w, const deployment_state& d) {
  auto vms = vms_of(w, d.spec.name);
  std::size_t ready = 0;
  std::size_t updated = 0; // ready and made from the current revision
  for (const auto* vm : vms) {
    ready += is_ready(*vm);
    updated += is_ready(*vm) && vm->revision == d.revision;
  }
  auto p = reconcile(w, d.spec.name, w.last_at);
  return {{"name", d.spec.name},
          {"plugin", resolved_plugin_label(w, d.spec.tmpl.plugin)},
          {"desired", d.spec.replicas},
          {"current", vms.size()},
          {"ready", ready},
          {"updated", updated},
          {"created_at", format_time(d.created_at)},
          {"updated_at", format_time(d.updated_at)},
          {"revision", d.revision},
          {"paused", d.spec.paused},
          {"auto_restart", d.spec.auto_restart},
          {"blocked", p.blocked},
          {"rollout", rollout_view(d, p)}};
}

nlohmann::json deployments_view(const world& w) {
  auto rows = nlohmann::json::array();
  for (const auto& [name, d] : w.deployments)
    rows.push_back(deployment_row(w, d));
  return rows;
}

nlohmann::json deployment_detail(const world& w, const deployment_state& d,
                                 const nlohmann::json& events) {
  auto j = deployment_row(w, d);
  j["spec"] = encode_spec(d.spec);
  vm_filter only{d.spec.name, {}};
  j["vms"] = vms_view(w, only);
  j["events"] = events;
  // The hosts its replicas may run on: the one host, or a cluster's.
  j["hosts"] = nlohmann::json::array();
  if (w.hosts.empty())
    j["hosts"].push_back(w.host.config.id);
  for (const auto& [name, h] : w.hosts)
    if (!h.lost)
      j["hosts"].push_back(name);
  for (const auto& [name, a] : w.autoscalers)
    if (a.deployment == d.spec.name)
      j["autoscaler"] = {{"name", name},
                         {"min_replicas", a.min_replicas},
                         {"max_replicas", a.max_replicas}};
  return j;
}

nlohmann::json resources_view(const world& w) {
  const auto& h = w.host;
  return {{"host", h.config.id},
          {"cpu_total", h.config.cpu_total},
          {"cpu_used", h.cpu_used},
          {"cpu_committed", committed(w).cpu},
          {"cpu_limit", cpu_limit(h.config)},
          {"cpu_overcommit", h.config.cpu_overcommit_milli / 1000.0},
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

nlohmann::json vm_machine_view(const vm_machine& m) {
  const auto& rec = m.rec;
  const auto& r = m.run;
  nlohmann::json goal = nullptr;
  if (m.has_goal)
    goal = {{"keep", m.goal.keep},       {"paused", m.goal.paused},
            {"revision", m.goal.revision}, {"replace", m.goal.replace},
            {"auto_restart", m.goal.auto_restart}, {"probed", m.goal.probed}};
  return {{"status", to_string(rec.status)},
          {"phase", to_string(r.phase)},
          {"ip", to_string_ip(rec.ip)},
          {"pid", rec.handle.pid},
          {"handle",
           {{"pid", r.handle.pid}, {"start_ticks", r.handle.start_ticks},
            {"control", r.handle.control}}},
          {"run", r.n},
          {"incarnation", rec.incarnation},
          {"restarts", rec.restarts},
          {"backoff_ms", rec.backoff_ms},
          {"last_error", rec.last_error},
          {"deployment", rec.deployment},
          {"index", rec.index},
          {"revision", rec.revision},
          {"spec", {{"cpu", rec.cpu}, {"memory_mib", rec.memory_mib}}},
          {"created_at", format_time(rec.created_at)},
          {"started_at", format_time(rec.started_at)},
          {"ready_at", format_time(rec.ready_at)},
          {"goal", goal},
          {"verdict", r.verdict == probe_verdict::healthy     ? "healthy"
                      : r.verdict == probe_verdict::unhealthy ? "unhealthy"
                                                              : "unknown"},
          {"awaiting", m.awaiting_what},
          {"last_rejection", m.last_rejection}};
}

nlohmann::json deployment_actor_view(std::int32_t desired, std::size_t current,
                                     std::size_t ready, std::size_t updated,
                                     std::uint64_t revision, const update_strategy& strategy,
                                     const plan& p, std::size_t vm_actors,
                                     std::uint64_t pushes) {
  auto goals = nlohmann::json::object();
  for (const auto& [vm, g] : p.goals)
    goals[vm] = g.keep ? (g.paused ? "paused" : g.replace ? "replace" : "keep") : "remove";
  return {{"desired", desired},
          {"current", current},
          {"ready", ready},
          {"updated", updated},
          {"revision", revision},
          {"strategy", to_json(strategy)},
          {"vm_actors", vm_actors},
          {"pushes", pushes},
          {"goals", goals},
          {"creating", p.create},
          {"blocked", p.blocked}};
}

} // namespace volant::wire
