// The VM lifecycle machine (vm_step) in scenarios: starting, exits and
// restarts in place, recreates for failures. Goals (pause, removal, new
// revisions): vm_machine_goal_test.cpp; runs (stale reports, adoption,
// commands, audit): vm_machine_run_test.cpp.

#include "vm_rig.hpp"

using namespace volant;
using namespace volant::test;

// -- starting -----------------------------------------------------------------

TEST_CASE("a pending VM starts run incarnation + 1 once it has a goal, not before") {
  rig r;
  // Spawned on a pending record: nothing to check; only a run its predecessor
  // may have forked without recording it is released.
  CHECK(kinds_of(r.fx) == kinds{"fx_release"});
  CHECK(one<fx_release>(r.fx).n == 1);
  CHECK(r.m.run.phase == run_phase::none);
  CHECK(r.step(in_tick{}).empty());
  CHECK(r.advance_to(r.h.now + 3600 * s).empty());
  r.replan();
  CHECK(kinds_of(r.fx) == kinds{"fx_start"});
  CHECK(one<fx_start>(r.fx).n == r.rec().incarnation + 1);
  CHECK(one<fx_start>(r.fx).n == 1);
  CHECK(has_note(r.fx, "starting run 1"));
  CHECK(r.m.run.phase == run_phase::launching);
  // While it launches, nothing more starts.
  CHECK(r.replan().empty());
  CHECK(r.step(in_tick{}).empty());
}

TEST_CASE("a VM of a reused name starts above every run recorded before") {
  rig r({.replicas = 2});
  CHECK(r.up() == 1);
  r.h.must(record_vm_exited{"web-0", 0, "", 1});
  r.h.must(remove_vm{"web-0", 1});
  r.h.must(record_vm_started{"web-1", handle(5), 5}); // another VM's run 5
  r.h.must(create_vm{"web", 0});
  r.spawn(true);
  r.replan();
  CHECK(one<fx_start>(r.fx).n == 6);
}

TEST_CASE("a started run is recorded, then READY at once without a health check") {
  rig r;
  r.replan();
  r.step(in_started{1, handle(1)});
  CHECK(kinds_of(r.fx) == kinds{"fx_watch", "fx_command"});
  CHECK(one<fx_watch>(r.fx).n == 1);
  CHECK(one<fx_watch>(r.fx).handle == handle(1));
  auto rs = cmd<record_vm_started>(r.fx);
  CHECK(rs.name == "web-0");
  CHECK(rs.handle == handle(1));
  CHECK(rs.incarnation == 1);
  r.commit();
  CHECK(r.rec().status == vm_status::running);
  CHECK(r.rec().incarnation == 1);
  CHECK(r.rec().handle == handle(1));
  CHECK(cmd<record_vm_ready>(r.fx).incarnation == 1);
  r.commit();
  CHECK(r.rec().status == vm_status::ready);
  CHECK(quiet(r.fx));
  CHECK_FALSE(r.in_flight);
}

TEST_CASE("with a health check a started run is probed and its verdicts are "
          "journaled as READY and UNHEALTHY") {
  rig r({.probed = true, .auto_restart = false});
  r.replan();
  r.started(1);
  CHECK(r.rec().status == vm_status::running); // not READY before the probe
  auto probe = one<fx_probe_start>(r.fx);
  CHECK(probe.n == 1);
  CHECK(probe.handle == handle(1));

  r.step(in_verdict{1, true, ""});
  CHECK(cmd<record_vm_ready>(r.fx).incarnation == 1);
  r.commit();
  CHECK(r.rec().status == vm_status::ready);

  r.step(in_verdict{1, false, "HTTP 503"});
  auto u = cmd<record_vm_unhealthy>(r.fx);
  CHECK(u.reason == "HTTP 503");
  CHECK(u.incarnation == 1);
  r.commit();
  CHECK(r.rec().status == vm_status::unhealthy);
  CHECK(quiet(r.fx)); // auto-restart is off: it stays, still probed

  r.step(in_verdict{1, true, ""});
  r.commit();
  CHECK(r.rec().status == vm_status::ready);
  CHECK(r.journaled_since(0).back() == "vm_ready");
  CHECK_FALSE(has<fx_probe_start>(r.fx)); // one probe for the run
}

// -- exits and restarts in place ----------------------------------------------

