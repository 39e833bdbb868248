#pragma once

// The folded state of every aggregate, and the two functions over it:
//   apply(world, event)            total and deterministic: never fails on a valid log;
//   decide(world, command, now)    every validation; events or an error, never both.
// Actors hold a `world` (or the slice they own) and call nothing else to change it.

#include "events/commands.hpp"
#include "events/error.hpp"
#include "events/events.hpp"
#include "events/types.hpp"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace volant {

/// Installed plugins: name -> version -> manifest.
struct plugin_registry {
  std::map<std::string, std::map<std::string, plugin_manifest>> by_name;

  /// The manifest `ref` names (newest version when `ref.version` is empty), or null.
  const plugin_manifest* find(const plugin_ref& ref) const;

  friend bool operator==(const plugin_registry&, const plugin_registry&) = default;
};

/// A deployment's latest rollout (of `revision`): every template change, and
/// the creation, starts one (docs/rollout.md).
struct rollout_state {
  std::uint64_t revision = 0;
  rollout_phase phase = rollout_phase::progressing;
  unix_nanos started_at = 0;
  /// The last progress: a new VM became available or an old one was retired
  /// (the deadline counts from here).
  unix_nanos progress_at = 0;
  /// Slots holding one available VM of `revision` and nothing else, at best.
  std::uint32_t updated = 0;
  std::string reason;          ///< why it failed
  std::uint64_t revert_of = 0; ///< an automatic revert of this revision
  friend bool operator==(const rollout_state&, const rollout_state&) = default;
};

/// A deployment as folded from its events.
struct deployment_state {
  deployment_spec spec;
  std::uint64_t revision = 1;
  unix_nanos created_at = 0;
  unix_nanos updated_at = 0;
  /// Replica indexes left free by `scale --remove`, each below the highest
  /// wanted index: the replicas are the first `spec.replicas` indexes not here.
  std::set<std::uint32_t> holes;
  rollout_state rollout;
  /// The last revision whose rollout completed (0: none yet) and its
  /// template: where an automatic revert goes.
  std::uint64_t stable_revision = 0;
  vm_template stable_tmpl;
  friend bool operator==(const deployment_state&, const deployment_state&) = default;
};

/// The host: configuration plus the IP leases and capacity in use (an index over
/// `world::vms`, kept by `apply` so that allocation is O(log n)).
struct host_state {
  bool configured = false;
  host_config config;
  std::map<ipv4, std::string> leases; ///< ip -> VM name
  std::int64_t memory_used_mib = 0;
  std::int64_t cpu_used = 0;
  friend bool operator==(const host_state&, const host_state&) = default;
};

/// Everything the log describes.
struct world {
  host_state host;
  plugin_registry plugins;
  std::map<std::string, deployment_state> deployments;
  std::map<std::string, vm_record> vms;
  /// Load balancers by name.
  std::map<std::string, lb_spec> lbs;
  /// Persistent volumes by id (issue 14).
  std::map<std::uint64_t, volume_record> volumes;
  /// The highest volume id ever recorded (ids are never reused).
  std::uint64_t last_volume_id = 0;
  /// Resource quotas by name.
  std::map<std::string, quota_spec> quotas;
  /// Autoscalers by name (issue 15).
  std::map<std::string, autoscaler_spec> autoscalers;
  /// The hosts of a cluster by name (issue 16); empty on a single host.
  /// `host.config`'s cores and memory are then the sum of the hosts' that are
  /// not lost.
  std::map<std::string, cluster_host> hosts;
  /// The highest run number (incarnation) ever recorded for any VM.
  std::uint64_t last_incarnation = 0;
  std::uint64_t last_seq = 0;   ///< Seq of the last applied record (0: none).
  unix_nanos last_at = 0;       ///< Commit time of the last applied record.
  friend bool operator==(const world&, const world&) = default;
};

/// Folds one event into the state. Total: an event that refers to something absent
/// (possible only in a hand-edited log) leaves the state unchanged.
void apply(world& w, const event& ev);

/// Folds one of a VM's own events (vm_started ... vm_recreated) into its record:
/// what `apply` does to the VM in `world::vms`, without the host's leases and
/// capacity. Other events leave it unchanged. (The VM machine keeps its record
/// with this.)
void apply(vm_record& vm, const event& ev);

/// Folds a committed record: the event plus `last_seq` / `last_at`.
void apply(world& w, const recorded_event& rec);

/// Validates `cmd` against `w` at time `now`; the events to append, or why not.
/// Applying the returned events in order to `w` is always valid.
expected<std::vector<event>> decide(const world& w, const command& cmd,
                                    unix_nanos now);

/// The VM a user names: its key ("web-3@4"), or a slot name ("web-3"): the
/// slot's VM that is not terminating, the newest revision first. Null if none.
const vm_record* find_vm(const world& w, std::string_view name);

/// The VMs of `deployment`, ordered by index (then revision).
std::vector<const vm_record*> vms_of(const world& w, const std::string& deployment);

/// Free memory on the host: total minus what every recorded VM holds.
std::int64_t memory_free_mib(const world& w);

/// The replica indexes `d` wants, ascending: the first `spec.replicas` that
/// are not holes.
std::vector<std::uint32_t> wanted_indexes(const deployment_state& d);

/// `e` applied to its deployment (`apply` does this and stamps updated_at).
void apply_scale(deployment_state& d, const deployment_scaled& e);

/// Whether replica `index` is one `d` wants.
bool wants_index(const deployment_state& d, std::uint32_t index);

/// The persistent volume of replica `index` of `deployment` at `path`, or null.
const volume_record* find_volume(const world& w, std::string_view deployment,
                                 std::uint32_t index, std::string_view path);

/// The volume users call `name` ("pg-0:/var/lib/postgresql/data"), or null.
const volume_record* find_volume(const world& w, std::string_view name);

/// The name of replica `index` of `deployment`: "<deployment>-<index>".
std::string vm_name(const std::string& deployment, std::uint32_t index);

/// The key of a surge candidate of revision `revision` in slot `index`:
/// "<deployment>-<index>@<revision>" (`@` never occurs in a DNS label).
std::string surge_name(const std::string& deployment, std::uint32_t index,
                       std::uint64_t revision);

/// The slot name a VM key is shown as: "web-3@4" -> "web-3".
std::string_view slot_name(std::string_view vm) noexcept;

/// The deployment a VM key belongs to: "web-3@4" -> "web".
std::string_view deployment_of_vm(std::string_view vm) noexcept;

} // namespace volant
