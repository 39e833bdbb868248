#include "actors/deployment.hpp"

#include "actors/crash.hpp"
#include "actors/inspect.hpp"
#include "actors/log.hpp"
#include "actors/vm.hpp"
#include "actors/wire_error.hpp"

#include <caf/all.hpp>

#include <nlohmann/json.hpp>

namespace volant {

namespace {

using self_ptr = deployment_actor::stateful_pointer<deployment_actor_state>;

/// Runs `fn` with the VM actor of `vm`, spawning it (with fresh launch info) first
/// if needed. A spawned VM actor adopts a workload that still runs.
void with_vm(self_ptr self, const std::string& vm, std::function<void(const vm_actor&)> fn) {
  auto& st = self->state;
  if (auto it = st.vms.find(vm); it != st.vms.end()) {
    fn(it->second);
    return;
  }
  auto [queue, fresh] = st.spawning.try_emplace(vm);
  queue->second.push_back(std::move(fn));
  if (!fresh)
    return;
  self->request(st.controller, caf::infinite, launch_atom::value, vm)
    .then(
      [=](launch_info& info) {
        auto& st = self->state;
        auto child = self->spawn<caf::linked>(vm_actor_fn, st.ctx, std::move(info),
                                              st.controller);
        st.vms.emplace(vm, child);
        auto waiting = std::move(st.spawning[vm]);
        st.spawning.erase(vm);
        for (auto& f : waiting)
          f(child);
      },
      [=](caf::error& err) {
        self->state.spawning.erase(vm);
        VLOG_DEBUG(self->state.name, "no launch info for {}: {}", vm,
                   self->system().render(err));
      });
}

void carry_out(self_ptr self, const action& a) {
  auto& st = self->state;
  if (auto* c = std::get_if<create_vm_action>(&a)) {
    auto vm = vm_name(c->deployment, c->index);
    create_vm cmd{c->deployment, c->index};
    if (auto it = st.carried.find(vm); it != st.carried.end()) {
      cmd = it->second;
      cmd.index = c->index;
      st.carried.erase(it);
    }
    auto delay = std::chrono::milliseconds(cmd.backoff_ms);
    self->request(st.controller, caf::infinite, command_atom::value, command{cmd})
      .then(
        [=](record_batch&) {
          with_vm(self, vm, [=](const vm_actor& h) {
            if (delay.count() == 0)
              self->send(h, start_atom::value);
            else
              self->delayed_send(h, delay, start_atom::value);
          });
        },
        [=](caf::error& err) {
          VLOG_DEBUG(self->state.name, "create {} refused: {}", vm,
                     self->system().render(err));
        });
  } else if (auto* s = std::get_if<start_vm_action>(&a)) {
    with_vm(self, s->vm, [=](const vm_actor& h) { self->send(h, start_atom::value); });
  } else if (auto* s = std::get_if<stop_vm_action>(&a)) {
    with_vm(self, s->vm, [=](const vm_actor& h) { self->send(h, stop_atom::value, false); });
  } else if (auto* r = std::get_if<restart_vm_action>(&a)) {
    with_vm(self, r->vm, [=, backoff = r->backoff_ms, reason = r->reason](const vm_actor& h) {
      self->send(h, restart_atom::value, backoff, reason);
    });
  } else if (auto* p = std::get_if<pause_vm_action>(&a)) {
    with_vm(self, p->vm, [=](const vm_actor& h) { self->send(h, pause_atom::value); });
  } else if (auto* r = std::get_if<resume_vm_action>(&a)) {
    with_vm(self, r->vm, [=](const vm_actor& h) { self->send(h, resume_atom::value); });
  } else if (auto* r = std::get_if<remove_vm_action>(&a)) {
    with_vm(self, r->vm, [=](const vm_actor& h) { self->send(h, stop_atom::value, true); });
  } else if (auto* r = std::get_if<recreate_vm_action>(&a)) {
    VLOG_INFO(st.name, "recreating {}: {}", r->vm, r->reason);
    if (r->failure) {
      st.carried[r->vm] = create_vm{st.name, 0, r->restarts, r->backoff_ms,
                                    "recreated: " + r->reason};
    }
    with_vm(self, r->vm, [=](const vm_actor& h) { self->send(h, stop_atom::value, true); });
  }
}

/// One reconcile round: ask the controller for the plan, carry it out.
void reconcile_now(self_ptr self) {
  auto& st = self->state;
  if (st.reconciling) {
    st.dirty = true;
    return;
  }
  st.reconciling = true;
  self->request(st.controller, caf::infinite, plan_atom::value, st.name)
    .then(
      [=](plan& p) {
        auto& st = self->state;
        ++st.rounds;
        if (p.blocked != st.blocked && !p.blocked.empty())
          VLOG_WARN(st.name, "blocked: {}", p.blocked);
        st.blocked = p.blocked;
        for (const auto& a : p.actions)
          carry_out(self, a);
        st.reconciling = false;
        if (st.dirty) {
          st.dirty = false;
          reconcile_now(self);
        }
      },
      [=](caf::error&) { self->state.reconciling = false; });
}

/// A VM actor ended: removed (normal) or crashed (respawned; it adopts).
void on_exit(self_ptr self, const caf::exit_msg& msg) {
  auto& st = self->state;
  for (auto it = st.vms.begin(); it != st.vms.end(); ++it) {
    if (it->second.address() != msg.source)
      continue;
    auto vm = it->first;
    st.vms.erase(it);
    if (msg.reason != caf::exit_reason::normal) {
      auto count = ++st.crashes[vm];
      auto reason = self->system().render(msg.reason);
      caf::anon_send(st.controller, command_atom::value,
                     command{record_actor_crash{"vm/" + vm, reason, count}});
      auto response = on_crash(st.recent[vm], now_nanos());
      if (response.escalate) {
        VLOG_ERROR(st.name, "vm actor {} keeps crashing: giving up", vm);
        self->quit(msg.reason);
        return;
      }
      VLOG_WARN(st.name, "vm actor {} crashed ({}), restarting it in {} ms", vm, reason,
                response.delay_ms);
      self->delayed_send(self, std::chrono::milliseconds(response.delay_ms),
                         restart_atom::value, vm);
    }
    reconcile_now(self);
    return;
  }
  self->quit(msg.reason);
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
  // Adopt what the log says exists before planning anything new.
  self->request(st.controller, caf::infinite, query_atom::value, std::string("vms.list"),
                nlohmann::json{{"deployment", st.name}}.dump())
    .then(
      [=](const std::string& rows) {
        for (const auto& row : nlohmann::json::parse(rows))
          with_vm(self, row["name"].get<std::string>(), [](const vm_actor&) {});
        reconcile_now(self);
      },
      [=](caf::error&) { reconcile_now(self); });
  self->delayed_send(self, ctx->reconcile_every, reconcile_atom::value);
  return {
    [=](changed_atom) { reconcile_now(self); },
    [=](restart_atom, const std::string& vm) {
      with_vm(self, vm, [](const vm_actor&) {}); // it adopts its workload
    },
    [=](reconcile_atom) {
      reconcile_now(self);
      self->delayed_send(self, self->state.ctx->reconcile_every, reconcile_atom::value);
    },
    [=](crash_atom, const std::string& path) {
      auto& st = self->state;
      if (crash_target(path, "deployment") == st.name)
        crash_now(path);
      for (const char* kind : {"vm", "probe"})
        if (auto it = st.vms.find(crash_target(path, kind)); it != st.vms.end())
          self->send(it->second, crash_atom::value, path);
    },
    [=](inspect_atom) -> caf::result<std::string> {
      auto& st = self->state;
      nlohmann::json vms = nlohmann::json::array();
      for (const auto& [vm, h] : st.vms)
        vms.push_back(vm);
      auto status = st.reconciling ? "reconciling" : st.blocked.empty() ? "idle" : "blocked";
      auto j = inspect_header(self, "deployment", st.name, status);
      j.update({{"vm_actors", vms},
                {"spawning", st.spawning.size()},
                {"rounds", st.rounds},
                {"reconciling", st.reconciling},
                {"blocked", st.blocked},
                {"carried_over", st.carried.size()}});
      // desired / current / ready and the rollout, as the log has them right now
      auto rp = self->make_response_promise<std::string>();
      self->request(st.controller, std::chrono::seconds(5), query_atom::value,
                    std::string("deployments.show"),
                    nlohmann::json{{"name", st.name}, {"events", 0}}.dump())
        .then(
          [=](const std::string& text) mutable {
            auto row = nlohmann::json::parse(text, nullptr, false);
            if (row.is_object())
              for (const char* key : {"desired", "current", "ready", "updated", "revision",
                                      "paused", "auto_restart", "strategy", "rollout"})
                if (row.contains(key))
                  j[key] = row[key];
            rp.deliver(j.dump());
          },
          [=](caf::error&) mutable { rp.deliver(j.dump()); });
      return rp;
    },
  };
}

} // namespace volant