TEST_CASE("an exit is journaled, then the VM restarts in place at once the "
          "first time") {
  rig r;
  r.up();
  auto before = r.seq();
  r.step(in_exited{1, 1, "exit status 1"});
  CHECK(kinds_of(r.fx) == kinds{"fx_release", "fx_command"});
  CHECK(one<fx_release>(r.fx).n == 1);
  auto x = cmd<record_vm_exited>(r.fx);
  CHECK(x.exit_code == 1);
  CHECK(x.reason == "exit status 1");
  CHECK(x.incarnation == 1);
  r.commit();
  auto restart = cmd<schedule_vm_restart>(r.fx);
  CHECK(restart.reason == "exit status 1");
  CHECK(restart.backoff_ms == 0);
  CHECK(restart.incarnation == 1);
  r.commit();
  CHECK(r.rec().restarts == 1);
  CHECK(one<fx_start>(r.fx).n == 2);
  CHECK(r.journaled_since(before) == kinds{"vm_exited", "vm_restart_scheduled"});
  CHECK(r.up() == 2);
}

TEST_CASE("the back-off is 0 the first time, then 1 s doubling, and resets after "
          "60 s up") {
  rig r;
  auto n = r.up();
  std::vector<std::uint64_t> backoffs;
  for (int i = 0; i < 4; ++i) {
    r.advance_to(r.h.now + 2 * s); // crashes 2 s after each start
    r.step(in_exited{n, 1, "exit status 1"});
    r.commit(); // vm_exited
    backoffs.push_back(cmd<schedule_vm_restart>(r.fx).backoff_ms);
    r.commit(); // vm_restart_scheduled
    auto not_before = r.rec().not_before;
    CHECK(not_before == r.h.now + static_cast<unix_nanos>(backoffs.back()) * ms);
    if (backoffs.back() > 0) {
      // Not before its back-off: a timer for then, and nothing started early.
      CHECK_FALSE(has<fx_start>(r.fx));
      CHECK(one<fx_timer>(r.fx).at == not_before);
      CHECK_FALSE(has<fx_start>(r.advance_to(not_before - 1)));
      CHECK(one<fx_start>(r.advance_to(not_before)).n == n + 1);
    }
    n = r.up();
  }
  CHECK(backoffs == std::vector<std::uint64_t>{0, 1000, 2000, 4000});
  CHECK(r.rec().restarts == 4);
  // Up for 60 s: the next crash restarts at once again.
  r.advance_to(r.h.now + 60 * s);
  r.step(in_exited{n, 1, "exit status 1"});
  r.commit();
  CHECK(cmd<schedule_vm_restart>(r.fx).backoff_ms == 0);
}

TEST_CASE("an unhealthy run is stopped before the next one starts: terminate, "
          "then kill after the grace") {
  rig r({.probed = true});
  r.up();
  r.step(in_verdict{1, false, "connection refused"});
  r.commit(); // vm_unhealthy
  CHECK(cmd<schedule_vm_restart>(r.fx).reason == "connection refused");
  r.commit(); // vm_restart_scheduled: run 1 is to end
  auto stop_at = r.h.now;
  CHECK(kinds_of(r.fx) == kinds{"fx_probe_stop", "fx_terminate", "fx_timer"});
  CHECK(one<fx_terminate>(r.fx).n == 1);
  CHECK(one<fx_terminate>(r.fx).handle == handle(1));
  CHECK(one<fx_timer>(r.fx).at == stop_at + 10 * s);
  CHECK(has_note(r.fx, "stopping run 1: restarting: connection refused"));

  auto waiting = r.advance_to(stop_at + 10 * s - 1);
  CHECK_FALSE(has<fx_kill>(waiting));
  CHECK_FALSE(has<fx_start>(waiting));
  auto grace = r.advance_to(stop_at + 10 * s);
  CHECK(acts(grace) == kinds{"fx_kill"});
  CHECK(one<fx_kill>(grace).n == 1);
  CHECK(one<fx_kill>(grace).handle == handle(1));
  CHECK(quiet(r.step(in_tick{}))); // killed once

  auto before = r.seq();
  r.step(in_exited{1, -9, "killed by signal 9"});
  CHECK(kinds_of(r.fx) == kinds{"fx_release", "fx_start"});
  CHECK(one<fx_start>(r.fx).n == 2);
  CHECK(r.journaled_since(before).empty()); // a restart's stop is no exit
}

