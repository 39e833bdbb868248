// The VM lifecycle machine (vm_step) and its runs: reports about other runs,
// strays, adoption after a restart, one command at a time, the liveness audit.

#include "vm_rig.hpp"

using namespace volant;
using namespace volant::test;

// -- runs: stale reports and strays ---------------------------------------------

TEST_CASE("reports about another run are ignored and a stop names only the "
          "current run") {
  rig r({.probed = true});
  r.up();
  r.step(in_exited{1, 1, "exit status 1"});
  r.settle();
  auto n = r.up(); // run 2
  auto before = r.m;
  CHECK(r.step(in_exited{1, 1, "late exit of run 1"}).empty());
  CHECK(r.step(in_verdict{1, false, "late verdict about run 1"}).empty());
  CHECK(r.step(in_alive{1, false}).empty());
  CHECK(r.step(in_exited{n + 1, 1, "a run that never was"}).empty());
  CHECK(r.step(in_start_failed{n + 1, "?"}).empty());
  CHECK(r.step(in_frozen{1, true, ""}).empty());
  CHECK(r.step(in_thawed{1, true, ""}).empty());
  CHECK(r.m == before);
  r.h.must(scale_deployment{"web", 0});
  r.replan();
  CHECK(one<fx_terminate>(r.fx).n == n);
  CHECK(quiet(r.step(in_exited{1, 143, "late"}))); // still not this run's end
  r.step(in_exited{n, 143, "killed by signal 15"});
  CHECK(cmd<remove_vm>(r.fx).ended == n);
}

TEST_CASE("a start report for a run the machine does not own is killed") {
  rig r;
  r.up();
  r.step(in_started{7, handle(7)});
  CHECK(kinds_of(r.fx) == kinds{"fx_kill"});
  CHECK(one<fx_kill>(r.fx).n == 7);
  CHECK(one<fx_kill>(r.fx).handle == handle(7));
  CHECK(r.m.run.n == 1);
  CHECK(r.m.run.phase == run_phase::up);
  // A repeated report of its own run is no stray.
  CHECK(r.step(in_started{1, handle(1)}).empty());
}

TEST_CASE("a start reported after the machine saw that start fail is killed") {
  rig r;
  r.replan();
  r.step(in_start_failed{1, "no exec report within 10 s"});
  REQUIRE(cmd<record_vm_start_failed>(r.fx).incarnation == 1);
  // The workload turns up after all: run 1 is given up, so it must not live.
  r.step(in_started{1, handle(1)});
  CHECK(one<fx_kill>(r.fx).n == 1);
  CHECK(one<fx_kill>(r.fx).handle == handle(1));
  CHECK(r.m.run.phase == run_phase::none);
  r.commit();
  r.commit(); // recreated
  CHECK(one<fx_start>(r.fx).n == 2);
}

// -- after a restart of the actor or the daemon -------------------------------

TEST_CASE("spawned on a record whose run may be up, the machine checks it "
          "before anything else") {
  rig r({.probed = true});
  r.up();
  r.spawn(true);
  // First the run after the recorded one goes, in case a predecessor forked it
  // and crashed before recording it; then the recorded run is checked.
  CHECK(kinds_of(r.fx) == kinds{"fx_release", "fx_check_alive"});
  CHECK(one<fx_release>(r.fx).n == 2);
  CHECK(one<fx_check_alive>(r.fx).n == 1);
  CHECK(one<fx_check_alive>(r.fx).handle == handle(1));
  CHECK(r.m.run.phase == run_phase::unknown);
  CHECK(r.replan().empty()); // no goal acts on an unknown run

  SUBCASE("alive: adopted") {
    r.step(in_alive{1, true});
    CHECK(one<fx_watch>(r.fx).n == 1);
    auto a = cmd<record_vm_adopted>(r.fx);
    CHECK(a.handle == handle(1));
    CHECK(a.incarnation == 1);
    auto before = r.seq();
    r.commit();
    CHECK(r.journaled_since(before) == kinds{"vm_adopted"});
    CHECK(r.rec().status == vm_status::ready);
    CHECK(one<fx_probe_start>(r.fx).n == 1);
    CHECK_FALSE(r.in_flight);
  }
  SUBCASE("dead: its exit is journaled, then it restarts") {
    r.step(in_alive{1, false});
    auto x = cmd<record_vm_exited>(r.fx);
    CHECK(x.incarnation == 1);
    CHECK(x.reason == "not running when volantd came back (exit status unknown)");
    r.commit();
    CHECK(cmd<schedule_vm_restart>(r.fx).incarnation == 1);
    r.commit();
    CHECK(one<fx_start>(r.fx).n == 2);
  }
}

