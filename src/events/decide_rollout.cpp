// Rollout commands (issue 12, docs/rollout.md): a step recorded, and the
// progress deadline with its automatic revert.

#include "events/decide_parts.hpp"
#include "events/plan.hpp"

#include <algorithm>

namespace volant::decide_detail {

result decide_one(const world& w, const record_rollout& cmd, unix_nanos now) {
  auto i = w.deployments.find(cmd.name);
  if (i == w.deployments.end())
    return no_deployment(cmd.name);
  const auto& d = i->second;
  const auto& r = d.rollout;
  if (cmd.revision != d.revision || cmd.revision != r.revision
      || r.phase == rollout_phase::complete)
    return events{}; // about another revision, or nothing left to say
  auto phase = cmd.complete ? rollout_phase::complete : r.phase;
  auto reason = r.phase == rollout_phase::failed && !cmd.complete ? r.reason : cmd.note;
  if (phase == r.phase && cmd.updated <= r.updated && reason == r.reason)
    return events{}; // no progress, nothing new to say
  return events{deployment_rollout{cmd.name, cmd.revision, phase,
                                   std::max(cmd.updated, r.updated), cmd.replicas, reason,
                                   now}};
}

result decide_one(const world& w, const check_rollout& cmd, unix_nanos now) {
  auto i = w.deployments.find(cmd.name);
  if (i == w.deployments.end())
    return no_deployment(cmd.name);
  const auto& d = i->second;
  const auto& r = d.rollout;
  const auto& s = d.spec.strategy;
  auto deadline = static_cast<unix_nanos>(s.progress_deadline_seconds) * 1'000'000'000;
  if (r.phase != rollout_phase::progressing || r.revision != d.revision
      || s.rollout_paused || d.spec.paused || deadline <= 0
      || now - r.progress_at < deadline)
    return events{};
  auto replicas = static_cast<std::uint32_t>(std::max(d.spec.replicas, 0));
  auto why = "no progress for " + std::to_string(s.progress_deadline_seconds)
             + " s (" + std::to_string(r.updated) + " of "
             + std::to_string(replicas) + " replicas updated)";
  events out{deployment_rollout{cmd.name, d.revision, rollout_phase::failed,
                                r.updated, replicas, why, now}};
  // Back to the last revision that completed, unless this rollout is a revert
  // itself (never a loop) or there is none.
  if (!s.auto_revert || r.revert_of != 0 || d.stable_revision == 0
      || d.stable_revision == d.revision || d.stable_tmpl == d.spec.tmpl
      || w.plugins.find(d.stable_tmpl.plugin) == nullptr)
    return out;
  bool health_only = checks_only(d.stable_tmpl, d.spec.tmpl);
  out.emplace_back(deployment_updated{
    cmd.name, d.stable_tmpl, s, d.revision + 1, now, health_only,
    "automatic revert to revision " + std::to_string(d.stable_revision)
      + ": rollout of revision " + std::to_string(d.revision) + " failed: " + why,
    d.revision});
  return out;
}

} // namespace volant::decide_detail
