#pragma once

// Commands: imperatives that `decide` validates against the current state and turns
// into events (or rejects with an error). Commands are never stored.

#include "events/autoscale.hpp"
#include "events/types.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace volant {

/// Install a plugin manifest; a (name, version) already installed is a duplicate.
struct install_plugin {
  plugin_manifest manifest;
};

/// Remove a plugin (every version when `version` is empty); refused while in use.
struct remove_plugin {
  std::string name;
  std::string version;
};

/// Set the host's pool, capacity and limits; refused if it would strand VMs
/// (an allocated IP outside the new pool).
struct configure_host {
  host_config config;
};

/// Create a deployment from a full spec.
struct create_deployment {
  deployment_spec spec;
};

/// Set the desired replica count (signed: negatives are rejected here).
struct scale_deployment {
  std::string name;
  std::int64_t replicas = 0;
  /// VMs to remove by name (`--remove web-1`): their indexes are left free
  /// (the other replicas keep theirs) and a later scale-up fills them first.
  std::vector<std::string> remove;
  /// Who asks, when not the user ("autoscaler web-hpa"), and why.
  std::string cause{};
  std::string detail{};
};

/// Change parts of a deployment; unset fields stay as they are. A change to any
/// template field bumps the revision.
struct update_deployment {
  std::string name;
  std::optional<plugin_ref> plugin;
  std::optional<std::int64_t> cpu;
  std::optional<std::int64_t> memory_mib;
  std::optional<labels> vm_labels;
  std::optional<std::vector<env_var>> env;
  /// Secret env to set (sealed at the api): each replaces the value of its key,
  /// or adds the key; the other secret keys stay.
  std::vector<sealed_env_var> secret_env_set;
  /// Secret env keys to remove; each must be set (and not in secret_env_set).
  std::vector<std::string> secret_env_remove;
  std::optional<health_check> health;
  /// The readiness check override (disabled: the health check decides READY).
  std::optional<health_check> readiness;
  std::optional<std::vector<volume>> volumes;
  /// The quota to count against; empty: none.
  std::optional<std::string> quota;
  std::optional<bool> auto_restart;
  std::optional<update_strategy> strategy;
  /// `rollout pause|resume`: over the strategy in force (or `strategy`).
  std::optional<bool> rollout_paused;
  /// Why, when not the user's own update ("rollout undo to revision 3").
  std::string reason{};
};

/// Freeze every running VM of the deployment, keeping its memory state.
struct pause_deployment {
  std::string name;
};

/// Thaw the paused deployment's VMs (and start any that are stopped).
struct resume_deployment {
  std::string name;
};

/// Delete the deployment; the reconcile loop removes its VMs. With
/// `purge_volumes` its persistent volumes are deleted too (each once its VM is
/// gone); without, they are kept for a deployment of the same name.
struct delete_deployment {
  std::string name;
  bool purge_volumes = false;
};

/// Create or change an autoscaler (one per deployment).
struct set_autoscaler {
  autoscaler_spec spec;
};

/// Delete an autoscaler; its deployment keeps its replica count.
struct delete_autoscaler {
  std::string name;
};

/// Delete a detached persistent volume and its data (`volar volumes delete`).
struct delete_volume {
  std::string name; ///< "pg-0:/var/lib/postgresql/data"
};

/// Make the quotas exactly `quotas` (the quota file, or `apply -f` of the
/// guide's `quotas:` document): new and changed ones are set, and with
/// `replace_all` the others are removed. `source` is journaled with each change.
struct set_quotas {
  std::vector<quota_spec> quotas;
  std::string source;
  bool replace_all = false;
};

/// Record replica `index` of `deployment`: allocates the lowest free IP and admits
/// its memory. Issued by the controller from the reconcile plan.
struct create_vm {
  std::string deployment;
  std::uint32_t index = 0;
  /// A surge candidate of the deployment's revision beside the slot's older
  /// VM: recorded as "<deployment>-<index>@<revision>" with an IP of its own.
  bool surge = false;
};

/// A rolling update retires `name`: listed as terminating, stopped after
/// `grace_ms` (then removed or recreated, as its goal says).
struct terminate_vm {
  std::string name;
  std::uint64_t incarnation = 0;
  std::uint64_t grace_ms = 0;
  std::string reason;
};

/// The probe says ready VM `name` (run `incarnation`) fails its readiness
/// check: out of load balancers and DNS, still running.
struct record_vm_not_ready {
  std::string name;
  std::string reason;
  std::uint64_t incarnation = 0;
};

/// A load balancer says terminating VM `name` has no session left (or its
/// drain timed out): it may stop now.
struct mark_drained {
  std::string name;
  std::string lb;
};

/// The controller's view of a deployment's rollout after a reconcile round:
/// `updated` slots are done; `complete` when nothing else is left.
struct record_rollout {
  std::string name;
  std::uint64_t revision = 0;
  std::uint32_t updated = 0;
  std::uint32_t replicas = 0;
  bool complete = false;
  /// Why it goes slower than its strategy says (plan::note), journaled once.
  std::string note{};
};

