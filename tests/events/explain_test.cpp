// `explain`: summaries and chains told from hand-built histories.

#include "events/explain.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace volant;

namespace {

/// 2026-11-28T00:00:00Z
constexpr unix_nanos day = 1'795'824'000LL * 1'000'000'000;
constexpr std::int64_t s = 1'000'000'000;

unix_nanos at(int h, int m, int sec) {
  return day + (h * 3600LL + m * 60 + sec) * s;
}

/// A history with seqs 1, 2, ... in the order events are added.
struct history {
  std::vector<recorded_event> log;

  history& add(unix_nanos t, event ev) {
    log.push_back({log.size() + 1, t, std::move(ev)});
    return *this;
  }
};

vm_created created(const std::string& name, const std::string& dep = "web",
                   std::uint32_t index = 3) {
  vm_created x;
  x.name = name;
  x.deployment = dep;
  x.index = index;
  x.host = "local";
  x.ip = (10u << 24) | (10 + index);
  x.revision = 1;
  return x;
}

vm_started started(const std::string& name, std::int64_t pid) {
  return {name, {"process", pid, 1, ""}, 0};
}

deployment_created dep_created(const std::string& name, std::int32_t replicas) {
  deployment_created x;
  x.spec.name = name;
  x.spec.replicas = replicas;
  x.spec.tmpl.plugin = {"nginx", "1.0.0"};
  return x;
}

deployment_updated updated(const std::string& name, plugin_ref plugin,
                           std::uint64_t revision) {
  deployment_updated x;
  x.name = name;
  x.tmpl.plugin = std::move(plugin);
  x.revision = revision;
  return x;
}

/// web-3: created, started, ready at 10:00:xx, then `n` rounds of "three failed
/// probes -> unhealthy -> restart -> started", each one minute apart.
history crash_looping_vm(int n, const std::string& error = "connection refused") {
  history h;
  h.add(at(10, 0, 0), created("web-3"))
      .add(at(10, 0, 1), started("web-3", 100))
      .add(at(10, 0, 2), vm_ready{"web-3", 0});
  for (int i = 0; i < n; ++i) {
    h.add(at(10, 2 + i, 11), vm_unhealthy{"web-3", error, 0})
        .add(at(10, 2 + i, 11), vm_restart_scheduled{"web-3", error,
                                                     1000u << i, 0})
        .add(at(10, 2 + i, 12 + (1 << i)), started("web-3", 200 + i));
  }
  return h;
}

} // namespace

TEST_CASE("clock text is the UTC time of day") {
  CHECK(clock_text(at(0, 0, 0)) == "00:00:00");
  CHECK(clock_text(at(10, 2, 11)) == "10:02:11");
  CHECK(clock_text(at(23, 59, 59) + s - 1) == "23:59:59");
  CHECK(clock_text(0) == "00:00:00");
  CHECK(clock_text(-1) == "23:59:59");
}

TEST_CASE("back-offs read in seconds when whole, else milliseconds") {
  CHECK(millis_text(0) == "0s");
  CHECK(millis_text(4000) == "4s");
  CHECK(millis_text(1500) == "1500ms");
}

TEST_CASE("a VM that became ready without trouble says so") {
  history h;
  h.add(at(10, 0, 0), created("web-3"))
      .add(at(10, 0, 1), started("web-3", 100))
      .add(at(10, 0, 5), vm_ready{"web-3", 0});
  auto x = explain(h.log, "web-3");
  CHECK(x.subject == "vm/web-3");
  CHECK(x.summary == "web-3 is ready since 10:00:05");
  REQUIRE(x.chain.size() == 3);
  CHECK(x.chain[0] == explain_step{1, at(10, 0, 0), "vm_created",
                                   "created web-3 (revision 1, ip 10.0.0.13)"});
  CHECK(x.chain[1] == explain_step{2, at(10, 0, 1), "vm_started",
                                   "started web-3 (process pid 100)"});
  CHECK(x.chain[2] == explain_step{3, at(10, 0, 5), "vm_ready", "web-3 ready"});
}

