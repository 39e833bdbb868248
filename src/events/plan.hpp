#pragma once

// Planners: pure functions from state to actions as data. The actors carry actions
// out and report back through commands; nothing here has an effect.

#include "events/error.hpp"
#include "events/events.hpp"
#include "events/state.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace volant {

// -- reconcile ----------------------------------------------------------------------
//
// Two levels (docs/lifecycle.md): `reconcile` plans a deployment's *slots* (which
// indices to create, and a goal for every VM it has); each VM's machine
// (vm_machine.hpp) reaches its goal on its own: starts, restarts after failures,
// recreates, stops and removal.

/// What a deployment wants of one of its VMs.
struct vm_goal {
  bool keep = true;            ///< false: stop and remove (scale-down, deleted)
  bool paused = false;         ///< freeze in place (the deployment is paused)
  std::uint64_t revision = 0;  ///< the deployment's revision
  /// The VM is of an older revision and may be recreated now (a rolling
  /// update's budget; never restarted in place meanwhile).
  bool replace = false;
  bool auto_restart = true;
  bool probed = false;         ///< has a health check: READY comes from its probe
  /// The user deleted the VM (`vms delete`): stop it and recreate it in its
  /// slot, whatever its state.
  bool recreate = false;
  /// Made from an older revision than `revision` (else it is current, also
  /// after an in-place update that moved it to `revision`).
  bool outdated = false;
  /// A rolling update retires it (removed, or replaced in place): a ready VM
  /// is first journaled as terminating and stopped `drain_ms` later.
  std::uint64_t drain_ms = 0;
  std::string retire_reason{};
  /// A terminating VM stops at this time at the latest (0: its own record's):
  /// earlier than its grace once its load balancers drained it (vm_drained).
  unix_nanos terminate_at = 0;
  /// Has a readiness check: READY comes from it (the health check, if any,
  /// only makes the VM unhealthy), and a failure makes it not ready.
  bool readiness = false;
  friend bool operator==(const vm_goal&, const vm_goal&) = default;
};

/// One reconcile round of a deployment: the replica indices to record now
/// (admitted against capacity, lowest first), a goal for every VM it has, and
/// why it cannot progress (empty when it can), e.g. "insufficient memory: need
/// 4096 MiB, 1024 MiB free".
struct plan {
  std::vector<std::uint32_t> create;
  /// Slots that get a surge candidate of the deployment's revision beside
  /// their older VM (a rolling update; admitted like the creates).
  std::vector<std::uint32_t> surge;
  std::map<std::string, vm_goal> goals;
  std::string blocked;
  // The rollout as this round sees it (docs/rollout.md).
  std::uint32_t replicas = 0; ///< slots wanted
  std::uint32_t updated = 0;  ///< slots holding one available VM of the revision, alone
  bool complete = false;      ///< every wanted slot so, and nothing else exists
  /// Why the rollout goes slower than its strategy says ("no room for surge
  /// VMs: insufficient memory ...: replacing in place").
  std::string note;
  /// A VM becomes available then (--min-ready-seconds): plan again (0: none).
  unix_nanos recheck_at = 0;
  friend bool operator==(const plan&, const plan&) = default;
};

/// Crash-loop back-off: 0 for the first restart, then `initial_ms` doubling up to
/// `max_ms`; the count resets once a VM stayed up `reset_after_ms`.
struct restart_policy {
  std::uint64_t initial_ms = 1000;
  std::uint64_t max_ms = 60000;
  std::uint64_t reset_after_ms = 60000;
  /// A VM restarted in place must become ready within this long of its start;
  /// if it does not (or fails again before it is ready) it is recreated.
  std::uint64_t ready_deadline_ms = 300000;
  friend bool operator==(const restart_policy&, const restart_policy&) = default;
};

/// The back-off before restart number `restarts + 1` of a VM that keeps crashing.
std::uint64_t backoff_ms(std::uint32_t restarts, const restart_policy& policy);

/// The back-off before restarting `vm` at `now`: 0 for its first restart or after
/// it stayed up `reset_after_ms` since its last start; else its previous back-off
/// doubled (at least `initial_ms`, at most `max_ms`). `now` 0: no reset.
std::uint64_t next_backoff_ms(const vm_record& vm, unix_nanos now,
                              const restart_policy& policy);