TEST_CASE("a restart waits for both the old run's end and its back-off") {
  rig r({.probed = true});
  r.up();
  r.step(in_verdict{1, false, "HTTP 503"});
  r.settle(); // unhealthy, restart at once, run 1 stopped
  r.step(in_exited{1, 143, "killed by signal 15"});
  auto n = r.up(); // run 2, ready
  r.step(in_verdict{n, false, "HTTP 503"});
  r.settle();
  CHECK(r.rec().backoff_ms == 1000);
  auto not_before = r.rec().not_before;
  CHECK(one<fx_terminate>(r.fx).n == n);
  // The old run ends at once, the back-off still runs: no start yet.
  r.step(in_exited{n, 143, "killed by signal 15"});
  CHECK_FALSE(has<fx_start>(r.fx));
  CHECK(one<fx_timer>(r.fx).at == not_before);
  CHECK_FALSE(has<fx_start>(r.advance_to(not_before - 1)));
  CHECK(one<fx_start>(r.advance_to(not_before)).n == n + 1);
}

TEST_CASE("a run that outlives its back-off is still stopped before the next "
          "starts") {
  rig r({.probed = true});
  r.up();
  r.step(in_verdict{1, false, "HTTP 503"});
  r.settle();
  r.step(in_exited{1, 143, "killed by signal 15"});
  auto n = r.up();
  r.step(in_verdict{n, false, "HTTP 503"});
  r.settle(); // restart with a 1 s back-off; run n terminated
  auto effects = r.advance_to(r.rec().not_before + 60 * s);
  CHECK(one<fx_kill>(effects).n == n);
  CHECK_FALSE(has<fx_start>(effects)); // no report of its end yet
  r.step(in_exited{n, -9, "killed by signal 9"});
  CHECK(one<fx_start>(r.fx).n == n + 1);
}

// -- recreates for failures -----------------------------------------------------

TEST_CASE("a VM that fails its check again after a restart, before it was "
          "ready, is recreated with its restarts and back-off carried over") {
  rig r({.probed = true});
  r.up();
  r.step(in_verdict{1, false, "HTTP 503"});
  r.settle();
  r.step(in_exited{1, 143, "killed by signal 15"});
  REQUIRE(one<fx_start>(r.fx).n == 2);
  r.started(2);
  r.step(in_verdict{2, false, "connection refused"});
  r.commit(); // vm_unhealthy for run 2
  // A restart in place did not heal it: stopped for a recreate.
  CHECK(one<fx_terminate>(r.fx).n == 2);
  CHECK(has_note(r.fx, "recreated: connection refused (again after a restart)"));
  CHECK_FALSE(r.in_flight);
  r.step(in_exited{2, 143, "killed by signal 15"});
  auto re = cmd<recreate_vm>(r.fx);
  CHECK(re.name == "web-0");
  CHECK(re.ended == 2);
  CHECK(re.revision == 1);
  CHECK(re.restarts == 2);
  CHECK(re.backoff_ms == 1000);
  CHECK(re.reason == "recreated: connection refused (again after a restart)");
  auto before = r.seq();
  auto ip = r.rec().ip;
  r.commit();
  CHECK(r.journaled_since(before) == kinds{"vm_recreated"});
  CHECK(one<fx_wipe>(r.fx).removed == false);
  CHECK(has_note(r.fx, "recreated: connection refused (again after a restart)"));
  CHECK_FALSE(has_note(r.fx, "recreated: recreated:"));
  CHECK(r.rec().status == vm_status::pending);
  CHECK(r.rec().restarts == 2);
  CHECK(r.rec().ip == ip);
  // It waits out the carried back-off, then starts run 3.
  CHECK_FALSE(has<fx_start>(r.fx));
  auto not_before = r.rec().not_before;
  CHECK(not_before == r.h.now + 1 * s);
  CHECK_FALSE(has<fx_start>(r.advance_to(not_before - 1)));
  CHECK(one<fx_start>(r.advance_to(not_before)).n == 3);
}