TEST_CASE("a paused VM says it is frozen, and running again once resumed") {
  history h;
  h.add(at(10, 0, 0), created("web-3"))
      .add(at(10, 0, 1), started("web-3", 100))
      .add(at(10, 0, 5), vm_ready{"web-3", 0})
      .add(at(10, 1, 0), vm_paused{"web-3", 0});
  auto x = explain(h.log, "web-3");
  CHECK(x.summary == "web-3 is paused since 10:01:00");
  CHECK(x.chain.back().text == "paused web-3 (frozen in place)");
  h.add(at(10, 2, 0), vm_resumed{"web-3", 0});
  x = explain(h.log, "web-3");
  CHECK(x.summary == "web-3 is running since 10:02:00");
  CHECK(x.chain.back().text == "resumed web-3");
}

TEST_CASE("repeated health failures condense into one cause with a count") {
  auto h = crash_looping_vm(4);
  h.add(at(10, 7, 0), vm_ready{"web-3", 0});
  auto x = explain(h.log, "web-3");
  CHECK(x.summary
        == "web-3 restarted 4× since 10:02:11: health check failed "
           "(connection refused) ×4; now ready since 10:07:00");
  CHECK(x.chain.size() == h.log.size());
  CHECK(x.chain[3].kind == "vm_unhealthy");
  CHECK(x.chain[3].text == "web-3 health check failed: connection refused");
  CHECK(x.chain[4].kind == "vm_restart_scheduled");
  CHECK(x.chain[4].text
        == "restart of web-3 scheduled in 1s: connection refused");
  CHECK(x.chain[4].seq == 5);
}

TEST_CASE("different causes stay in order, each run condensed") {
  auto h = crash_looping_vm(2);
  h.add(at(10, 5, 0), vm_exited{"web-3", -9, "killed by signal 9 (KILL)", 0})
      .add(at(10, 5, 0), vm_restart_scheduled{"web-3", "killed by signal 9 (KILL)",
                                              4000, 0})
      .add(at(10, 5, 4), vm_start_failed{"web-3", "exec: no such file", 0})
      .add(at(10, 5, 4), vm_restart_scheduled{"web-3", "exec: no such file",
                                              8000, 0});
  auto x = explain(h.log, "web-3");
  CHECK(x.summary
        == "web-3 restarted 4× since 10:02:11: health check failed "
           "(connection refused) ×2 → killed by signal 9 (KILL) → failed to "
           "start (exec: no such file); now restarting since 10:05:04, next "
           "start after a 8s back-off");
  CHECK(x.chain.back().text
        == "restart of web-3 scheduled in 8s: exec: no such file");
  CHECK(x.chain[x.chain.size() - 2].text
        == "web-3 failed to start: exec: no such file");
  CHECK(x.chain[x.chain.size() - 4].text
        == "web-3: killed by signal 9 (KILL)");
}

TEST_CASE("an exit without a reason is spelled from its code") {
  history h;
  h.add(at(9, 0, 0), created("web-3"))
      .add(at(9, 0, 1), started("web-3", 100))
      .add(at(9, 0, 2), vm_exited{"web-3", 3, "", 0});
  CHECK(explain(h.log, "web-3").summary
        == "web-3 is exited since 09:00:02: exited with status 3");
  h.add(at(9, 0, 2), vm_restart_scheduled{"web-3", "exited", 0, 0});
  CHECK(explain(h.log, "web-3").summary
        == "web-3 restarted 1× since 09:00:02: exited with status 3; now "
           "restarting since 09:00:02, next start after a 0s back-off");
  history k;
  k.add(at(9, 0, 0), created("web-3"))
      .add(at(9, 0, 2), vm_exited{"web-3", -15, "", 0});
  CHECK(explain(k.log, "web-3").summary
        == "web-3 is exited since 09:00:02: killed by signal 15");
}

