// The VM lifecycle machine (vm_step) reaching its deployment's goals: pause and
// resume, removal, replacement at a new revision.

#include "vm_rig.hpp"

using namespace volant;
using namespace volant::test;

// -- pause and resume ---------------------------------------------------------

TEST_CASE("a paused goal freezes the run, journals the pause and restarts "
          "nothing") {
  rig r({.probed = true});
  r.up();
  r.h.must(pause_deployment{"web"});
  r.replan();
  CHECK(kinds_of(r.fx) == kinds{"fx_freeze"});
  CHECK(one<fx_freeze>(r.fx).n == 1);
  CHECK(one<fx_freeze>(r.fx).handle == handle(1));
  r.step(in_frozen{1, true, ""});
  CHECK(has<fx_probe_stop>(r.fx)); // a frozen VM is not probed
  CHECK(cmd<record_vm_paused>(r.fx).incarnation == 1);
  r.commit();
  CHECK(r.rec().status == vm_status::paused);
  CHECK(quiet(r.fx));
  // Its workload dies while frozen: journaled, but not restarted while paused.
  r.step(in_exited{1, -9, "killed by signal 9"});
  r.commit();
  CHECK(r.rec().status == vm_status::exited);
  CHECK(quiet(r.fx));
  CHECK(quiet(r.advance_to(r.h.now + 3600 * s)));
  // Resumed: restarted as any exited VM.
  r.h.must(resume_deployment{"web"});
  r.replan();
  CHECK(cmd<schedule_vm_restart>(r.fx).incarnation == 1);
}

TEST_CASE("a paused goal freezes a run that is not READY too") {
  rig r({.probed = true, .auto_restart = false});
  r.replan();
  r.started(1);
  SUBCASE("running, no verdict yet") {
    CHECK(r.rec().status == vm_status::running);
  }
  SUBCASE("unhealthy") {
    r.step(in_verdict{1, false, "HTTP 503"});
    r.commit();
    CHECK(r.rec().status == vm_status::unhealthy);
  }
  r.h.must(pause_deployment{"web"});
  r.replan();
  CHECK(one<fx_freeze>(r.fx).n == 1);
  r.step(in_frozen{1, true, ""});
  CHECK(cmd<record_vm_paused>(r.fx).incarnation == 1);
  r.commit();
  CHECK(r.rec().status == vm_status::paused);
}

TEST_CASE("a paused goal starts no pending VM") {
  rig r;
  r.h.must(pause_deployment{"web"});
  r.replan();
  CHECK(r.fx.empty());
  r.h.must(resume_deployment{"web"});
  r.replan();
  CHECK(one<fx_start>(r.fx).n == 1);
}

TEST_CASE("a paused goal neither starts, restarts nor recreates a VM that is "
          "not running") {
  rig r;
  r.up();
  SUBCASE("stopped (by an older pause)") {
    r.h.must(record_vm_stopped{"web-0", 1});
  }
  SUBCASE("failed") {
    r.h.must(record_vm_exited{"web-0", 1, "exit status 1", 1});
    r.h.must(record_vm_start_failed{"web-0", "ENOENT", 2});
  }
  SUBCASE("restarting") {
    r.h.must(record_vm_exited{"web-0", 1, "exit status 1", 1});
    r.h.must(schedule_vm_restart{"web-0", "exit status 1", 0, 1});
  }
  r.h.must(pause_deployment{"web"});
  r.spawn(true);
  if (r.m.run.phase == run_phase::unknown)
    r.step(in_alive{r.m.run.n, false}); // the old run is gone
  r.replan();
  CHECK(quiet(r.fx));
  CHECK(quiet(r.advance_to(r.h.now + 3600 * s)));
  CHECK_FALSE(r.in_flight);
  // Resumed: it runs again.
  r.h.must(resume_deployment{"web"});
  r.replan();
  r.settle();
  CHECK(r.m.run.phase == run_phase::launching);
  CHECK(r.m.run.n == r.rec().incarnation + 1);
}

TEST_CASE("unpausing thaws the run, journals the resume and probes it again") {
  rig r({.probed = true});
  r.up();
  r.h.must(pause_deployment{"web"});
  r.replan();
  r.step(in_frozen{1, true, ""});
  r.settle();
  r.h.must(resume_deployment{"web"});
  r.replan();
  CHECK(kinds_of(r.fx) == kinds{"fx_thaw"});
  CHECK(one<fx_thaw>(r.fx).n == 1);
  CHECK(one<fx_thaw>(r.fx).reply);
  r.step(in_thawed{1, true, ""});
  CHECK(cmd<record_vm_resumed>(r.fx).incarnation == 1);
  r.commit();
  CHECK(r.rec().status == vm_status::running);
  CHECK(one<fx_probe_start>(r.fx).n == 1); // it has to prove itself again
  r.step(in_verdict{1, true, ""});
  CHECK(cmd<record_vm_ready>(r.fx).incarnation == 1);
  r.commit();
}