TEST_CASE("a VM that exits again after a restart, before it was ready, is "
          "recreated") {
  rig r({.probed = true});
  r.up();
  r.step(in_exited{1, 1, "exit status 1"});
  r.settle(); // exited, restart at once
  REQUIRE(one<fx_start>(r.fx).n == 2);
  r.started(2);
  r.step(in_exited{2, 1, "exit status 1"});
  CHECK(cmd<record_vm_exited>(r.fx).incarnation == 2);
  r.commit();
  auto re = cmd<recreate_vm>(r.fx);
  CHECK(re.ended == 2);
  CHECK(re.restarts == 2);
  CHECK(re.backoff_ms == 1000);
  CHECK(re.reason == "recreated: exit status 1 (again after a restart)");
  r.commit();
  CHECK(r.rec().last_error == "recreated: exit status 1 (again after a restart)");
}

TEST_CASE("a VM restarted in place that is not ready within the deadline is "
          "recreated (4.999 s no, 5 s yes)") {
  rig r({.probed = true});
  r.up();
  r.step(in_exited{1, 1, "exit status 1"});
  r.settle();
  r.started(2);
  auto started = r.rec().started_at;
  CHECK(r.m.wake_at == started + 5 * s);
  auto early = r.advance_to(started + 5 * s - ms);
  CHECK_FALSE(has<fx_terminate>(early));
  CHECK_FALSE(r.in_flight);
  auto late = r.advance_to(started + 5 * s);
  CHECK(one<fx_terminate>(late).n == 2);
  CHECK(has_note(late, "not ready within 5 s of its restart"));
  r.step(in_exited{2, 143, "killed by signal 15"});
  auto re = cmd<recreate_vm>(r.fx);
  CHECK(re.reason == "recreated: not ready within 5 s of its restart");
  CHECK(re.restarts == 2);
  CHECK(re.ended == 2);
  r.commit();
}

TEST_CASE("a first start has no ready deadline: the probe decides") {
  rig r({.probed = true});
  r.replan();
  r.started(1);
  CHECK_FALSE(has<fx_terminate>(r.advance_to(r.h.now + 3600 * s)));
  CHECK(r.m.run.phase == run_phase::up);
}

TEST_CASE("without auto-restart a VM past its ready deadline stays for "
          "inspection") {
  rig r({.probed = true});
  r.up();
  r.step(in_exited{1, 1, "exit status 1"});
  r.settle();
  r.started(2); // restarted, not ready
  update_deployment off;
  off.name = "web";
  off.auto_restart = false;
  r.h.must(off);
  r.replan();
  auto effects = r.advance_to(r.rec().started_at + 3600 * s);
  CHECK_FALSE(has<fx_terminate>(effects));
  CHECK_FALSE(r.in_flight);
  CHECK(r.rec().status == vm_status::running);
}

TEST_CASE("a resumed VM that was restarted before is not held to the ready "
          "deadline") {
  rig r({.probed = true});
  r.up();
  r.step(in_exited{1, 1, "exit status 1"});
  r.settle();
  r.up(); // run 2, ready after a restart
  r.h.must(pause_deployment{"web"});
  r.replan();
  r.step(in_frozen{2, true, ""});
  r.settle();
  r.h.must(resume_deployment{"web"});
  r.replan();
  r.step(in_thawed{2, true, ""});
  r.settle(); // vm_resumed: running until its probe says ready
  CHECK(r.rec().status == vm_status::running);
  auto effects = r.advance_to(r.rec().started_at + 3600 * s);
  CHECK_FALSE(has<fx_terminate>(effects));
  CHECK_FALSE(r.in_flight);
}

TEST_CASE("a failed start is journaled and the VM recreated, with a growing "
          "back-off when it keeps failing") {
  rig r;
  r.replan();
  r.step(in_start_failed{1, "exec: no such file"});
  CHECK(kinds_of(r.fx) == kinds{"fx_release", "fx_command"});
  auto f = cmd<record_vm_start_failed>(r.fx);
  CHECK(f.error == "exec: no such file");
  CHECK(f.incarnation == 1);
  r.commit();
  CHECK(r.rec().status == vm_status::failed);
  auto re = cmd<recreate_vm>(r.fx);
  CHECK(re.ended == 1);
  CHECK(re.restarts == 1);
  CHECK(re.backoff_ms == 0);
  CHECK(re.reason == "recreated: exec: no such file");
  r.commit();
  CHECK(one<fx_wipe>(r.fx).removed == false);
  CHECK(one<fx_start>(r.fx).n == 2); // its number 1 is used up

  r.step(in_start_failed{2, "exec: no such file"});
  r.commit();
  re = cmd<recreate_vm>(r.fx);
  CHECK(re.restarts == 2);
  CHECK(re.backoff_ms == 1000);
  r.commit();
  CHECK_FALSE(has<fx_start>(r.fx));
  CHECK(one<fx_start>(r.advance_to(r.rec().not_before)).n == 3);
}