TEST_CASE("an unhealthy VM without auto-restart names its failing check") {
  history h;
  h.add(at(10, 0, 0), created("web-3"))
      .add(at(10, 0, 1), started("web-3", 100))
      .add(at(10, 1, 0), vm_unhealthy{"web-3", "HTTP 503", 0});
  auto x = explain(h.log, "web-3");
  CHECK(x.summary
        == "web-3 is unhealthy since 10:01:00: health check failed (HTTP 503)");
}

TEST_CASE("a restart without a recorded failure takes the restart's reason") {
  history h;
  h.add(at(10, 0, 0), created("web-3"))
      .add(at(10, 0, 1), vm_restart_scheduled{"web-3", "", 1500, 0})
      .add(at(10, 0, 3), vm_restart_scheduled{"web-3", "operator", 1500, 0});
  CHECK(explain(h.log, "web-3").summary
        == "web-3 restarted 2× since 10:00:01: restart requested → operator; "
           "now restarting since 10:00:03, next start after a 1500ms back-off");
}

TEST_CASE("a removed VM says when, and what it went through") {
  auto h = crash_looping_vm(2);
  h.add(at(10, 9, 0), vm_stopped{"web-3", 0})
      .add(at(10, 9, 1), vm_removed{"web-3", 0});
  auto x = explain(h.log, "web-3");
  CHECK(x.summary
        == "web-3 was removed at 10:09:01 after it restarted 2× since "
           "10:02:11: health check failed (connection refused) ×2");
  CHECK(x.chain.back() == explain_step{h.log.back().seq, at(10, 9, 1),
                                       "vm_removed", "removed web-3"});
}

TEST_CASE("an old log's recreate (removed, then created) starts a new story "
          "and remembers the old one") {
  auto h = crash_looping_vm(2);
  h.add(at(10, 9, 1), vm_removed{"web-3", 0})
      .add(at(10, 9, 2), created("web-3"))
      .add(at(10, 9, 3), started("web-3", 300))
      .add(at(10, 9, 4), vm_ready{"web-3", 0});
  CHECK(explain(h.log, "web-3").summary
        == "web-3 is ready since 10:09:04; recreated (last at 10:09:02) after: "
           "health check failed (connection refused) ×2");
}

TEST_CASE("actor crashes of the VM are named") {
  history h;
  h.add(at(10, 0, 0), created("web-3"))
      .add(at(10, 0, 1), started("web-3", 100))
      .add(at(10, 0, 2), vm_ready{"web-3", 0})
      .add(at(10, 0, 3), actor_crashed{"probe/web-3", "runtime_error", 1, 0})
      .add(at(10, 0, 4), actor_crashed{"vm/web-30", "other", 1, 0});
  auto x = explain(h.log, "web-3");
  CHECK(x.summary
        == "web-3 is ready since 10:00:02; its actors crashed 1× (last: "
           "runtime_error)");
  REQUIRE(x.chain.size() == 4);
  CHECK(x.chain[3].text == "actor probe/web-3 crashed (#1): runtime_error");
}

TEST_CASE("events of other aggregates are ignored") {
  history h;
  h.add(at(10, 0, 0), created("web-3"))
      .add(at(10, 0, 1), created("web-4", "web", 4))
      .add(at(10, 0, 2), vm_unhealthy{"web-4", "x", 0})
      .add(at(10, 0, 3), started("web-3", 100));
  auto x = explain(h.log, "web-3");
  CHECK(x.summary == "web-3 is running since 10:00:03");
  REQUIRE(x.chain.size() == 2);
  CHECK(x.chain[1].seq == 4);
}

TEST_CASE("an unknown name explains nothing") {
  auto x = explain({}, "ghost");
  CHECK(x.subject == "ghost");
  CHECK(x.summary == "ghost: no events recorded");
  CHECK(x.chain.empty());
}

