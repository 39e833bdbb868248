#include "actors/deployment.hpp"

#include "actors/crash.hpp"
#include "actors/inspect.hpp"
#include "actors/log.hpp"
#include "actors/vm.hpp"
#include "wire/views.hpp"

#include <caf/all.hpp>

#include <nlohmann/json.hpp>

namespace volant {

namespace {

using self_ptr = deployment_actor::stateful_pointer<deployment_actor_state>;

/// Hands `vm` its goal from the latest plan (none: the VM is gone), unless it
/// has that goal and launch template already: most commits change nothing for
/// most VMs.
void tell(self_ptr self, const std::string& vm, const vm_actor& h, bool launch_changed) {
  auto& st = self->state;
  auto g = st.last.goals.goals.find(vm);
  if (g == st.last.goals.goals.end())
    return;
  auto [told, fresh] = st.told.try_emplace(vm, g->second);
  if (!fresh && !launch_changed && told->second == g->second)
    return;
  told->second = g->second;
  self->send(h, goal_atom::value, g->second, st.last.launch);
}

void spawn_vm(self_ptr self, vm_record rec, bool recovering) {
  auto& st = self->state;
  auto vm = rec.name;
  st.fetching.erase(vm);
  if (st.vms.count(vm) || !st.last.goals.goals.count(vm))
    return;
  auto child = self->spawn<caf::linked>(vm_actor_fn, st.ctx, std::move(rec), st.controller,
                                        recovering);
  st.vms.emplace(vm, child);
  st.told.erase(vm);
  tell(self, vm, child, true);
}

/// A VM actor respawned after its crash starts on its record as decided now.
void fetch_and_spawn(self_ptr self, const std::string& vm) {
  auto& st = self->state;
  if (st.vms.count(vm) || !st.fetching.insert(vm).second)
    return;
  self->request(st.controller, caf::infinite, launch_atom::value, vm)
    .then([=](vm_record& rec) { spawn_vm(self, std::move(rec), false); },
          [=](caf::error&) { self->state.fetching.erase(vm); }); // gone meanwhile
}

void on_push(self_ptr self, deployment_push& push) {
  auto& st = self->state;
  ++st.pushes;
  if (push.goals.blocked != st.last.goals.blocked && !push.goals.blocked.empty())
    VLOG_WARN(st.name, "blocked: {}", push.goals.blocked);
  auto records = std::move(push.records);
  bool launch_changed = !(push.launch.plugin == st.last.launch.plugin
                          && push.launch.tmpl == st.last.launch.tmpl
                          && push.launch.health == st.last.launch.health);
  st.last = std::move(push);
  for (const auto& [vm, goal] : st.last.goals.goals) {
    if (auto it = st.vms.find(vm); it != st.vms.end())
      tell(self, vm, it->second, launch_changed);
    else if (auto rec = records.find(vm); rec != records.end())
      spawn_vm(self, std::move(rec->second), st.last.recovering);
    else
      fetch_and_spawn(self, vm);
  }
}

/// A VM actor ended: removed (normal) or crashed (respawned; it adopts).
void on_exit(self_ptr self, const caf::exit_msg& msg) {
  auto& st = self->state;
  for (auto it = st.vms.begin(); it != st.vms.end(); ++it) {
    if (it->second.address() != msg.source)
      continue;
    auto vm = it->first;
    st.vms.erase(it);
    st.told.erase(vm);
    if (msg.reason == caf::exit_reason::normal) {
      // Removed; a new VM of the same name (scaled up again meanwhile) gets an
      // actor of its own now.
      if (st.last.goals.goals.count(vm))
        fetch_and_spawn(self, vm);
      return;
    }
    supervise_crash(self, st.children, st.name, "vm/" + vm, msg.reason, st.controller,
                    [=](std::chrono::milliseconds delay) {
                      self->delayed_send(self, delay, restart_atom::value, vm);
                    });
    return;
  }
  if (st.forgotten.erase(msg.source) > 0)
    return; // a VM another host removed
  self->quit(msg.reason); // from our parent: shut down
}

} // namespace

deployment_actor::behavior_type
deployment(deployment_actor::stateful_pointer<deployment_actor_state> self,
           daemon_context* ctx, std::string name, controller_actor controller) {
  auto& st = self->state;
  st.ctx = ctx;
  st.name = std::move(name);
  st.controller = std::move(controller);
  enlist(self, ctx, "deployment", st.name);
  self->set_exit_handler([=](caf::exit_msg& msg) { on_exit(self, msg); });
  return {
    [=](plan_atom, deployment_push& push) { on_push(self, push); },
    [=](restart_atom, const std::string& vm) {
      if (self->state.last.goals.goals.count(vm))
        fetch_and_spawn(self, vm); // it adopts its workload
    },
    [=](forget_atom, const std::string& vm) {
      auto& st = self->state;
      auto it = st.vms.find(vm);
      if (it == st.vms.end())
        return;
      st.forgotten.insert(it->second.address());
      self->send_exit(it->second, caf::exit_reason::user_shutdown);
      st.vms.erase(it);
      st.told.erase(vm);
      st.last.goals.goals.erase(vm);
    },
    [=](crash_atom, const std::string& path) {
      auto& st = self->state;
      if (crash_target(path, "deployment") == st.name)
        crash_now(path);
      for (const char* kind : {"vm", "probe"})
        if (auto it = st.vms.find(crash_target(path, kind)); it != st.vms.end())
          self->send(it->second, crash_atom::value, path);
    },
    [=](inspect_atom) -> std::string {
      auto& st = self->state;
      auto status = st.last.goals.blocked.empty() ? "idle" : "blocked";
      auto j = inspect_header(self, "deployment", st.name, status);
      const auto& sum = st.last.summary;
      j.update(wire::deployment_actor_view(sum.desired, sum.current, sum.ready, sum.updated,
                                           sum.revision, sum.strategy, st.last.goals,
                                           st.vms.size(), st.pushes));
      return j.dump();
    },
  };
}

} // namespace volant