TEST_CASE("without auto-restart an exited, unhealthy or failed VM is left as it "
          "is") {
  SUBCASE("exited") {
    rig r({.auto_restart = false});
    r.up();
    r.step(in_exited{1, 1, "exit status 1"});
    r.commit();
    CHECK(r.rec().status == vm_status::exited);
    CHECK(quiet(r.fx));
    CHECK(quiet(r.advance_to(r.h.now + 3600 * s)));
    CHECK_FALSE(r.in_flight);
  }
  SUBCASE("unhealthy") {
    rig r({.probed = true, .auto_restart = false});
    r.up();
    r.step(in_verdict{1, false, "HTTP 503"});
    r.commit();
    CHECK(r.rec().status == vm_status::unhealthy);
    CHECK(quiet(r.fx));
  }
  SUBCASE("failed") {
    rig r({.auto_restart = false});
    r.replan();
    r.step(in_start_failed{1, "ENOENT"});
    r.commit();
    CHECK(r.rec().status == vm_status::failed);
    CHECK(quiet(r.fx));
    CHECK(quiet(r.advance_to(r.h.now + 3600 * s)));
  }
}

TEST_CASE("with a readiness check READY comes from it: a readiness failure makes "
          "the VM not ready (still running, not restarted), the health check alone "
          "makes it unhealthy") {
  rig r({.probed = true, .auto_restart = false, .readiness = true});
  CHECK(r.planned().readiness);
  r.replan();
  r.started(1);
  CHECK(one<fx_probe_start>(r.fx).n == 1); // one probe runs both checks
  // The health check passing is not enough.
  r.step(in_verdict{1, true, ""});
  CHECK_FALSE(has<fx_command>(r.fx));
  CHECK(r.rec().status == vm_status::running);
  r.step(in_verdict{1, true, "", true});
  CHECK(cmd<record_vm_ready>(r.fx).incarnation == 1);
  r.commit();
  CHECK(r.rec().status == vm_status::ready);
  // Not ready: out of service, journaled, the run untouched.
  r.step(in_verdict{1, false, "HTTP 503", true});
  auto nr = cmd<record_vm_not_ready>(r.fx);
  CHECK(nr.reason == "HTTP 503");
  r.commit();
  CHECK(r.rec().status == vm_status::running);
  CHECK(r.journaled_since(0).back() == "vm_not_ready");
  CHECK_FALSE(has<fx_terminate>(r.fx));
  r.step(in_verdict{1, true, "", true});
  r.commit();
  CHECK(r.rec().status == vm_status::ready);
  // The health check failing still makes it unhealthy.
  r.step(in_verdict{1, false, "connection refused"});
  CHECK(cmd<record_vm_unhealthy>(r.fx).reason == "connection refused");
  r.commit();
  CHECK(r.rec().status == vm_status::unhealthy);
  // Not READY again while the health check fails, whatever readiness says.
  r.step(in_verdict{1, true, "", true});
  CHECK_FALSE(has<fx_command>(r.fx));
  r.step(in_verdict{1, true, ""});
  CHECK(cmd<record_vm_ready>(r.fx).incarnation == 1);
}

TEST_CASE("record_vm_not_ready: only a ready VM of that run leaves service") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 1)});
  h.bring_up("web", 1);
  auto n = h.vm("web-0").incarnation;
  CHECK(h.fails(record_vm_not_ready{"web-0", "HTTP 503", n + 5}).code == ec::conflict);
  auto evs = h.must(record_vm_not_ready{"web-0", "HTTP 503", n});
  REQUIRE(evs.size() == 1);
  CHECK(std::get<vm_not_ready>(evs[0]).reason == "HTTP 503");
  CHECK(h.vm("web-0").status == vm_status::running);
  CHECK(h.must(record_vm_not_ready{"web-0", "HTTP 503", n}).empty()); // not ready already
  CHECK(h.fails(record_vm_not_ready{"nope", "x", 1}).code == ec::unknown_vm);
}