/// Desired vs observed for one deployment (or, when it was deleted, the removal of
/// its leftover VMs) at `now`. Indices at or above the desired count are removed
/// (their goal is not `keep`); creates are admitted against free memory, the host
/// VM limit and the IP pool in index order and stop at the first that does not
/// fit, with `blocked` saying why. Outdated VMs: all replaced at once (recreate
/// strategy) or as the rolling-update planner says (rollout.hpp): surge
/// candidates beside old VMs within max-surge, old VMs retired (terminating,
/// then removed, or replaced in place when there is no room to surge) within
/// max-unavailable.
plan reconcile(const world& w, const std::string& deployment, unix_nanos now = 0);

/// VMs whose deployment no longer exists, highest index first.
std::vector<std::string> orphans(const world& w);

/// The `n` VMs a scale-down to `keep` replicas removes, highest index first.
std::vector<std::string> scale_down_victims(const world& w,
                                            const std::string& deployment,
                                            std::uint32_t keep);

/// The lowest free address of the pool, or ip_pool_exhausted.
expected<ipv4> allocate_ip(const host_state& host);
/// The lowest free address in `first`..`last` (a cluster host's /24 of the pool).
expected<ipv4> allocate_ip(const host_state& host, ipv4 first, ipv4 last);

// -- probes -------------------------------------------------------------------------

/// One health-check result (not journaled; only transitions are).
struct probe_sample {
  bool ok = false;
  std::string error;             ///< e.g. "connection refused", "HTTP 503"
  std::uint64_t latency_us = 0;
  unix_nanos at = 0;
  friend bool operator==(const probe_sample&, const probe_sample&) = default;
};

/// The probe's verdict so far. The numbers are persisted.
enum class probe_verdict : std::uint8_t { unknown = 0, healthy = 1, unhealthy = 2 };

/// A probe's live state: the verdict, the run of results, the latest samples.
struct probe_state {
  probe_verdict verdict = probe_verdict::unknown;
  std::uint32_t failures_in_row = 0;
  std::uint32_t successes_in_row = 0;
  std::vector<probe_sample> recent; ///< Newest last, at most `probe_history`.
  friend bool operator==(const probe_state&, const probe_state&) = default;
};

/// How many samples a probe keeps for inspection.
inline constexpr std::size_t probe_history = 8;

/// Folds a sample into `state`; returns the transition to journal, if any: the first
/// success after unknown/unhealthy -> vm_ready; `unhealthy_threshold` failures in a
/// row while not unhealthy -> vm_unhealthy (reason = the last error).
std::optional<event> observe(probe_state& state, const std::string& vm,
                             const health_check& check, const probe_sample& sample);

/// Probing while a workload starts: until the first verdict a probe checks every
/// `startup_probe_ms` so that READY follows readiness closely, and its failures do
/// not count until the start-up grace (interval x threshold, as Kubernetes'
/// startupProbe) is over: a slow starter is not restarted for being slow.
inline constexpr std::uint64_t startup_probe_ms = 100;

/// The first check of a freshly started workload comes this soon after the start.
inline constexpr std::uint64_t first_probe_ms = 25;

/// Milliseconds until the next check.
std::uint64_t probe_delay_ms(const probe_state& state, const health_check& check);

/// Whether a failed sample, `ms_since_start` after the workload started, counts
/// toward the unhealthy threshold.
bool failure_counts(const probe_state& state, const health_check& check,
                    std::uint64_t ms_since_start);

// -- supervision --------------------------------------------------------------------

/// Recent crashes of one supervised actor.
struct crash_history {
  std::uint32_t recent = 0; ///< crashes within `crash_window_ms` of each other
  unix_nanos last_at = 0;
  friend bool operator==(const crash_history&, const crash_history&) = default;
};

/// Crashes further apart than this start a new count.
inline constexpr std::uint64_t crash_window_ms = 60000;

/// A supervisor gives up on a child (and crashes itself, escalating to its own
/// supervisor) after this many crashes in a row within the window.
inline constexpr std::uint32_t crash_limit = 10;

/// What a supervisor does about a crash.
struct crash_response {
  std::uint64_t delay_ms = 0; ///< wait this long before restarting the child
  bool escalate = false;      ///< too many: give up and crash the supervisor
  friend bool operator==(const crash_response&, const crash_response&) = default;
};

/// Records a crash at `now`: the first three in a window restart at once, then
/// the delay doubles from 100 ms (capped at 10 s); the `crash_limit`-th escalates.
crash_response on_crash(crash_history& history, unix_nanos now);

/// The health check in force for a deployment: its override or its plugin's.
health_check effective_health_check(const world& w, const deployment_state& d);

/// The readiness check of `d`'s VMs: the deployment's override, else its
/// plugin's; disabled: the health check decides READY too.
health_check effective_readiness_check(const world& w, const deployment_state& d);

} // namespace volant
