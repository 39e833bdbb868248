#include "actors/controller.hpp"

#include "actors/crash.hpp"
#include "actors/inspect.hpp"
#include "actors/deployment.hpp"
#include "actors/log.hpp"
#include "actors/queries.hpp"
#include "actors/wire_error.hpp"

#include <caf/all.hpp>

#include <nlohmann/json.hpp>

#include <set>

namespace volant {

namespace {

using self_ptr = controller_actor::stateful_pointer<controller_state>;

/// The deployment an event concerns (VM names are "<deployment>-<index>").
std::string deployment_of(const event& ev) {
  auto agg = aggregate_of(ev);
  if (agg.kind == aggregate_kind::deployment)
    return agg.id;
  if (agg.kind == aggregate_kind::vm)
    return agg.id.substr(0, agg.id.rfind('-'));
  return {};
}

void spawn_deployment(self_ptr self, const std::string& name) {
  auto& st = self->state;
  if (st.deployments.count(name))
    return;
  auto child = self->spawn<caf::linked>(deployment, st.ctx, name,
                                        caf::actor_cast<controller_actor>(self));
  st.deployments.emplace(name, child);
  VLOG_DEBUG("controller", "spawned deployment actor {}", name);
}

/// A deployment that is gone and has no VMs left needs no actor.
void retire_if_done(self_ptr self, const std::string& name) {
  auto& st = self->state;
  if (st.w.deployments.count(name) || !vms_of(st.w, name).empty())
    return;
  if (auto it = st.deployments.find(name); it != st.deployments.end()) {
    self->send_exit(it->second, caf::exit_reason::normal);
    st.deployments.erase(it);
  }
}

void maybe_snapshot(self_ptr self) {
  auto& st = self->state;
  if (st.in_flight != 0 || st.w.last_seq < st.snapshot_seq + st.ctx->snapshot_every)
    return;
  if (auto ok_ = st.ctx->store->write_snapshot(st.w); !ok_)
    VLOG_WARN("controller", "snapshot failed: {}", ok_.error_value().message);
  else
    st.snapshot_seq = st.w.last_seq;
}

void after_commit(self_ptr self, const record_batch& recs) {
  auto& st = self->state;
  std::set<std::string> touched;
  for (const auto& rec : recs) {
    st.w.last_seq = std::max(st.w.last_seq, rec.seq);
    st.w.last_at = std::max(st.w.last_at, rec.at);
    if (auto dep = deployment_of(rec.ev); !dep.empty())
      touched.insert(dep);
    if (std::holds_alternative<deployment_created>(rec.ev))
      spawn_deployment(self, deployment_of(rec.ev));
  }
  for (const auto& dep : touched) {
    if (auto it = st.deployments.find(dep); it != st.deployments.end())
      self->send(it->second, changed_atom::value);
    retire_if_done(self, dep);
  }
  maybe_snapshot(self);
}

caf::result<record_batch> run_command(self_ptr self, const command& cmd) {
  auto& st = self->state;
  auto evs = decide(st.w, cmd, now_nanos());
  if (!evs)
    return to_caf(evs.error_value());
  if (evs->empty())
    return record_batch{};
  // Apply at once so that the next decision sees this one (IPs, admission); every
  // effect (a reply, a VM start) waits for the commit.
  for (const auto& ev : *evs)
    apply(st.w, ev);
  ++st.in_flight;
  auto rp = self->make_response_promise<record_batch>();
  self->request(current<journal_actor>(self->system(), journal_key), caf::infinite,
                append_atom::value, std::move(*evs))
    .then(
      [=](record_batch& recs) mutable {
        --self->state.in_flight;
        after_commit(self, recs);
        rp.deliver(std::move(recs));
      },
      [=](caf::error& err) mutable {
        // The state now holds events the log does not: start over from the log.
        VLOG_ERROR("controller", "journal append failed, restarting: {}",
                   self->system().render(err));
        rp.deliver(err);
        self->quit(err);
      });
  return rp;
}

/// Restarts a crashed deployment actor and records the crash.
void on_child_exit(self_ptr self, const caf::exit_msg& msg) {
  auto& st = self->state;
  for (auto it = st.deployments.begin(); it != st.deployments.end(); ++it) {
    if (it->second.address() != msg.source)
      continue;
    auto name = it->first;
    st.deployments.erase(it);
    if (msg.reason == caf::exit_reason::normal)
      return;
    auto count = ++st.crashes[name];
    auto reason = self->system().render(msg.reason);
    run_command(self, record_actor_crash{"deployment/" + name, reason, count});
    auto response = on_crash(st.recent[name], now_nanos());
    if (response.escalate) {
      VLOG_ERROR("controller", "deployment actor {} keeps crashing: giving up", name);
      self->quit(msg.reason);
      return;
    }
    VLOG_WARN("controller", "deployment actor {} crashed ({}), restarting in {} ms", name,
              reason, response.delay_ms);
    self->delayed_send(self, std::chrono::milliseconds(response.delay_ms),
                       restart_atom::value, name);
    return;
  }
  self->quit(msg.reason); // from our parent or a peer: shut down
}

} // namespace

controller_actor::behavior_type
controller(controller_actor::stateful_pointer<controller_state> self,
           daemon_context* ctx, world initial) {
  auto& st = self->state;
  st.ctx = ctx;
  enlist(self, ctx, "controller");
  st.w = std::move(initial);
  st.snapshot_seq = st.w.last_seq;
  self->set_exit_handler([=](caf::exit_msg& msg) { on_child_exit(self, msg); });
  std::set<std::string> live;
  for (const auto& [name, d] : st.w.deployments)
    live.insert(name);
  for (const auto& [name, vm] : st.w.vms)
    live.insert(vm.deployment);
  for (const auto& name : live)
    spawn_deployment(self, name);
  return {
    [=](command_atom, command& cmd) { return run_command(self, cmd); },
    [=](query_atom, const std::string& verb,
        const std::string& args) -> caf::result<std::string> {
      auto reply = answer_query(self->state.w, *self->state.ctx, verb, args);
      if (!reply)
        return to_caf(reply.error_value());
      return std::move(*reply);
    },
    [=](plan_atom, const std::string& name) -> plan {
      return reconcile(self->state.w, name, self->state.ctx->policy, now_nanos());
    },
    [=](launch_atom, const std::string& name) -> caf::result<launch_info> {
      auto info = launch_for(self->state.w, name);
      if (!info)
        return to_caf(info.error_value());
      return std::move(*info);
    },
    [=](restart_atom, const std::string& name) {
      auto& st = self->state;
      if (st.w.deployments.count(name) || !vms_of(st.w, name).empty())
        spawn_deployment(self, name);
    },
    [=](crash_atom, const std::string& path) {
      auto& st = self->state;
      if (path == "controller")
        crash_now(path);
      if (path == "journal") {
        self->send(current<journal_actor>(self->system(), journal_key), crash_atom::value,
                   path);
        return;
      }
      auto dep = crash_target(path, "deployment");
      for (const char* kind : {"vm", "probe"})
        if (auto vm = crash_target(path, kind); !vm.empty())
          dep = deployment_of_vm(vm);
      if (auto it = st.deployments.find(dep); it != st.deployments.end())
        self->send(it->second, crash_atom::value, path);
    },
    [=](inspect_atom) -> std::string {
      auto& st = self->state;
      auto j = inspect_header(self, "controller", "controller", "running");
      j.update({{"last_seq", st.w.last_seq},
                          {"in_flight", st.in_flight},
                          {"snapshot_seq", st.snapshot_seq},
                          {"deployments", st.deployments.size()},
                          {"vms", st.w.vms.size()}});
      return j.dump();
    },
  };
}

} // namespace volant