TEST_CASE("a failed freeze is retried after retry_ms") {
  rig r;
  r.up();
  r.h.must(pause_deployment{"web"});
  r.replan();
  auto t = r.h.now;
  r.step(in_frozen{1, false, "SIGSTOP: EPERM"});
  CHECK(has_note(r.fx, "pause failed: SIGSTOP: EPERM"));
  CHECK_FALSE(has<fx_freeze>(r.fx));
  CHECK(one<fx_timer>(r.fx).at == t + 500 * ms);
  CHECK_FALSE(has<fx_freeze>(r.advance_to(t + 499 * ms)));
  CHECK(one<fx_freeze>(r.advance_to(t + 500 * ms)).n == 1);
}

// -- removal ------------------------------------------------------------------

TEST_CASE("a VM its deployment lets go is stopped, removed naming the ended run, "
          "its files wiped first, and its actor ends") {
  rig r({.probed = true});
  r.up();
  r.h.must(scale_deployment{"web", 0});
  r.replan();
  CHECK_FALSE(r.m.goal.keep);
  CHECK(kinds_of(r.fx) == kinds{"fx_probe_stop", "fx_terminate", "fx_timer"});
  CHECK(one<fx_terminate>(r.fx).n == 1);
  CHECK(has_note(r.fx, "stopping run 1: removed"));
  r.step(in_exited{1, 143, "killed by signal 15"});
  // Wiped before the removal is asked for: once vm_removed is journaled a
  // new web-0 may start writing to the same run directory and log.
  CHECK(kinds_of(r.fx) == kinds{"fx_release", "fx_wipe", "fx_command"});
  CHECK(one<fx_wipe>(r.fx).removed);
  auto rm = cmd<remove_vm>(r.fx);
  CHECK(rm.name == "web-0");
  CHECK(rm.ended == 1);
  auto before = r.seq();
  r.commit();
  CHECK(r.journaled_since(before) == kinds{"vm_removed"});
  CHECK(kinds_of(r.fx) == kinds{"fx_quit"});
  CHECK(r.m.gone);
  CHECK(r.step(in_tick{}).empty());
}

TEST_CASE("a VM that never ran is removed at once") {
  rig r;
  r.h.must(delete_deployment{"web"});
  r.step(in_goal{reconcile(r.h.w, "web").goals.at("web-0")});
  CHECK(cmd<remove_vm>(r.fx).ended == 0);
  r.commit();
  CHECK(r.m.gone);
  CHECK(r.h.w.vms.empty());
}

TEST_CASE("a frozen VM to be removed is thawed so that its stop reaches it") {
  rig r;
  r.up();
  r.h.must(pause_deployment{"web"});
  r.replan();
  r.step(in_frozen{1, true, ""});
  r.settle();
  r.h.must(delete_deployment{"web"});
  r.step(in_goal{reconcile(r.h.w, "web").goals.at("web-0")});
  CHECK(kinds_of(r.fx) == kinds{"fx_thaw", "fx_terminate", "fx_timer"});
  CHECK_FALSE(one<fx_thaw>(r.fx).reply);
  CHECK(one<fx_terminate>(r.fx).n == 1);
  r.step(in_exited{1, 143, "killed by signal 15"});
  CHECK(cmd<remove_vm>(r.fx).ended == 1);
  r.commit();
  CHECK(r.m.gone);
}

// -- new revisions ------------------------------------------------------------

TEST_CASE("an outdated VM is never restarted in place; it waits for its plan to "
          "replace it") {
  rig r;
  r.up();
  update_deployment u;
  u.name = "web";
  u.cpu = 2;
  r.h.must(u);
  auto goal = r.planned();
  goal.replace = false; // as when a rolling update's budget is used up
  r.step(in_goal{goal});
  CHECK(quiet(r.fx)); // running: left alone
  r.step(in_exited{1, 1, "exit status 1"});
  r.commit();
  CHECK(r.rec().status == vm_status::exited);
  CHECK(quiet(r.fx)); // no restart at the old revision
  CHECK(quiet(r.advance_to(r.h.now + 3600 * s)));
  goal.replace = true;
  r.step(in_goal{goal});
  auto re = cmd<recreate_vm>(r.fx);
  CHECK(re.ended == 1);
  CHECK(re.revision == 2);
  CHECK(re.restarts == 0);
  CHECK(re.backoff_ms == 0);
  CHECK(re.reason == "revision 1 -> 2");
  r.commit();
  CHECK(has_note(r.fx, "recreated: revision 1 -> 2"));
  CHECK(r.rec().cpu == 2);
  CHECK(one<fx_start>(r.fx).n == 2);
}

