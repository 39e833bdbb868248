#pragma once

// The rolling-update planner (issue 12, docs/rollout.md), pure: given a
// deployment's slots and the candidates in them, which slots get a candidate
// of the new revision now and which old candidates are retired now, within
// Kubernetes' fenceposts:
//
//   * never more than replicas + surge candidates exist, counting every one
//     not yet removed (terminating ones included);
//   * the planner never takes the available count below replicas -
//     unavailable (failures may; the planner then only retires what is not
//     available);
//   * of a slot, the new candidate starts beside the old one while the surge
//     allows (a surge candidate: its own name and IP), else after the old one
//     is gone (in place).
//
// The actors apply a step, the world changes (a new candidate becomes
// available, fails, an old one is removed), and the planner is asked again:
// it converges to every slot holding one available candidate of the new
// revision when new candidates become available.

#include "events/types.hpp"

#include <cstdint>
#include <vector>

namespace volant {

/// A rolling update's limits resolved against the replicas: max_surge rounds
/// up, max_unavailable rounds down (percentages of the replicas); if both come
/// out 0, unavailable is 1 (Kubernetes' rule, so that a rollout can progress).
struct rollout_limits {
  std::int64_t surge = 0;
  std::int64_t unavailable = 0;
  friend bool operator==(const rollout_limits&, const rollout_limits&) = default;
};

rollout_limits resolve_rollout_limits(const update_strategy& s, std::int64_t replicas);

/// One candidate as the planner sees it.
struct rollout_candidate {
  enum class phase : std::uint8_t {
    starting,    ///< launched, not available yet
    available,   ///< ready (for min-ready-seconds)
    unavailable, ///< was available, now not (unhealthy, restarting)
    terminating, ///< retired: being stopped, still counted in the total
  };
  std::uint32_t slot = 0;
  bool current = false; ///< of the revision rolled out to
  phase state = phase::starting;
  friend bool operator==(const rollout_candidate&, const rollout_candidate&) = default;
};

/// What to do now. `start`: slots that get a candidate of the new revision;
/// `retire`: slots whose old candidate is to be marked terminating; `drop`:
/// slots no longer wanted (a scale-down mid-rollout), every candidate of which
/// is to be marked terminating.
struct rollout_step {
  std::vector<std::uint32_t> start;
  std::vector<std::uint32_t> retire;
  std::vector<std::uint32_t> drop;
  /// Every slot 0..replicas-1 holds exactly one candidate, of the new
  /// revision and available, and nothing else exists.
  bool complete = false;
  friend bool operator==(const rollout_step&, const rollout_step&) = default;
};

/// The next step of a rollout of `replicas` slots (0..replicas-1) within `lim`.
/// Candidates of slots at or above `replicas` are retired (a scale-down
/// during a rollout) without counting against the limits' floor.
rollout_step plan_rollout(std::int64_t replicas, const rollout_limits& lim,
                          const std::vector<rollout_candidate>& candidates);

} // namespace volant
