#pragma once

// The rig of the VM machine's scenario tests (vm_machine*_test.cpp): a machine
// built from a VM record of a harness world, fed inputs as the VM actor would
// feed them, its commands decided in that world (each must succeed, one in
// flight at a time) and the committed events fed back; helpers to check its
// effects kind by kind and payload by payload.

#include "events/vm_machine.hpp"

#include "fixture.hpp"

#include <algorithm>
#include <optional>
#include <set>

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

namespace volant::test {

using effects = std::vector<vm_effect>;
using kinds = std::vector<std::string>;

inline constexpr unix_nanos ms = 1'000'000;
inline constexpr unix_nanos s = 1'000 * ms;

inline driver_handle handle(std::uint64_t n) {
  return {"process", static_cast<std::int64_t>(1000 + n), n, ""};
}

/// The kinds of `fx` in order, without the log notes.
inline kinds kinds_of(const effects& fx) {
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
  REQUIRE_MESSAGE(std::holds_alternative<C>(c),
                  "the command is alternative #" << c.index() << " of `command`");
  return std::get<C>(c);
}

inline bool has_note(const effects& fx, std::string_view part) {
  return std::any_of(fx.begin(), fx.end(), [&](const vm_effect& e) {
    const auto* n = std::get_if<fx_note>(&e);
    return n != nullptr && contains(n->text, part);
  });
}

/// The kinds of `fx` in order, without log notes and timer requests.
inline kinds acts(const effects& fx) {
  kinds out;
  for (const auto& e : fx)
    if (!std::holds_alternative<fx_note>(e) && !std::holds_alternative<fx_timer>(e))
      out.emplace_back(kind_name(e));
  return out;
}

/// Nothing but log notes and timer requests: the machine does nothing.
inline bool quiet(const effects& fx) {
  return std::all_of(fx.begin(), fx.end(), [](const vm_effect& e) {
    return std::holds_alternative<fx_note>(e) || std::holds_alternative<fx_timer>(e);
  });
}

/// Crash-loop back-off 1 s doubling to 60 s, reset after 60 s up; a restarted
/// VM must be ready within 5 s. The liveness audit is rare here (10 min) so
/// that it stays out of the scenarios; its own test shortens it.
inline vm_config config() {
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
  bool readiness = false; ///< a readiness check apart from the health check
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
    if (o.readiness)
      sp.tmpl.readiness = health_check{true, http_check{80, "/ready"}, 1, 1, 1};
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

} // namespace volant::test
