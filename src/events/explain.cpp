#include "events/explain.hpp"

#include "events/explain_text.hpp"
#include "events/state.hpp"

#include <map>
#include <optional>
#include <set>
#include <utility>

namespace volant {

namespace {

using namespace explain_detail;

constexpr std::int64_t nanos_per_second = 1'000'000'000;
constexpr std::int64_t seconds_per_day = 86'400;
/// More scalings than this are summarised by their count, not their path.
constexpr std::size_t max_scale_path = 5;

std::string condense(const std::vector<std::string>& causes) {
  std::string out;
  for (std::size_t i = 0; i < causes.size();) {
    std::size_t j = i;
    while (j < causes.size() && causes[j] == causes[i])
      ++j;
    if (!out.empty())
      out += " → ";
    out += causes[i];
    if (j - i > 1)
      out += " ×" + std::to_string(j - i);
    i = j;
  }
  return out;
}

/// Whether `actor` names one of the actors of VM or deployment `name`
/// ("vm/web-3", "probe/web-3", "deployment/web", or the bare name).
bool actor_of(const std::string& actor, const std::string& name) {
  for (const char* prefix : {"", "vm/", "probe/", "deployment/"})
    if (actor == prefix + name)
      return true;
  return false;
}

/// One VM's story, folded from its events (across re-creations).
struct vm_story {
  std::string name;
  bool known = false;
  bool removed = false;
  unix_nanos removed_at = 0;
  vm_status status = vm_status::pending;
  unix_nanos since = 0;
  std::string problem; ///< The cause behind a bad current status.
  std::uint64_t backoff_ms = 0;
  /// Restarts of the current incarnation: one cause each.
  std::vector<std::string> restart_causes;
  unix_nanos trouble_since = 0; ///< The first failure behind the first restart.
  std::string pending_cause;    ///< The last failure since the last restart.
  unix_nanos pending_at = 0;
  /// Re-creations: when, and what the previous incarnation went through.
  std::uint32_t recreations = 0;
  unix_nanos recreated_at = 0;
  std::string recreate_cause;
  bool recreated_for_revision = false;
  std::uint32_t crashes = 0;
  std::string last_crash;

  void set(vm_status s, unix_nanos at, std::string why = {}) {
    status = s;
    since = at;
    problem = std::move(why);
  }

  void failure(const event& ev, unix_nanos at) {
    pending_cause = cause_of(ev);
    pending_at = at;
  }

