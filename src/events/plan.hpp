#pragma once

// Planners: pure functions from state to actions as data. The actors carry actions
// out and report back through commands; nothing here has an effect.

#include "events/error.hpp"
#include "events/events.hpp"
#include "events/state.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace volant {

// -- reconcile ----------------------------------------------------------------------

/// Record replica `index` (then start it): becomes a `create_vm` command.
struct create_vm_action {
  std::string deployment;
  std::uint32_t index = 0;
  friend bool operator==(const create_vm_action&, const create_vm_action&) = default;
};

/// Start a pending or stopped VM.
struct start_vm_action {
  std::string vm;
  friend bool operator==(const start_vm_action&, const start_vm_action&) = default;
};

/// Stop a running VM and keep it. No longer planned (a pause freezes VMs with
/// `pause_vm_action`); kept so that the variant's alternatives stay stable.
struct stop_vm_action {
  std::string vm;
  friend bool operator==(const stop_vm_action&, const stop_vm_action&) = default;
};

/// Restart in place (same name, same IP) after `backoff_ms`.
struct restart_vm_action {
  std::string vm;
  std::string reason;
  std::uint64_t backoff_ms = 0;
  friend bool operator==(const restart_vm_action&, const restart_vm_action&) = default;
};

/// Stop, remove and create afresh (same name and index, a new record). A
/// recreate for a failure carries the restart count and the back-off over to the
/// new VM (`failure`), which then starts once the back-off has passed; one for a
/// new revision starts a clean record at once.
struct recreate_vm_action {
  std::string vm;
  std::string reason;
  bool failure = false;
  std::uint32_t restarts = 0;
  std::uint64_t backoff_ms = 0;
  friend bool operator==(const recreate_vm_action&,
                         const recreate_vm_action&) = default;
};

/// Stop (if running) and remove; releases the IP.
struct remove_vm_action {
  std::string vm;
  friend bool operator==(const remove_vm_action&, const remove_vm_action&) = default;
};

/// Freeze a running, ready or unhealthy VM of a paused deployment, keeping its
/// memory (QMP `stop`, SIGSTOP); reported with `record_vm_paused`.
struct pause_vm_action {
  std::string vm;
  friend bool operator==(const pause_vm_action&, const pause_vm_action&) = default;
};

/// Thaw a paused VM of a deployment that is no longer paused (QMP `cont`,
/// SIGCONT); reported with `record_vm_resumed`.
struct resume_vm_action {
  std::string vm;
  friend bool operator==(const resume_vm_action&, const resume_vm_action&) = default;
};

/// Append only: tests and actors dispatch on the alternatives.
using action = std::variant<create_vm_action, start_vm_action, stop_vm_action,
                            restart_vm_action, recreate_vm_action, remove_vm_action,
                            pause_vm_action, resume_vm_action>;

/// A reconcile step: what to do now, and why the deployment cannot progress (empty
/// when it can), e.g. "insufficient memory: need 4096 MiB, 1024 MiB free".
struct plan {
  std::vector<action> actions;
  std::string blocked;
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
/// its leftover VMs). Scale-down removes the highest indices first; creates are
/// admitted against free memory, the host VM limit and the IP pool in index order
/// and stop at the first that does not fit, with `blocked` saying why.
plan reconcile(const world& w, const std::string& deployment,
               const restart_policy& policy = {}, unix_nanos now = 0);

/// VMs whose deployment no longer exists, highest index first.
std::vector<std::string> orphans(const world& w);

/// The `n` VMs a scale-down to `keep` replicas removes, highest index first.
std::vector<std::string> scale_down_victims(const world& w,
                                            const std::string& deployment,
                                            std::uint32_t keep);

/// The lowest free address of the pool, or ip_pool_exhausted.
expected<ipv4> allocate_ip(const host_state& host);

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

} // namespace volant
