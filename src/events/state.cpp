#include "events/state.hpp"

#include "events/validate.hpp"

#include <algorithm>
#include <tuple>

namespace volant {

namespace {

// -- one apply_one per event --------------------------------------------------
//
// Each is total: an event naming something absent changes nothing, so a
// hand-edited or truncated log still folds.

void apply_one(world& w, const plugin_installed& e) {
  w.plugins.by_name[e.manifest.name][e.manifest.version] = e.manifest;
}

void apply_one(world& w, const plugin_removed& e) {
  auto i = w.plugins.by_name.find(e.name);
  if (i == w.plugins.by_name.end())
    return;
  if (!e.version.empty())
    i->second.erase(e.version);
  if (e.version.empty() || i->second.empty())
    w.plugins.by_name.erase(i);
}

/// A cluster's capacity is its hosts': the cores and memory of every host
/// that is not lost (admission and reconcile count against it; placement
/// picks the host).
void count_cluster(world& w) {
  if (w.hosts.empty())
    return;
  std::int32_t cpu = 0;
  std::int64_t memory = 0;
  for (const auto& [name, h] : w.hosts)
    if (!h.lost) {
      cpu += h.cpu_total;
      memory += h.memory_total_mib;
    }
  w.host.config.cpu_total = cpu;
  w.host.config.memory_total_mib = memory;
}

void apply_one(world& w, const host_configured& e) {
  w.host.configured = true;
  w.host.config = e.config;
  count_cluster(w);
}

void apply_one(world& w, const host_joined& e) {
  auto& h = w.hosts[e.host.name];
  h = e.host;
  h.lost = false;
  h.since = e.at;
  count_cluster(w);
}

void apply_one(world& w, const host_lost& e) {
  auto i = w.hosts.find(e.name);
  if (i == w.hosts.end())
    return;
  i->second.lost = true;
  i->second.draining = false;
  i->second.since = e.at;
  count_cluster(w);
}

void apply_one(world& w, const deployment_created& e) {
  deployment_state d{e.spec, e.revision, e.at, e.at};
  d.rollout = rollout_state{e.revision, rollout_phase::progressing, e.at, e.at};
  w.deployments.try_emplace(e.spec.name, std::move(d));
}

/// Runs `fn` on the named deployment, if it exists, and stamps `updated_at`.
template <class Fn>
void update_deployment_state(world& w, const std::string& name, unix_nanos at,
                             Fn fn) {
  auto i = w.deployments.find(name);
  if (i == w.deployments.end())
    return;
  fn(i->second);
  i->second.updated_at = at;
}

} // namespace

void apply_scale(deployment_state& d, const deployment_scaled& e) {
  d.holes.insert(e.removed.begin(), e.removed.end());
  // A scale-up fills the lowest holes first.
  for (auto n = e.to - e.from; n > 0 && !d.holes.empty(); --n)
    d.holes.erase(d.holes.begin());
  d.spec.replicas = e.to;
  // Only holes below the highest wanted index mean anything.
  auto wanted = wanted_indexes(d);
  d.holes.erase(wanted.empty() ? d.holes.begin() : d.holes.upper_bound(wanted.back()),
                d.holes.end());
}

namespace {

void apply_one(world& w, const deployment_scaled& e) {
  update_deployment_state(w, e.name, e.at,
                          [&](deployment_state& d) { apply_scale(d, e); });
}

void apply_one(world& w, const deployment_updated& e) {
  std::uint64_t previous = 0;
  std::uint64_t reverted_to = 0; // an automatic revert: the stable revision
  update_deployment_state(w, e.name, e.at, [&](deployment_state& d) {
    previous = d.revision;
    if (e.revert_of != 0 && !e.in_place && d.stable_revision != 0
        && d.stable_tmpl == e.tmpl) {
      // The VMs of the stable revision are made from this very template: they
      // move to the new revision as they are (as Kubernetes reuses the old
      // ReplicaSet); only the failed revision's VMs are replaced.
      reverted_to = d.stable_revision;
      d.stable_revision = e.revision;
    }
    d.spec.tmpl = e.tmpl;
    d.spec.strategy = e.strategy;
    d.revision = e.revision;
    if (e.revision == previous)
      return; // the strategy only: the rollout goes on under it
    if (e.in_place) {
      // The VMs move to the new revision in place: so do the rollout and,
      // if it was the stable one, the stable revision.
      d.rollout.revision = e.revision;
      if (d.stable_revision == previous) {
        d.stable_revision = e.revision;
        d.stable_tmpl = e.tmpl;
      }
      return;
    }
    d.rollout = rollout_state{e.revision, rollout_phase::progressing, e.at, e.at,
                              0,          {},                         e.revert_of};
  });
  auto moved = e.in_place ? previous : reverted_to;
  if (moved != 0 && moved != e.revision)
    for (auto& [name, vm] : w.vms)
      if (vm.deployment == e.name && vm.revision == moved)
        vm.revision = e.revision;
}

void apply_one(world& w, const deployment_rollout& e) {
  update_deployment_state(w, e.name, e.at, [&](deployment_state& d) {
    auto& r = d.rollout;
    if (e.revision != r.revision)
      return; // about a rollout that another one replaced
    if (e.updated > r.updated || e.phase != r.phase)
      r.progress_at = e.at;
    r.updated = std::max(r.updated, e.updated);
    r.phase = e.phase;
    r.reason = e.reason;
    if (e.phase == rollout_phase::complete && e.revision == d.revision) {
      d.stable_revision = e.revision;
      d.stable_tmpl = d.spec.tmpl;
    }
  });
}

void apply_one(world& w, const deployment_auto_restart_set& e) {
  update_deployment_state(w, e.name, e.at, [&](deployment_state& d) {
    d.spec.auto_restart = e.enabled;
  });
}

void apply_one(world& w, const deployment_paused& e) {
  update_deployment_state(w, e.name, e.at,
                          [](deployment_state& d) { d.spec.paused = true; });
}

void apply_one(world& w, const deployment_resumed& e) {
  update_deployment_state(w, e.name, e.at,
                          [](deployment_state& d) { d.spec.paused = false; });
}

void apply_one(world& w, const deployment_deleted& e) {
  w.deployments.erase(e.name);
  if (e.purge_volumes)
    for (auto& [id, vol] : w.volumes)
      if (vol.deployment == e.name)
        vol.purge = true;
}

void apply_one(world& w, const vm_created& e) {
  // A duplicate name or a leased address would break the lease index: ignored.
  if (w.vms.contains(e.name) || w.host.leases.contains(e.ip))
    return;
  vm_record vm;
  vm.name = e.name;
  vm.deployment = e.deployment;
  vm.index = e.index;
  vm.host = e.host;
  vm.ip = e.ip;
  vm.revision = e.revision;
  vm.cpu = e.cpu;
  vm.memory_mib = e.memory_mib;
  vm.created_at = e.at;
  vm.restarts = e.restarts;
  vm.backoff_ms = e.backoff_ms;
  vm.last_error = e.reason;
  vm.not_before = e.at + static_cast<unix_nanos>(e.backoff_ms) * 1'000'000;
  // Its runs are numbered above every run ever recorded, so that a new VM of a
  // reused name never repeats an old one's number.
  vm.incarnation = w.last_incarnation;
  w.vms.emplace(e.name, std::move(vm));
  w.host.leases.emplace(e.ip, e.name);
  w.host.memory_used_mib += e.memory_mib;
  w.host.cpu_used += e.cpu;
}

void apply_one(world& w, const vm_removed& e) {
  auto i = w.vms.find(e.name);
  if (i == w.vms.end())
    return;
  const auto& vm = i->second;
  if (auto l = w.host.leases.find(vm.ip);
      l != w.host.leases.end() && l->second == vm.name)
    w.host.leases.erase(l);
  w.host.memory_used_mib -= vm.memory_mib;
  w.host.cpu_used -= vm.cpu;
  w.vms.erase(i);
}

void apply_one(world& w, const vm_recreated& e) {
  auto i = w.vms.find(e.name);
  if (i == w.vms.end())
    return;
  w.host.memory_used_mib += e.memory_mib - i->second.memory_mib;
  w.host.cpu_used += e.cpu - i->second.cpu;
  volant::apply(i->second, event{e});
}

void apply_one(world& w, const lb_created& e) {
  w.lbs.try_emplace(e.spec.name, e.spec);
}

void apply_one(world& w, const lb_switched& e) {
  if (auto i = w.lbs.find(e.name); i != w.lbs.end())
    i->second.deployment = e.to;
}

void apply_one(world& w, const lb_deleted& e) {
  w.lbs.erase(e.name);
}

void apply_one(world& w, const volume_created& e) {
  if (w.volumes.contains(e.id))
    return;
  volume_record vol;
  vol.id = e.id;
  vol.deployment = e.deployment;
  vol.index = e.index;
  vol.path = e.path;
  vol.size_mib = e.size_mib;
  vol.created_at = e.at;
  w.volumes.emplace(e.id, std::move(vol));
  w.last_volume_id = std::max(w.last_volume_id, e.id);
}

void apply_one(world& w, const volume_attached& e) {
  if (auto i = w.volumes.find(e.id); i != w.volumes.end())
    i->second.vm = e.vm;
}

void apply_one(world& w, const volume_detached& e) {
  if (auto i = w.volumes.find(e.id); i != w.volumes.end() && i->second.vm == e.vm)
    i->second.vm.clear();
}

void apply_one(world& w, const volume_deleted& e) {
  w.volumes.erase(e.id);
}

void apply_one(world& w, const quota_set& e) {
  w.quotas[e.spec.name] = e.spec;
}

void apply_one(world& w, const deployment_quota_set& e) {
  update_deployment_state(w, e.name, e.at,
                          [&](deployment_state& d) { d.spec.quota = e.to; });
}

void apply_one(world& w, const autoscaler_set& e) {
  w.autoscalers[e.spec.name] = e.spec;
}

void apply_one(world& w, const autoscaler_deleted& e) {
  w.autoscalers.erase(e.name);
}

void apply_one(world& w, const quota_deleted& e) {
  w.quotas.erase(e.name);
}

void apply_one(world&, const actor_crashed&) {
  // Audit only: the supervisor already restarted the actor from the log.
}

/// Every other VM event changes only the VM's record (and the run numbering).
template <class E>
  requires(E::kind_name.starts_with("vm_"))
void apply_one(world& w, const E& e) {
  auto i = w.vms.find(e.name);
  if (i == w.vms.end())
    return;
  volant::apply(i->second, event{e});
  w.last_incarnation = std::max(w.last_incarnation, i->second.incarnation);
}

// -- one record -----------------------------------------------------------------------

/// A run number from an event: the one it names, else (old logs) the next.
std::uint64_t run_of(const vm_record& vm, std::uint64_t named) {
  return named != 0 ? named : vm.incarnation + 1;
}

void fold(vm_record& vm, const vm_started& e) {
  vm.status = vm_status::running;
  vm.handle = e.handle;
  vm.started_at = e.at;
  vm.incarnation = run_of(vm, e.incarnation);
}

void fold(vm_record& vm, const vm_adopted& e) {
  vm.handle = e.handle;
  if (vm.status == vm_status::pending || vm.status == vm_status::starting)
    vm.status = vm_status::running;
  if (vm.started_at == 0)
    vm.started_at = e.at;
}

void fold(vm_record& vm, const vm_ready& e) {
  vm.status = vm_status::ready;
  vm.ready_at = e.at;
}

void fold(vm_record& vm, const vm_unhealthy& e) {
  vm.status = vm_status::unhealthy;
  vm.last_error = e.reason;
}

void fold(vm_record& vm, const vm_exited& e) {
  vm.status = vm_status::exited;
  vm.last_exit_code = e.exit_code;
  vm.last_error = e.reason;
}

void fold(vm_record& vm, const vm_start_failed& e) {
  vm.status = vm_status::failed;
  vm.last_error = e.error;
  if (e.incarnation != 0) // its number is used up: the next try takes the next
    vm.incarnation = std::max(vm.incarnation, e.incarnation);
}

void fold(vm_record& vm, const vm_restart_scheduled& e) {
  vm.status = vm_status::restarting;
  vm.restarts += 1;
  vm.backoff_ms = e.backoff_ms;
  vm.not_before = e.at + static_cast<unix_nanos>(e.backoff_ms) * 1'000'000;
}

void fold(vm_record& vm, const vm_stopped&) {
  vm.status = vm_status::stopped;
}

void fold(vm_record& vm, const vm_terminating& e) {
  vm.status = vm_status::terminating;
  vm.terminate_at = e.at + static_cast<unix_nanos>(e.grace_ms) * 1'000'000;
  if (!e.reason.empty())
    vm.last_error = e.reason;
}

void fold(vm_record& vm, const vm_not_ready& e) {
  if (vm.status == vm_status::ready && e.incarnation == vm.incarnation) {
    vm.status = vm_status::running;
    vm.last_error = "not ready: " + e.reason;
  }
}

void fold(vm_record& vm, const vm_drained& e) {
  if (vm.status == vm_status::terminating && e.incarnation == vm.incarnation)
    vm.terminate_at = std::min(vm.terminate_at, e.at);
}

void apply_one(world&, const journal_loss_accepted&) {
  // Audit only: what the lost events did is unknown, so nothing is undone or
  // guessed; the state is the fold of what survived.
}

// A paused VM keeps its lease and capacity: only its status changes.

void fold(vm_record& vm, const vm_paused&) {
  if (vm.status == vm_status::starting || vm.status == vm_status::running
      || vm.status == vm_status::ready || vm.status == vm_status::unhealthy)
    vm.status = vm_status::paused;
}

void fold(vm_record& vm, const vm_resumed&) {
  // `running` until the probe (or the actor, without a check) reports ready
  // again; `ready_at` keeps the last readiness.
  if (vm.status == vm_status::paused)
    vm.status = vm_status::running;
}

void fold(vm_record& vm, const vm_replace_requested&) {
  vm.replace_requested = true;
}

void fold(vm_record& vm, const vm_recreated& e) {
  vm.replace_requested = false;
  vm.revision = e.revision;
  vm.cpu = e.cpu;
  vm.memory_mib = e.memory_mib;
  vm.status = vm_status::pending;
  vm.handle = {};
  vm.restarts = e.restarts;
  vm.backoff_ms = e.backoff_ms;
  vm.last_error = e.reason;
  vm.created_at = e.at;
  vm.started_at = 0;
  vm.ready_at = 0;
  vm.not_before = e.at + static_cast<unix_nanos>(e.backoff_ms) * 1'000'000;
}

/// Events that are not about one VM's own record.
template <class E> void fold(vm_record&, const E&) {}

} // namespace

const plugin_manifest* plugin_registry::find(const plugin_ref& ref) const {
  auto i = by_name.find(ref.name);
  if (i == by_name.end() || i->second.empty())
    return nullptr;
  const auto& versions = i->second;
  if (!ref.version.empty()) {
    auto v = versions.find(ref.version);
    return v == versions.end() ? nullptr : &v->second;
  }
  // The map orders versions as strings; "newest" orders them numerically.
  auto newest = std::max_element(
      versions.begin(), versions.end(), [](const auto& a, const auto& b) {
        return compare_versions(a.first, b.first) < 0;
      });
  return &newest->second;
}

void apply(vm_record& vm, const event& ev) {
  std::visit([&vm](const auto& e) { fold(vm, e); }, ev);
}

void apply(world& w, const event& ev) {
  std::visit([&w](const auto& e) { apply_one(w, e); }, ev);
}

void apply(world& w, const recorded_event& rec) {
  apply(w, rec.ev);
  w.last_seq = rec.seq;
  w.last_at = rec.at;
}

std::vector<const vm_record*> vms_of(const world& w,
                                     const std::string& deployment) {
  std::vector<const vm_record*> out;
  for (const auto& [name, vm] : w.vms)
    if (vm.deployment == deployment)
      out.push_back(&vm);
  std::sort(out.begin(), out.end(), [](const vm_record* a, const vm_record* b) {
    return std::tie(a->index, a->revision, a->name) < std::tie(b->index, b->revision, b->name);
  });
  return out;
}

const vm_record* find_vm(const world& w, std::string_view name) {
  auto exact = w.vms.find(std::string(name));
  if (name.find('@') != std::string_view::npos)
    return exact == w.vms.end() ? nullptr : &exact->second;
  // A slot name: the plain-named VM and the "<name>@<revision>" candidates.
  auto rank = [](const vm_record& v) {
    return std::pair{v.status != vm_status::terminating, v.revision};
  };
  const vm_record* best = exact == w.vms.end() ? nullptr : &exact->second;
  auto prefix = std::string(name) + "@";
  for (auto i = w.vms.lower_bound(prefix); i != w.vms.end() && i->first.starts_with(prefix);
       ++i)
    if (best == nullptr || rank(i->second) > rank(*best))
      best = &i->second;
  return best;
}

std::int64_t memory_free_mib(const world& w) {
  return w.host.config.memory_total_mib - w.host.memory_used_mib;
}

std::vector<std::uint32_t> wanted_indexes(const deployment_state& d) {
  std::vector<std::uint32_t> out;
  auto n = static_cast<std::size_t>(std::max(d.spec.replicas, 0));
  out.reserve(n);
  for (std::uint32_t index = 0; out.size() < n; ++index)
    if (!d.holes.contains(index))
      out.push_back(index);
  return out;
}

bool wants_index(const deployment_state& d, std::uint32_t index) {
  if (d.holes.contains(index))
    return false;
  // Its rank among the indexes that are not holes.
  auto below = static_cast<std::uint32_t>(
      std::distance(d.holes.begin(), d.holes.lower_bound(index)));
  return index - below < static_cast<std::uint32_t>(std::max(d.spec.replicas, 0));
}

const volume_record* find_volume(const world& w, std::string_view deployment,
                                 std::uint32_t index, std::string_view path) {
  for (const auto& [id, vol] : w.volumes)
    if (vol.index == index && vol.deployment == deployment && vol.path == path)
      return &vol;
  return nullptr;
}

const volume_record* find_volume(const world& w, std::string_view name) {
  for (const auto& [id, vol] : w.volumes)
    if (volume_name(vol.deployment, vol.index, vol.path) == name)
      return &vol;
  return nullptr;
}

std::string vm_name(const std::string& deployment, std::uint32_t index) {
  return deployment + "-" + std::to_string(index);
}

std::string surge_name(const std::string& deployment, std::uint32_t index,
                       std::uint64_t revision) {
  return vm_name(deployment, index) + "@" + std::to_string(revision);
}

std::string_view slot_name(std::string_view vm) noexcept {
  return vm.substr(0, vm.find('@'));
}

std::string_view deployment_of_vm(std::string_view vm) noexcept {
  auto slot = slot_name(vm);
  auto dash = slot.rfind('-');
  return dash == std::string_view::npos ? slot : slot.substr(0, dash);
}

} // namespace volant