TEST_CASE("a deployment's summary: replicas, scalings, revision, VMs") {
  history h;
  h.add(at(10, 0, 0), dep_created("web", 1))
      .add(at(10, 0, 0), created("web-0", "web", 0))
      .add(at(10, 0, 1), started("web-0", 100))
      .add(at(10, 0, 2), vm_ready{"web-0", 0})
      .add(at(10, 1, 0), deployment_scaled{"web", 1, 3, 0})
      .add(at(10, 1, 0), created("web-1", "web", 1))
      .add(at(10, 1, 0), created("web-2", "web", 2))
      .add(at(10, 1, 1), started("web-1", 101))
      .add(at(10, 1, 2), vm_ready{"web-1", 0});
  auto x = explain(h.log, "web");
  CHECK(x.subject == "deployment/web");
  CHECK(x.summary
        == "web wants 3 replicas of nginx:1.0.0 (scaled 1→3 at 10:01:00); "
           "revision 1; VMs: 1 pending, 2 ready");
  REQUIRE(x.chain.size() == h.log.size());
  CHECK(x.chain[0].text == "created web: 1 replicas of nginx:1.0.0 (revision 1)");
  CHECK(x.chain[4].text == "scaled web 1 → 3");
}

TEST_CASE("a deployment names the restarts of its VMs and their causes") {
  history h;
  h.add(at(10, 0, 0), dep_created("web", 2))
      .add(at(10, 0, 0), created("web-0", "web", 0))
      .add(at(10, 0, 0), created("web-1", "web", 1))
      .add(at(10, 0, 1), vm_ready{"web-0", 0})
      .add(at(10, 0, 1), vm_ready{"web-1", 0});
  for (int i = 0; i < 3; ++i)
    h.add(at(10, 2, 11 + i), vm_unhealthy{"web-1", "connection refused", 0})
        .add(at(10, 2, 11 + i),
             vm_restart_scheduled{"web-1", "connection refused", 1000, 0});
  h.add(at(10, 3, 0), deployment_scaled{"web", 2, 4, 0})
      .add(at(10, 3, 1), deployment_scaled{"web", 4, 2, 0})
      .add(at(10, 4, 0), updated("web", {"nginx", "2.0.0"}, 2))
      .add(at(10, 5, 0), deployment_paused{"web", 0})
      .add(at(10, 5, 0), deployment_auto_restart_set{"web", false, 0});
  auto x = explain(h.log, "web");
  CHECK(x.summary
        == "web wants 2 replicas of nginx:2.0.0 (scaled 2→4→2, last at "
           "10:03:01); revision 2 (updated at 10:04:00); rollout of revision 2 "
           "in progress (0 of 2 replicas updated); paused since "
           "10:05:00; auto-restart off since 10:05:00; VMs: 1 ready, 1 "
           "restarting; web-1 restarted 3× since 10:02:11: health check "
           "failed (connection refused) ×3");
  CHECK(x.chain[x.chain.size() - 3].text
        == "updated web to revision 2 (nginx:2.0.0, recreate), rollout started");
  CHECK(x.chain[x.chain.size() - 2].text == "paused web");
  CHECK(x.chain.back().text == "auto-restart of web turned off");
  h.add(at(10, 6, 0), deployment_resumed{"web", 0});
  CHECK(explain(h.log, "web").summary.find("; resumed at 10:06:00; ")
        != std::string::npos);
}

TEST_CASE("many scalings are counted rather than listed") {
  history h;
  h.add(at(10, 0, 0), dep_created("web", 0));
  for (int i = 0; i < 8; ++i)
    h.add(at(10, 1, i), deployment_scaled{"web", i, i + 1, 0});
  CHECK(explain(h.log, "web").summary
        == "web wants 8 replicas of nginx:1.0.0 (scaled 8× since 10:01:00, "
           "last 7→8 at 10:01:07); revision 1; no VMs");
}

