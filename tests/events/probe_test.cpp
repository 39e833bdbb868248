#include "events/plan.hpp"

#include <doctest/doctest.h>

using namespace volant;

namespace {

health_check check_with_threshold(std::uint32_t threshold) {
  return {true, http_check{80, "/health"}, 10, 1, threshold};
}

probe_sample ok_at(unix_nanos at) {
  return {true, "", 150, at};
}

probe_sample fail_at(unix_nanos at, std::string error = "connection refused") {
  return {false, std::move(error), 0, at};
}

} // namespace

TEST_CASE("the first success makes a VM ready") {
  probe_state s;
  auto ev = observe(s, "web-0", check_with_threshold(3), ok_at(10));
  REQUIRE(ev.has_value());
  CHECK(*ev == event{vm_ready{"web-0", 10}});
  CHECK(s.verdict == probe_verdict::healthy);
  CHECK(s.successes_in_row == 1);
  CHECK_FALSE(
      observe(s, "web-0", check_with_threshold(3), ok_at(20)).has_value());
  CHECK(s.successes_in_row == 2);
}

TEST_CASE("three failures in a row with threshold 3 make a VM unhealthy") {
  probe_state s;
  auto check = check_with_threshold(3);
  observe(s, "web-0", check, ok_at(1));
  CHECK_FALSE(observe(s, "web-0", check, fail_at(2)).has_value());
  CHECK_FALSE(observe(s, "web-0", check, fail_at(3)).has_value());
  CHECK(s.failures_in_row == 2);
  CHECK(s.verdict == probe_verdict::healthy);
  auto ev = observe(s, "web-0", check, fail_at(4, "HTTP 503"));
  REQUIRE(ev.has_value());
  CHECK(*ev == event{vm_unhealthy{"web-0", "HTTP 503", 4}});
  CHECK(s.verdict == probe_verdict::unhealthy);
  CHECK(s.successes_in_row == 0);
  // Further failures journal nothing more.
  CHECK_FALSE(observe(s, "web-0", check, fail_at(5)).has_value());
  CHECK(s.failures_in_row == 4);
}

TEST_CASE("a success in between resets the failure run") {
  probe_state s;
  auto check = check_with_threshold(3);
  observe(s, "web-0", check, ok_at(1));
  observe(s, "web-0", check, fail_at(2));
  observe(s, "web-0", check, fail_at(3));
  CHECK_FALSE(observe(s, "web-0", check, ok_at(4)).has_value());
  CHECK(s.failures_in_row == 0);
  observe(s, "web-0", check, fail_at(5));
  observe(s, "web-0", check, fail_at(6));
  CHECK(s.verdict == probe_verdict::healthy);
}

TEST_CASE("an unhealthy VM becomes ready again on its next success") {
  probe_state s;
  auto check = check_with_threshold(1);
  auto down = observe(s, "web-0", check, fail_at(1));
  REQUIRE(down.has_value());
  CHECK(std::holds_alternative<vm_unhealthy>(*down));
  auto up = observe(s, "web-0", check, ok_at(2));
  REQUIRE(up.has_value());
  CHECK(*up == event{vm_ready{"web-0", 2}});
}

TEST_CASE("a VM that never passed can still turn unhealthy") {
  probe_state s;
  auto check = check_with_threshold(3);
  observe(s, "web-0", check, fail_at(1));
  observe(s, "web-0", check, fail_at(2));
  CHECK(s.verdict == probe_verdict::unknown);
  auto ev = observe(s, "web-0", check, fail_at(3));
  REQUIRE(ev.has_value());
  CHECK(std::holds_alternative<vm_unhealthy>(*ev));
}

TEST_CASE("a probe keeps only the latest samples") {
  probe_state s;
  auto check = check_with_threshold(3);
  for (unix_nanos t = 1; t <= 20; ++t)
    observe(s, "web-0", check, t % 2 ? ok_at(t) : fail_at(t));
  REQUIRE(s.recent.size() == probe_history);
  CHECK(s.recent.front().at == 20 - static_cast<unix_nanos>(probe_history) + 1);
  CHECK(s.recent.back().at == 20);
}

TEST_CASE("a starting probe checks fast and then at the check's interval") {
  health_check check;
  check.enabled = true;
  check.probe = http_check{};
  check.interval_seconds = 10;
  probe_state s;
  CHECK(probe_delay_ms(s, check) == startup_probe_ms);
  (void) observe(s, "web-0", check, ok_at(1));
  CHECK(probe_delay_ms(s, check) == 10000);
  check.interval_seconds = 1;
  probe_state fresh;
  CHECK(probe_delay_ms(fresh, check) == 100);
}

TEST_CASE("failures during the start-up grace do not count toward the threshold") {
  health_check check;
  check.enabled = true;
  check.probe = http_check{};
  check.interval_seconds = 2;
  check.unhealthy_threshold = 3;
  probe_state s;
  CHECK_FALSE(failure_counts(s, check, 0));
  CHECK_FALSE(failure_counts(s, check, 5999));
  CHECK(failure_counts(s, check, 6000));
  (void) observe(s, "web-0", check, ok_at(1));
  CHECK(failure_counts(s, check, 0)); // once healthy, every failure counts
}

TEST_CASE("a supervisor restarts a crashing child at once, then backs off, then escalates") {
  crash_history h;
  unix_nanos t = 1'000'000'000'000;
  std::vector<std::uint64_t> delays;
  crash_response r;
  for (int i = 0; i < 9; ++i) {
    r = on_crash(h, t + i * 1'000'000);
    CHECK_FALSE(r.escalate);
    delays.push_back(r.delay_ms);
  }
  CHECK(delays == std::vector<std::uint64_t>{0, 0, 0, 100, 200, 400, 800, 1600, 3200});
  CHECK(on_crash(h, t + 10'000'000).escalate);
  // A quiet minute later the count starts over.
  crash_history calm{5, t};
  r = on_crash(calm, t + 61'000'000'000);
  CHECK(r == crash_response{0, false});
  CHECK(calm.recent == 1);
}