TEST_CASE("a run found dead after the actor's own restart says so") {
  rig r;
  r.up();
  r.spawn(false);
  r.step(in_alive{1, false});
  CHECK(cmd<record_vm_exited>(r.fx).reason
        == "not running when its actor was restarted (exit status unknown)");
}

TEST_CASE("a paused VM adopted alive stays frozen") {
  rig r;
  r.up();
  r.h.must(pause_deployment{"web"});
  r.replan();
  r.step(in_frozen{1, true, ""});
  r.settle();
  r.spawn(true);
  r.replan();
  r.step(in_alive{1, true});
  CHECK(r.m.run.phase == run_phase::frozen);
  r.commit(); // vm_adopted
  CHECK(r.rec().status == vm_status::paused);
  CHECK_FALSE(has<fx_freeze>(r.fx));
  CHECK_FALSE(has<fx_thaw>(r.fx));
}

TEST_CASE("a restarting VM adopted alive is stopped; found dead it starts after "
          "its back-off") {
  rig r;
  r.up();
  r.advance_to(r.h.now + 2 * s);
  // Its actor journaled a restart with a back-off, then crashed before the stop.
  r.h.must(record_vm_exited{"web-0", 1, "exit status 1", 1});
  r.h.must(schedule_vm_restart{"web-0", "exit status 1", 4000, 1});
  auto not_before = r.rec().not_before;
  r.spawn(false);
  CHECK(one<fx_check_alive>(r.fx).n == 1);
  r.replan();
  SUBCASE("alive: stopped, not adopted") {
    r.step(in_alive{1, true});
    CHECK_FALSE(r.in_flight);
    CHECK(one<fx_watch>(r.fx).n == 1);
    CHECK(one<fx_terminate>(r.fx).n == 1);
    r.step(in_exited{1, 143, "killed by signal 15"});
    CHECK_FALSE(has<fx_start>(r.fx));
    CHECK(one<fx_start>(r.advance_to(not_before)).n == 2);
  }
  SUBCASE("dead: started after the back-off") {
    r.step(in_alive{1, false});
    CHECK_FALSE(r.in_flight);
    CHECK_FALSE(has<fx_start>(r.fx));
    CHECK(one<fx_timer>(r.fx).at == not_before);
    CHECK(one<fx_start>(r.advance_to(not_before)).n == 2);
  }
}

TEST_CASE("a record that says up with no handle on record ends that run") {
  rig r;
  r.h.must(record_vm_started{"web-0", {}}); // no pid: nothing to check
  r.spawn(true);
  CHECK_FALSE(has<fx_check_alive>(r.fx));
  auto x = cmd<record_vm_exited>(r.fx);
  CHECK(x.incarnation == 1);
  CHECK(x.reason == "not running when volantd came back (exit status unknown)");
}

// -- one command at a time, retries ---------------------------------------------

TEST_CASE("one command is in flight at a time") {
  rig r({.probed = true});
  r.replan();
  r.step(in_started{1, handle(1)});
  CHECK(cmd<record_vm_started>(r.fx).incarnation == 1);
  CHECK(r.m.awaiting);
  // The rig fails any second command while one is in flight.
  CHECK_FALSE(has<fx_command>(r.step(in_verdict{1, true, ""})));
  CHECK_FALSE(has<fx_command>(r.step(in_tick{})));
  CHECK_FALSE(has<fx_command>(r.replan()));
  CHECK_FALSE(has<fx_command>(r.step(in_exited{1, 1, "exit status 1"})));
  CHECK(has<fx_release>(r.fx)); // the exit itself is taken
  // The start commits; then the exit is journaled, one command after another.
  r.commit();
  CHECK(cmd<record_vm_exited>(r.fx).incarnation == 1);
  r.commit();
  CHECK(cmd<schedule_vm_restart>(r.fx).incarnation == 1);
}

