// The controller on a host of a cluster (issue 16, docs/hosts.md): the local
// copy of the cluster log folded as it grows, commands decided one at a time
// on the committed state and appended on the log's head, lost hosts (the
// leader), fencing, VMs removed while this host was away, and the routes to
// the other hosts' VMs.

#include "actors/controller_parts.hpp"

#include "actors/live.hpp"
#include "actors/log.hpp"
#include "actors/wire_error.hpp"
#include "runtime/driver.hpp"
#include "runtime/routes.hpp"
#include "store/journal.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <optional>

namespace volant::controller_detail {

namespace {

/// VMs of this host that another host removed (the leader found this host
/// lost while it was cut off): their runs end now, if fencing has not ended
/// them yet, and their actors without a word to the log.
void drop_removed(self_ptr self, const std::vector<vm_record>& gone) {
  auto& st = self->state;
  for (const auto& vm : gone) {
    auto& driver = st.ctx->driver_for(vm.handle.driver);
    if (vm.handle.pid > 0)
      (void) driver.kill(vm.handle);
    driver.release(runtime::run_id(vm.name, vm.incarnation));
    VLOG_WARN("controller", "VM {} was rescheduled elsewhere while this host was away: "
                            "its run here is stopped", vm.name);
    if (auto it = st.deployments.find(vm.deployment); it != st.deployments.end())
      self->send(it->second, forget_atom::value, vm.name);
  }
}

} // namespace

void fold_new(self_ptr self) {
  auto& st = self->state;
  record_batch recs;
  auto read = st.ctx->store->read(st.w.last_seq + 1, store::max_seq,
                                  [&](const recorded_event& rec) {
                                    recs.push_back(rec);
                                    return true;
                                  });
  if (!read) {
    VLOG_ERROR("controller", "cannot read the local copy of the cluster log: {}",
               read.error_value().message);
    self->quit(to_caf(read.error_value()));
    return;
  }
  if (recs.empty())
    return;
  std::vector<vm_record> gone;
  for (const auto& rec : recs) {
    // Removed while this host is lost: by the leader, not by its own VM
    // actors (this host could not append meanwhile).
    auto me = st.w.hosts.find(st.ctx->host_name);
    if (const auto* r = std::get_if<vm_removed>(&rec.ev))
      if (auto vm = st.w.vms.find(r->name); vm != st.w.vms.end()
                                            && vm->second.host == st.ctx->host_name
                                            && me != st.w.hosts.end() && me->second.lost)
        gone.push_back(vm->second);
    apply(st.w, rec);
  }
  drop_removed(self, gone);
  after_commit(self, recs);
}

/// Fencing: this host's lease went unrenewed for most of its TTL, so the
/// leader may soon start its replicas elsewhere: its runs end first.
void fence(self_ptr self) {
  auto& st = self->state;
  std::size_t n = 0;
  for (const auto& [name, vm] : st.w.vms)
    if (vm.host == st.ctx->host_name && vm.handle.pid > 0) {
      (void) st.ctx->driver_for(vm.handle.driver).kill(vm.handle);
      ++n;
    }
  VLOG_WARN("controller", "fenced: the lease of host {} was not renewed in time; {} "
                          "workloads stopped so that no replica runs twice",
            st.ctx->host_name, n);
}

/// A host of a cluster: decides the queued commands one at a time on the
/// committed state and appends each on the log's head. Nothing is applied
/// before it is committed; another host's append first is a conflict: its
/// records are folded and the command decided again.
void pump(self_ptr self) {
  auto& st = self->state;
  while (!st.appending && !st.queue.empty()) {
    if (st.ctx->store->last_seq() > st.w.last_seq) { // decide on all there is
      fold_new(self);
      continue;
    }
    auto q = std::move(st.queue.front());
    st.queue.pop_front();
    auto evs = decide(st.w, q.cmd, now_nanos());
    // A refusal or a no-op is an answer too: decided on this host's copy,
    // which may lag the log. It is confirmed by an empty append on the same
    // head (a conflict: decided again on what is new), so that an answer is
    // never given on a stale state. Nobody waiting: nothing to confirm.
    std::optional<error> refused;
    if (!evs)
      refused = evs.error_value();
    auto batch = evs ? std::move(*evs) : event_batch{};
    if (batch.empty() && !q.done)
      continue;
    st.appending = true;
    ++st.in_flight;
    auto shared = std::make_shared<controller_state::queued>(std::move(q));
    self->request(st.ctx->live->journal(), caf::infinite, append_atom::value, std::move(batch),
                  st.w.last_seq)
      .then(
        [=](record_batch& recs) {
          auto& st = self->state;
          st.appending = false;
          --st.in_flight;
          record_batch fresh; // the follower may have brought them first
          for (const auto& rec : recs)
            if (rec.seq > st.w.last_seq) {
              apply(st.w, rec);
              fresh.push_back(rec);
            }
          if (!fresh.empty())
            after_commit(self, fresh);
          if (shared->done)
            shared->done(refused ? expected<record_batch>{*refused}
                                 : expected<record_batch>{std::move(recs)});
          pump(self);
        },
        [=](caf::error& err) {
          auto& st = self->state;
          st.appending = false;
          --st.in_flight;
          auto e = from_caf(err, self->system().render(err));
          if (e.code == ec::conflict && shared->conflicts < 1000) {
            ++shared->conflicts;
            fold_new(self);
            st.queue.push_front(std::move(*shared));
          } else if (shared->done) {
            shared->done(std::move(e));
          }
          pump(self);
        });
  }
}

/// The leader: journals as lost each host whose lease expired (its VMs are
/// then created again on the others), once it has led long enough for every
/// live host to have renewed its lease since.
void check_hosts(self_ptr self) {
  auto& st = self->state;
  if (st.ctx->cluster == nullptr || !st.leader
      || now_nanos() - st.leader_since < std::int64_t{10} * 1'000'000'000)
    return;
  // Only a host that joined well before the list was read can be judged by
  // it (one that joins announces itself first, then journals its joining).
  auto listed_at = st.alive_at - std::int64_t{1'000'000'000};
  for (const auto& [name, h] : st.w.hosts) {
    bool holds_vms = std::any_of(st.w.vms.begin(), st.w.vms.end(), [&](const auto& vm) {
      return vm.second.host == name
             && std::none_of(st.w.volumes.begin(), st.w.volumes.end(),
                             [&](const auto& v) { return v.second.vm == vm.first; });
    });
    if (h.lost && holds_vms && !st.lose_pending.contains(name)) { // the rest of its VMs
      st.lose_pending.insert(name);
      run_command(self, lose_host{name, "its lease expired"},
                  [self, name](expected<record_batch>) { self->state.lose_pending.erase(name); });
      continue;
    }
    if (!h.lost && h.since < listed_at
        && std::find(st.alive.begin(), st.alive.end(), name) == st.alive.end()) {
      VLOG_WARN("controller", "host {} lost: its lease expired; its replicas go elsewhere",
                name);
      run_command(self, lose_host{name, "its lease expired"},
                  [name](expected<record_batch> r) {
                    if (!r)
                      VLOG_WARN("controller", "host {}: {}", name, r.error_value().message);
                  });
    }
  }
}

/// A host of a cluster with --vm-interface: a route to each other live
/// host's /24 via the address it announced (runtime/routes.hpp).
void sync_routes(self_ptr self) {
  auto& st = self->state;
  if (st.ctx->vm_interface.empty())
    return;
  runtime::subnet_routes want;
  for (const auto& [name, h] : st.w.hosts) {
    auto address = st.addresses.find(name);
    if (name == st.ctx->host_name || h.lost || h.subnet == 0 || address == st.addresses.end())
      continue;
    if (auto via = parse_ipv4(address->second))
      want[h.subnet] = *via;
  }
  if (want == st.routes)
    return;
  std::string why;
  st.routes = runtime::sync_routes(st.ctx->vm_interface, st.routes, want, why);
  if (!why.empty() && why != st.route_error)
    VLOG_WARN("controller", "routes to the other hosts' VMs: {}", why);
  st.route_error = why;
  if (why.empty())
    VLOG_INFO("controller", "routes to the other hosts' VMs: {} /24s via {}", st.routes.size(),
              st.ctx->vm_interface);
}

} // namespace volant::controller_detail
