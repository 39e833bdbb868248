// The rolling-update planner (src/events/rollout.hpp): Kubernetes' fenceposts,
// and a seeded simulation in which new candidates start slowly, fail, crash
// and old ones take a while to go, checking after every step that the planner
// never exceeds replicas + surge nor takes availability below replicas -
// unavailable, and that it always completes once the new revision is good.

#include "events/rollout.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>

using namespace volant;
using phase = rollout_candidate::phase;

namespace {

update_strategy rolling(int_or_percent surge, int_or_percent unavailable) {
  return {strategy_kind::rolling, surge, unavailable};
}

rollout_candidate old_ready(std::uint32_t slot) {
  return {slot, false, phase::available};
}

/// A world of candidates the planner's steps are applied to.
struct world {
  std::vector<rollout_candidate> cands;

  std::int64_t total() const { return static_cast<std::int64_t>(cands.size()); }

  std::int64_t available(std::int64_t replicas) const {
    return std::count_if(cands.begin(), cands.end(), [&](const rollout_candidate& c) {
      return c.state == phase::available && c.slot < replicas;
    });
  }

  void apply(const rollout_step& step) {
    for (auto slot : step.retire)
      for (auto& c : cands)
        if (c.slot == slot && !c.current && c.state != phase::terminating) {
          c.state = phase::terminating;
          break;
        }
    for (auto slot : step.drop)
      for (auto& c : cands)
        if (c.slot == slot)
          c.state = phase::terminating;
    for (auto slot : step.start)
      cands.push_back({slot, true, phase::starting});
  }
};

} // namespace

TEST_CASE("the limits round as Kubernetes: surge up, unavailable down, never both 0") {
  CHECK(resolve_rollout_limits(rolling({25, true}, {25, true}), 10) == rollout_limits{3, 2});
  CHECK(resolve_rollout_limits(rolling({25, true}, {25, true}), 1) == rollout_limits{1, 0});
  CHECK(resolve_rollout_limits(rolling({2, false}, {0, false}), 6) == rollout_limits{2, 0});
  CHECK(resolve_rollout_limits(rolling({0, false}, {0, false}), 6) == rollout_limits{0, 1});
  CHECK(resolve_rollout_limits(rolling({0, true}, {10, true}), 5) == rollout_limits{0, 1});
  CHECK(resolve_rollout_limits(rolling({100, true}, {0, false}), 3) == rollout_limits{3, 0});
}

TEST_CASE("surge 2, unavailable 0: two new candidates beside the old ones, an old one "
          "retired only once its slot's new one is available") {
  std::vector<rollout_candidate> c;
  for (std::uint32_t i = 0; i < 6; ++i)
    c.push_back(old_ready(i));
  auto step = plan_rollout(6, {2, 0}, c);
  CHECK(step.start == std::vector<std::uint32_t>{0, 1});
  CHECK(step.retire.empty());
  CHECK_FALSE(step.complete);
  // Slot 0's new candidate is available: its old one goes, slot 2 may start
  // only once that old one is removed (it still counts while terminating).
  c.push_back({0, true, phase::available});
  c.push_back({1, true, phase::starting});
  step = plan_rollout(6, {2, 0}, c);
  CHECK(step.retire == std::vector<std::uint32_t>{0});
  CHECK(step.start.empty());
  c[0].state = phase::terminating;
  step = plan_rollout(6, {2, 0}, c);
  CHECK(step.start.empty());
  c.erase(c.begin()); // removed
  step = plan_rollout(6, {2, 0}, c);
  CHECK(step.start == std::vector<std::uint32_t>{2});
}

TEST_CASE("surge 0, unavailable 1: in place, one slot at a time") {
  std::vector<rollout_candidate> c;
  for (std::uint32_t i = 0; i < 3; ++i)
    c.push_back(old_ready(i));
  auto step = plan_rollout(3, {0, 1}, c);
  CHECK(step.start.empty());
  CHECK(step.retire == std::vector<std::uint32_t>{0});
  c[0].state = phase::terminating;
  CHECK(plan_rollout(3, {0, 1}, c) == rollout_step{});
  c.erase(c.begin());
  step = plan_rollout(3, {0, 1}, c);
  CHECK(step.start == std::vector<std::uint32_t>{0});
  CHECK(step.retire.empty()); // slot 0 is not available yet: the floor holds
}

