#pragma once

// The VM lifecycle as a pure machine (docs/lifecycle.md).
//
//   vm_step(machine, input, now, config) -> effects
//
// One machine per VM. It holds the VM's record as committed, the goal its
// deployment's plan sets for it, and what it knows of the current run of the
// workload (an *incarnation*). Inputs are the outcomes of its own commands
// (committed events or a rejection), the deployment's goals, driver reports,
// probe verdicts and timer ticks; effects are driver operations, probe start and
// stop, timers and commands to decide. Every durable fact goes through a command
// (decide -> journal) before the machine acts on it, one command at a time.
//
// The VM actor only interprets the effects (src/actors/vm.cpp); the property
// test drives this machine with a fake driver that delays, reorders and drops
// reports (tests/events/vm_machine_property_test.cpp).
//
// Invariants (tested):
//  - at most one live run per VM: a start is issued only once the previous run's
//    end was observed (or it never started);
//  - every driver effect names the current run: a report about another run is
//    ignored, so a stop meant for an old run never touches a new one;
//  - a VM is removed or recreated only after its run's end was observed;
//  - restart counts, back-off and the reason for a recreate are in events, so a
//    crash of the actor or the daemon loses none of them.

#include "events/commands.hpp"
#include "events/plan.hpp"
#include "events/types.hpp"

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace volant {

/// Timing the machine needs from its host.
struct vm_config {
  restart_policy policy;
  std::uint64_t stop_grace_ms = 10000; ///< terminate, then kill after this long
  /// How often a running workload's liveness is checked besides its exit watch
  /// (a lost exit report must not leave a dead VM "running" for ever).
  std::uint64_t audit_ms = 5000;
  /// After a rejected command, retry no sooner than this.
  std::uint64_t retry_ms = 500;
};

/// Where the machine is with the workload's current run. Volatile: after a crash
/// of the actor or the daemon it is rebuilt by an adoption check.
enum class run_phase : std::uint8_t {
  unknown,   ///< not checked yet: spawned on a record whose run may be up
  none,      ///< nothing runs (never started, or its end is in the record)
  launching, ///< driver start issued, no report yet
  up,        ///< the run is up
  frozen,    ///< paused in place
  stopping,  ///< terminate sent (kill after the grace)
  ended,     ///< its end was observed; the record does not say so yet
};

std::string_view to_string(run_phase phase) noexcept;

/// The current run as the machine knows it.
struct vm_run {
  run_phase phase = run_phase::unknown;
  std::uint64_t n = 0; ///< its incarnation
  driver_handle handle;
  bool on_purpose = false; ///< ended because the machine stopped it
  std::int32_t exit_code = 0;
  std::string exit_reason;
  std::string stop_reason; ///< why the machine stops it ("removed", ...)
  unix_nanos stop_at = 0;  ///< when terminate was sent
  bool killed = false;
  bool probing = false;
  /// The probe's latest verdict about this run: unknown, healthy or unhealthy.
  probe_verdict verdict = probe_verdict::unknown;
  std::string verdict_reason;
  /// The readiness check's latest verdict (goals with a readiness check).
  probe_verdict ready_verdict = probe_verdict::unknown;
  std::string ready_reason;
  unix_nanos audited_at = 0;
  std::string start_error;        ///< the driver could not start run `n`
  bool adoption_unrecorded = false; ///< adopted after a restart, not journaled yet
  friend bool operator==(const vm_run&, const vm_run&) = default;
};

/// One VM's machine.
struct vm_machine {
  vm_record rec;          ///< as committed (folded from its own events)
  vm_goal goal;           ///< the deployment's latest word about it
  bool has_goal = false;  ///< nothing is started before the first goal
  vm_run run;
  bool awaiting = false;  ///< a command is in flight: one durable fact at a time
  std::string awaiting_what; ///< its kind, for inspection
  unix_nanos retry_at = 0;   ///< after a rejection: wait until then
  std::string last_rejection;
  unix_nanos wake_at = 0;    ///< the earliest timer asked for (0: none)
  bool gone = false;         ///< removed: the actor ends
  friend bool operator==(const vm_machine&, const vm_machine&) = default;
};

// -- inputs -------------------------------------------------------------------------

/// The actor (re)starts on `rec`: after a daemon start (`daemon_start`) or after
/// its own crash. A run the record says may be up is checked before anything.
struct in_spawned {
  bool daemon_start = true;
};
/// The deployment's plan for this VM.
struct in_goal {
  vm_goal goal;
};
/// The command in flight committed with these events.
struct in_committed {
  std::vector<event> events;
};
/// The command in flight was refused.
struct in_rejected {
  std::string message;
};
/// Driver reports.
struct in_started {
  std::uint64_t n = 0;
  driver_handle handle;
};
struct in_start_failed {
  std::uint64_t n = 0;
  std::string error;
};
struct in_exited {
  std::uint64_t n = 0;
  std::int32_t code = 0;
  std::string reason;
};
/// The answer to an `fx_check_alive`.
struct in_alive {
  std::uint64_t n = 0;
  bool alive = false;
};
/// The answer to an `fx_freeze` / `fx_thaw`.
struct in_frozen {
  std::uint64_t n = 0;
  bool ok = false;
  std::string error;
};
struct in_thawed {
  std::uint64_t n = 0;
  bool ok = false;
  std::string error;
};
/// A probe transition for run `n`: healthy (ok) or past its failure threshold.
struct in_verdict {
  std::uint64_t n = 0;
  bool ok = false;
  std::string reason;
  bool readiness = false; ///< of the readiness check (else the health check)
};
/// A timer asked for with `fx_timer` went off (or any wake-up).
struct in_tick {};

using vm_input
  = std::variant<in_spawned, in_goal, in_committed, in_rejected, in_started,
                 in_start_failed, in_exited, in_alive, in_frozen, in_thawed,
                 in_verdict, in_tick>;

// -- effects ------------------------------------------------------------------------

/// Is run `n` (the workload `handle` names) still up? Answer with `in_alive`.
struct fx_check_alive {
  std::uint64_t n = 0;
  driver_handle handle;
};
/// Launch run `n` from the VM's record and its deployment's current template;
/// answer with `in_started` or `in_start_failed`.
struct fx_start {
  std::uint64_t n = 0;
};
/// Watch run `n` for its exit; report it with `in_exited`.
struct fx_watch {
  std::uint64_t n = 0;
  driver_handle handle;
};
struct fx_terminate {
  std::uint64_t n = 0;
  driver_handle handle;
};
struct fx_kill {
  std::uint64_t n = 0;
  driver_handle handle;
};
/// Answer with `in_frozen` / `in_thawed`.
struct fx_freeze {
  std::uint64_t n = 0;
  driver_handle handle;
};
struct fx_thaw {
  std::uint64_t n = 0;
  driver_handle handle;
  bool reply = true; ///< false: thawed only so that a stop reaches it
};
/// Release what run `n` held on the host (cgroups, QMP socket), after its end.
struct fx_release {
  std::uint64_t n = 0;
};
/// Empty the VM's run directory (a recreate); with `removed`, also delete its log
/// and per-VM host resources: the VM is gone.
struct fx_wipe {
  bool removed = false;
};
struct fx_probe_start {
  std::uint64_t n = 0;
  driver_handle handle;
};
struct fx_probe_stop {};
/// Send an `in_tick` at `at` (or soon after).
struct fx_timer {
  unix_nanos at = 0;
};
/// Decide, journal and answer with `in_committed` or `in_rejected`.
struct fx_command {
  command cmd;
};
/// A marker line in the VM's log ("starting run 3", "stopping: removed").
struct fx_note {
  std::string text;
};
/// The VM is removed: the actor ends.
struct fx_quit {};

using vm_effect
  = std::variant<fx_check_alive, fx_start, fx_watch, fx_terminate, fx_kill,
                 fx_freeze, fx_thaw, fx_release, fx_wipe, fx_probe_start,
                 fx_probe_stop, fx_timer, fx_command, fx_note, fx_quit>;

/// A machine for `rec`, before its first input (`in_spawned`).
vm_machine make_vm_machine(vm_record rec);

/// Feeds one input; returns what to do, in order. Answers to effects (in_alive,
/// in_frozen, ...) may be fed back at once or later; reports about runs other
/// than the current one are ignored.
std::vector<vm_effect> vm_step(vm_machine& m, const vm_input& in, unix_nanos now,
                               const vm_config& config);

/// The name of an input or effect kind, for logs and tests ("in_exited",
/// "fx_start").
std::string_view kind_name(const vm_input& in);
std::string_view kind_name(const vm_effect& fx);

} // namespace volant
