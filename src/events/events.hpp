#pragma once

// Events: past-tense facts, the only thing the journal stores. The order of the
// `event` variant's alternatives is the order of the FlatBuffers union in
// schemas/events.fbs: append new events at the end, never reorder or remove one.
//
// Each event names its aggregate through `aggregate_of`; each struct has a
// `kind_name` (the stable spelling in audits and JSON) and a `reflect` overload that
// visits its fields by name (used by the audit listing and the JSON codec).

#include "events/autoscale.hpp"
#include "events/types.hpp"

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

namespace volant {

/// Declares the field visitor of `T`: `f("field", x.field)` for each field, for
/// `T` and `const T` alike.
#define VOLANT_FIELDS(T)                                                          \
  template <class F, class Self>                                                 \
    requires std::same_as<std::remove_const_t<Self>, T>                          \
  void reflect(F&& f, Self& x)

// -- plugin registry ----------------------------------------------------------------

/// A plugin manifest was installed (or a new version of it).
struct plugin_installed {
  static constexpr std::string_view kind_name = "plugin_installed";
  plugin_manifest manifest;
  unix_nanos at = 0;
  friend bool operator==(const plugin_installed&, const plugin_installed&) = default;
};

/// A plugin was removed; an empty `version` removes every version.
struct plugin_removed {
  static constexpr std::string_view kind_name = "plugin_removed";
  std::string name;
  std::string version;
  unix_nanos at = 0;
  friend bool operator==(const plugin_removed&, const plugin_removed&) = default;
};

// -- host ---------------------------------------------------------------------------

/// The host's pool, capacity and limits were set (first start or a change).
struct host_configured {
  static constexpr std::string_view kind_name = "host_configured";
  host_config config;
  unix_nanos at = 0;
  friend bool operator==(const host_configured&, const host_configured&) = default;
};

// -- deployments --------------------------------------------------------------------

/// A deployment was created at revision 1.
struct deployment_created {
  static constexpr std::string_view kind_name = "deployment_created";
  deployment_spec spec;
  std::uint64_t revision = 1;
  unix_nanos at = 0;
  friend bool operator==(const deployment_created&,
                         const deployment_created&) = default;
};

/// The desired replica count changed.
struct deployment_scaled {
  static constexpr std::string_view kind_name = "deployment_scaled";
  std::string name;
  std::int32_t from = 0;
  std::int32_t to = 0;
  unix_nanos at = 0;
  /// Replica indexes removed by name (`scale --remove`); the rest of a
  /// scale-down goes from the top.
  std::vector<std::uint32_t> removed;
  /// Who scaled: empty for the user, "autoscaler <name>" for an autoscaler.
  std::string cause{};
  /// The numbers that drove it ("cpu 90 % of 70 % -> 4").
  std::string detail{};
  friend bool operator==(const deployment_scaled&, const deployment_scaled&) = default;
};

/// The VM template or strategy changed; a template change bumps `revision`.
struct deployment_updated {
  static constexpr std::string_view kind_name = "deployment_updated";
  std::string name;
  vm_template tmpl;
  update_strategy strategy;
  std::uint64_t revision = 0;
  unix_nanos at = 0;
  /// Only the health check changed: the VMs at the previous revision move to
  /// this one in place (their probe restarts with the new check; no VM does).
  bool in_place = false;
  /// Why, when not the user's own update: "rollout undo to revision 3",
  /// "automatic revert to revision 3: rollout of revision 4 failed: ...".
  std::string reason{};
  /// An automatic revert of this (failed) revision; 0: none.
  std::uint64_t revert_of = 0;
  friend bool operator==(const deployment_updated&,
                         const deployment_updated&) = default;
};

/// Auto-restart of unhealthy or exited VMs was turned on or off.
struct deployment_auto_restart_set {
  static constexpr std::string_view kind_name = "deployment_auto_restart_set";
  std::string name;
  bool enabled = true;
  unix_nanos at = 0;
  friend bool operator==(const deployment_auto_restart_set&,
                         const deployment_auto_restart_set&) = default;
};

/// The deployment was paused: its running VMs are frozen and kept.
struct deployment_paused {
  static constexpr std::string_view kind_name = "deployment_paused";
  std::string name;
  unix_nanos at = 0;
  friend bool operator==(const deployment_paused&, const deployment_paused&) = default;
};

/// The deployment was resumed: its VMs thaw (or start, if stopped).
struct deployment_resumed {
  static constexpr std::string_view kind_name = "deployment_resumed";
  std::string name;
  unix_nanos at = 0;
  friend bool operator==(const deployment_resumed&, const deployment_resumed&) = default;
};

/// The deployment was deleted; its VMs are removed by the reconcile loop.
struct deployment_deleted {
  static constexpr std::string_view kind_name = "deployment_deleted";
  std::string name;
  unix_nanos at = 0;
  /// `--purge-volumes`: its persistent volumes go too, each once detached.
  bool purge_volumes = false;
  friend bool operator==(const deployment_deleted&, const deployment_deleted&) = default;
};

// -- VMs ----------------------------------------------------------------------------

/// A replica was recorded and its IP allocated; it is `pending` until started.
struct vm_created {
  static constexpr std::string_view kind_name = "vm_created";
  std::string name;
  std::string deployment;
  std::uint32_t index = 0;
  std::string host;
  ipv4 ip = 0;
  std::uint64_t revision = 0;
  std::int32_t cpu = 1;
  std::int64_t memory_mib = 128;
  unix_nanos at = 0;
  /// A recreate carries the replaced VM's restart count and back-off over, so
  /// that a VM that keeps failing keeps backing off; empty reason: a plain create.
  std::uint32_t restarts = 0;
  std::uint64_t backoff_ms = 0;
  std::string reason{};
  friend bool operator==(const vm_created&, const vm_created&) = default;
};

/// The driver launched the VM: incarnation `incarnation` of it runs.
struct vm_started {
  static constexpr std::string_view kind_name = "vm_started";
  std::string name;
  driver_handle handle;
  unix_nanos at = 0;
  std::uint64_t incarnation = 0; ///< The run it starts (0 in old logs: the next).
  friend bool operator==(const vm_started&, const vm_started&) = default;
};

/// A still-running workload was re-found and adopted after a daemon restart.
struct vm_adopted {
  static constexpr std::string_view kind_name = "vm_adopted";
  std::string name;
  driver_handle handle;
  unix_nanos at = 0;
  std::uint64_t incarnation = 0; ///< The incarnation it concerns.
  friend bool operator==(const vm_adopted&, const vm_adopted&) = default;
};

/// The VM passes its health check (or runs, when it has none).
struct vm_ready {
  static constexpr std::string_view kind_name = "vm_ready";
  std::string name;
  unix_nanos at = 0;
  std::uint64_t incarnation = 0; ///< The incarnation it concerns.
  friend bool operator==(const vm_ready&, const vm_ready&) = default;
};

/// The VM failed its check `unhealthy_threshold` times in a row.
struct vm_unhealthy {
  static constexpr std::string_view kind_name = "vm_unhealthy";
  std::string name;
  std::string reason; ///< The last probe error, e.g. "connection refused".
  unix_nanos at = 0;
  std::uint64_t incarnation = 0; ///< The incarnation it concerns.
  friend bool operator==(const vm_unhealthy&, const vm_unhealthy&) = default;
};

/// The workload exited on its own (or was found dead after a daemon restart).
struct vm_exited {
  static constexpr std::string_view kind_name = "vm_exited";
  std::string name;
  std::int32_t exit_code = 0; ///< >= 0 exit status, < 0 killed by signal -N.
  std::string reason;
  unix_nanos at = 0;
  std::uint64_t incarnation = 0; ///< The run that ended.
  friend bool operator==(const vm_exited&, const vm_exited&) = default;
};

/// The driver could not start the VM.
struct vm_start_failed {
  static constexpr std::string_view kind_name = "vm_start_failed";
  std::string name;
  std::string error;
  unix_nanos at = 0;
  std::uint64_t incarnation = 0; ///< The run that could not start (its number is used up).
  friend bool operator==(const vm_start_failed&, const vm_start_failed&) = default;
};

/// A restart in place: the run `incarnation` ends (if still up) and the next one
/// starts `backoff_ms` after this event. Counts as one restart.
struct vm_restart_scheduled {
  static constexpr std::string_view kind_name = "vm_restart_scheduled";
  std::string name;
  std::string reason;
  std::uint64_t backoff_ms = 0;
  unix_nanos at = 0;
  std::uint64_t incarnation = 0; ///< The run it ends (0: none was live).
  friend bool operator==(const vm_restart_scheduled&,
                         const vm_restart_scheduled&) = default;
};

/// The VM was stopped on purpose (restart, before removal; pause in old logs).
struct vm_stopped {
  static constexpr std::string_view kind_name = "vm_stopped";
  std::string name;
  unix_nanos at = 0;
  std::uint64_t incarnation = 0; ///< The run that was stopped.
  friend bool operator==(const vm_stopped&, const vm_stopped&) = default;
};

/// The VM is gone; its IP and capacity are released.
struct vm_removed {
  static constexpr std::string_view kind_name = "vm_removed";
  std::string name;
  unix_nanos at = 0;
  friend bool operator==(const vm_removed&, const vm_removed&) = default;
};

/// The VM was frozen with its memory kept (QMP `stop`, SIGSTOP): its deployment
/// is paused. It keeps its IP and capacity.
struct vm_paused {
  static constexpr std::string_view kind_name = "vm_paused";
  std::string name;
  unix_nanos at = 0;
  std::uint64_t incarnation = 0; ///< The incarnation it concerns.
  friend bool operator==(const vm_paused&, const vm_paused&) = default;
};

/// A paused VM was thawed (QMP `cont`, SIGCONT); it is `running` until its
/// probe (or, without a check, its actor) reports it ready again.
struct vm_resumed {
  static constexpr std::string_view kind_name = "vm_resumed";
  std::string name;
  unix_nanos at = 0;
  std::uint64_t incarnation = 0; ///< The incarnation it concerns.
  friend bool operator==(const vm_resumed&, const vm_resumed&) = default;
};

/// The VM was made afresh under its name, index and IP (docs/lifecycle.md): for a
/// new revision (its template's cpu and memory; restarts reset) or after a
/// failure that a restart in place did not heal (restarts and back-off carried
/// over, so that a VM that keeps failing keeps backing off). Its run directory
/// starts empty; it is `pending` until its next run starts, not before
/// `backoff_ms` after this event.
struct vm_recreated {
  static constexpr std::string_view kind_name = "vm_recreated";
  std::string name;
  std::uint64_t revision = 0;
  std::int32_t cpu = 1;
  std::int64_t memory_mib = 128;
  std::uint32_t restarts = 0;
  std::uint64_t backoff_ms = 0;
  std::string reason; ///< "revision 1 -> 2", "recreated: HTTP 503 (again ...)"
  unix_nanos at = 0;
  friend bool operator==(const vm_recreated&, const vm_recreated&) = default;
};

/// The user deleted a deployment's VM (`volar vms delete`): its deployment
/// replaces it in its slot, as a deleted pod is replaced: the run is stopped,
/// then the VM recreated (same name, index and IP; a fresh run directory and
/// log; restarts and back-off reset).
struct vm_replace_requested {
  static constexpr std::string_view kind_name = "vm_replace_requested";
  std::string name;
  unix_nanos at = 0;
  friend bool operator==(const vm_replace_requested&,
                         const vm_replace_requested&) = default;
};

/// A rolling update retired the VM: it is listed as terminating (out of the
/// load balancer and DNS) and stopped once `grace_ms` is over, then removed or
/// made afresh in its slot.
struct vm_terminating {
  static constexpr std::string_view kind_name = "vm_terminating";
  std::string name;
  std::string reason; ///< "replaced by web-3@4 (revision 4)", "revision 3 -> 4"
  std::uint64_t grace_ms = 0;
  unix_nanos at = 0;
  std::uint64_t incarnation = 0; ///< The run it concerns.
  friend bool operator==(const vm_terminating&, const vm_terminating&) = default;
};

/// A deployment's rollout progressed, completed or failed (docs/rollout.md).
struct deployment_rollout {
  static constexpr std::string_view kind_name = "deployment_rollout";
  std::string name;
  std::uint64_t revision = 0;
  rollout_phase phase = rollout_phase::progressing;
  std::uint32_t updated = 0;  ///< slots done: one available VM of `revision`
  std::uint32_t replicas = 0; ///< slots wanted
  std::string reason;         ///< why it failed
  unix_nanos at = 0;
  friend bool operator==(const deployment_rollout&, const deployment_rollout&) = default;
};

// -- load balancers -----------------------------------------------------------------

/// A load balancer was created in front of a deployment.
struct lb_created {
  static constexpr std::string_view kind_name = "lb_created";
  lb_spec spec;
  unix_nanos at = 0;
  friend bool operator==(const lb_created&, const lb_created&) = default;
};

/// A load balancer was switched to another deployment (blue-green).
struct lb_switched {
  static constexpr std::string_view kind_name = "lb_switched";
  std::string name;
  std::string from;
  std::string to;
  unix_nanos at = 0;
  friend bool operator==(const lb_switched&, const lb_switched&) = default;
};

/// A load balancer was deleted.
struct lb_deleted {
  static constexpr std::string_view kind_name = "lb_deleted";
  std::string name;
  unix_nanos at = 0;
  friend bool operator==(const lb_deleted&, const lb_deleted&) = default;
};

/// A terminating VM left its load balancers: no session is left on it (or
/// the drain timed out), so it stops now rather than at the end of its grace.
struct vm_drained {
  static constexpr std::string_view kind_name = "vm_drained";
  std::string name;
  std::string lb; ///< the load balancer that reported it
  unix_nanos at = 0;
  std::uint64_t incarnation = 0; ///< The run it concerns.
  friend bool operator==(const vm_drained&, const vm_drained&) = default;
};

/// A ready VM failed its readiness check (issue 13): it keeps running (its
/// health check decides restarts) but leaves load balancers and DNS until the
/// check passes again (vm_ready).
struct vm_not_ready {
  static constexpr std::string_view kind_name = "vm_not_ready";
  std::string name;
  std::string reason;
  unix_nanos at = 0;
  std::uint64_t incarnation = 0; ///< The run it concerns.
  friend bool operator==(const vm_not_ready&, const vm_not_ready&) = default;
};

// -- volumes and quotas (issue 14, docs/volumes.md) ------------------------------------

/// A persistent volume was recorded for replica `index` of `deployment` at
/// `path`; the driver makes its directory or image at the VM's next start.
struct volume_created {
  static constexpr std::string_view kind_name = "volume_created";
  std::uint64_t id = 0;
  std::string deployment;
  std::uint32_t index = 0;
  std::string path;
  std::int64_t size_mib = 0;
  unix_nanos at = 0;
  friend bool operator==(const volume_created&, const volume_created&) = default;
};

/// The volume was given to VM `vm` (its runs see it at the volume's path).
struct volume_attached {
  static constexpr std::string_view kind_name = "volume_attached";
  std::uint64_t id = 0;
  std::string name; ///< volume_name(): "pg-0:/var/lib/postgresql/data"
  std::string vm;
  unix_nanos at = 0;
  friend bool operator==(const volume_attached&, const volume_attached&) = default;
};

/// The volume left VM `vm` (removed, or its template no longer has the path);
/// its data is kept.
struct volume_detached {
  static constexpr std::string_view kind_name = "volume_detached";
  std::uint64_t id = 0;
  std::string name; ///< volume_name(): "pg-0:/var/lib/postgresql/data"
  std::string vm;
  unix_nanos at = 0;
  friend bool operator==(const volume_detached&, const volume_detached&) = default;
};

/// The volume and its data were deleted (`volumes delete`, `deployments
/// delete --purge-volumes`); volantd removes its directory or image.
struct volume_deleted {
  static constexpr std::string_view kind_name = "volume_deleted";
  std::uint64_t id = 0;
  std::string name; ///< volume_name(): "pg-0:/var/lib/postgresql/data"
  std::string reason;
  unix_nanos at = 0;
  friend bool operator==(const volume_deleted&, const volume_deleted&) = default;
};

/// A resource quota was defined or changed; `source` says by what: the
/// quota file's path, or "apply".
struct quota_set {
  static constexpr std::string_view kind_name = "quota_set";
  quota_spec spec;
  std::string source;
  unix_nanos at = 0;
  friend bool operator==(const quota_set&, const quota_set&) = default;
};

/// A resource quota was removed (gone from the quota file, or deleted).
struct quota_deleted {
  static constexpr std::string_view kind_name = "quota_deleted";
  std::string name;
  std::string source;
  unix_nanos at = 0;
  friend bool operator==(const quota_deleted&, const quota_deleted&) = default;
};

/// A deployment joined another quota (`deployments update --quota`); empty:
/// none.
struct deployment_quota_set {
  static constexpr std::string_view kind_name = "deployment_quota_set";
  std::string name;
  std::string from;
  std::string to;
  unix_nanos at = 0;
  friend bool operator==(const deployment_quota_set&, const deployment_quota_set&) = default;
};

// -- autoscalers (issue 15) ---------------------------------------------------------

/// An autoscaler was created or changed (`volar apply -f` of the guide's
/// HorizontalPodAutoscaler).
struct autoscaler_set {
  static constexpr std::string_view kind_name = "autoscaler_set";
  autoscaler_spec spec;
  unix_nanos at = 0;
  friend bool operator==(const autoscaler_set&, const autoscaler_set&) = default;
};

/// An autoscaler was deleted; its deployment keeps its replica count.
struct autoscaler_deleted {
  static constexpr std::string_view kind_name = "autoscaler_deleted";
  std::string name;
  unix_nanos at = 0;
  friend bool operator==(const autoscaler_deleted&, const autoscaler_deleted&) = default;
};

// -- cluster hosts (issue 16) ------------------------------------------------------

/// A host joined the cluster (or came back, or changed: its capacity, a
/// drain): `host` as it stands now.
struct host_joined {
  static constexpr std::string_view kind_name = "host_joined";
  cluster_host host;
  unix_nanos at = 0;
  friend bool operator==(const host_joined&, const host_joined&) = default;
};

/// The leader found a host's lease expired: its VMs are rescheduled on the
/// others (removed here, created again by reconcile), except those a
/// persistent volume pins to it.
struct host_lost {
  static constexpr std::string_view kind_name = "host_lost";
  std::string name;
  std::string reason; ///< "its lease expired"
  unix_nanos at = 0;
  friend bool operator==(const host_lost&, const host_lost&) = default;
};

// -- system -------------------------------------------------------------------------

/// An actor crashed and was restarted by its supervisor.
struct actor_crashed {
  static constexpr std::string_view kind_name = "actor_crashed";
  std::string actor;
  std::string reason;
  std::uint32_t count = 0; ///< Crashes of this actor so far, this one included.
  unix_nanos at = 0;
  friend bool operator==(const actor_crashed&, const actor_crashed&) = default;
};

/// Acknowledged events were found lost (a damaged or missing write-ahead log)
/// and an operator accepted it (`volant-replay repair --accept-loss`). Recorded
/// at seq `high_water_seq + 1`, so that no seq ever names two events: the seqs
/// `last_good_seq + 1 ..= high_water_seq` stay a gap in the log, and this record
/// is the one thing that lets a reader step over it. Audit only.
struct journal_loss_accepted {
  static constexpr std::string_view kind_name = "journal_loss_accepted";
  std::uint64_t last_good_seq = 0;  ///< The log ends here before the gap.
  std::uint64_t high_water_seq = 0; ///< The journal had acknowledged up to here.
  std::uint64_t lost = 0; ///< high_water_seq - last_good_seq, or 0 if none.
  std::string damage;     ///< What was found, e.g. "... 000012.log is missing".
  std::string saved_to;   ///< Where the damaged write-ahead logs were copied.
  unix_nanos at = 0;
  friend bool operator==(const journal_loss_accepted&,
                         const journal_loss_accepted&) = default;
};

/// Every event. Alternative order == on-disk union order: append only.
using event = std::variant<plugin_installed, plugin_removed, host_configured,
                           deployment_created, deployment_scaled, deployment_updated,
                           deployment_auto_restart_set, deployment_paused,
                           deployment_resumed, deployment_deleted, vm_created,
                           vm_started, vm_adopted, vm_ready, vm_unhealthy, vm_exited,
                           vm_start_failed, vm_restart_scheduled, vm_stopped,
                           vm_removed, actor_crashed, vm_paused, vm_resumed,
                           vm_recreated, journal_loss_accepted, vm_replace_requested,
                           vm_terminating, deployment_rollout, lb_created, lb_switched,
                           lb_deleted, vm_drained, vm_not_ready, volume_created,
                           volume_attached, volume_detached, volume_deleted,
                           quota_set, quota_deleted, deployment_quota_set,
                           autoscaler_set, autoscaler_deleted, host_joined,
                           host_lost>;

/// An event as committed: its place in the log and the commit time.
struct recorded_event {
  std::uint64_t seq = 0;
  unix_nanos at = 0;
  event ev;
  friend bool operator==(const recorded_event&, const recorded_event&) = default;
};

/// Kinds of aggregate. The numbers are persisted in envelopes.
enum class aggregate_kind : std::uint8_t {
  system = 0,
  host = 1,
  plugin = 2,
  deployment = 3,
  vm = 4,
  probe = 5,
  lb = 6,
  volume = 7,
  quota = 8,
  autoscaler = 9,
};

/// "deployment", "vm", ...
std::string_view to_string(aggregate_kind kind) noexcept;

/// The aggregate an event belongs to, e.g. {vm, "web-3"}.
struct aggregate_id {
  aggregate_kind kind = aggregate_kind::system;
  std::string id;
  friend bool operator==(const aggregate_id&, const aggregate_id&) = default;
};

/// How users name a persistent volume: "<deployment>-<index>:<path>", e.g.
/// "pg-0:/var/lib/postgresql/data" (its replica's name, then where it is seen).
std::string volume_name(std::string_view deployment, std::uint32_t index,
                        std::string_view path);

/// Which aggregate `ev` belongs to.
aggregate_id aggregate_of(const event& ev);

/// The stable name of the event's type, e.g. "vm_created".
std::string_view kind_name(const event& ev);

/// The name of a VM status, e.g. "ready".
std::string_view to_string(vm_status status) noexcept;

/// "round-robin", "least-conn" or "source".
std::string_view to_string(lb_algorithm algorithm) noexcept;

/// "progressing", "complete" or "failed".
std::string_view to_string(rollout_phase phase) noexcept;

/// The name of a strategy, "recreate" or "rolling".
std::string_view to_string(strategy_kind kind) noexcept;

/// Dotted-quad spelling of an address.
std::string to_string_ip(ipv4 ip);

/// Parses a dotted quad; nullopt unless exactly four octets 0..255.
std::optional<ipv4> parse_ipv4(std::string_view text);

} // namespace volant

#include "events/reflect.hpp"