TEST_CASE("a deleted deployment says when") {
  history h;
  h.add(at(10, 0, 0), dep_created("web", 1))
      .add(at(10, 0, 0), created("web-0", "web", 0))
      .add(at(11, 0, 0), deployment_deleted{"web", 0})
      .add(at(11, 0, 1), vm_stopped{"web-0", 0})
      .add(at(11, 0, 2), vm_removed{"web-0", 0});
  auto x = explain(h.log, "web");
  CHECK(x.summary == "web was deleted at 11:00:00; revision 1; no VMs");
  CHECK(x.chain.size() == 5);
}

TEST_CASE("a deployment ignores VMs of other deployments and their crashes") {
  history h;
  h.add(at(10, 0, 0), dep_created("web", 1))
      .add(at(10, 0, 0), created("web-0", "web", 0))
      .add(at(10, 0, 0), created("api-0", "api", 0))
      .add(at(10, 0, 1), actor_crashed{"vm/api-0", "boom", 1, 0})
      .add(at(10, 0, 2), actor_crashed{"vm/web-0", "bang", 2, 0})
      .add(at(10, 0, 3), actor_crashed{"deployment/web", "oops", 1, 0});
  auto x = explain(h.log, "web");
  CHECK(x.summary
        == "web wants 1 replica of nginx:1.0.0; revision 1; VMs: 1 pending; "
           "its actors crashed 1× (last: oops)");
  REQUIRE(x.chain.size() == 4);
  CHECK(x.chain[2].text == "actor vm/web-0 crashed (#2): bang");
}

TEST_CASE("an old log's recreate (vm_created with a reason) is told by its "
          "reason when the old VM's story is missing") {
  auto x = created("web-3");
  x.reason = "connection refused (again after a restart)";
  history h;
  h.add(at(10, 9, 2), x).add(at(10, 9, 3), started("web-3", 300));
  auto e = explain(h.log, "web-3");
  CHECK(e.summary
        == "web-3 is running since 10:09:03; recreated (last at 10:09:02) "
           "after: connection refused (again after a restart)");
  CHECK(e.chain[0].text
        == "recreated web-3 (revision 1, ip 10.0.0.13): connection refused "
           "(again after a restart)");
}

// -- recreates in place (vm_recreated) ------------------------------------------

TEST_CASE("a VM recreated in place after a failure tells what its runs went "
          "through") {
  history h;
  h.add(at(10, 0, 0), created("web-3"))
      .add(at(10, 0, 1), started("web-3", 100))
      .add(at(10, 0, 2), vm_ready{"web-3", 0, 1})
      .add(at(10, 1, 0), vm_unhealthy{"web-3", "HTTP 503", 0, 1})
      .add(at(10, 1, 0), vm_restart_scheduled{"web-3", "HTTP 503", 0, 0, 1})
      .add(at(10, 1, 1), started("web-3", 101))
      .add(at(10, 1, 30), vm_unhealthy{"web-3", "connection refused", 0, 2})
      .add(at(10, 1, 31),
           vm_recreated{"web-3", 1, 1, 128, 2, 1000,
                        "recreated: connection refused (again after a restart)", 0});
  auto x = explain(h.log, "web-3");
  CHECK(x.summary
        == "web-3 is pending since 10:01:31, next start after a 1s back-off; "
           "recreated (last at 10:01:31) after: health check failed (HTTP 503) → "
           "health check failed (connection refused)");
  CHECK(x.chain.size() == h.log.size());
  CHECK(x.chain.back()
        == explain_step{h.log.back().seq, at(10, 1, 31), "vm_recreated",
                        "recreated web-3 in place (revision 1, next start after a "
                        "1s back-off): connection refused (again after a "
                        "restart)"});
  // The new runs start a new count; the recreate stays in the summary.
  h.add(at(10, 1, 32), started("web-3", 102)).add(at(10, 1, 33), vm_ready{"web-3", 0, 3});
  CHECK(explain(h.log, "web-3").summary
        == "web-3 is ready since 10:01:33; recreated (last at 10:01:31) after: "
           "health check failed (HTTP 503) → health check failed (connection "
           "refused)");
}