  void apply(const recorded_event& rec) {
    const auto at = rec.at;
    std::visit(
        overloaded{
            [&](const vm_created& x) {
              if ((known && removed) || !x.reason.empty()) {
                ++recreations;
                recreated_at = at;
                auto previous = condense(restart_causes);
                if (!pending_cause.empty())
                  previous += (previous.empty() ? "" : " → ") + pending_cause;
                // Without the earlier incarnation in the history, the
                // recreate's own reason is all there is to tell.
                recreate_cause = previous.empty() ? x.reason : previous;
                recreated_for_revision = false;
                restart_causes.clear();
                pending_cause.clear();
                trouble_since = 0;
              }
              known = true;
              removed = false;
              backoff_ms = x.backoff_ms;
              set(vm_status::pending, at);
            },
            [&](const vm_recreated& x) {
              // In place: same name, index and IP; its story goes on.
              ++recreations;
              recreated_at = at;
              recreated_for_revision = for_revision(x);
              if (recreated_for_revision) {
                recreate_cause = x.reason;
              } else {
                // What the previous runs went through, ending with the
                // failure that no restart healed; a recreate with no recorded
                // failure behind it (a missed ready deadline) adds its reason.
                auto previous = condense(restart_causes);
                auto last = !pending_cause.empty() ? pending_cause : recreate_reason(x);
                recreate_cause = previous.empty() ? last : previous + " → " + last;
              }
              restart_causes.clear();
              pending_cause.clear();
              trouble_since = 0;
              known = true;
              backoff_ms = x.backoff_ms;
              set(vm_status::pending, at);
            },
            [&](const vm_started&) { set(vm_status::running, at); },
            [&](const vm_adopted&) {
              if (status == vm_status::pending || status == vm_status::starting)
                set(vm_status::running, at);
            },
            [&](const vm_ready&) { set(vm_status::ready, at); },
            [&](const vm_unhealthy& x) {
              failure(rec.ev, at);
              set(vm_status::unhealthy, at, cause_of(x));
            },
            [&](const vm_exited& x) {
              failure(rec.ev, at);
              set(vm_status::exited, at, cause_of(x));
            },
            [&](const vm_start_failed& x) {
              failure(rec.ev, at);
              set(vm_status::failed, at, cause_of(x));
            },
            [&](const vm_restart_scheduled& x) {
              auto cause = !pending_cause.empty() ? pending_cause
                           : !x.reason.empty()     ? x.reason
                                                   : std::string("restart requested");
              if (restart_causes.empty())
                trouble_since = pending_cause.empty() ? at : pending_at;
              restart_causes.push_back(std::move(cause));
              pending_cause.clear();
              backoff_ms = x.backoff_ms;
              set(vm_status::restarting, at);
            },
            [&](const vm_stopped&) { set(vm_status::stopped, at); },
            [&](const vm_paused&) { set(vm_status::paused, at); },
            [&](const vm_resumed&) {
              if (status == vm_status::paused)
                set(vm_status::running, at);
            },
            [&](const vm_removed&) {
              removed = true;
              removed_at = at;
            },
            [&](const actor_crashed& x) {
              ++crashes;
              last_crash = x.reason;
            },
            [](const auto&) {},
        },
        rec.ev);
  }

  /// "ready since 10:05:00", "unhealthy since 10:02:41: health check failed (…)"
  std::string state_text() const {
    std::string out = std::string(to_string(status)) + " since " + clock_text(since);
    if (status == vm_status::restarting
        || (status == vm_status::pending && backoff_ms > 0))
      out += ", next start after a " + millis_text(backoff_ms) + " back-off";
    else if (!problem.empty())
      out += ": " + problem;
    return out;
  }

  /// "restarted 4× since 10:02:11: health check failed (x) ×3 → …"
  std::string restarts_text() const {
    return "restarted " + std::to_string(restart_causes.size()) + "× since "
           + clock_text(trouble_since) + ": " + condense(restart_causes);
  }

  std::string summary() const {
    if (!known)
      return name + ": no events recorded";
    std::string out = name;
    if (removed) {
      out += " was removed at " + clock_text(removed_at);
      if (!restart_causes.empty())
        out += " after it " + restarts_text();
    } else if (!restart_causes.empty()) {
      out += " " + restarts_text() + "; now " + state_text();
    } else {
      out += " is " + state_text();
    }
    if (recreations > 0)
      out += "; recreated" + (recreations > 1 ? " " + std::to_string(recreations) + "×" : std::string())
             + " (last at " + clock_text(recreated_at) + ")"
             + (recreate_cause.empty() ? std::string()
                : recreated_for_revision ? " for " + recreate_cause
                                         : " after: " + recreate_cause);
    if (crashes > 0)
      out += "; its actors crashed " + std::to_string(crashes) + "×"
             + in_parens(last_crash.empty() ? std::string() : "last: " + last_crash);
    return out;
  }
};

/// A deployment's own story plus the stories of its VMs.
struct deployment_story {
  std::string name;
  bool created = false;
  std::int32_t desired = 0;
  plugin_ref plugin;
  std::vector<std::int32_t> scale_path; ///< from of the first scaling, then every to
  std::size_t scalings = 0;
  unix_nanos first_scaled_at = 0;
  unix_nanos scaled_at = 0;
  std::uint64_t revision = 1;
  unix_nanos updated_at = 0;
  bool paused = false;
  unix_nanos paused_at = 0;
  unix_nanos resumed_at = 0;
  bool auto_restart = true;
  unix_nanos auto_restart_at = 0;
  bool deleted = false;
  unix_nanos deleted_at = 0;
  std::uint32_t crashes = 0;
  std::string last_crash;
  // The latest rollout.
  rollout_phase rollout = rollout_phase::progressing;
  std::uint64_t rollout_revision = 1;
  std::uint32_t rollout_updated = 0;
  std::uint32_t rollout_replicas = 0;
  unix_nanos rollout_at = 0;
  std::string rollout_reason;
  std::uint64_t reverted_from = 0; ///< the latest rollout is a revert of this one
  unix_nanos reverted_at = 0;
  // Its autoscaler (empty: none now), and the latest scale it made.
  std::string autoscaler;
  std::int32_t autoscaler_min = 0;
  std::int32_t autoscaler_max = 0;
  std::string autoscaled;

