// Horizontal autoscaling, pure (issue 15): Kubernetes' formula, tolerance,
// missing metrics, min/max, stabilization, rate limits, and a rollout that
// never inflates the recommendation (the kubernetes#72775 scenario).

#include "events/autoscale.hpp"

#include <doctest/doctest.h>

namespace volant {

namespace {

constexpr unix_nanos s = 1'000'000'000;
constexpr unix_nanos t0 = 1'000'000 * s;

autoscaler_spec hpa(std::int32_t min, std::int32_t max, std::vector<metric_target> metrics) {
  autoscaler_spec a;
  a.name = "web-hpa";
  a.deployment = "web";
  a.min_replicas = min;
  a.max_replicas = max;
  a.metrics = std::move(metrics);
  return a;
}

autoscaler_spec cpu70() {
  return hpa(1, 20, {{metric_kind::cpu, 70}});
}

/// `n` ready VMs of the current revision at `cpu` % each.
scaling_view at_cpu(std::int32_t n, double cpu) {
  scaling_view v;
  v.spec_replicas = n;
  for (std::int32_t i = 0; i < n; ++i)
    v.samples.push_back({"web-" + std::to_string(i), true, true, cpu, 40.0, std::nullopt});
  return v;
}

recommendation once(const autoscaler_spec& a, const scaling_view& v) {
  return recommend(a, v, {}, {}, t0);
}

} // namespace

TEST_CASE("desired = ceil(current x metric / target), rounded up, exact ratios kept") {
  CHECK(once(cpu70(), at_cpu(3, 90)).replicas == 4); // 3 x 90/70 = 3.86
  CHECK(once(cpu70(), at_cpu(3, 140)).replicas == 6); // exactly 2x: not 7
  CHECK(once(cpu70(), at_cpu(10, 35)).replicas == 5);
  auto r = once(cpu70(), at_cpu(3, 90));
  REQUIRE(r.metrics.size() == 1);
  CHECK(*r.metrics[0].average == doctest::Approx(90));
  CHECK(r.reason == "cpu 90 % of 70 % -> 4");
}

TEST_CASE("a per-autoscaler tolerance: within it nothing changes") {
  CHECK(once(cpu70(), at_cpu(3, 75)).replicas == 3); // 1.07: within 0.1
  CHECK(once(cpu70(), at_cpu(3, 75)).metrics[0].note == "within tolerance");
  auto tight = cpu70();
  tight.tolerance = 0.05;
  CHECK(once(tight, at_cpu(3, 75)).replicas == 4);
  CHECK(once(cpu70(), at_cpu(10, 64)).replicas == 10); // 0.91: within 0.1
}

TEST_CASE("several metrics: the largest proposal wins and is named") {
  auto a = hpa(3, 20, {{metric_kind::cpu, 70}, {metric_kind::memory, 80},
                       {metric_kind::requests, 1000}});
  auto v = at_cpu(3, 90); // cpu -> 4; memory 40 of 80 -> 2
  for (auto& x : v.samples)
    x.requests_per_second = 1900; // -> 6
  auto r = once(a, v);
  CHECK(r.replicas == 6);
  CHECK(r.reason == "requests 1900 req/s of 1000 req/s -> 6");
  CHECK(r.metrics[0].proposed == 4);
  CHECK(r.metrics[1].proposed == 2);
}

TEST_CASE("missing metrics: reported with the reason; never a scale-down on partial data") {
  auto a = hpa(1, 20, {{metric_kind::cpu, 70}, {metric_kind::requests, 1000}});
  a.down.stabilization_seconds = 0;
  auto v = at_cpu(4, 20); // cpu alone says 2
  // Requests without a load balancer: reported, not counted.
  v.missing_requests = "deployment 'web' has no load balancer";
  auto r = once(a, v);
  CHECK(r.metrics[1].note == "missing: deployment 'web' has no load balancer");
  CHECK(r.replicas == 2);
  // Requests with a load balancer but no sample yet: no scale-down.
  v.missing_requests.clear();
  r = once(a, v);
  CHECK(r.replicas == 4);
  CHECK(r.metrics[1].note == "missing: no ready VM has a sample");
  CHECK(r.reason == "a metric is missing: no scale-down (holding at 4)");
  // A scale-up on the metrics that are there goes ahead.
  v = at_cpu(4, 140);
  v.missing_requests = "no load balancer";
  CHECK(once(a, v).replicas == 8);
  // Nothing measured at all: hold.
  auto none = at_cpu(4, 0);
  for (auto& x : none.samples)
    x.cpu_percent.reset();
  r = once(cpu70(), none);
  CHECK(r.replicas == 4);
  CHECK(r.reason == "no metric has a sample: holding at 4");
}

TEST_CASE("VMs without a sample count as idle on the way up and at the target on the way "
          "down") {
  auto v = at_cpu(4, 100);
  v.samples[2].cpu_percent.reset();
  v.samples[3].cpu_percent.reset();
  // 2 x 100 % measured against 50 %: 2x, but with the two silent ones as idle
  // the average is 50 %: no change.
  auto r = once(hpa(1, 20, {{metric_kind::cpu, 50}}), v);
  CHECK(r.replicas == 4);
  CHECK(r.metrics[0].note == "VMs without a sample hold it");
  // Down: 2 at 10 %, 2 silent as at 50 %: average 30 % -> ceil(4 x 0.6) = 3.
  v = at_cpu(4, 10);
  v.samples[2].cpu_percent.reset();
  v.samples[3].cpu_percent.reset();
  auto down = hpa(1, 20, {{metric_kind::cpu, 50}});
  down.down.stabilization_seconds = 0;
  CHECK(recommend(down, v, {}, {}, t0).replicas == 3);
  // A VM still starting counts as idle on the way up.
  v = at_cpu(3, 140);
  v.samples.push_back({"web-3", false, true, std::nullopt, std::nullopt, std::nullopt});
  v.spec_replicas = 4;
  CHECK(once(cpu70(), v).replicas == 6); // 420 / 4 = 105 % -> ceil(4 x 1.5)
}

TEST_CASE("min and max clamp the proposal") {
  CHECK(once(hpa(3, 20, {{metric_kind::cpu, 10}}), at_cpu(10, 100)).replicas == 20);
  auto down = hpa(3, 20, {{metric_kind::cpu, 70}});
  down.down.stabilization_seconds = 0;
  CHECK(recommend(down, at_cpu(5, 1), {}, {}, t0).replicas == 3);
  CHECK(once(hpa(3, 20, {{metric_kind::cpu, 10}}), at_cpu(10, 100)).reason
        == "cpu 100 % of 10 % -> 100 (clamped to 20, min 3, max 20)");
}

TEST_CASE("scale-down waits out its stabilization window: the highest recent "
          "recommendation holds") {
  auto a = cpu70(); // down: 300 s
  std::vector<past_recommendation> history{{t0 - 200 * s, 6}, {t0 - 100 * s, 5}};
  auto r = recommend(a, at_cpu(6, 20), history, {}, t0);
  CHECK(r.proposed == 2);
  CHECK(r.replicas == 6);
  CHECK(r.reason.find("stabilization: holding at 6 (window 300 s)") != std::string::npos);
  // 200 s later only the 5 is in the window.
  r = recommend(a, at_cpu(6, 20), history, {}, t0 + 150 * s);
  CHECK(r.replicas == 5);
  // Past the window: down to the proposal.
  CHECK(recommend(a, at_cpu(6, 20), history, {}, t0 + 500 * s).replicas == 2);
}

TEST_CASE("scale-up stabilization, when set, takes the lowest recent recommendation") {
  auto a = cpu70();
  a.up.stabilization_seconds = 60;
  std::vector<past_recommendation> history{{t0 - 30 * s, 3}};
  CHECK(recommend(a, at_cpu(3, 140), history, {}, t0).replicas == 3);
  history.push_back({t0 - 10 * s, 5});
  CHECK(recommend(a, at_cpu(3, 140), {{t0 - 30 * s, 5}}, {}, t0).replicas == 5);
  CHECK(recommend(a, at_cpu(3, 140), history, {}, t0 + 90 * s).replicas == 6);
}

TEST_CASE("rate limits: up by the larger of +100 % and +4 per 15 s, counting recent "
          "scalings") {
  auto a = hpa(1, 100, {{metric_kind::cpu, 10}});
  auto r = recommend(a, at_cpu(3, 100), {}, {}, t0); // wants 30
  CHECK(r.replicas == 7);                            // max(6, 3 + 4)
  CHECK(r.reason.find("rate limit: 7 for now") != std::string::npos);
  CHECK(recommend(a, at_cpu(10, 100), {}, {}, t0).replicas == 20); // +100 % > +4
  // Scaled 3 -> 7 five seconds ago: within the same period nothing more.
  std::vector<past_scaling> recent{{t0 - 5 * s, 3, 7}};
  CHECK(recommend(a, at_cpu(7, 100), {}, recent, t0).replicas == 7);
  // The next period may go on.
  CHECK(recommend(a, at_cpu(7, 100), {}, recent, t0 + 20 * s).replicas == 14);
  // Down: a policy of at most 2 VMs per 15 s.
  auto d = hpa(1, 100, {{metric_kind::cpu, 70}});
  d.down = {0, -1, 2, 15};
  CHECK(recommend(d, at_cpu(10, 7), {}, {}, t0).replicas == 8);
  CHECK(recommend(d, at_cpu(8, 7), {}, {{t0 - 3 * s, 10, 8}}, t0).replicas == 8);
  // No policy at all: no limit.
  a.up.max_percent = -1;
  a.up.max_vms = -1;
  CHECK(recommend(a, at_cpu(3, 100), {}, {}, t0).replicas == 30);
}

TEST_CASE("kubernetes#72775: a rollout's surge VMs never inflate the recommendation") {
  // 10 replicas at the target; a rolling update adds surge VMs of the new
  // revision beside the old ones. Kubernetes counts every pod (10 + surge) and
  // escalates each round; here the count stays the spec's 10 round after round.
  auto a = hpa(3, 1000, {{metric_kind::cpu, 70}});
  std::int32_t spec = 10;
  for (int round = 0; round < 5; ++round) {
    scaling_view v;
    v.spec_replicas = spec;
    v.rolling_out = true;
    for (int i = 0; i < 10 - round; ++i) // the old revision's VMs, busy
      v.samples.push_back({"web-" + std::to_string(i), true, false, 95.0, 50.0, std::nullopt});
    for (int i = 0; i < 3 + round; ++i) // the new revision's, at the target
      v.samples.push_back({"web-" + std::to_string(i) + "@2", true, true, 70.0, 50.0,
                           std::nullopt});
    v.samples.push_back({"web-9@2", false, true, std::nullopt, std::nullopt, std::nullopt});
    auto r = recommend(a, v, {}, {}, t0 + round * 15 * s);
    CAPTURE(round);
    CHECK(r.replicas == 10);
    spec = r.replicas;
  }
  // A rollout never makes the autoscaler scale down either.
  scaling_view idle;
  idle.spec_replicas = 10;
  idle.rolling_out = true;
  idle.samples.push_back({"web-0@2", true, true, 5.0, 5.0, std::nullopt});
  auto d = hpa(3, 20, {{metric_kind::cpu, 70}});
  d.down.stabilization_seconds = 0;
  auto r = recommend(d, idle, {}, {}, t0);
  CHECK(r.replicas == 10);
  CHECK(r.reason == "rollout in progress: no scale-down until it completes");
}

TEST_CASE("counters become rates: first sample none, a reset none, gone keys forgotten") {
  rate_tracker cpu;
  CHECK_FALSE(cpu.sample("web-0.3", 10.0, t0).has_value());
  auto r = cpu.sample("web-0.3", 11.5, t0 + 2 * s); // 1.5 CPU s in 2 s
  REQUIRE(r.has_value());
  CHECK(*r == doctest::Approx(0.75));
  CHECK(cpu_percent(*r, 1) == doctest::Approx(75));
  CHECK(cpu_percent(*r, 2) == doctest::Approx(37.5));
  CHECK_FALSE(cpu.sample("web-0.3", 0.2, t0 + 4 * s).has_value()); // went backwards
  CHECK(*cpu.sample("web-0.3", 0.4, t0 + 6 * s) == doctest::Approx(0.1));
  CHECK_FALSE(cpu.sample("web-0.3", 0.4, t0 + 6 * s).has_value()); // no time between
  cpu.sample("web-1.1", 1, t0 + 6 * s);
  cpu.end_round();
  CHECK(cpu.size() == 2);
  cpu.sample("web-1.1", 2, t0 + 8 * s);
  cpu.end_round(); // web-0.3 was not sampled this round: gone
  CHECK(cpu.size() == 1);
  CHECK_FALSE(cpu.sample("web-0.3", 5, t0 + 10 * s).has_value());
  CHECK(memory_percent(64ull << 20, 128) == doctest::Approx(50));
  CHECK(memory_percent(1, 0) == 0);
}

TEST_CASE("a deployment scaled to 0 is left alone") {
  scaling_view v;
  v.spec_replicas = 0;
  auto r = once(cpu70(), v);
  CHECK(r.replicas == 0);
  CHECK(r.reason.starts_with("scaled to 0"));
}

} // namespace volant