TEST_CASE("a recreate for a missed ready deadline names the deadline") {
  history h;
  h.add(at(10, 0, 0), created("web-3"))
      .add(at(10, 0, 1), started("web-3", 100))
      .add(at(10, 0, 9), vm_exited{"web-3", 1, "", 0, 1})
      .add(at(10, 0, 9), vm_restart_scheduled{"web-3", "exited", 0, 0, 1})
      .add(at(10, 0, 10), started("web-3", 101))
      .add(at(10, 0, 15), vm_recreated{"web-3", 1, 1, 128, 2, 1000,
                                       "recreated: not ready within 5 s of its "
                                       "restart",
                                       0});
  CHECK(explain(h.log, "web-3").summary
        == "web-3 is pending since 10:00:15, next start after a 1s back-off; "
           "recreated (last at 10:00:15) after: exited with status 1 → not ready "
           "within 5 s of its restart");
}

TEST_CASE("a failed start recreated in place names the failure") {
  history h;
  h.add(at(10, 0, 0), created("web-3"))
      .add(at(10, 0, 1), vm_start_failed{"web-3", "exec: no such file", 0, 1})
      .add(at(10, 0, 1), vm_recreated{"web-3", 1, 1, 128, 1, 0,
                                      "recreated: exec: no such file", 0})
      .add(at(10, 0, 2), vm_start_failed{"web-3", "exec: no such file", 0, 2})
      .add(at(10, 0, 2), vm_recreated{"web-3", 1, 1, 128, 2, 1000,
                                      "recreated: exec: no such file", 0});
  auto x = explain(h.log, "web-3");
  CHECK(x.summary
        == "web-3 is pending since 10:00:02, next start after a 1s back-off; "
           "recreated 2× (last at 10:00:02) after: failed to start (exec: no "
           "such file)");
  CHECK(x.chain[2].text
        == "recreated web-3 in place (revision 1): exec: no such file");
}

TEST_CASE("a VM recreated for a new revision says which") {
  auto h = crash_looping_vm(1);
  h.add(at(10, 5, 0), vm_ready{"web-3", 0, 2})
      .add(at(10, 6, 0), vm_stopped{"web-3", 0, 2})
      .add(at(10, 6, 0), vm_recreated{"web-3", 2, 2, 256, 0, 0, "revision 1 -> 2", 0})
      .add(at(10, 6, 1), started("web-3", 300))
      .add(at(10, 6, 2), vm_ready{"web-3", 0, 3});
  auto x = explain(h.log, "web-3");
  CHECK(x.summary
        == "web-3 is ready since 10:06:02; recreated (last at 10:06:00) for "
           "revision 1 -> 2");
  CHECK(x.chain[x.chain.size() - 3].text
        == "recreated web-3 in place (revision 2): revision 1 -> 2");
}

TEST_CASE("a deployment's VMs recreated in place stay in its story") {
  history h;
  h.add(at(10, 0, 0), dep_created("web", 1))
      .add(at(10, 0, 0), created("web-0", "web", 0))
      .add(at(10, 0, 1), started("web-0", 100))
      .add(at(10, 0, 2), vm_ready{"web-0", 0, 1})
      .add(at(10, 1, 0), updated("web", {"nginx", "2.0.0"}, 2))
      .add(at(10, 1, 1), vm_stopped{"web-0", 0, 1})
      .add(at(10, 1, 1), vm_recreated{"web-0", 2, 1, 128, 0, 0, "revision 1 -> 2", 0});
  auto x = explain(h.log, "web");
  CHECK(x.summary
        == "web wants 1 replica of nginx:2.0.0; revision 2 (updated at "
           "10:01:00); rollout of revision 2 in progress (0 of 1 replicas "
           "updated); VMs: 1 pending");
  REQUIRE(x.chain.size() == h.log.size());
  CHECK(x.chain.back().text == "recreated web-0 in place (revision 2): revision 1 -> 2");
}

