#include "events/admission.hpp"
#include "events/decide_parts.hpp"
#include "events/plan.hpp"
#include "events/state.hpp"
#include "events/validate.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

namespace volant {

namespace decide_detail {

std::string quoted(std::string_view text) {
  std::string out = "'";
  out += text;
  out += '\'';
  return out;
}

error no_deployment(const std::string& name) {
  return make_error(ec::unknown_deployment,
                    "deployment " + quoted(name)
                        + " does not exist (see: volar deployments list)");
}

bool checks_only(vm_template a, vm_template b) {
  a.health.reset();
  a.readiness.reset();
  b.health.reset();
  b.readiness.reset();
  return a == b;
}

} // namespace decide_detail

namespace {

using namespace decide_detail;

std::string ref_text(const plugin_ref& ref) {
  return ref.version.empty() ? ref.name : ref.name + ":" + ref.version;
}

error no_vm(const std::string& name) {
  return make_error(ec::unknown_vm,
                    "VM " + quoted(name)
                        + " does not exist (see: volar vms list)");
}

error no_plugin(const plugin_ref& ref) {
  return plugin_not_installed(ref_text(ref));
}

error not_configured() {
  return make_error(ec::invalid_host_config, "host is not configured");
}

/// Wanted replica indexes of `d` that have no VM (a scale-down not yet
/// carried out leaves VMs at indexes no longer wanted).
std::int64_t missing(const world& w, const deployment_state& d, const std::string& name) {
  std::set<std::uint32_t> present;
  for (const auto* vm : vms_of(w, name))
    present.insert(vm->index);
  std::int64_t n = 0;
  for (auto index : wanted_indexes(d))
    n += present.contains(index) ? 0 : 1;
  return n;
}

// -- host ---------------------------------------------------------------------

/// A new configuration may not strand a recorded VM: its lease outside the
/// pool, or the VMs holding more memory or being more than the new limits
/// allow. Replicas admitted but not created yet do not count: after a shrink
/// the reconcile loop reports them blocked instead.
status check_vms_kept(const world& w, const host_config& c) {
  auto bad = [](std::string message) {
    return make_error(ec::invalid_host_config, std::move(message));
  };
  for (const auto& [ip, name] : w.host.leases)
    if (ip < c.pool_first || ip > c.pool_last)
      return bad("IP pool " + to_string_ip(c.pool_first) + "-"
                 + to_string_ip(c.pool_last) + " would strand VM "
                 + quoted(name) + " at " + to_string_ip(ip));
  if (w.host.memory_used_mib > c.memory_total_mib)
    return bad("memory_total_mib " + std::to_string(c.memory_total_mib)
               + " is below the " + std::to_string(w.host.memory_used_mib)
               + " MiB that VMs hold");
  if (auto limit = cpu_limit(c); limit > 0 && w.host.cpu_used > limit)
    return bad("--cpu-overcommit allows " + std::to_string(limit) + " vCPUs on "
               + std::to_string(c.cpu_total) + " cores, below the "
               + std::to_string(w.host.cpu_used) + " that VMs hold");
  if (w.vms.size() > c.max_vms)
    return bad("max_vms " + std::to_string(c.max_vms) + " is below the "
               + std::to_string(w.vms.size()) + " VMs recorded");
  return ok();
}

result decide_one(const world& w, const configure_host& cmd, unix_nanos now) {
  if (auto st = validate_host_config(cmd.config); !st)
    return st.error_value();
  if (auto st = check_vms_kept(w, cmd.config); !st)
    return st.error_value();
  if (w.host.configured && w.host.config == cmd.config)
    return events{};
  return events{host_configured{cmd.config, now}};
}

/// In a cluster, the cores and memory are the hosts' (each joins with its
/// own): a host's configuration sets the pool and the limits only.
result decide_cluster_config(const world& w, configure_host cmd, unix_nanos now) {
  cmd.config.cpu_total = w.host.config.cpu_total;
  cmd.config.memory_total_mib = w.host.config.memory_total_mib;
  return decide_one(w, cmd, now);
}

// -- plugins ------------------------------------------------------------------

result decide_one(const world& w, const install_plugin& cmd, unix_nanos now) {
  const auto& m = cmd.manifest;
  if (auto st = validate_manifest(m); !st)
    return st.error_value();
  if (w.plugins.find(plugin_ref{m.name, m.version}) != nullptr)
    return make_error(ec::duplicate_name, "plugin " + quoted(m.name)
                                              + " version " + quoted(m.version)
                                              + " is already installed");
  return events{plugin_installed{m, now}};
}

/// Whether deployment `d` uses the plugin version(s) that `cmd` removes.
bool uses(const world& w, const deployment_state& d, const remove_plugin& cmd) {
  const auto& ref = d.spec.tmpl.plugin;
  if (ref.name != cmd.name)
    return false;
  if (cmd.version.empty() || ref.version == cmd.version)
    return true;
  if (!ref.version.empty())
    return false;
  const auto* newest = w.plugins.find(plugin_ref{ref.name, {}});
  return newest != nullptr && newest->version == cmd.version;
}

result decide_one(const world& w, const remove_plugin& cmd, unix_nanos now) {
  plugin_ref ref{cmd.name, cmd.version};
  bool installed = cmd.version.empty() ? w.plugins.by_name.contains(cmd.name)
                                       : w.plugins.find(ref) != nullptr;
  if (!installed)
    return no_plugin(ref);
  for (const auto& [name, d] : w.deployments)
    if (uses(w, d, cmd))
      return make_error(ec::plugin_in_use, "plugin " + quoted(ref_text(ref))
                                               + " is in use by deployment "
                                               + quoted(name));
  return events{plugin_removed{cmd.name, cmd.version, now}};
}

// -- deployments --------------------------------------------------------------

result decide_one(const world& w, const create_deployment& cmd,
                  unix_nanos now) {
  const auto& spec = cmd.spec;
  if (auto st = validate_spec(spec, w.host.config.max_replicas); !st)
    return st.error_value();
  if (w.plugins.find(spec.tmpl.plugin) == nullptr)
    return no_plugin(spec.tmpl.plugin);
  if (w.deployments.contains(spec.name))
    return make_error(ec::duplicate_name,
                      "deployment " + quoted(spec.name) + " already exists");
  if (auto left = vms_of(w, spec.name); !left.empty())
    return make_error(ec::conflict, "deployment " + quoted(spec.name)
                                        + " is still being deleted ("
                                        + std::to_string(left.size())
                                        + " VMs left); try again shortly");
  if (!w.host.configured)
    return not_configured();
  demand need{mul_sat(spec.replicas, spec.tmpl.cpu), mul_sat(spec.replicas, spec.tmpl.memory_mib),
              spec.replicas, spec.quota};
  if (auto st = admit(w, need); !st)
    return st.error_value();
  return events{deployment_created{spec, 1, now}};
}

result decide_one(const world& w, const scale_deployment& cmd, unix_nanos now) {
  auto i = w.deployments.find(cmd.name);
  if (i == w.deployments.end())
    return no_deployment(cmd.name);
  const auto& spec = i->second.spec;
  if (cmd.replicas < 0)
    return make_error(ec::invalid_replicas, "replicas must be >= 0, got "
                                                + std::to_string(cmd.replicas));
  if (auto max = w.host.config.max_replicas; cmd.replicas > max)
    return make_error(ec::replica_limit,
                      "replicas " + std::to_string(cmd.replicas)
                          + " exceeds the limit of " + std::to_string(max)
                          + " per deployment");
  deployment_scaled ev{cmd.name, spec.replicas, static_cast<std::int32_t>(cmd.replicas),
                       now, {}, cmd.cause, cmd.detail};
  for (const auto& vm_name : cmd.remove) {
    auto vm = w.vms.find(vm_name);
    if (vm == w.vms.end() || vm->second.deployment != cmd.name
        || !wants_index(i->second, vm->second.index))
      return make_error(ec::unknown_vm, "VM " + quoted(vm_name)
                                            + " is not a replica of deployment "
                                            + quoted(cmd.name) + " (see: volar vms list "
                                            "--deployment " + cmd.name + ")");
    if (std::find(ev.removed.begin(), ev.removed.end(), vm->second.index) != ev.removed.end())
      return make_error(ec::invalid_argument, "VM " + quoted(vm_name) + " is named twice");
    ev.removed.push_back(vm->second.index);
  }
  if (!ev.removed.empty()
      && static_cast<std::int64_t>(ev.removed.size()) > spec.replicas - cmd.replicas)
    return make_error(ec::invalid_argument,
                      "--remove names " + std::to_string(ev.removed.size())
                        + " replica(s) but scaling " + cmd.name + " "
                        + std::to_string(spec.replicas) + " → "
                        + std::to_string(cmd.replicas) + " removes "
                        + std::to_string(std::max<std::int64_t>(
                            0, spec.replicas - cmd.replicas)));
  if (cmd.replicas == spec.replicas)
    return events{};
  if (ev.removed.empty() && cmd.replicas < spec.replicas && spec.multi_host && !w.hosts.empty())
    ev.removed = spread_victims(w, i->second, spec.replicas - cmd.replicas);
  std::sort(ev.removed.begin(), ev.removed.end());
  auto next = i->second;
  apply_scale(next, ev);
  auto added = std::max<std::int64_t>(
    0, missing(w, next, cmd.name) - missing(w, i->second, cmd.name));
  if (auto st = admit(w, {mul_sat(added, spec.tmpl.cpu), mul_sat(added, spec.tmpl.memory_mib), added,
                          spec.quota});
      !st)
    return st.error_value();
  return events{std::move(ev)};
}

/// Secret env after `cmd`: its removals, then its values, each replacing the
/// value of its key in place or appended (`--secret-env` on update).
status update_secret_env(std::vector<sealed_env_var>& secrets,
                         const update_deployment& cmd) {
  auto find = [&](const std::string& key) {
    return std::find_if(secrets.begin(), secrets.end(),
                        [&](const sealed_env_var& v) { return v.key == key; });
  };
  for (const auto& key : cmd.secret_env_remove) {
    for (const auto& set : cmd.secret_env_set)
      if (set.key == key)
        return make_error(ec::invalid_env, "secret env key '" + key
                                               + "' is both set and removed");
    auto it = find(key);
    if (it == secrets.end())
      return make_error(ec::invalid_env, "secret env key '" + key
                                             + "' is not set on deployment '"
                                             + cmd.name + "'");
    secrets.erase(it);
  }
  for (const auto& var : cmd.secret_env_set) {
    if (auto it = find(var.key); it != secrets.end())
      it->sealed = var.sealed;
    else
      secrets.push_back(var);
  }
  return ok();
}

/// The template `cmd` asks for, or why not.
expected<vm_template> updated_template(const vm_template& old,
                                       const update_deployment& cmd) {
  auto tmpl = old;
  if (cmd.plugin)
    tmpl.plugin = *cmd.plugin;
  if (cmd.cpu) {
    if (*cmd.cpu < 1)
      return make_error(ec::invalid_cpu,
                        "cpu must be >= 1, got " + std::to_string(*cmd.cpu));
    if (*cmd.cpu > std::numeric_limits<std::int32_t>::max())
      return make_error(ec::invalid_cpu,
                        "cpu " + std::to_string(*cmd.cpu) + " is too large");
    tmpl.cpu = static_cast<std::int32_t>(*cmd.cpu);
  }
  if (cmd.memory_mib)
    tmpl.memory_mib = *cmd.memory_mib;
  if (cmd.vm_labels)
    tmpl.vm_labels = *cmd.vm_labels;
  if (cmd.env)
    tmpl.env = *cmd.env;
  if (auto st = update_secret_env(tmpl.secret_env, cmd); !st)
    return st.error_value();
  if (cmd.health)
    tmpl.health = *cmd.health;
  if (cmd.readiness)
    tmpl.readiness = *cmd.readiness;
  if (cmd.volumes)
    tmpl.volumes = *cmd.volumes;
  return tmpl;
}

result decide_one(const world& w, const update_deployment& cmd,
                  unix_nanos now) {
  auto i = w.deployments.find(cmd.name);
  if (i == w.deployments.end())
    return no_deployment(cmd.name);
  const auto& d = i->second;
  auto tmpl = updated_template(d.spec.tmpl, cmd);
  if (!tmpl)
    return tmpl.error_value();
  auto spec = d.spec;
  spec.tmpl = *tmpl;
  spec.strategy = cmd.strategy.value_or(d.spec.strategy);
  if (cmd.rollout_paused)
    spec.strategy.rollout_paused = *cmd.rollout_paused;
  spec.auto_restart = cmd.auto_restart.value_or(d.spec.auto_restart);
  if (cmd.quota)
    spec.quota = *cmd.quota;
  // An existing deployment above a since-lowered limit may still be updated.
  auto max = std::max(w.host.config.max_replicas,
                      static_cast<std::uint32_t>(spec.replicas));
  if (auto st = validate_spec(spec, max); !st)
    return st.error_value();
  if (w.plugins.find(spec.tmpl.plugin) == nullptr)
    return no_plugin(spec.tmpl.plugin);
  auto growth = std::max<std::int64_t>(0, spec.tmpl.memory_mib - d.spec.tmpl.memory_mib);
  auto cpu_growth = std::max<std::int64_t>(0, spec.tmpl.cpu - d.spec.tmpl.cpu);
  if (growth > 0 || cpu_growth > 0)
    if (auto st = admit(w, {mul_sat(cpu_growth, spec.replicas), mul_sat(growth, spec.replicas), 0});
        !st)
      return st.error_value();
  if (spec.quota != d.spec.quota) {
    // Joining a quota: the whole deployment must fit in it.
    demand all{mul_sat(spec.replicas, spec.tmpl.cpu), mul_sat(spec.replicas, spec.tmpl.memory_mib),
               spec.replicas, spec.quota};
    if (auto st = admit_quota(w, all); !st)
      return st.error_value();
  } else if (growth > 0 || cpu_growth > 0) {
    if (auto st = admit_quota(w, {mul_sat(cpu_growth, spec.replicas),
                                  mul_sat(growth, spec.replicas), 0, spec.quota});
        !st)
      return st.error_value();
  }
  events out;
  bool tmpl_changed = spec.tmpl != d.spec.tmpl;
  bool health_only = tmpl_changed && checks_only(spec.tmpl, d.spec.tmpl);
  if (spec.quota != d.spec.quota)
    out.emplace_back(deployment_quota_set{cmd.name, d.spec.quota, spec.quota, now});
  if (tmpl_changed || spec.strategy != d.spec.strategy)
    out.emplace_back(deployment_updated{cmd.name, spec.tmpl, spec.strategy,
                                        d.revision + (tmpl_changed ? 1 : 0), now,
                                        health_only, cmd.reason});
  if (spec.auto_restart != d.spec.auto_restart)
    out.emplace_back(
        deployment_auto_restart_set{cmd.name, spec.auto_restart, now});
  return out;
}

result decide_one(const world& w, const pause_deployment& cmd, unix_nanos now) {
  auto i = w.deployments.find(cmd.name);
  if (i == w.deployments.end())
    return no_deployment(cmd.name);
  if (i->second.spec.paused)
    return make_error(ec::conflict,
                      "deployment " + quoted(cmd.name) + " is already paused");
  return events{deployment_paused{cmd.name, now}};
}

result decide_one(const world& w, const resume_deployment& cmd,
                  unix_nanos now) {
  auto i = w.deployments.find(cmd.name);
  if (i == w.deployments.end())
    return no_deployment(cmd.name);
  if (!i->second.spec.paused)
    return make_error(ec::conflict, "deployment " + quoted(cmd.name)
                                        + " is not paused, nothing to resume");
  return events{deployment_resumed{cmd.name, now}};
}

result decide_one(const world& w, const delete_deployment& cmd,
                  unix_nanos now) {
  if (!w.deployments.contains(cmd.name))
    return no_deployment(cmd.name);
  events out{deployment_deleted{cmd.name, now, cmd.purge_volumes}};
  if (cmd.purge_volumes)
    for (auto& ev : purge_detached(w, cmd.name, now))
      out.push_back(std::move(ev));
  return out;
}

// -- VMs ----------------------------------------------------------------------

result decide_one(const world& w, const create_vm& cmd, unix_nanos now) {
  auto i = w.deployments.find(cmd.deployment);
  if (i == w.deployments.end())
    return no_deployment(cmd.deployment);
  const auto& d = i->second;
  if (d.spec.paused)
    return make_error(ec::conflict, "deployment " + quoted(cmd.deployment)
                                        + " is paused: no VM is created");
  if (!wants_index(d, cmd.index))
    return make_error(ec::invalid_argument,
                      "replica index " + std::to_string(cmd.index)
                          + " is out of range for deployment "
                          + quoted(cmd.deployment) + " (replicas "
                          + std::to_string(d.spec.replicas) + ")");
  auto name = cmd.surge ? surge_name(cmd.deployment, cmd.index, d.revision)
                        : vm_name(cmd.deployment, cmd.index);
  if (w.vms.contains(name))
    return make_error(ec::duplicate_name,
                      "VM " + quoted(name) + " already exists");
  if (!w.host.configured)
    return not_configured();
  const auto& c = w.host.config;
  if (w.vms.size() + 1 > c.max_vms)
    return make_error(ec::host_vm_limit, "host VM limit reached ("
                                             + std::to_string(c.max_vms)
                                             + " VMs)");
  if (d.spec.tmpl.memory_mib > memory_free_mib(w))
    return insufficient_memory(d.spec.tmpl.memory_mib, memory_free_mib(w));
  if (d.spec.tmpl.cpu > cpu_free(w))
    return insufficient_cpu(d.spec.tmpl.cpu, cpu_free(w), c);
  if (auto q = w.quotas.find(d.spec.quota); q != w.quotas.end())
    if (auto why = quota_misfit(q->second, recorded(w, d.spec.quota),
                                {d.spec.tmpl.cpu, d.spec.tmpl.memory_mib, 1});
        !why.empty())
      return make_error(ec::quota_exceeded, why);
  auto host = place_vm(w, d);
  if (!host)
    return host.error_value();
  auto ip = allocate_ip_on(w, *host);
  if (!ip)
    return ip.error_value();
  auto volumes = attach_volumes(w, d, cmd.index, name, now);
  if (!volumes)
    return volumes.error_value();
  events out{vm_created{name, cmd.deployment, cmd.index, *host, *ip, d.revision,
                        d.spec.tmpl.cpu, d.spec.tmpl.memory_mib, now}};
  for (auto& ev : *volumes)
    out.push_back(std::move(ev));
  return out;
}

bool is_one_of(vm_status s, std::initializer_list<vm_status> set) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

/// The record says a run is (or may be) up, frozen included.
bool is_live(vm_status s) {
  return is_one_of(s,
                   {vm_status::starting, vm_status::running, vm_status::ready,
                    vm_status::unhealthy, vm_status::stopping,
                    vm_status::paused, vm_status::terminating});
}

/// A restarting VM's run may still be up: it ends before the next starts.
bool may_be_live(vm_status s) {
  return is_live(s) || s == vm_status::restarting;
}

error vm_conflict(const vm_record& vm, std::string_view what) {
  return make_error(ec::conflict, "cannot " + std::string(what) + " VM "
                                      + quoted(vm.name) + ": it is "
                                      + std::string(to_string(vm.status)));
}

/// A report about a run other than the current one is stale.
status check_run(const vm_record& vm, std::uint64_t incarnation) {
  if (incarnation == 0 || incarnation == vm.incarnation)
    return ok();
  return make_error(ec::conflict, "stale report for VM " + quoted(vm.name)
                                      + ": run " + std::to_string(incarnation)
                                      + " is not its current run "
                                      + std::to_string(vm.incarnation));
}

/// The current run, whatever `named` said (0: current).
std::uint64_t current_run(const vm_record& vm, std::uint64_t named) {
  return named != 0 ? named : vm.incarnation;
}

/// A remove or recreate: allowed once the caller saw the current run end.
status check_ended(const vm_record& vm, std::uint64_t ended, std::string_view what) {
  if (!may_be_live(vm.status) || (ended != 0 && ended == vm.incarnation))
    return ok();
  return make_error(ec::conflict, "VM " + quoted(vm.name) + " is "
                                      + std::string(to_string(vm.status))
                                      + ": stop it before " + std::string(what)
                                      + " it");
}

/// Looks up the VM and hands it to `fn`, which returns the events.
template <class Fn>
result with_vm(const world& w, const std::string& name, Fn fn) {
  auto i = w.vms.find(name);
  if (i == w.vms.end())
    return no_vm(name);
  return fn(i->second);
}

result decide_one(const world& w, const record_vm_started& cmd,
                  unix_nanos now) {
  return with_vm(w, cmd.name, [&](const vm_record& vm) -> result {
    if (is_live(vm.status) && vm.status != vm_status::starting)
      return vm_conflict(vm, "record a start of");
    auto n = cmd.incarnation != 0 ? cmd.incarnation : vm.incarnation + 1;
    if (n <= vm.incarnation)
      return make_error(ec::conflict, "VM " + quoted(vm.name) + " already had run "
                                          + std::to_string(n)
                                          + ": a start takes a new number");
    return events{vm_started{cmd.name, cmd.handle, now, n}};
  });
}

result decide_one(const world& w, const record_vm_adopted& cmd,
                  unix_nanos now) {
  return with_vm(w, cmd.name, [&](const vm_record& vm) -> result {
    if (auto st = check_run(vm, cmd.incarnation); !st)
      return st.error_value();
    return events{vm_adopted{cmd.name, cmd.handle, now, current_run(vm, cmd.incarnation)}};
  });
}

result decide_one(const world& w, const record_vm_ready& cmd, unix_nanos now) {
  return with_vm(w, cmd.name, [&](const vm_record& vm) -> result {
    if (auto st = check_run(vm, cmd.incarnation); !st)
      return st.error_value();
    if (vm.status == vm_status::ready)
      return events{};
    if (!is_one_of(vm.status, {vm_status::starting, vm_status::running,
                               vm_status::unhealthy}))
      return vm_conflict(vm, "mark ready");
    return events{vm_ready{cmd.name, now, vm.incarnation}};
  });
}

result decide_one(const world& w, const record_vm_unhealthy& cmd,
                  unix_nanos now) {
  return with_vm(w, cmd.name, [&](const vm_record& vm) -> result {
    if (auto st = check_run(vm, cmd.incarnation); !st)
      return st.error_value();
    if (vm.status == vm_status::unhealthy)
      return events{};
    if (!is_one_of(vm.status,
                   {vm_status::starting, vm_status::running, vm_status::ready}))
      return vm_conflict(vm, "mark unhealthy");
    return events{vm_unhealthy{cmd.name, cmd.reason, now, vm.incarnation}};
  });
}

result decide_one(const world& w, const record_vm_exited& cmd, unix_nanos now) {
  return with_vm(w, cmd.name, [&](const vm_record& vm) -> result {
    if (auto st = check_run(vm, cmd.incarnation); !st)
      return st.error_value();
    if (!is_live(vm.status))
      return vm_conflict(vm, "record an exit of");
    return events{vm_exited{cmd.name, cmd.exit_code, cmd.reason, now, vm.incarnation}};
  });
}

result decide_one(const world& w, const record_vm_start_failed& cmd,
                  unix_nanos now) {
  return with_vm(w, cmd.name, [&](const vm_record& vm) -> result {
    if (is_live(vm.status) && vm.status != vm_status::starting)
      return vm_conflict(vm, "record a failed start of");
    if (cmd.incarnation != 0 && cmd.incarnation <= vm.incarnation)
      return make_error(ec::conflict, "stale report for VM " + quoted(vm.name)
                                          + ": run " + std::to_string(cmd.incarnation)
                                          + " is not a new run");
    if (vm.status == vm_status::failed && vm.last_error == cmd.error
        && cmd.incarnation == 0)
      return events{}; // the same report again
    return events{vm_start_failed{cmd.name, cmd.error, now, cmd.incarnation}};
  });
}

result decide_one(const world& w, const schedule_vm_restart& cmd,
                  unix_nanos now) {
  return with_vm(w, cmd.name, [&](const vm_record& vm) -> result {
    if (auto st = check_run(vm, cmd.incarnation); !st)
      return st.error_value();
    if (is_one_of(vm.status, {vm_status::pending, vm_status::stopping,
                              vm_status::restarting, vm_status::paused}))
      return vm_conflict(vm, "restart");
    return events{vm_restart_scheduled{cmd.name, cmd.reason, cmd.backoff_ms, now,
                                       vm.incarnation}};
  });
}

result decide_one(const world& w, const record_vm_stopped& cmd,
                  unix_nanos now) {
  return with_vm(w, cmd.name, [&](const vm_record& vm) -> result {
    if (auto st = check_run(vm, cmd.incarnation); !st)
      return st.error_value();
    if (vm.status == vm_status::stopped)
      return events{};
    return events{vm_stopped{cmd.name, now, vm.incarnation}};
  });
}

result decide_one(const world& w, const record_vm_paused& cmd,
                  unix_nanos now) {
  return with_vm(w, cmd.name, [&](const vm_record& vm) -> result {
    if (auto st = check_run(vm, cmd.incarnation); !st)
      return st.error_value();
    if (vm.status == vm_status::paused)
      return events{}; // the same report again
    if (!is_one_of(vm.status,
                   {vm_status::running, vm_status::ready, vm_status::unhealthy}))
      return vm_conflict(vm, "pause");
    return events{vm_paused{cmd.name, now, vm.incarnation}};
  });
}

result decide_one(const world& w, const record_vm_resumed& cmd,
                  unix_nanos now) {
  return with_vm(w, cmd.name, [&](const vm_record& vm) -> result {
    if (auto st = check_run(vm, cmd.incarnation); !st)
      return st.error_value();
    if (vm.status != vm_status::paused)
      return make_error(ec::conflict, "cannot resume VM " + quoted(vm.name)
                                          + ": it is "
                                          + std::string(to_string(vm.status))
                                          + ", not paused");
    return events{vm_resumed{cmd.name, now, vm.incarnation}};
  });
}

result decide_one(const world& w, const remove_vm& cmd, unix_nanos now) {
  return with_vm(w, cmd.name, [&](const vm_record& vm) -> result {
    if (auto st = check_ended(vm, cmd.ended, "removing"); !st)
      return st.error_value();
    events out{vm_removed{cmd.name, now}};
    for (auto& ev : release_volumes(w, cmd.name, now))
      out.push_back(std::move(ev));
    return out;
  });
}

result decide_one(const world& w, const recreate_vm& cmd, unix_nanos now) {
  return with_vm(w, cmd.name, [&](const vm_record& vm) -> result {
    if (auto st = check_ended(vm, cmd.ended, "recreating"); !st)
      return st.error_value();
    auto d = w.deployments.find(vm.deployment);
    if (d == w.deployments.end())
      return no_deployment(vm.deployment);
    if (cmd.revision != d->second.revision)
      return make_error(ec::conflict, "cannot recreate VM " + quoted(vm.name)
                                          + " at revision "
                                          + std::to_string(cmd.revision)
                                          + ": deployment " + quoted(vm.deployment)
                                          + " is at revision "
                                          + std::to_string(d->second.revision));
    const auto& tmpl = d->second.spec.tmpl;
    auto growth = tmpl.memory_mib - vm.memory_mib;
    if (growth > 0 && growth > memory_free_mib(w))
      return insufficient_memory(tmpl.memory_mib, memory_free_mib(w) + vm.memory_mib);
    auto cpu_growth = tmpl.cpu - vm.cpu;
    if (cpu_growth > 0 && cpu_growth > cpu_free(w))
      return insufficient_cpu(tmpl.cpu, cpu_free(w) + vm.cpu, w.host.config);
    auto volumes = attach_volumes(w, d->second, vm.index, vm.name, now);
    if (!volumes)
      return volumes.error_value();
    events out{vm_recreated{cmd.name, cmd.revision, tmpl.cpu, tmpl.memory_mib,
                            cmd.restarts, cmd.backoff_ms, cmd.reason, now}};
    for (auto& ev : *volumes)
      out.push_back(std::move(ev));
    return out;
  });
}

result decide_one(const world& w, const delete_vm& cmd, unix_nanos now) {
  const auto* found = find_vm(w, cmd.name); // a slot name or a key
  if (found == nullptr)
    return make_error(ec::unknown_vm, "VM " + quoted(cmd.name) + " not found");
  auto vm = w.vms.find(found->name);
  auto d = w.deployments.find(vm->second.deployment);
  if (d == w.deployments.end() || !wants_index(d->second, vm->second.index))
    return make_error(ec::conflict, "VM " + quoted(cmd.name)
                                      + " is being removed already (its deployment no "
                                        "longer wants it)");
  if (d->second.spec.paused)
    return make_error(ec::conflict, "deployment " + quoted(vm->second.deployment)
                                      + " is paused: resume it before deleting one of "
                                        "its VMs");
  if (vm->second.replace_requested)
    return events{}; // asked already: the replacement is under way
  return events{vm_replace_requested{vm->first, now}};
}

result decide_one(const world& w, const terminate_vm& cmd, unix_nanos now) {
  return with_vm(w, cmd.name, [&](const vm_record& vm) -> result {
    if (auto st = check_run(vm, cmd.incarnation); !st)
      return st.error_value();
    if (vm.status == vm_status::terminating)
      return events{}; // retired already
    if (!is_one_of(vm.status, {vm_status::starting, vm_status::running,
                               vm_status::ready, vm_status::unhealthy}))
      return vm_conflict(vm, "retire");
    return events{vm_terminating{cmd.name, cmd.reason, cmd.grace_ms, now,
                                 vm.incarnation}};
  });
}

result decide_one(const world& w, const record_vm_not_ready& cmd, unix_nanos now) {
  return with_vm(w, cmd.name, [&](const vm_record& vm) -> result {
    if (auto st = check_run(vm, cmd.incarnation); !st)
      return st.error_value();
    if (vm.status != vm_status::ready)
      return events{}; // not serving anyway
    return events{vm_not_ready{cmd.name, cmd.reason, now, vm.incarnation}};
  });
}

result decide_one(const world& w, const mark_drained& cmd, unix_nanos now) {
  auto i = w.vms.find(cmd.name);
  // Told late (gone, restarted or stopped already) or twice: nothing to do.
  if (i == w.vms.end() || i->second.status != vm_status::terminating
      || i->second.terminate_at <= now)
    return events{};
  return events{vm_drained{cmd.name, cmd.lb, now, i->second.incarnation}};
}

// -- system -------------------------------------------------------------------

result decide_one(const world&, const record_actor_crash& cmd, unix_nanos now) {
  if (cmd.actor.empty())
    return make_error(ec::invalid_argument, "a crashed actor needs a name");
  return events{actor_crashed{cmd.actor, cmd.reason, cmd.count, now}};
}

} // namespace

expected<std::vector<event>> decide(const world& w, const command& cmd,
                                    unix_nanos now) {
  if (const auto* c = std::get_if<configure_host>(&cmd); c != nullptr && !w.hosts.empty())
    return decide_cluster_config(w, *c, now);
  return std::visit([&](const auto& c) { return decide_one(w, c, now); }, cmd);
}

} // namespace volant