TEST_CASE("a running VM to be replaced is stopped, then recreated at the new "
          "revision with its restarts reset") {
  rig r({.probed = true});
  r.up();
  r.step(in_exited{1, 1, "exit status 1"});
  r.settle();
  r.up(); // run 2, after one restart
  REQUIRE(r.rec().restarts == 1);
  update_deployment u;
  u.name = "web";
  u.memory_mib = 256;
  r.h.must(u);
  r.replan();
  CHECK(r.m.goal.replace);
  CHECK(acts(r.fx) == kinds{"fx_probe_stop", "fx_terminate"});
  CHECK(one<fx_terminate>(r.fx).n == 2);
  CHECK(has_note(r.fx, "stopping run 2: revision 1 -> 2"));
  r.step(in_exited{2, 143, "killed by signal 15"});
  auto re = cmd<recreate_vm>(r.fx);
  CHECK(re.ended == 2);
  CHECK(re.revision == 2);
  CHECK(re.restarts == 0);
  r.commit();
  CHECK(r.rec().memory_mib == 256);
  CHECK(r.rec().restarts == 0);
  CHECK(r.rec().revision == 2);
  CHECK(one<fx_start>(r.fx).n == 3);
}

TEST_CASE("a paused goal holds an outdated VM even when it may be replaced; "
          "resumed, it is thawed first, then replaced") {
  rig r;
  r.up();
  r.h.must(pause_deployment{"web"});
  update_deployment u;
  u.name = "web";
  u.cpu = 2;
  r.h.must(u);
  auto goal = r.planned();
  CHECK(goal.paused);
  goal.replace = true;
  r.step(in_goal{goal});
  CHECK(kinds_of(r.fx) == kinds{"fx_freeze"});
  r.step(in_frozen{1, true, ""});
  r.settle();
  CHECK(r.rec().status == vm_status::paused);
  CHECK_FALSE(has<fx_terminate>(r.fx));
  r.h.must(resume_deployment{"web"});
  goal = r.planned();
  CHECK(goal.replace); // frozen is not ready: it costs no availability
  r.step(in_goal{goal});
  CHECK(kinds_of(r.fx) == kinds{"fx_thaw"});
  r.step(in_thawed{1, true, ""});
  r.commit(); // vm_resumed
  CHECK(cmd<record_vm_ready>(r.fx).incarnation == 1); // no check: READY at once
  r.commit();
  CHECK(one<fx_terminate>(r.fx).n == 1);
}

// -- vms delete ---------------------------------------------------------------------

TEST_CASE("a deleted VM is stopped and recreated once in its slot: same name and "
          "IP, restarts reset, a fresh run") {
  rig r({.probed = true});
  r.up();
  auto ip = r.rec().ip;
  r.h.must(delete_vm{"web-0"});
  r.replan();
  CHECK(r.m.goal.recreate);
  CHECK(one<fx_terminate>(r.fx).n == 1);
  CHECK(has_note(r.fx, "stopping run 1: deleted by the user: replaced"));
  r.step(in_exited{1, 143, "killed by signal 15"});
  auto re = cmd<recreate_vm>(r.fx);
  CHECK(re.ended == 1);
  CHECK(re.restarts == 0);
  CHECK(re.backoff_ms == 0);
  auto before = r.seq();
  r.commit();
  CHECK(r.journaled_since(before) == kinds{"vm_recreated"});
  CHECK(one<fx_wipe>(r.fx).removed == false);
  CHECK_FALSE(r.rec().replace_requested);
  CHECK(r.rec().ip == ip);
  // A goal from before the commit still says recreate: it is not repeated.
  auto stale = r.m.goal;
  r.step(in_goal{stale});
  CHECK_FALSE(has<fx_terminate>(r.fx));
  bool repeated = r.in_flight && std::holds_alternative<recreate_vm>(*r.in_flight);
  CHECK_FALSE(repeated);
  r.settle();
  CHECK(r.m.run.phase == run_phase::launching); // its fresh run
  // The next plan no longer asks; a later delete does it again.
  r.replan();
  CHECK_FALSE(r.m.goal.recreate);
}

TEST_CASE("a delete journaled before a daemon restart is carried out by the new "
          "machine") {
  rig r;
  r.up();
  r.h.must(delete_vm{"web-0"});
  r.spawn(true);
  CHECK(r.m.rec.replace_requested);
}

// -- in-place updates ---------------------------------------------------------------

TEST_CASE("an in-place update (the health check only) moves the machine's record "
          "to the new revision without stopping the run") {
  rig r({.probed = true});
  r.up();
  update_deployment u;
  u.name = "web";
  u.health = health_check{true, tcp_check{8080}, 5, 1, 2};
  r.h.must(u);
  r.replan();
  CHECK(r.m.goal.revision == 2);
  CHECK_FALSE(r.m.goal.outdated);
  CHECK(r.m.rec.revision == 2);
  CHECK(r.m.rec == r.rec());
  CHECK_FALSE(has<fx_terminate>(r.fx));
  CHECK_FALSE(r.in_flight);
  // Still restarted in place when its (new) check fails.
  r.step(in_verdict{1, false, "connection refused"});
  r.commit(); // vm_unhealthy
  auto seen = r.fx;
  auto more = r.settle();
  seen.insert(seen.end(), more.begin(), more.end());
  CHECK(one<fx_terminate>(seen).n == 1);
}