TEST_CASE("old candidates that are not available go first, without touching the floor") {
  std::vector<rollout_candidate> c = {old_ready(0), {1, false, phase::unavailable},
                                      old_ready(2)};
  auto step = plan_rollout(3, {0, 1}, c);
  CHECK(step.retire == std::vector<std::uint32_t>{1});
  // Retiring slot 1 cost no availability: one more may go within the floor.
  CHECK(step.start.empty());
}

TEST_CASE("a scale-down mid-rollout drops the slots no longer wanted") {
  std::vector<rollout_candidate> c = {old_ready(0), old_ready(1), old_ready(2),
                                      {2, true, phase::starting}};
  auto step = plan_rollout(2, {1, 0}, c);
  CHECK(step.drop == std::vector<std::uint32_t>{2});
}

TEST_CASE("complete: one available candidate of the new revision per slot, nothing else") {
  std::vector<rollout_candidate> c = {{0, true, phase::available}, {1, true, phase::available}};
  CHECK(plan_rollout(2, {1, 0}, c).complete);
  c.push_back({1, false, phase::terminating});
  CHECK_FALSE(plan_rollout(2, {1, 0}, c).complete);
}

TEST_CASE("property: random rollouts never exceed replicas + surge, never retire below the "
          "floor, and complete once new candidates get ready") {
  for (std::uint32_t seed = 1; seed <= 400; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    auto chance = [&](double p) { return std::bernoulli_distribution(p)(rng); };
    std::int64_t replicas = pick(1, 12);
    auto surge = chance(0.3) ? int_or_percent{pick(0, 100), true} : int_or_percent{pick(0, 3), false};
    auto unav = chance(0.3) ? int_or_percent{pick(0, 100), true} : int_or_percent{pick(0, 3), false};
    auto lim = resolve_rollout_limits(rolling(surge, unav), replicas);
    CAPTURE(seed);
    CAPTURE(replicas);
    CAPTURE(lim.surge);
    CAPTURE(lim.unavailable);
    world w;
    for (std::uint32_t i = 0; i < replicas; ++i)
      w.cands.push_back(old_ready(i));
    // Phase 1: a flaky world (starts fail, VMs crash); phase 2: it heals.
    int flaky_ticks = pick(0, 60);
    bool completed = false;
    for (int tick = 0; tick < 2000 && !completed; ++tick) {
      bool flaky = tick < flaky_ticks;
      auto before_total = w.total();
      auto before_available = w.available(replicas);
      auto step = plan_rollout(replicas, lim, w.cands);
      if (step.complete) {
        completed = true;
        break;
      }
      w.apply(step);
      // The ceiling: a step that starts something stays within it.
      if (!step.start.empty())
        CHECK(w.total() <= replicas + lim.surge);
      CHECK(w.total() <= std::max(before_total, replicas + lim.surge));
      // The floor: the planner never retires below it (from at or above it),
      // nor below where the world already was.
      CHECK(w.available(replicas)
            >= std::min(before_available, replicas - lim.unavailable));
      // The world moves on.
      for (auto it = w.cands.begin(); it != w.cands.end();) {
        auto& c = *it;
        if (c.state == phase::terminating && chance(0.4)) {
          it = w.cands.erase(it);
          continue;
        }
        if (c.state == phase::starting && chance(0.3))
          c.state = flaky && c.current && chance(0.5) ? phase::unavailable : phase::available;
        else if (c.state == phase::unavailable && !flaky && chance(0.3))
          c.state = phase::available;
        else if (c.state == phase::available && flaky && chance(0.02))
          c.state = phase::unavailable;
        ++it;
      }
    }
    CHECK_MESSAGE(completed, "the rollout did not complete in 2000 steps");
    // Completed: exactly the wanted slots, each once.
    std::vector<std::uint32_t> slots;
    for (const auto& c : w.cands)
      slots.push_back(c.slot);
    std::sort(slots.begin(), slots.end());
    std::vector<std::uint32_t> want(static_cast<std::size_t>(replicas));
    for (std::uint32_t i = 0; i < replicas; ++i)
      want[i] = i;
    CHECK(slots == want);
  }
}
