#include "events/rollout.hpp"

#include <algorithm>
#include <map>

namespace volant {

namespace {

using phase = rollout_candidate::phase;

std::int64_t resolve(const int_or_percent& v, std::int64_t replicas, bool round_up) {
  if (!v.percent)
    return std::max<std::int64_t>(v.value, 0);
  auto scaled = replicas * std::max<std::int64_t>(v.value, 0);
  return round_up ? (scaled + 99) / 100 : scaled / 100;
}

/// What one slot holds.
struct slot_view {
  const rollout_candidate* old_live = nullptr; ///< an old candidate not terminating
  bool has_current = false;                    ///< a new candidate, any phase
  bool current_available = false;
  int live = 0; ///< candidates not terminating
};

} // namespace

rollout_limits resolve_rollout_limits(const update_strategy& s, std::int64_t replicas) {
  replicas = std::max<std::int64_t>(replicas, 0);
  rollout_limits lim{resolve(s.max_surge, replicas, true),
                     resolve(s.max_unavailable, replicas, false)};
  if (lim.surge == 0 && lim.unavailable == 0)
    lim.unavailable = 1;
  return lim;
}

rollout_step plan_rollout(std::int64_t replicas, const rollout_limits& lim,
                          const std::vector<rollout_candidate>& candidates) {
  replicas = std::max<std::int64_t>(replicas, 0);
  rollout_step step;
  std::map<std::uint32_t, slot_view> slots;
  std::int64_t total = static_cast<std::int64_t>(candidates.size());
  std::int64_t available = 0;
  for (const auto& c : candidates) {
    auto& s = slots[c.slot];
    if (c.state == phase::terminating)
      continue;
    ++s.live;
    bool wanted = c.slot < replicas;
    if (c.state == phase::available && wanted)
      ++available;
    if (c.current) {
      s.has_current = true;
      s.current_available = s.current_available || c.state == phase::available;
    } else if (!s.old_live) {
      s.old_live = &c;
    }
  }
  const std::int64_t floor = replicas - lim.unavailable;
  const std::int64_t ceiling = replicas + lim.surge;

  // 1. What frees capacity without touching the floor: every candidate of a
  //    slot no longer wanted, and old candidates that are not available.
  for (auto& [slot, s] : slots) {
    if (slot >= replicas) {
      if (s.live > 0)
        step.drop.push_back(slot);
      s = {};
      continue;
    }
    if (s.old_live && s.old_live->state != phase::available) {
      step.retire.push_back(slot);
      s.old_live = nullptr;
      --s.live;
    }
  }
  // 2. Old available candidates whose slot already has an available new one:
  //    the new one took over; retiring keeps the floor if above it.
  // Retires the old, available candidate of `slot` if the floor allows.
  auto retire_available = [&](std::uint32_t slot, slot_view& s) {
    if (available - 1 < floor)
      return false;
    step.retire.push_back(slot);
    --available;
    s.old_live = nullptr;
    --s.live;
    return true;
  };
  for (auto& [slot, s] : slots)
    if (slot < replicas && s.old_live && s.current_available && !retire_available(slot, s))
      break;
  // 3. Start new candidates, lowest slot first: empty slots first (no old
  //    candidate left there), then beside old ones while the surge allows.
  std::int64_t projected = total; // terminating ones still count
  auto start = [&](std::uint32_t slot) {
    step.start.push_back(slot);
    ++projected;
    auto& s = slots[slot];
    s.has_current = true;
    ++s.live;
  };
  for (std::uint32_t slot = 0; slot < replicas; ++slot) {
    auto& s = slots[slot];
    if (!s.has_current && !s.old_live && projected < ceiling)
      start(slot);
  }
  for (std::uint32_t slot = 0; slot < replicas; ++slot) {
    auto& s = slots[slot];
    if (!s.has_current && projected < ceiling)
      start(slot);
  }
  // 4. In place: with no room to surge, an old available candidate of a slot
  //    without a new one goes first, within the floor.
  if (projected >= ceiling)
    for (std::uint32_t slot = 0; slot < replicas; ++slot) {
      auto& s = slots[slot];
      if (!s.has_current && s.old_live && !retire_available(slot, s))
        break;
    }
  std::sort(step.retire.begin(), step.retire.end()); // each slot once: old_live is cleared
  // Complete: exactly one candidate per wanted slot, new and available.
  bool complete = step.start.empty() && step.retire.empty() && step.drop.empty()
                  && static_cast<std::int64_t>(candidates.size()) == replicas;
  for (const auto& c : candidates)
    complete = complete && c.current && c.state == phase::available && c.slot < replicas;
  step.complete = complete;
  return step;
}

} // namespace volant
