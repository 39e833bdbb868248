#include "actors/controller.hpp"

#include "actors/controller_parts.hpp"

#include "actors/crash.hpp"
#include "actors/deployment.hpp"
#include "actors/inspect.hpp"
#include "actors/live.hpp"
#include "actors/log.hpp"
#include "actors/wire_error.hpp"
#include "events/dns.hpp"
#include "runtime/dns.hpp"
#include "runtime/driver.hpp"
#include "runtime/routes.hpp"
#include "runtime/volumes.hpp"
#include "store/journal.hpp"
#include "wire/json.hpp"

#include <caf/all.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

#include <sys/stat.h>

namespace volant {

namespace controller_detail {

/// The deployment an event concerns (VM names are "<deployment>-<index>",
/// surge candidates "<deployment>-<index>@<revision>").
std::string deployment_of(const event& ev) {
  auto agg = aggregate_of(ev);
  if (agg.kind == aggregate_kind::deployment)
    return agg.id;
  if (agg.kind == aggregate_kind::vm)
    return std::string(deployment_of_vm(agg.id));
  return {};
}

void spawn_deployment(self_ptr self, const std::string& name, bool recovering) {
  auto& st = self->state;
  if (st.deployments.count(name))
    return;
  auto child = self->spawn<caf::linked>(deployment, st.ctx, name,
                                        caf::actor_cast<controller_actor>(self));
  st.deployments.emplace(name, child);
  st.fresh[name] = recovering;
}

/// A deployment that is gone and has no VMs left needs no actor.
void retire_if_done(self_ptr self, const std::string& name) {
  auto& st = self->state;
  if (st.w.deployments.count(name) || !vms_of(st.w, name).empty())
    return;
  if (auto it = st.deployments.find(name); it != st.deployments.end()) {
    self->send_exit(it->second, caf::exit_reason::normal);
    st.deployments.erase(it);
    st.fresh.erase(name);
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

launch_template launch_of(const world& w, const std::string& name) {
  launch_template out;
  auto d = w.deployments.find(name);
  if (d == w.deployments.end())
    return out; // deleted: its VMs are only ever stopped and removed
  out.tmpl = d->second.spec.tmpl;
  out.health = effective_health_check(w, d->second);
  out.readiness = effective_readiness_check(w, d->second);
  if (const auto* plugin = w.plugins.find(out.tmpl.plugin))
    out.plugin = *plugin;
  for (const auto& [id, vol] : w.volumes)
    if (vol.deployment == name && !vol.vm.empty())
      out.volumes.push_back(vol);
  return out;
}

deployment_summary summary_of(const world& w, const std::string& name) {
  deployment_summary out;
  if (auto d = w.deployments.find(name); d != w.deployments.end()) {
    out.desired = d->second.spec.replicas;
    out.revision = d->second.revision;
    out.strategy = d->second.spec.strategy;
    out.paused = d->second.spec.paused;
  }
  for (const auto* vm : vms_of(w, name)) {
    ++out.current;
    bool ready = vm->status == vm_status::ready;
    out.ready += ready;
    out.updated += ready && vm->revision == out.revision;
  }
  return out;
}

bool decides(const controller_state& st) {
  return st.ctx->cluster == nullptr || st.leader;
}

/// Journals the rollout's progress as the plan sees it (a slot done, the
/// rollout complete), and fails it past its progress deadline (reverting it
/// with auto-revert): decide says whether anything is new.
void track_rollout(self_ptr self, const std::string& name, const plan& p,
                   unix_nanos now) {
  auto& st = self->state;
  auto d = st.w.deployments.find(name);
  if (d == st.w.deployments.end())
    return;
  const auto& r = d->second.rollout;
  if (r.revision != d->second.revision || r.phase == rollout_phase::complete)
    return;
  bool noted = r.phase == rollout_phase::progressing && p.note != r.reason;
  if (p.complete || p.updated > r.updated || noted) {
    run_command(self,
                record_rollout{name, r.revision, p.updated, p.replicas, p.complete, p.note},
                {});
    return;
  }
  auto deadline = static_cast<unix_nanos>(d->second.spec.strategy.progress_deadline_seconds)
                  * 1'000'000'000;
  if (r.phase == rollout_phase::progressing && deadline > 0
      && now - r.progress_at >= deadline)
    run_command(self, check_rollout{name}, {});
}

/// Plans deployment `name`: records the replicas it lacks, then pushes the goal
/// of every VM (and the records of `created` VMs) to its actor.
void plan_and_push(self_ptr self, const std::string& name,
                   const std::set<std::string>& created = {}) {
  auto& st = self->state;
  auto now = now_nanos();
  auto p = reconcile(st.w, name, now);
  if (decides(st)) {
    for (auto index : p.create)
      run_command(self, create_vm{name, index}, {}); // pushed once committed
    for (auto index : p.surge)
      run_command(self, create_vm{name, index, true}, {});
    track_rollout(self, name, p, now);
  }
  auto it = st.deployments.find(name);
  if (it == st.deployments.end())
    return;
  if (st.ctx->cluster != nullptr) // each host runs its own VMs
    std::erase_if(p.goals, [&](const auto& g) {
      auto vm = st.w.vms.find(g.first);
      return vm == st.w.vms.end() || vm->second.host != st.ctx->host_name;
    });
  deployment_push push{std::move(p), launch_of(st.w, name), summary_of(st.w, name), {},
                       false};
  auto fresh = st.fresh.find(name);
  for (const auto& [vm, goal] : push.goals.goals)
    if (fresh != st.fresh.end() || created.count(vm))
      push.records.emplace(vm, st.w.vms.at(vm));
  if (fresh != st.fresh.end()) {
    push.recovering = fresh->second;
    st.fresh.erase(fresh);
  }
  ++st.pushes;
  self->send(it->second, plan_atom::value, std::move(push));
}

/// Hands the load balancers to the HAProxy supervisor when they changed (a VM
/// became ready or left, an LB was created, switched, deleted).
void sync_lbs(self_ptr self) {
  auto& st = self->state;
  if (st.ctx->haproxy == nullptr)
    return;
  auto views = project_lbs(st.w, st.ctx->lbs);
  if (st.lb_views == views)
    return;
  st.lb_views = views;
  st.ctx->haproxy->apply(std::move(views));
}

/// Hands the DNS server the names of the new world when they changed (a VM
/// became ready or left, a slot, a deployment or an LB came or went).
void sync_dns(self_ptr self) {
  auto& st = self->state;
  if (st.ctx->dns == nullptr)
    return;
  auto zone = project_dns(st.w, st.ctx->lbs);
  if (st.dns != nullptr && st.dns->same_records(zone))
    return;
  st.dns = std::make_shared<const dns_zone>(std::move(zone));
  st.ctx->dns->publish(st.dns);
}

/// Applies volantd's quota file when it changed since it was last read (each
/// change journaled as quota_set / quota_deleted). A file that does not parse
/// keeps the quotas in force, with a warning.
void sync_quota_file(self_ptr self) {
  auto& st = self->state;
  const auto& file = st.ctx->quota_file;
  if (file.empty() || !st.ctx->read_quotas)
    return;
  struct stat info{};
  std::string stamp = ::stat(file.c_str(), &info) == 0
                          ? std::to_string(info.st_mtim.tv_sec) + "."
                                + std::to_string(info.st_mtim.tv_nsec) + ":"
                                + std::to_string(info.st_size)
                          : "missing";
  if (stamp == st.quota_stamp)
    return;
  st.quota_stamp = stamp;
  if (stamp == "missing") {
    VLOG_WARN("controller", "quota file {} is missing: the quotas in force stay", file);
    return;
  }
  auto quotas = st.ctx->read_quotas(file);
  if (!quotas) {
    VLOG_WARN("controller", "quota file {}: {}; the quotas in force stay", file,
              quotas.error_value().message);
    return;
  }
  run_command(self, set_quotas{std::move(*quotas), file, true},
              [file](expected<record_batch> r) {
                if (!r)
                  VLOG_WARN("controller", "quota file {}: {}", file, r.error_value().message);
                else if (!r->empty())
                  VLOG_INFO("controller", "quota file {} applied ({} changes)", file, r->size());
              });
}

/// One evaluation of every autoscaler (issue 15): each VM of its deployment
/// measured (CPU time and memory of its process tree, the VM's requests/s
/// from HAProxy), `recommend` called, and a scale committed with the
/// autoscaler as its cause when the count should change.
void evaluate_autoscalers(self_ptr self) {
  auto& st = self->state;
  auto now = now_nanos();
  if (st.w.autoscalers.empty() || now < st.next_evaluation)
    return;
  // On the interval's own beat (the reconcile round is brought forward for
  // it), not a round after it: 15 s is 15 s, not 16.
  auto every = std::chrono::nanoseconds(st.ctx->metrics_every).count();
  st.next_evaluation = st.next_evaluation != 0 && st.next_evaluation + every > now
                           ? st.next_evaluation + every
                           : now + every;
  // Requests per second per VM, from every load balancer's servers.
  std::map<std::string, double> rps;
  if (st.ctx->haproxy != nullptr) {
    for (const auto& s : st.ctx->haproxy->stats())
      if (auto r = st.request_rates.sample(s.lb + "/" + s.server + "/" + s.vm,
                                           static_cast<double>(s.requests), now))
        rps[s.vm] += *r;
    st.request_rates.end_round();
  }
  for (const auto& [name, a] : st.w.autoscalers) {
    auto d = st.w.deployments.find(a.deployment);
    if (d == st.w.deployments.end()) {
      st.last_decision[name] = {{"at", wire::format_time(now)},
                                {"reason", "deployment '" + a.deployment + "' not found"}};
      continue;
    }
    const auto& dep = d->second;
    scaling_view view;
    view.spec_replicas = dep.spec.replicas;
    bool balanced = std::any_of(st.w.lbs.begin(), st.w.lbs.end(), [&](const auto& lb) {
      return lb.second.deployment == a.deployment;
    });
    if (!balanced)
      view.missing_requests = "deployment '" + a.deployment + "' has no load balancer";
    else if (st.ctx->haproxy == nullptr)
      view.missing_requests = "volantd runs no HAProxy";
    for (const auto* vm : vms_of(st.w, a.deployment)) {
      vm_sample s;
      s.vm = vm->name;
      s.ready = vm->status == vm_status::ready;
      s.current_revision = vm->revision == dep.revision;
      view.rolling_out = view.rolling_out || !s.current_revision;
      if (vm->handle.pid > 0 && (vm->status == vm_status::ready || vm->status == vm_status::running)) {
        auto key = runtime::run_id(vm->name, vm->incarnation);
        auto use = st.ctx->driver_for(vm->handle.driver).measure(vm->handle, key);
        if (auto r = st.cpu_rates.sample(key, use.cpu_seconds, now))
          s.cpu_percent = cpu_percent(*r, vm->cpu);
        if (use.rss_bytes > 0)
          s.memory_percent = memory_percent(use.rss_bytes, vm->memory_mib);
      }
      if (balanced && s.ready)
        if (auto r = rps.find(vm->name); r != rps.end())
          s.requests_per_second = r->second;
      view.samples.push_back(std::move(s));
    }
    auto& history = st.recommendations[name];
    auto& scaled = st.scalings[a.deployment];
    auto rec = recommend(a, view, history, scaled, now);
    history.push_back({now, rec.proposed});
    auto keep = std::max(a.up.stabilization_seconds, a.down.stabilization_seconds) + 60;
    std::erase_if(history, [&](const past_recommendation& h) {
      return h.at < now - keep * 1'000'000'000;
    });
    auto metrics = nlohmann::json::array();
    for (const auto& m : rec.metrics)
      metrics.push_back({{"kind", std::string(to_string(m.kind))},
                         {"target", m.target},
                         {"average", m.average ? nlohmann::json(*m.average) : nlohmann::json(nullptr)},
                         {"proposed", m.proposed},
                         {"note", m.note}});
    st.last_decision[name] = {{"at", wire::format_time(now)},
                              {"from", view.spec_replicas},
                              {"replicas", rec.replicas},
                              {"proposed", rec.proposed},
                              {"reason", rec.reason},
                              {"metrics", metrics}};
    if (rec.replicas != view.spec_replicas) {
      VLOG_INFO("controller", "autoscaler {}: {} {} -> {} ({})", name, a.deployment,
                view.spec_replicas, rec.replicas, rec.reason);
      run_command(self,
                  scale_deployment{a.deployment, rec.replicas, {}, "autoscaler " + name,
                                   rec.reason},
                  [name](expected<record_batch> r) {
                    if (!r)
                      VLOG_WARN("controller", "autoscaler {}: {}", name, r.error_value().message);
                  });
    }
  }
  st.cpu_rates.end_round();
}

/// Removes what deleted volumes left on disk (after their volume_deleted
/// commits, and at start for a crash in between): the log says which exist.
void sweep_volumes(self_ptr self) {
  auto& st = self->state;
  std::set<std::uint64_t> keep;
  for (const auto& [id, vol] : st.w.volumes)
    keep.insert(id);
  auto swept = runtime::sweep_volumes(st.ctx->volumes_dir(), keep, st.w.last_volume_id);
  for (const auto& name : swept.removed)
    VLOG_INFO("controller", "volume data {}/{} removed", st.ctx->volumes_dir(), name);
  for (const auto& name : swept.kept)
    VLOG_WARN("controller",
              "volume data {}/{} is unknown to the log (lost events?): kept in {}/lost+found",
              st.ctx->volumes_dir(), name, st.ctx->volumes_dir());
}

void after_commit(self_ptr self, const record_batch& recs) {
  auto& st = self->state;
  std::map<std::string, std::set<std::string>> touched; // deployment -> created VMs
  bool volume_gone = false;
  for (const auto& rec : recs) {
    st.w.last_seq = std::max(st.w.last_seq, rec.seq);
    st.w.last_at = std::max(st.w.last_at, rec.at);
    volume_gone = volume_gone || std::holds_alternative<volume_deleted>(rec.ev);
    if (const auto* s = std::get_if<deployment_scaled>(&rec.ev)) {
      auto& list = st.scalings[s->name];
      list.push_back({rec.at, s->from, s->to});
      std::erase_if(list, [&](const past_scaling& p) {
        return p.at < rec.at - std::int64_t{1800} * 1'000'000'000;
      });
    }
    auto dep = deployment_of(rec.ev);
    if (dep.empty())
      continue;
    auto& created = touched[dep];
    if (std::holds_alternative<deployment_created>(rec.ev))
      spawn_deployment(self, dep, false);
    if (const auto* c = std::get_if<vm_created>(&rec.ev); c && st.w.vms.count(c->name))
      created.insert(c->name);
  }
  for (const auto& [dep, created] : touched) {
    plan_and_push(self, dep, created);
    retire_if_done(self, dep);
  }
  if (volume_gone)
    sweep_volumes(self);
  sync_lbs(self);
  sync_dns(self);
  for (const auto& rec : recs)
    if (std::holds_alternative<host_joined>(rec.ev) || std::holds_alternative<host_lost>(rec.ev)) {
      sync_routes(self);
      break;
    }
  maybe_snapshot(self);
}

/// A host of a cluster: folds what the local copy of the cluster log holds
/// past the state (other hosts' appends, copied by the follower or by a
/// conflicting append) as committed changes.
/// decide -> apply -> append; `done` gets the committed events or the error.
/// Applied at once so that the next decision sees this one (IPs, admission);
/// every effect (a reply, a VM start) waits for the commit.
void run_command(self_ptr self, const command& cmd,
                 std::function<void(expected<record_batch>)> done) {
  auto& st = self->state;
  if (st.ctx->cluster != nullptr) {
    st.queue.push_back({cmd, std::move(done), 0});
    pump(self);
    return;
  }
  auto evs = decide(st.w, cmd, now_nanos());
  if (!evs || evs->empty()) {
    if (done)
      done(evs ? expected<record_batch>{record_batch{}}
               : expected<record_batch>{evs.error_value()});
    return;
  }
  for (const auto& ev : *evs)
    apply(st.w, ev);
  ++st.in_flight;
  self->request(st.ctx->live->journal(), caf::infinite,
                append_atom::value, std::move(*evs))
    .then(
      [=](record_batch& recs) {
        --self->state.in_flight;
        after_commit(self, recs);
        if (done)
          done(std::move(recs));
      },
      [=](caf::error& err) {
        // The state now holds events the log does not: start over from the log.
        VLOG_ERROR("controller", "journal append failed, restarting: {}",
                   self->system().render(err));
        if (done)
          done(error{ec::io_error, self->system().render(err)});
        self->quit(err);
      });
}

/// Restarts a crashed deployment actor and records the crash.
void on_child_exit(self_ptr self, const caf::exit_msg& msg) {
  auto& st = self->state;
  for (auto it = st.deployments.begin(); it != st.deployments.end(); ++it) {
    if (it->second.address() != msg.source)
      continue;
    auto name = it->first;
    st.deployments.erase(it);
    st.fresh.erase(name);
    if (msg.reason == caf::exit_reason::normal)
      return;
    supervise_crash(self, st.children, "controller", "deployment/" + name, msg.reason,
                    caf::actor_cast<controller_actor>(self),
                    [=](std::chrono::milliseconds delay) {
                      self->delayed_send(self, delay, restart_atom::value, name);
                    });
    return;
  }
  self->quit(msg.reason); // from our parent or a peer: shut down
}

wire::daemon_info info_of(const daemon_context& ctx) {
  wire::daemon_info info;
  info.version = ctx.version;
  info.started_at = ctx.started_at;
  info.data_dir = ctx.data_dir;
  info.driver = std::string(ctx.driver->name());
  info.lbs = ctx.lbs;
  auto caps = ctx.driver->limits();
  info.limits = {{"memory", caps.memory_limit}, {"cpu", caps.cpu_limit},
                 {"pids", caps.max_pids},         {"user", caps.user},
                 {"run_dir", ctx.run_dir},         {"note", caps.note}};
  if (ctx.qemu != nullptr)
    info.qemu = {{"accelerator", ctx.qemu_accelerator},
                 {"bridge", ctx.qemu_bridge},
                 {"note", ctx.qemu->limits().note}};
  return info;
}

} // namespace controller_detail

using namespace controller_detail;

controller_actor::behavior_type
controller(controller_actor::stateful_pointer<controller_state> self,
           daemon_context* ctx, world initial) {
  auto& st = self->state;
  st.ctx = ctx;
  st.info = info_of(*ctx);
  enlist(self, ctx, "controller");
  st.w = std::move(initial);
  st.snapshot_seq = st.w.last_seq;
  self->set_exit_handler([=](caf::exit_msg& msg) { on_child_exit(self, msg); });
  std::set<std::string> live;
  for (const auto& [name, d] : st.w.deployments)
    live.insert(name);
  for (const auto& [name, vm] : st.w.vms)
    live.insert(vm.deployment);
  for (const auto& name : live) {
    spawn_deployment(self, name, true);
    plan_and_push(self, name);
  }
  sync_lbs(self); // an adopted HAProxy gets the log's configuration
  sync_dns(self);
  sweep_volumes(self);
  sync_quota_file(self);
  self->delayed_send(self, ctx->reconcile_every, reconcile_atom::value);
  return {
    [=](command_atom, command& cmd) -> caf::result<record_batch> {
      auto rp = self->make_response_promise<record_batch>();
      run_command(self, cmd, [rp](expected<record_batch> r) mutable {
        if (r)
          rp.deliver(std::move(*r));
        else
          rp.deliver(to_caf(r.error_value()));
      });
      return rp;
    },
    [=](query_atom, const std::string& verb,
        const std::string& args) -> caf::result<std::string> {
      auto parsed = nlohmann::json::parse(args, nullptr, false);
      if (parsed.is_discarded() || !parsed.is_object())
        return to_caf({ec::invalid_argument, "request arguments are not a JSON object"});
      // The api checked the arguments; a decoding step that still throws is an
      // error reply, not a crash of the controller.
      try {
        auto reply = wire::answer_query(self->state.w, self->state.info, verb, parsed);
        if (!reply)
          return to_caf(reply.error_value());
        // An autoscaler's last decision is the controller's, not the log's.
        auto add_last = [&](nlohmann::json& row) {
          auto last = self->state.last_decision.find(row.value("name", std::string{}));
          row["last"] = last == self->state.last_decision.end() ? nlohmann::json(nullptr)
                                                                : last->second;
        };
        if (verb == "deployments.show" && reply->is_object() && reply->contains("autoscaler"))
          add_last((*reply)["autoscaler"]);
        if (verb == "hpa.list" && reply->is_array())
          for (auto& row : *reply)
            add_last(row);
        if (verb == "hpa.show" && reply->is_object())
          add_last(*reply);
        if (verb == "hosts.list" && reply->is_array()) // who leads is not in the log
          for (auto& row : *reply)
            row["leader"] = row.value("name", std::string{})
                            == (self->state.ctx->cluster == nullptr ? self->state.ctx->host_name
                                                                    : self->state.leader_name)
                            && row.value("state", std::string{}) != "lost";
        return reply->dump();
      } catch (const std::exception& e) {
        return to_caf({ec::invalid_argument,
                       "request '" + verb + "': malformed arguments (" + e.what() + ")"});
      }
    },
    [=](launch_atom, const std::string& name) -> caf::result<vm_record> {
      auto& w = self->state.w;
      auto vm = w.vms.find(name);
      if (vm == w.vms.end())
        return to_caf({ec::unknown_vm, "VM '" + name + "' not found"});
      return vm->second;
    },
    [=](reconcile_atom) {
      // The plans are pushed on every change; this round lets time-based work
      // (capacity freed elsewhere, liveness audits) happen without one.
      std::vector<std::string> names;
      for (const auto& [name, actor] : self->state.deployments)
        names.push_back(name);
      for (const auto& name : names)
        plan_and_push(self, name);
      auto& st = self->state;
      if (decides(st)) { // (lost hosts: on each fresh list of the live ones)
        sync_quota_file(self);
        evaluate_autoscalers(self);
      }
      auto delay = std::chrono::nanoseconds(st.ctx->reconcile_every);
      if (!st.w.autoscalers.empty()) // the next evaluation, if it comes first
        delay = std::clamp(std::chrono::nanoseconds(st.next_evaluation - now_nanos()),
                           std::chrono::nanoseconds(1'000'000), delay);
      self->delayed_send(self, delay, reconcile_atom::value);
    },
    [=](restart_atom, const std::string& name) {
      auto& st = self->state;
      if (st.w.deployments.count(name) || !vms_of(st.w, name).empty()) {
        spawn_deployment(self, name, false);
        plan_and_push(self, name);
      }
    },
    [=](follow_atom) { fold_new(self); },
    [=](leader_atom, bool leads, const std::string& who) {
      auto& st = self->state;
      if (who != st.leader_name)
        VLOG_INFO("controller", "{} leads the cluster", who.empty() ? "nobody" : who);
      st.leader_name = who;
      if (leads == st.leader)
        return;
      st.leader = leads;
      st.leader_since = now_nanos();
      if (!leads)
        return;
      std::vector<std::string> names; // plan every deployment now as the one who decides
      for (const auto& [name, actor] : st.deployments)
        names.push_back(name);
      for (const auto& name : names)
        plan_and_push(self, name);
    },
    [=](fence_atom, bool fenced) {
      auto& st = self->state;
      if (fenced && !st.fenced)
        fence(self);
      else if (!fenced && st.fenced)
        VLOG_INFO("controller", "host {} holds its lease again", st.ctx->host_name);
      st.fenced = fenced;
    },
    [=](hosts_atom, std::vector<std::string>& alive, std::vector<std::string>& addresses) {
      auto& st = self->state;
      st.alive_at = now_nanos();
      st.addresses.clear();
      for (std::size_t i = 0; i < alive.size() && i < addresses.size(); ++i)
        st.addresses[alive[i]] = addresses[i];
      st.alive = std::move(alive);
      check_hosts(self);
      sync_routes(self);
    },
    [=](crash_atom, const std::string& path) {
      auto& st = self->state;
      if (path == "controller")
        crash_now(path);
      if (path == "journal") {
        self->send(st.ctx->live->journal(), crash_atom::value,
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
                {"host", st.ctx->host_name},
                {"leader", st.ctx->cluster == nullptr ? st.ctx->host_name : st.leader_name},
                {"queued", st.queue.size()},
                {"vms", st.w.vms.size()},
                {"pushes", st.pushes}});
      return j.dump();
    },
  };
}

} // namespace volant
