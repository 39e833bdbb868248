// The VM lifecycle machine (vm_step), one scenario per test: a machine built
// from a VM record of a harness world, fed inputs as the VM actor would feed
// them, its commands decided in that world (each must succeed) and the
// committed events fed back, its effects checked kind by kind and payload by
// payload.

#include "events/vm_machine.hpp"

#include "fixture.hpp"

#include <algorithm>
#include <optional>
#include <set>

using namespace volant;
using namespace volant::test;

namespace doctest {
template <> struct StringMaker<std::vector<std::string>> {
  static String convert(const std::vector<std::string>& v) {
    std::string out = "{";
    for (const auto& x : v)
      out += (out.size() > 1 ? ", " : "") + x;
    return (out + "}").c_str();
  }
};
} // namespace doctest

namespace {

using effects = std::vector<vm_effect>;
using kinds = std::vector<std::string>;

constexpr unix_nanos ms = 1'000'000;
constexpr unix_nanos s = 1'000 * ms;

driver_handle handle(std::uint64_t n) {
  return {"process", static_cast<std::int64_t>(1000 + n), n, ""};
}

/// The kinds of `fx` in order, without the log notes.
kinds kinds_of(const effects& fx) {
  kinds out;
  for (const auto& e : fx)
    if (!std::holds_alternative<fx_note>(e))
      out.emplace_back(kind_name(e));
  return out;
}

template <class T> std::vector<T> all(const effects& fx) {
  std::vector<T> out;
  for (const auto& e : fx)
    if (const auto* x = std::get_if<T>(&e))
      out.push_back(*x);
  return out;
}

template <class T> bool has(const effects& fx) {
  return !all<T>(fx).empty();
}

/// The one effect of type T in `fx`.
template <class T> T one(const effects& fx) {
  auto found = all<T>(fx);
  REQUIRE_MESSAGE(found.size() == 1, "effects: " << doctest::toString(kinds_of(fx)));
  return found.front();
}

/// The command of the one fx_command in `fx`, which must be a C.
template <class C> C cmd(const effects& fx) {
  auto c = one<fx_command>(fx).cmd;
  REQUIRE(std::holds_alternative<C>(c));
  return std::get<C>(c);
}

bool has_note(const effects& fx, std::string_view part) {
  return std::any_of(fx.begin(), fx.end(), [&](const vm_effect& e) {
    const auto* n = std::get_if<fx_note>(&e);
    return n != nullptr && contains(n->text, part);
  });
}

/// The kinds of `fx` in order, without log notes and timer requests.
kinds acts(const effects& fx) {
  kinds out;
  for (const auto& e : fx)
    if (!std::holds_alternative<fx_note>(e) && !std::holds_alternative<fx_timer>(e))
      out.emplace_back(kind_name(e));
  return out;
}

/// Nothing but log notes and timer requests: the machine does nothing.
bool quiet(const effects& fx) {
  return std::all_of(fx.begin(), fx.end(), [](const vm_effect& e) {
    return std::holds_alternative<fx_note>(e) || std::holds_alternative<fx_timer>(e);
  });
}

/// Crash-loop back-off 1 s doubling to 60 s, reset after 60 s up; a restarted
/// VM must be ready within 5 s. The liveness audit is rare here (10 min) so
/// that it stays out of the scenarios; its own test shortens it.
vm_config config() {
  vm_config c;
  c.policy = restart_policy{1000, 60000, 60000, 5000};
  c.stop_grace_ms = 10000;
  c.audit_ms = 600000;
  c.retry_ms = 500;
  return c;
}

struct deployment_options {
  bool probed = false;
  bool auto_restart = true;
  std::int32_t replicas = 1;
};

/// One VM (web-0) of a deployment in a harness world, its machine, and what an
/// actor would hold for it: the timers the machine asked for and the command
/// in flight. The clock is the harness's: every decided command moves it on.
struct rig {
  harness h = harness::ready();
  vm_config cfg = config();
  vm_machine m;
  effects fx; ///< the latest step's effects
  std::multiset<unix_nanos> timers;
  std::optional<command> in_flight;

  explicit rig(deployment_options o = {}) {
    auto sp = spec("web", o.replicas);
    if (!o.probed)
      sp.tmpl.health = health_check{}; // no check: READY as soon as it runs
    sp.auto_restart = o.auto_restart;
    h.must(create_deployment{sp});
    h.create_vms("web", static_cast<std::uint32_t>(o.replicas));
    spawn(true);
  }

  const vm_record& rec() const { return h.vm("web-0"); }

  /// A new machine from the record as journaled (the actor or the daemon
  /// restarted: its timers and its command in flight are lost), fed in_spawned.
  const effects& spawn(bool daemon_start) {
    m = make_vm_machine(rec());
    timers.clear();
    in_flight.reset();
    return step(in_spawned{daemon_start});
  }