/// Fails the deployment's rollout if it made no progress within its deadline
/// (and reverts it to the last revision that completed, with auto-revert).
struct check_rollout {
  std::string name;
};

/// The driver reports that it launched `name`.
struct record_vm_started {
  std::string name;
  driver_handle handle;
  /// The run it concerns; 0: the current one (the next one for a start).
  std::uint64_t incarnation = 0;
};

/// A running workload was re-found after a daemon restart.
struct record_vm_adopted {
  std::string name;
  driver_handle handle;
  /// The run it concerns; 0: the current one (the next one for a start).
  std::uint64_t incarnation = 0;
};

/// The probe reports that `name` became ready.
struct record_vm_ready {
  std::string name;
  /// The run it concerns; 0: the current one (the next one for a start).
  std::uint64_t incarnation = 0;
};

/// The probe reports that `name` crossed its failure threshold.
struct record_vm_unhealthy {
  std::string name;
  std::string reason;
  /// The run it concerns; 0: the current one (the next one for a start).
  std::uint64_t incarnation = 0;
};

/// The driver reports that the workload exited.
struct record_vm_exited {
  std::string name;
  std::int32_t exit_code = 0;
  std::string reason;
  /// The run it concerns; 0: the current one (the next one for a start).
  std::uint64_t incarnation = 0;
};

/// The driver reports that it could not start `name`.
struct record_vm_start_failed {
  std::string name;
  std::string error;
  /// The run it concerns; 0: the current one (the next one for a start).
  std::uint64_t incarnation = 0;
};

/// Restart `name` in place after its back-off (computed by the restart planner).
struct schedule_vm_restart {
  std::string name;
  std::string reason;
  std::uint64_t backoff_ms = 0;
  /// The run it concerns; 0: the current one (the next one for a start).
  std::uint64_t incarnation = 0;
};

/// The driver reports that `name` stopped on purpose.
struct record_vm_stopped {
  std::string name;
  /// The run it concerns; 0: the current one (the next one for a start).
  std::uint64_t incarnation = 0;
};

/// Forget `name` and release its IP and capacity (it must not be running).
struct remove_vm {
  std::string name;
  /// The run whose end the caller observed (0: none was started); a VM whose
  /// record still says it runs is removed only with its current run named here.
  std::uint64_t ended = 0;
};

/// The user deletes a deployment's VM (`volar vms delete`): the deployment
/// replaces it in its slot (vm_replace_requested).
struct delete_vm {
  std::string name;
};

/// Make `name` afresh at `revision` under the same name, index and IP (see
/// vm_recreated); the same rule as remove_vm about a run that may be live.
struct recreate_vm {
  std::string name;
  std::uint64_t ended = 0;
  std::uint64_t revision = 0;
  std::uint32_t restarts = 0;
  std::uint64_t backoff_ms = 0;
  std::string reason;
};

/// A supervisor restarted a crashed actor.
struct record_actor_crash {
  std::string actor;
  std::string reason;
  std::uint32_t count = 0;
};

/// The driver reports that it froze `name` (running, ready or unhealthy).
struct record_vm_paused {
  std::string name;
  /// The run it concerns; 0: the current one (the next one for a start).
  std::uint64_t incarnation = 0;
};

/// The driver reports that it thawed the paused `name`.
struct record_vm_resumed {
  std::string name;
  /// The run it concerns; 0: the current one (the next one for a start).
  std::uint64_t incarnation = 0;
};

/// Create a load balancer in front of a deployment.
struct create_lb {
  lb_spec spec;
};

/// Point a load balancer at another deployment (blue-green). With `create`,
/// a missing one is created in front of the target first (the guide's flow).
struct switch_lb {
  std::string name;
  std::string to;
  bool require_all_ready = false;
  bool create = false;
};

/// Delete a load balancer.
struct delete_lb {
  std::string name;
};

/// A host joins a cluster, comes back, or announces a new capacity (issue 16).
struct join_host {
  cluster_host host;
};

/// The leader found host `name`'s lease expired: its VMs go elsewhere (at
/// most 100 per command: the leader repeats it while the host holds more).
struct lose_host {
  std::string name;
  std::string reason;
};

/// `volar hosts drain NAME`: no new VMs on it, and its replicas move to the
/// other hosts one at a time (reconcile).
struct drain_host {
  std::string name;
};

using command =
  std::variant<install_plugin, remove_plugin, configure_host, create_deployment,
               scale_deployment, update_deployment, pause_deployment,
               resume_deployment, delete_deployment, create_vm, record_vm_started,
               record_vm_adopted, record_vm_ready, record_vm_unhealthy,
               record_vm_exited, record_vm_start_failed, schedule_vm_restart,
               record_vm_stopped, remove_vm, record_actor_crash,
               record_vm_paused, record_vm_resumed, recreate_vm, delete_vm,
               terminate_vm, record_rollout, check_rollout, create_lb, switch_lb,
               delete_lb, mark_drained, record_vm_not_ready, delete_volume,
               set_quotas, set_autoscaler, delete_autoscaler, join_host,
               lose_host, drain_host>;

} // namespace volant