  void apply(const recorded_event& rec) {
    const auto at = rec.at;
    std::visit(
        overloaded{
            [&](const deployment_rollout& x) {
              rollout = x.phase;
              rollout_revision = x.revision;
              rollout_updated = x.updated;
              rollout_replicas = x.replicas;
              rollout_at = at;
              rollout_reason = x.reason;
            },
            [&](const deployment_created& x) {
              created = true;
              deleted = false;
              desired = x.spec.replicas;
              plugin = x.spec.tmpl.plugin;
              revision = x.revision;
              paused = x.spec.paused;
              auto_restart = x.spec.auto_restart;
            },
            [&](const deployment_scaled& x) {
              if (scale_path.empty()) {
                scale_path.push_back(x.from);
                first_scaled_at = at;
              }
              scale_path.push_back(x.to);
              ++scalings;
              scaled_at = at;
              desired = x.to;
              if (x.cause.starts_with("autoscaler "))
                autoscaled = x.cause + ": " + std::to_string(x.from) + "→" + std::to_string(x.to)
                             + " at " + clock_text(at)
                             + (x.detail.empty() ? std::string() : " (" + x.detail + ")");
            },
            [&](const autoscaler_set& x) {
              autoscaler = x.spec.name;
              autoscaler_min = x.spec.min_replicas;
              autoscaler_max = x.spec.max_replicas;
            },
            [&](const autoscaler_deleted& x) {
              if (x.name == autoscaler)
                autoscaler.clear();
            },
            [&](const deployment_updated& x) {
              plugin = x.tmpl.plugin;
              if (x.revision != revision && !x.in_place) {
                rollout = rollout_phase::progressing;
                rollout_revision = x.revision;
                rollout_updated = 0;
                rollout_at = at;
                reverted_from = x.revert_of;
                reverted_at = x.revert_of != 0 ? at : 0;
              }
              revision = x.revision;
              updated_at = at;
            },
            [&](const deployment_auto_restart_set& x) {
              auto_restart = x.enabled;
              auto_restart_at = at;
            },
            [&](const deployment_paused&) {
              paused = true;
              paused_at = at;
            },
            [&](const deployment_resumed&) {
              paused = false;
              resumed_at = at;
            },
            [&](const deployment_deleted&) {
              deleted = true;
              deleted_at = at;
            },
            [&](const actor_crashed& x) {
              ++crashes;
              last_crash = x.reason;
            },
            [](const auto&) {},
        },
        rec.ev);
  }

  std::string scaling_text() const {
    if (scalings == 0)
      return {};
    if (scalings > max_scale_path)
      return " (scaled " + std::to_string(scalings) + "× since "
             + clock_text(first_scaled_at) + ", last "
             + std::to_string(scale_path[scale_path.size() - 2]) + "→"
             + std::to_string(scale_path.back()) + " at " + clock_text(scaled_at)
             + ")";
    std::string path;
    for (auto n : scale_path)
      path += (path.empty() ? "" : "→") + std::to_string(n);
    return " (scaled " + path + (scalings > 1 ? ", last" : "") + " at "
           + clock_text(scaled_at) + ")";
  }

