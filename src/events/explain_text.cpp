// The words of `explain` (events/explain.hpp): what each event did and why,
// one line each.

#include "events/explain_text.hpp"

#include "events/explain.hpp"
#include "events/state.hpp"

namespace volant::explain_detail {

std::string plugin_text(const plugin_ref& p) {
  return p.version.empty() ? p.name : p.name + ":" + p.version;
}

std::string in_parens(const std::string& detail) {
  return detail.empty() ? std::string() : " (" + detail + ")";
}

/// The driver's reason when it gave one ("exited with status 3", "killed by
/// signal 9 (KILL)"), else the code spelled out.
std::string exit_text(const vm_exited& x) {
  if (!x.reason.empty())
    return x.reason;
  if (x.exit_code < 0)
    return "killed by signal " + std::to_string(-x.exit_code);
  return "exited with status " + std::to_string(x.exit_code);
}

/// A recreate's reason without the machine's "recreated: " prefix (the step
/// says "recreated" already).
std::string recreate_reason(const vm_recreated& x) {
  constexpr std::string_view prefix = "recreated: ";
  std::string_view r = x.reason;
  if (r.starts_with(prefix))
    r.remove_prefix(prefix.size());
  return std::string(r);
}

/// A recreate for a new revision resets the restart count; one for a failure
/// carries it over, so it is never 0.
bool for_revision(const vm_recreated& x) {
  return x.restarts == 0 && !x.reason.starts_with("deleted");
}

/// "seq 41..50", or "seq 41" for a single one.
std::string seq_range(std::uint64_t first, std::uint64_t last) {
  return first == last ? "seq " + std::to_string(first)
                       : "seq " + std::to_string(first) + ".." + std::to_string(last);
}

std::string loss_text(const journal_loss_accepted& x) {
  if (x.lost == 0)
    return "the journal was repaired: " + x.damage;
  return "the journal lost " + std::to_string(x.lost) + " acknowledged event"
         + (x.lost == 1 ? "" : "s") + " ("
         + seq_range(x.last_good_seq + 1, x.high_water_seq)
         + "), accepted: " + x.damage;
}

/// What went wrong, as the cause of a restart: empty for events that are not
/// failures.
std::string cause_of(const event& ev) {
  return std::visit(
      overloaded{
          [](const vm_unhealthy& x) {
            return "health check failed" + in_parens(x.reason);
          },
          [](const vm_exited& x) { return exit_text(x); },
          [](const vm_start_failed& x) {
            return "failed to start" + in_parens(x.error);
          },
          [](const actor_crashed& x) {
            return "actor " + x.actor + " crashed" + in_parens(x.reason);
          },
          [](const auto&) { return std::string(); },
      },
      ev);
}

/// One line per event of the chain.
std::string step_text(const event& ev) {
  return std::visit(
      overloaded{
          [](const deployment_created& x) {
            return "created " + x.spec.name + ": "
                   + std::to_string(x.spec.replicas) + " replicas of "
                   + plugin_text(x.spec.tmpl.plugin) + " (revision "
                   + std::to_string(x.revision) + ")";
          },
          [](const deployment_scaled& x) {
            auto text = "scaled " + x.name + " " + std::to_string(x.from) + " → "
                        + std::to_string(x.to)
                        + (x.cause.empty() ? std::string()
                                           : " by " + x.cause
                                                 + (x.detail.empty() ? std::string()
                                                                     : " (" + x.detail + ")"));
            for (std::size_t i = 0; i < x.removed.size(); ++i)
              text += (i == 0 ? " (removed " : ", ") + vm_name(x.name, x.removed[i])
                      + (i + 1 == x.removed.size() ? ")" : "");
            return text;
          },
          [](const deployment_updated& x) {
            if (x.revert_of != 0)
              return "rollout of " + x.name + " reverted to revision "
                     + std::to_string(x.revision) + " (" + plugin_text(x.tmpl.plugin)
                     + "): " + x.reason;
            return "updated " + x.name + " to revision "
                   + std::to_string(x.revision) + " ("
                   + plugin_text(x.tmpl.plugin) + ", "
                   + std::string(to_string(x.strategy.kind))
                   + (x.in_place ? ", health or readiness check only: in place, no VM recreated" : "")
                   + ")" + (x.in_place ? "" : ", rollout started")
                   + (x.reason.empty() ? std::string() : ": " + x.reason);
          },
          [](const deployment_rollout& x) {
            auto of = "rollout of " + x.name + " revision " + std::to_string(x.revision);
            switch (x.phase) {
            case rollout_phase::complete:
              return of + " complete (" + std::to_string(x.updated) + " of "
                     + std::to_string(x.replicas) + " replicas updated)";
            case rollout_phase::failed:
              return of + " failed: " + x.reason;
            case rollout_phase::progressing:
              break;
            }
            return of + ": " + std::to_string(x.updated) + " of "
                   + std::to_string(x.replicas) + " replicas updated"
                   + (x.reason.empty() ? std::string() : " (" + x.reason + ")");
          },
          [](const vm_not_ready& x) {
            return x.name + " not ready (" + x.reason + "): out of load balancers and DNS";
          },
          [](const vm_drained& x) {
            return x.name + " drained from load balancer " + x.lb + ": stopping";
          },
          [](const vm_terminating& x) {
            return x.name + " terminating"
                   + (x.reason.empty() ? std::string() : " (" + x.reason + ")")
                   + ", stopped after " + millis_text(x.grace_ms);
          },
          [](const deployment_auto_restart_set& x) {
            return std::string("auto-restart of ") + x.name + " turned "
                   + (x.enabled ? "on" : "off");
          },
          [](const deployment_paused& x) { return "paused " + x.name; },
          [](const deployment_resumed& x) { return "resumed " + x.name; },
          [](const deployment_deleted& x) {
            return "deleted " + x.name + (x.purge_volumes ? " with its volumes" : "");
          },
          [](const vm_created& x) {
            return (x.reason.empty() ? "created " : "recreated ") + x.name
                   + " (revision " + std::to_string(x.revision) + ", ip "
                   + to_string_ip(x.ip) + ")"
                   + (x.reason.empty() ? std::string() : ": " + x.reason);
          },
          [](const vm_recreated& x) {
            auto why = recreate_reason(x);
            return "recreated " + x.name + " in place (revision "
                   + std::to_string(x.revision)
                   + (x.backoff_ms > 0
                        ? ", next start after a " + millis_text(x.backoff_ms)
                            + " back-off"
                        : std::string())
                   + ")" + (why.empty() ? std::string() : ": " + why);
          },
          [](const vm_started& x) {
            return "started " + x.name + " (" + x.handle.driver + " pid "
                   + std::to_string(x.handle.pid) + ")";
          },
          [](const vm_adopted& x) {
            return "adopted " + x.name + " after a daemon restart (pid "
                   + std::to_string(x.handle.pid) + ")";
          },
          [](const vm_ready& x) { return x.name + " ready"; },
          [](const vm_unhealthy& x) {
            return x.name + " health check failed"
                   + (x.reason.empty() ? std::string() : ": " + x.reason);
          },
          [](const vm_exited& x) { return x.name + ": " + exit_text(x); },
          [](const vm_start_failed& x) {
            return x.name + " failed to start"
                   + (x.error.empty() ? std::string() : ": " + x.error);
          },
          [](const vm_restart_scheduled& x) {
            return "restart of " + x.name + " scheduled in "
                   + millis_text(x.backoff_ms)
                   + (x.reason.empty() ? std::string() : ": " + x.reason);
          },
          [](const vm_stopped& x) { return "stopped " + x.name; },
          [](const vm_paused& x) { return "paused " + x.name + " (frozen in place)"; },
          [](const vm_resumed& x) { return "resumed " + x.name; },
          [](const vm_removed& x) { return "removed " + x.name; },
          [](const actor_crashed& x) {
            return "actor " + x.actor + " crashed (#" + std::to_string(x.count)
                   + ")" + (x.reason.empty() ? std::string() : ": " + x.reason);
          },
          [](const journal_loss_accepted& x) { return loss_text(x); },
          [](const volume_created& x) {
            return "volume " + volume_name(x.deployment, x.index, x.path) + " created"
                   + (x.size_mib > 0 ? " (" + std::to_string(x.size_mib) + " MiB)"
                                     : std::string());
          },
          [](const volume_attached& x) {
            return "volume " + x.name + " attached to " + x.vm;
          },
          [](const volume_detached& x) {
            return "volume " + x.name + " detached from " + x.vm + " (data kept)";
          },
          [](const volume_deleted& x) {
            return "volume " + x.name + " deleted: " + x.reason;
          },
          [](const deployment_quota_set& x) {
            return x.to.empty() ? x.name + " left quota " + x.from
                                : x.name + " joined quota " + x.to;
          },
          [](const autoscaler_set& x) {
            return "autoscaler " + x.spec.name + " of " + x.spec.deployment + " set ("
                   + std::to_string(x.spec.min_replicas) + ".."
                   + std::to_string(x.spec.max_replicas) + " replicas)";
          },
          [](const autoscaler_deleted& x) { return "autoscaler " + x.name + " deleted"; },
          [](const host_joined& x) {
            return "host " + x.host.name + (x.host.draining ? " draining" : " joined") + " ("
                   + std::to_string(x.host.cpu_total) + " cores, "
                   + std::to_string(x.host.memory_total_mib) + " MiB)";
          },
          [](const host_lost& x) { return "host " + x.name + " lost: " + x.reason; },
          [](const quota_set& x) { return "quota " + x.spec.name + " set by " + x.source; },
          [](const quota_deleted& x) { return "quota " + x.name + " removed by " + x.source; },
          [](const auto& x) { return std::string(x.kind_name); },
      },
      ev);
}

/// "A ×3 → B": consecutive equal causes condensed.

} // namespace volant::explain_detail