TEST_CASE("an accepted journal loss is told in every story it may have touched") {
  // The deployment was paused at seq 4, which the journal lost: the story says
  // it is not paused, and that events may be missing.
  history h;
  h.add(at(10, 0, 0), dep_created("web", 1))
      .add(at(10, 0, 1), created("web-0", "web", 0))
      .add(at(10, 0, 2), started("web-0", 100));
  h.log.push_back({5, at(10, 7, 0),
                   journal_loss_accepted{3, 4, 1,
                                         "the write-ahead log /d/000012.log "
                                         "is missing",
                                         "/d.before-repair", 0}});
  auto dep = explain(h.log, "web");
  CHECK(dep.summary.find("paused") == std::string::npos);
  CHECK(dep.summary.ends_with("; the journal lost seq 4 (accepted at "
                              "10:07:00), so this story may miss events"));
  REQUIRE(dep.chain.size() == 4);
  CHECK(dep.chain[3].kind == "journal_loss_accepted");
  CHECK(dep.chain[3].seq == 5);
  CHECK(dep.chain[3].text
        == "the journal lost 1 acknowledged event (seq 4), accepted: the "
           "write-ahead log /d/000012.log is missing");
  auto vm = explain(h.log, "web-0");
  CHECK(vm.summary
        == "web-0 is running since 10:00:02; the journal lost seq 4 (accepted "
           "at 10:07:00), so this story may miss events");
  CHECK(vm.chain.back().kind == "journal_loss_accepted");
}

TEST_CASE("a VM's chain starts with the deployment event that caused it") {
  history h;
  h.add(at(10, 0, 0), dep_created("web", 2))
      .add(at(10, 0, 1), created("web-0", "web", 0))
      .add(at(10, 5, 0), deployment_scaled{"web", 2, 4, 0})
      .add(at(10, 5, 0), created("web-3"))
      .add(at(10, 5, 1), started("web-3", 100))
      .add(at(10, 5, 2), vm_ready{"web-3", 0})
      .add(at(10, 9, 0), deployment_scaled{"web", 4, 1, 0})
      .add(at(10, 9, 0), vm_removed{"web-3", 0});
  auto x = explain(h.log, "web-3");
  CHECK(x.subject == "vm/web-3");
  REQUIRE(x.chain.size() == 6);
  CHECK(x.chain[0]
        == explain_step{3, at(10, 5, 0), "deployment_scaled", "scaled web 2 → 4"});
  CHECK(x.chain[1].kind == "vm_created");
  CHECK(x.chain[4]
        == explain_step{7, at(10, 9, 0), "deployment_scaled", "scaled web 4 → 1"});
  CHECK(x.chain[5].kind == "vm_removed");
  // Events of the deployment that caused nothing of this VM are left out, and
  // the deployment's own explanation is unchanged by this.
  CHECK(std::none_of(x.chain.begin(), x.chain.end(),
                     [](const explain_step& st) { return st.kind == "deployment_created"; }));
  CHECK(explain(h.log, "web").subject == "deployment/web");
}

