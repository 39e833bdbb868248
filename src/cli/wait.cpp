#include "cli/wait.hpp"

#include "cli/render.hpp"

namespace volant::cli {

progress progress_of(const nlohmann::json& d) {
  progress p;
  p.desired = field_int(d, "desired");
  p.current = field_int(d, "current");
  p.ready = field_int(d, "ready");
  p.updated = d.contains("updated") ? field_int(d, "updated") : p.ready;
  p.blocked = field_text(d, "blocked", "");
  p.paused = flag(d, "paused");
  p.revision = field_int(d, "revision", 0);
  if (const auto& r = member(d, "rollout"); r.is_object()) {
    p.rollout_phase = field_text(r, "phase", "");
    p.rollout_reason = field_text(r, "reason", "");
    p.revert_of = field_int(r, "revert_of", 0);
  }
  // The first VM not ready with an error says more than one merely starting.
  std::string first, first_failing;
  for (const auto& vm : member(d, "vms")) {
    auto status = field_text(vm, "status", "");
    if (status == "ready")
      continue;
    auto error = field_text(vm, "last_error", "");
    auto line = field_text(vm, "name", "?") + " is " + status;
    if (first.empty())
      first = line;
    if (first_failing.empty() && !error.empty())
      first_failing = line + ": " + error;
  }
  p.why = first_failing.empty() ? first : first_failing;
  return p;
}

std::string progress_line(const std::string& name, const progress& p) {
  return name + ": " + std::to_string(p.ready) + "/" + std::to_string(p.desired)
         + " ready (" + std::to_string(p.current) + " current)";
}

bool rolled_out(const progress& p) {
  return p.updated == p.desired && p.ready == p.desired && p.current == p.desired;
}

std::string rollout_line(const std::string& name, const progress& p) {
  if (p.rollout_phase == "failed")
    return "deployment \"" + name + "\" exceeded its progress deadline: " + p.rollout_reason;
  auto waiting = "Waiting for deployment \"" + name + "\" rollout to finish: ";
  if (p.updated < p.desired)
    return waiting + std::to_string(p.updated) + " of " + std::to_string(p.desired)
           + " updated replicas are available...";
  if (p.current > p.desired)
    return waiting + std::to_string(p.current - p.desired)
           + " old replicas are pending termination...";
  if (!rolled_out(p))
    return waiting + std::to_string(p.ready) + " of " + std::to_string(p.desired)
           + " replicas are available...";
  return "deployment \"" + name + "\" successfully rolled out";
}

wait_tracker::wait_tracker(std::string name, duration timeout,
                           duration stuck_after)
    : name_(std::move(name)), timeout_(timeout), stuck_after_(stuck_after) {}

wait_tracker::verdict wait_tracker::observe(const progress& p,
                                            duration elapsed) {
  changed_ = !last_ || *last_ != p;
  last_ = p;
  if (first_revision_ == 0)
    first_revision_ = p.revision;
  // The rollout waited for failed at its deadline, and was reverted: said.
  if (p.revert_of != 0 && p.revert_of == first_revision_ && p.revision != first_revision_) {
    failure_ = "the rollout of revision " + std::to_string(first_revision_) + " of " + name_
               + " failed and was reverted automatically (now revision "
               + std::to_string(p.revision) + "; see: volar shell -c 'explain " + name_ + "')";
    return verdict::failed;
  }
  if (p.rollout_phase == "failed" && p.revision == first_revision_) {
    failure_ = "deployment \"" + name_ + "\" exceeded its progress deadline: "
               + p.rollout_reason;
    return verdict::failed;
  }
  // Done when every replica is ready and made from the current revision (an
  // update's old VMs still count as ready until they are replaced).
  if (rolled_out(p))
    return verdict::done;
  if (p.paused) {
    failure_ = name_ + " is paused (resume it with: volar deployments resume "
               + name_ + ")";
    return verdict::failed;
  }
  if (p.blocked.empty()) {
    blocked_since_.reset();
  } else {
    if (!blocked_since_)
      blocked_since_ = elapsed;
    if (elapsed - *blocked_since_ > stuck_after_) {
      failure_ = name_ + " is stuck: " + p.blocked;
      return verdict::failed;
    }
  }
  if (elapsed >= timeout_) {
    auto secs
        = std::chrono::duration_cast<std::chrono::seconds>(timeout_).count();
    failure_ = "timed out after " + std::to_string(secs) + "s waiting for "
               + progress_line(name_, p);
    if (!p.blocked.empty())
      failure_ += "; blocked: " + p.blocked;
    else if (p.current < p.desired)
      failure_ += "; " + std::to_string(p.desired - p.current) + " VM(s) not created yet";
    if (!p.why.empty())
      failure_ += "; " + p.why;
    return verdict::failed;
  }
  return verdict::waiting;
}

} // namespace volant::cli