  std::string summary(const std::map<std::string, vm_story>& vms) const {
    if (!created)
      return name + ": no events recorded";
    std::string out = name;
    if (deleted)
      out += " was deleted at " + clock_text(deleted_at);
    else
      out += " wants " + std::to_string(desired)
             + (desired == 1 ? " replica" : " replicas") + " of "
             + plugin_text(plugin) + scaling_text();
    out += "; revision " + std::to_string(revision);
    if (updated_at != 0)
      out += " (updated at " + clock_text(updated_at) + ")";
    if (reverted_from != 0)
      out += "; rollout of revision " + std::to_string(reverted_from)
             + " failed and was reverted at " + clock_text(reverted_at) + " (revision "
             + std::to_string(revision) + ")";
    if (rollout_revision == revision) {
      if (rollout == rollout_phase::failed)
        out += "; rollout of revision " + std::to_string(revision) + " failed at "
               + clock_text(rollout_at) + ": " + rollout_reason;
      else if (rollout == rollout_phase::progressing && revision > 1)
        out += "; rollout of revision " + std::to_string(revision) + " in progress ("
               + std::to_string(rollout_updated) + " of " + std::to_string(desired)
               + " replicas updated)";
      else if (rollout == rollout_phase::complete && rollout_at != 0)
        out += "; rollout of revision " + std::to_string(revision) + " complete at "
               + clock_text(rollout_at);
    }
    if (paused)
      out += "; paused since " + clock_text(paused_at);
    else if (resumed_at != 0)
      out += "; resumed at " + clock_text(resumed_at);
    if (!autoscaler.empty())
      out += "; autoscaler " + autoscaler + " keeps it at " + std::to_string(autoscaler_min)
             + ".." + std::to_string(autoscaler_max) + " replicas";
    if (!autoscaled.empty())
      out += "; latest scale by " + autoscaled;
    if (!auto_restart)
      out += "; auto-restart off"
             + (auto_restart_at != 0 ? " since " + clock_text(auto_restart_at)
                                     : std::string());
    std::map<vm_status, int> by_status;
    int live = 0;
    for (const auto& [vm_name, vm] : vms)
      if (vm.known && !vm.removed) {
        ++by_status[vm.status];
        ++live;
      }
    if (live == 0) {
      out += "; no VMs";
    } else {
      std::string counts;
      for (const auto& [status, n] : by_status)
        counts += (counts.empty() ? "" : ", ") + std::to_string(n) + " "
                  + std::string(to_string(status));
      out += "; VMs: " + counts;
    }
    for (const auto& [vm_name, vm] : vms)
      if (vm.known && !vm.removed && !vm.restart_causes.empty())
        out += "; " + vm_name + " " + vm.restarts_text();
    if (crashes > 0)
      out += "; its actors crashed " + std::to_string(crashes) + "×"
             + in_parens(last_crash.empty() ? std::string() : "last: " + last_crash);
    return out;
  }
};

bool is_deployment_event(const event& ev) {
  return aggregate_of(ev).kind == aggregate_kind::deployment;
}

} // namespace

std::string clock_text(unix_nanos t) {
  auto secs = t / nanos_per_second - (t % nanos_per_second < 0 ? 1 : 0);
  auto day = secs % seconds_per_day;
  if (day < 0)
    day += seconds_per_day;
  auto two = [](std::int64_t n) {
    return std::string(1, static_cast<char>('0' + n / 10))
           + static_cast<char>('0' + n % 10);
  };
  return two(day / 3600) + ":" + two(day / 60 % 60) + ":" + two(day % 60);
}

std::string millis_text(std::uint64_t ms) {
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s"
                        : std::to_string(ms) + "ms";
}

explanation explain(const std::vector<recorded_event>& history,
                    std::string_view name_view) {
  const std::string name(name_view);
  bool deployment = false;
  for (const auto& rec : history)
    if (is_deployment_event(rec.ev) && aggregate_of(rec.ev).id == name) {
      deployment = true;
      break;
    }

  explanation out;
  deployment_story dep;
  dep.name = name;
  std::map<std::string, vm_story> vms;
  // A loss of events concerns every story: what it did is not in the log.
  std::string losses;
  // For a VM: the latest event of each deployment, the cause of the VM's
  // creation, re-creation or removal (told once, right before it).
  std::map<std::string, const recorded_event*> latest;
  std::set<std::uint64_t> told;
  auto tell_cause = [&](const std::string& of) {
    auto it = latest.find(of);
    if (it == latest.end() || !told.insert(it->second->seq).second)
      return;
    const auto& cause = *it->second;
    out.chain.push_back({cause.seq, cause.at, std::string(kind_name(cause.ev)),
                         step_text(cause.ev)});
  };
  for (const auto& rec : history) {
    auto agg = aggregate_of(rec.ev);
    bool relevant = false;
    if (!deployment && agg.kind == aggregate_kind::deployment) {
      latest[agg.id] = &rec;
      continue;
    }
    if (!deployment && agg.kind == aggregate_kind::vm && agg.id == name) {
      const auto* recreated = std::get_if<vm_recreated>(&rec.ev);
      if (const auto* c = std::get_if<vm_created>(&rec.ev))
        tell_cause(c->deployment);
      else if ((recreated && for_revision(*recreated))
               || std::holds_alternative<vm_removed>(rec.ev))
        tell_cause(std::string(deployment_of_vm(name)));
    }
    if (auto* loss = std::get_if<journal_loss_accepted>(&rec.ev)) {
      relevant = true;
      if (loss->lost > 0)
        losses += "; the journal lost "
                  + seq_range(loss->last_good_seq + 1, loss->high_water_seq)
                  + " (accepted at " + clock_text(rec.at)
                  + "), so this story may miss events";
    } else if (auto* crash = std::get_if<actor_crashed>(&rec.ev)) {
      if (actor_of(crash->actor, name)) {
        relevant = true;
        if (deployment)
          dep.apply(rec);
        else
          vms[name].apply(rec);
      } else if (deployment) {
        for (auto& [vm_name, vm] : vms)
          if (actor_of(crash->actor, vm_name)) {
            relevant = true;
            vm.apply(rec);
          }
      }
    } else if (agg.kind == aggregate_kind::deployment) {
      relevant = deployment && agg.id == name;
      if (relevant)
        dep.apply(rec);
    } else if (agg.kind == aggregate_kind::autoscaler) {
      // A deployment's story tells its autoscaler's changes.
      const auto* set = std::get_if<autoscaler_set>(&rec.ev);
      relevant = deployment
                 && (set != nullptr ? set->spec.deployment == name
                                    : !dep.autoscaler.empty() && agg.id == dep.autoscaler);
      if (relevant)
        dep.apply(rec);
    } else if (agg.kind == aggregate_kind::volume) {
      // A VM's story tells its volumes (attached to it, or its slot's); a
      // deployment's, every volume of its replicas.
      auto slot = agg.id.substr(0, agg.id.find(':'));
      relevant = deployment ? deployment_of_vm(slot) == name : slot == name;
    } else if (agg.kind == aggregate_kind::vm) {
      auto* created = std::get_if<vm_created>(&rec.ev);
      relevant = deployment ? (vms.contains(agg.id)
                               || (created && created->deployment == name))
                            : agg.id == name;
      if (relevant) {
        auto& story = vms[agg.id];
        story.name = agg.id;
        story.apply(rec);
      }
    }
    if (relevant)
      out.chain.push_back({rec.seq, rec.at, std::string(kind_name(rec.ev)),
                           step_text(rec.ev)});
  }

  if (deployment) {
    out.subject = "deployment/" + name;
    out.summary = dep.summary(vms);
  } else {
    auto& story = vms[name];
    story.name = name;
    out.subject = story.known ? "vm/" + name : name;
    out.summary = story.summary();
  }
  out.summary += losses;
  return out;
}

} // namespace volant
