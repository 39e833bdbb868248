// The volume and quota decisions (issue 14, docs/volumes.md): which persistent
// volumes a VM gets and gives back, `volumes delete`, and the quota set.

#include "events/decide_parts.hpp"

#include "events/validate.hpp"

#include <algorithm>
#include <set>

namespace volant::decide_detail {

namespace {

bool wants_path(const vm_template& tmpl, const std::string& path) {
  return std::any_of(tmpl.volumes.begin(), tmpl.volumes.end(),
                     [&](const volume& v) { return v.persistent && v.path == path; });
}

std::string name_of(const volume_record& vol) {
  return volume_name(vol.deployment, vol.index, vol.path);
}

} // namespace

result attach_volumes(const world& w, const deployment_state& d, std::uint32_t index,
                      const std::string& vm, unix_nanos now) {
  events out;
  auto next_id = w.last_volume_id;
  // The VM's volumes that its template no longer has are given back (kept).
  for (const auto& [id, vol] : w.volumes)
    if (vol.vm == vm && !wants_path(d.spec.tmpl, vol.path))
      out.emplace_back(volume_detached{id, name_of(vol), vm, now});
  for (const auto& v : d.spec.tmpl.volumes) {
    if (!v.persistent)
      continue;
    const auto* vol = find_volume(w, d.spec.name, index, v.path);
    if (vol == nullptr) {
      auto id = ++next_id;
      out.emplace_back(volume_created{id, d.spec.name, index, v.path, v.size_mib, now});
      out.emplace_back(volume_attached{id, volume_name(d.spec.name, index, v.path), vm, now});
      continue;
    }
    if (vol->vm == vm)
      continue;
    if (vol->purge)
      return make_error(ec::conflict, "volume " + quoted(name_of(*vol))
                                          + " is being purged; try again shortly");
    if (!vol->vm.empty())
      // The one rule of persistent volumes: one VM at a time.
      return make_error(ec::conflict, "volume " + quoted(name_of(*vol))
                                          + " is still attached to VM "
                                          + quoted(std::string(slot_name(vol->vm))));
    out.emplace_back(volume_attached{vol->id, name_of(*vol), vm, now});
  }
  return out;
}

events release_volumes(const world& w, const std::string& vm, unix_nanos now) {
  events out;
  for (const auto& [id, vol] : w.volumes) {
    if (vol.vm != vm)
      continue;
    out.emplace_back(volume_detached{id, name_of(vol), vm, now});
    if (vol.purge)
      out.emplace_back(volume_deleted{id, name_of(vol),
                                      "deployment " + quoted(vol.deployment)
                                          + " deleted with --purge-volumes",
                                      now});
  }
  return out;
}

events purge_detached(const world& w, const std::string& deployment, unix_nanos now) {
  events out;
  for (const auto& [id, vol] : w.volumes)
    if (vol.deployment == deployment && vol.vm.empty())
      out.emplace_back(volume_deleted{id, name_of(vol),
                                      "deployment " + quoted(deployment)
                                          + " deleted with --purge-volumes",
                                      now});
  return out;
}

result decide_one(const world& w, const delete_volume& cmd, unix_nanos now) {
  const auto* vol = find_volume(w, cmd.name);
  if (vol == nullptr)
    return make_error(ec::unknown_volume,
                      "volume " + quoted(cmd.name) + " not found (see: volar volumes list)");
  if (!vol->vm.empty())
    return make_error(ec::conflict,
                      "volume " + quoted(cmd.name) + " is attached to VM "
                          + quoted(std::string(slot_name(vol->vm)))
                          + ": scale deployment " + quoted(vol->deployment)
                          + " down or delete it first");
  return events{volume_deleted{vol->id, cmd.name, "deleted by the user", now}};
}

status validate_quota(const quota_spec& q) {
  if (auto st = validate_name(q.name, "quota"); !st)
    return make_error(ec::invalid_quota, st.error_value().message);
  for (auto [value, field] : {std::pair{q.max_vms, "max_vms"}, {q.max_cpu, "max_cpu"},
                              {q.max_memory_mib, "max_memory_gb"}})
    if (value < -1)
      return make_error(ec::invalid_quota, "quota " + quoted(q.name) + ": " + field
                                               + " must be >= 0");
  return ok();
}

result decide_one(const world& w, const set_quotas& cmd, unix_nanos now) {
  events out;
  std::set<std::string> named;
  for (const auto& q : cmd.quotas) {
    if (auto st = validate_quota(q); !st)
      return st.error_value();
    if (!named.insert(q.name).second)
      return make_error(ec::invalid_quota, "quota " + quoted(q.name) + " is defined twice");
    auto old = w.quotas.find(q.name);
    if (old == w.quotas.end() || old->second != q)
      out.emplace_back(quota_set{q, cmd.source, now});
  }
  if (cmd.replace_all)
    for (const auto& [name, q] : w.quotas)
      if (!named.contains(name))
        out.emplace_back(quota_deleted{name, cmd.source, now});
  return out;
}

// -- autoscalers (issue 15) -----------------------------------------------------

status validate_autoscaler(const autoscaler_spec& a) {
  auto bad = [&](const std::string& what) {
    return make_error(ec::invalid_autoscaler, "autoscaler " + quoted(a.name) + ": " + what);
  };
  if (auto st = validate_name(a.name, "autoscaler"); !st)
    return make_error(ec::invalid_autoscaler, st.error_value().message);
  if (a.min_replicas < 1)
    return bad("minReplicas must be >= 1");
  if (a.max_replicas < a.min_replicas)
    return bad("maxReplicas must be >= minReplicas");
  if (a.metrics.empty())
    return bad("give at least one metric");
  std::set<metric_kind> kinds;
  for (const auto& m : a.metrics) {
    if (!(m.target > 0) || m.target > 1e9)
      return bad(std::string(to_string(m.kind)) + " target must be > 0");
    if (!kinds.insert(m.kind).second)
      return bad("metric " + std::string(to_string(m.kind)) + " is given twice");
  }
  if (!(a.tolerance >= 0 && a.tolerance < 1))
    return bad("tolerance must be 0 .. 1 (exclusive)");
  for (const auto* r : {&a.up, &a.down})
    if (r->stabilization_seconds < 0 || r->stabilization_seconds > 3600 || r->period_seconds < 1
        || r->period_seconds > 1800)
      return bad("stabilization must be 0..3600 s and periods 1..1800 s");
  return ok();
}

result decide_one(const world& w, const set_autoscaler& cmd, unix_nanos now) {
  const auto& a = cmd.spec;
  if (auto st = validate_autoscaler(a); !st)
    return st.error_value();
  if (!w.deployments.contains(a.deployment))
    return no_deployment(a.deployment);
  for (const auto& [name, other] : w.autoscalers)
    if (name != a.name && other.deployment == a.deployment)
      return make_error(ec::conflict, "deployment " + quoted(a.deployment)
                                          + " has an autoscaler already: " + quoted(name));
  if (auto old = w.autoscalers.find(a.name); old != w.autoscalers.end() && old->second == a)
    return events{};
  return events{autoscaler_set{a, now}};
}

result decide_one(const world& w, const delete_autoscaler& cmd, unix_nanos now) {
  if (!w.autoscalers.contains(cmd.name))
    return make_error(ec::unknown_autoscaler, "autoscaler " + quoted(cmd.name)
                                                  + " not found (see: volar hpa list)");
  return events{autoscaler_deleted{cmd.name, now}};
}

} // namespace volant::decide_detail