  const effects& step(const vm_input& in) {
    fx = vm_step(m, in, h.now, cfg);
    for (const auto& e : fx) {
      if (const auto* t = std::get_if<fx_timer>(&e))
        timers.insert(t->at);
      if (const auto* c = std::get_if<fx_command>(&e)) {
        CHECK_MESSAGE(!in_flight, "a second command while one is in flight");
        in_flight = c->cmd;
      }
    }
    return fx;
  }

  /// Moves the clock to `t`, firing every timer asked for up to then in
  /// order; returns every effect of those ticks.
  effects advance_to(unix_nanos t) {
    REQUIRE(t >= h.now);
    effects seen;
    while (!timers.empty() && *timers.begin() <= t) {
      h.now = std::max(h.now, *timers.begin());
      timers.erase(timers.begin());
      step(in_tick{});
      seen.insert(seen.end(), fx.begin(), fx.end());
    }
    h.now = t;
    return seen;
  }

  /// The deployment's current plan for web-0.
  vm_goal planned() const { return reconcile(h.w, "web").goals.at("web-0"); }

  const effects& replan() { return step(in_goal{planned()}); }

  /// Decides the command in flight (it must succeed) and feeds its events
  /// back. The machine's record must then equal the world's.
  const effects& commit() {
    REQUIRE(in_flight.has_value());
    CHECK(m.awaiting);
    auto c = std::move(*in_flight);
    in_flight.reset();
    auto evs = h.must(c);
    step(in_committed{evs});
    if (!m.gone)
      CHECK(m.rec == rec());
    return fx;
  }

  /// The command in flight is refused (without deciding it).
  const effects& reject(std::string message) {
    REQUIRE(in_flight.has_value());
    in_flight.reset();
    return step(in_rejected{std::move(message)});
  }

  /// Commits commands until none is in flight; returns every effect since.
  effects settle() {
    effects seen;
    for (int i = 0; i < 20 && in_flight; ++i) {
      commit();
      seen.insert(seen.end(), fx.begin(), fx.end());
    }
    REQUIRE_FALSE(in_flight);
    return seen;
  }

  /// The kinds of the events journaled since `seq`.
  kinds journaled_since(std::uint64_t seq) const {
    kinds out;
    for (const auto& r : h.log)
      if (r.seq > seq)
        out.emplace_back(kind_name(r.ev));
    return out;
  }

  std::uint64_t seq() const { return h.w.last_seq; }

  /// Reports run `n` started and commits what follows (record_vm_started, and
  /// record_vm_ready without a check).
  effects started(std::uint64_t n) {
    step(in_started{n, handle(n)});
    return settle();
  }

  /// From a launch in progress (given a goal first if it has none): reports
  /// the run started and brings it to READY. Returns its number.
  std::uint64_t up() {
    if (!m.has_goal)
      replan();
    REQUIRE(m.run.phase == run_phase::launching);
    auto n = m.run.n;
    started(n);
    if (rec().status != vm_status::ready) {
      step(in_verdict{n, true, ""});
      settle();
    }
    REQUIRE(rec().status == vm_status::ready);
    REQUIRE(rec().incarnation == n);
    return n;
  }
};

} // namespace

// -- starting -----------------------------------------------------------------

TEST_CASE("a pending VM starts run incarnation + 1 once it has a goal, not before") {
  rig r;
  CHECK(r.fx.empty()); // spawned on a pending record: nothing to check
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

TEST_CASE("a paused goal starts no pending VM") {
  rig r;
  r.h.must(pause_deployment{"web"});
  r.replan();
  CHECK(r.fx.empty());
  r.h.must(resume_deployment{"web"});
  r.replan();
  CHECK(one<fx_start>(r.fx).n == 1);
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
          "then wiped and its actor ends") {
  rig r({.probed = true});
  r.up();
  r.h.must(scale_deployment{"web", 0});
  r.replan();
  CHECK_FALSE(r.m.goal.keep);
  CHECK(kinds_of(r.fx) == kinds{"fx_probe_stop", "fx_terminate", "fx_timer"});
  CHECK(one<fx_terminate>(r.fx).n == 1);
  CHECK(has_note(r.fx, "stopping run 1: removed"));
  r.step(in_exited{1, 143, "killed by signal 15"});
  auto rm = cmd<remove_vm>(r.fx);
  CHECK(rm.name == "web-0");
  CHECK(rm.ended == 1);
  auto before = r.seq();
  r.commit();
  CHECK(r.journaled_since(before) == kinds{"vm_removed"});
  CHECK(kinds_of(r.fx) == kinds{"fx_wipe", "fx_quit"});
  CHECK(one<fx_wipe>(r.fx).removed);
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
  CHECK(kinds_of(r.fx) == kinds{"fx_check_alive"});
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