TEST_CASE("a deployment's story tells its rollout: started, each step, failed at the "
          "deadline, reverted to the last revision that completed") {
  history h;
  auto created_web = dep_created("web", 2);
  created_web.spec.strategy.kind = strategy_kind::rolling;
  auto surge = created("web-0@2", "web", 0);
  surge.revision = 2;
  auto revert = updated("web", {"nginx", "1.0.0"}, 3);
  revert.revert_of = 2;
  revert.reason = "automatic revert to revision 1: rollout of revision 2 failed: no "
                  "progress for 600 s (1 of 2 replicas updated)";
  auto rolling_update = updated("web", {"nginx", "2.0.0"}, 2);
  rolling_update.strategy.kind = strategy_kind::rolling;
  h.add(at(10, 0, 0), created_web)
      .add(at(10, 0, 1), created("web-0", "web", 0))
      .add(at(10, 0, 2), deployment_rollout{"web", 1, rollout_phase::complete, 2, 2, "", 0})
      .add(at(10, 1, 0), rolling_update)
      .add(at(10, 1, 1), surge)
      .add(at(10, 1, 2), vm_terminating{"web-0", "replaced by revision 2", 2000, 0, 1})
      .add(at(10, 1, 5), deployment_rollout{"web", 2, rollout_phase::progressing, 1, 2, "", 0})
      .add(at(10, 11, 5),
           deployment_rollout{"web", 2, rollout_phase::failed, 1, 2,
                              "no progress for 600 s (1 of 2 replicas updated)", 0})
      .add(at(10, 11, 5), revert);
  auto x = explain(h.log, "web");
  std::vector<std::string> texts;
  for (const auto& step : x.chain)
    texts.push_back(step.text);
  REQUIRE(texts.size() == 9);
  CHECK(texts[2] == "rollout of web revision 1 complete (2 of 2 replicas updated)");
  CHECK(texts[3] == "updated web to revision 2 (nginx:2.0.0, rolling), rollout started");
  CHECK(texts[4] == "created web-0@2 (revision 2, ip 10.0.0.10)");
  CHECK(texts[5] == "web-0 terminating (replaced by revision 2), stopped after 2s");
  CHECK(texts[6] == "rollout of web revision 2: 1 of 2 replicas updated");
  CHECK(texts[7]
        == "rollout of web revision 2 failed: no progress for 600 s (1 of 2 replicas updated)");
  CHECK(texts[8]
        == "rollout of web reverted to revision 3 (nginx:1.0.0): automatic revert to "
           "revision 1: rollout of revision 2 failed: no progress for 600 s (1 of 2 "
           "replicas updated)");
  CHECK_MESSAGE(x.summary.find("rollout of revision 2 failed and was reverted at 10:11:05 "
                               "(revision 3)")
                    != std::string::npos,
                x.summary);
}

TEST_CASE("a deployment's story tells its autoscaler and the numbers of its latest scale") {
  autoscaler_spec a;
  a.name = "web-hpa";
  a.deployment = "web";
  a.min_replicas = 2;
  a.max_replicas = 8;
  autoscaler_spec other = a;
  other.name = "api-hpa";
  other.deployment = "api";
  deployment_scaled up{"web", 2, 4, at(10, 1, 0)};
  up.cause = "autoscaler web-hpa";
  up.detail = "requests 17.5 req/s of 10 req/s -> 4";
  history h;
  h.add(at(10, 0, 0), dep_created("web", 2))
      .add(at(10, 0, 5), autoscaler_set{a, at(10, 0, 5)})
      .add(at(10, 0, 6), autoscaler_set{other, at(10, 0, 6)})
      .add(at(10, 1, 0), up)
      .add(at(10, 2, 0), deployment_scaled{"web", 4, 3, at(10, 2, 0)});
  auto x = explain(h.log, "web");
  CHECK(x.summary.find("; autoscaler web-hpa keeps it at 2..8 replicas; latest scale by "
                       "autoscaler web-hpa: 2→4 at 10:01:00 (requests 17.5 req/s of 10 "
                       "req/s -> 4)")
        != std::string::npos);
  // Its autoscaler's changes are in the chain; another deployment's are not.
  std::vector<std::uint64_t> seqs;
  for (const auto& step : x.chain)
    seqs.push_back(step.seq);
  CHECK(seqs == std::vector<std::uint64_t>{1, 2, 4, 5});

  h.add(at(10, 3, 0), autoscaler_deleted{"api-hpa", at(10, 3, 0)})
      .add(at(10, 4, 0), autoscaler_deleted{"web-hpa", at(10, 4, 0)});
  x = explain(h.log, "web");
  CHECK(x.summary.find("keeps it at") == std::string::npos);
  CHECK(x.summary.find("latest scale by autoscaler web-hpa: 2→4") != std::string::npos);
  CHECK(x.chain.back().seq == 7);
  CHECK(x.chain.size() == 5);
}