TEST_CASE("a rejected command is retried after retry_ms") {
  rig r;
  r.up();
  r.step(in_exited{1, 1, "exit status 1"});
  r.commit();
  REQUIRE(r.in_flight);
  auto t = r.h.now;
  r.reject("journal unavailable");
  CHECK_FALSE(r.m.awaiting);
  CHECK(r.m.last_rejection == "journal unavailable");
  CHECK_FALSE(has<fx_command>(r.fx));
  CHECK(one<fx_timer>(r.fx).at == t + 500 * ms);
  CHECK_FALSE(has<fx_command>(r.advance_to(t + 499 * ms)));
  CHECK(cmd<schedule_vm_restart>(r.advance_to(t + 500 * ms)).incarnation == 1);
  r.commit();
  CHECK(r.m.last_rejection.empty());
}
TEST_CASE("a rejected record of a start is retried after retry_ms, not at once") {
  rig r;
  r.replan();
  r.step(in_started{1, handle(1)});
  REQUIRE(r.in_flight);
  auto t = r.h.now;
  r.reject("journal unavailable");
  CHECK_FALSE(has<fx_command>(r.fx));
  CHECK(one<fx_timer>(r.fx).at == t + 500 * ms);
  CHECK_FALSE(has<fx_command>(r.advance_to(t + 499 * ms)));
  CHECK(cmd<record_vm_started>(r.advance_to(t + 500 * ms)).incarnation == 1);
}


// -- liveness audit -----------------------------------------------------------

TEST_CASE("a running workload's liveness is checked every audit_ms; a dead "
          "answer is an exit") {
  rig r;
  r.cfg.audit_ms = 5000;
  r.up();
  auto up_at = r.m.run.audited_at;
  // An idle VM gets no other input: the machine asks for the audit's wake-up.
  CHECK_FALSE(has<fx_check_alive>(r.advance_to(up_at + 5 * s - 1)));
  auto first = r.advance_to(up_at + 5 * s);
  CHECK(one<fx_check_alive>(first).n == 1);
  CHECK(one<fx_check_alive>(first).handle == handle(1));
  r.step(in_alive{1, true});
  CHECK_FALSE(r.in_flight);
  auto second = r.advance_to(up_at + 10 * s);
  CHECK(one<fx_check_alive>(second).n == 1);
  r.step(in_alive{1, false});
  CHECK(one<fx_release>(r.fx).n == 1);
  auto x = cmd<record_vm_exited>(r.fx);
  CHECK(x.incarnation == 1);
  CHECK(x.reason == "found not running (exit status unknown)");
  r.commit();
  CHECK(cmd<schedule_vm_restart>(r.fx).incarnation == 1);
}

TEST_CASE("a frozen workload's liveness is audited too") {
  rig r;
  r.cfg.audit_ms = 5000;
  r.up();
  r.h.must(pause_deployment{"web"});
  r.replan();
  r.step(in_frozen{1, true, ""});
  r.settle();
  auto effects = r.advance_to(r.h.now + 10 * s);
  REQUIRE_FALSE(all<fx_check_alive>(effects).empty());
  r.step(in_alive{1, false});
  auto x = cmd<record_vm_exited>(r.fx);
  CHECK(x.incarnation == 1);
  CHECK(x.reason == "found not running (exit status unknown)");
  r.commit();
  CHECK(quiet(r.fx)); // paused: not restarted
}

TEST_CASE("a killed run whose exit report is lost is still found gone") {
  rig r;
  r.cfg.audit_ms = 5000;
  r.up();
  r.h.must(scale_deployment{"web", 0});
  r.replan();
  auto effects = r.advance_to(r.h.now + 60 * s);
  CHECK(one<fx_kill>(effects).n == 1);
  auto checks = all<fx_check_alive>(effects);
  REQUIRE_FALSE(checks.empty());
  CHECK(checks.back().n == 1);
  r.step(in_alive{1, false});
  CHECK(cmd<remove_vm>(r.fx).ended == 1);
}
