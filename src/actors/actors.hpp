#pragma once

// Every actor interface of volantd, in one place. Actors are thin shells over the
// pure core: receive -> decide -> journal append -> apply -> carry out actions.
//
// The tree: root supervisor -> journal, controller, api; controller -> one
// deployment actor per deployment; deployment -> one vm actor per replica.
// (The controller, not the root, parents the deployments: it is the one that sees
// deployments appear and disappear in the log.)
//
// Only `api_actor` (api.hpp) is published; everything here is local, so core
// values travel as "unsafe" (in-process only) message types.

#include "actors/api.hpp"
#include "events/events.hpp"
#include "events/plan.hpp"
#include "events/state.hpp"
#include "events/vm_machine.hpp"
#include "runtime/exit_watcher.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace volant {

/// Events to append, in order.
using event_batch = std::vector<event>;

/// Events as committed (with seq and time).
using record_batch = std::vector<recorded_event>;

/// What a deployment's VMs are launched from at its current revision. An empty
/// `plugin.name`: nothing can be started (the deployment is gone, or its plugin).
struct launch_template {
  plugin_manifest plugin;
  vm_template tmpl;
  health_check health;
  health_check readiness; ///< disabled: `health` decides READY too
  /// The deployment's persistent volumes; each VM mounts those attached to it.
  std::vector<volume_record> volumes;
};

/// Where a deployment stands, as its actor shows it on inspection.
struct deployment_summary {
  std::int32_t desired = 0;
  std::size_t current = 0;
  std::size_t ready = 0;
  std::size_t updated = 0; ///< ready and of the current revision
  std::uint64_t revision = 0;
  update_strategy strategy;
  bool paused = false;
};

/// The controller's word to a deployment actor after each committed change of
/// the deployment (and on a timer): the plan's goal for every VM, what they are
/// launched from, and the records of VMs whose actors it may not have yet.
struct deployment_push {
  plan goals;
  launch_template launch;
  deployment_summary summary;
  std::map<std::string, vm_record> records;
  /// Pushed when the controller (re)started: VM actors spawned from it adopt
  /// what the daemon ran before ("when volantd came back").
  bool recovering = false;
};

using append_atom = caf::atom_constant<caf::atom("append")>;
using command_atom = caf::atom_constant<caf::atom("command")>;
using query_atom = caf::atom_constant<caf::atom("query")>;
using plan_atom = caf::atom_constant<caf::atom("plan")>;
using goal_atom = caf::atom_constant<caf::atom("goal")>;
using verdict_atom = caf::atom_constant<caf::atom("verdict")>;
using launch_atom = caf::atom_constant<caf::atom("launch")>;
using reconcile_atom = caf::atom_constant<caf::atom("reconcile")>;
using restart_atom = caf::atom_constant<caf::atom("restart")>;
using exited_atom = caf::atom_constant<caf::atom("exited")>;
using inspect_atom = caf::atom_constant<caf::atom("inspect")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using sample_atom = caf::atom_constant<caf::atom("sample")>;
using crash_atom = caf::atom_constant<caf::atom("crash")>;
using build_atom = caf::atom_constant<caf::atom("build")>;
using follow_atom = caf::atom_constant<caf::atom("follow")>;
using leader_atom = caf::atom_constant<caf::atom("leader")>;
using hosts_atom = caf::atom_constant<caf::atom("hosts")>;
using fence_atom = caf::atom_constant<caf::atom("fence")>;
using forget_atom = caf::atom_constant<caf::atom("forget")>;

/// What every actor of volantd answers, whatever its role: its live state as a
/// JSON object with at least "actor" (kind), "name", "status" and "mailbox"
/// (messages waiting), plus what its role holds (docs/protocol.md, `shell.*`).
/// Answering reads the state only: it never blocks the actor's work nor changes
/// anything. Each role's interface below extends this one.
using inspectable_actor = caf::typed_actor<caf::replies_to<inspect_atom>::with<std::string>>;

/// The single writer of the event log.
using journal_actor = inspectable_actor::extend<
  /// Test hook (volantd --enable-crash-hook): throw if the path names this actor
  /// ("controller", "journal", "deployment/web", "vm/web-0", "probe/web-0"), else
  /// pass it on to the child that leads there.
  caf::reacts_to<crash_atom, std::string>,
  /// Appends atomically; replies once durable (group-committed with other appends).
  caf::replies_to<append_atom, event_batch>::with<record_batch>,
  /// A host of a cluster: appends to the cluster log if its head is still
  /// the seq given (the controller's state), else ec::conflict.
  caf::replies_to<append_atom, event_batch, std::uint64_t>::with<record_batch>>;

/// Holds the folded state, decides every command, plans every deployment and
/// pushes the plans to the deployment actors it parents.
using controller_actor = inspectable_actor::extend<
  /// Test hook (volantd --enable-crash-hook): throw if the path names this actor
  /// ("controller", "journal", "deployment/web", "vm/web-0", "probe/web-0"), else
  /// pass it on to the child that leads there.
  caf::reacts_to<crash_atom, std::string>,
  /// decide -> append -> apply; replies with the committed events.
  caf::replies_to<command_atom, command>::with<record_batch>,
  /// Read-only views for the api (docs/protocol.md verb + JSON args) -> JSON,
  /// answered by src/wire from the folded state.
  caf::replies_to<query_atom, std::string, std::string>::with<std::string>,
  /// The record of a VM as decided now (a VM actor respawned after its crash).
  caf::replies_to<launch_atom, std::string>::with<vm_record>,
  /// Plan every deployment again and push the plans (its own timer).
  caf::reacts_to<reconcile_atom>,
  /// Respawn the deployment actor of this name after its crash back-off.
  caf::reacts_to<restart_atom, std::string>,
  /// A host of a cluster: the local copy of the log grew (fold what is new).
  caf::reacts_to<follow_atom>,
  /// A host of a cluster: whether it leads now, and who does.
  caf::reacts_to<leader_atom, bool, std::string>,
  /// The hosts whose lease lives, and the address of each (empty: none):
  /// the leader's view of who is lost, every host's routes to the others.
  caf::reacts_to<hosts_atom, std::vector<std::string>, std::vector<std::string>>,
  /// A host of a cluster whose lease was not renewed for most of its TTL
  /// (true): it stops its workloads before the leader may start them
  /// elsewhere (fencing); renewed again (false).
  caf::reacts_to<fence_atom, bool>>;

/// One per deployment: parents its VM actors and hands each the goal the
/// controller's plan sets for it.
using deployment_actor = inspectable_actor::extend<
  /// Test hook (volantd --enable-crash-hook): throw if the path names this actor
  /// ("controller", "journal", "deployment/web", "vm/web-0", "probe/web-0"), else
  /// pass it on to the child that leads there.
  caf::reacts_to<crash_atom, std::string>,
  /// The controller's plan after a committed change (and on its timer).
  caf::reacts_to<plan_atom, deployment_push>,
  /// Respawn the VM actor of this VM after its crash back-off.
  caf::reacts_to<restart_atom, std::string>,
  /// Another host removed this VM (the leader found this host lost): its
  /// actor ends without a word to the log.
  caf::reacts_to<forget_atom, std::string>>;

/// One per replica: runs the VM's lifecycle machine (src/events/vm_machine.hpp)
/// and carries out its effects through the driver.
using vm_actor = inspectable_actor::extend<
  /// Test hook (volantd --enable-crash-hook): throw if the path names this actor
  /// ("controller", "journal", "deployment/web", "vm/web-0", "probe/web-0"), else
  /// pass it on to the child that leads there.
  caf::reacts_to<crash_atom, std::string>,
  /// The deployment's goal for this VM, and what it is launched from.
  caf::reacts_to<goal_atom, vm_goal, launch_template>,
  /// From the exit watcher: run `n` ended.
  caf::reacts_to<exited_atom, std::uint64_t, runtime::exit_status>,
  /// From its probe: run `n` became healthy (true) or crossed its failure
  /// threshold (false, with the last error).
  /// The last flag: the readiness check's verdict (ready or not ready).
  caf::reacts_to<verdict_atom, std::uint64_t, bool, std::string, bool>,
  /// A timer the machine asked for.
  caf::reacts_to<tick_atom>>;

/// One per running VM with a health check: checks on a timer through the shared
/// prober and tells its VM actor the transitions only (healthy, unhealthy).
using probe_actor = inspectable_actor::extend<
  /// Test hook (volantd --enable-crash-hook): throw if the path names this actor
  /// ("controller", "journal", "deployment/web", "vm/web-0", "probe/web-0"), else
  /// pass it on to the child that leads there.
  caf::reacts_to<crash_atom, std::string>,
  /// Time for the next check (of the health check, or of the readiness check
  /// when true).
  caf::reacts_to<tick_atom, bool>,
  /// A check finished.
  caf::reacts_to<sample_atom, probe_sample, bool>>;

} // namespace volant

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(volant::event_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(volant::record_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(volant::command)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(volant::vm_record)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(volant::vm_goal)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(volant::launch_template)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(volant::deployment_push)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(volant::runtime::exit_status)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(volant::probe_sample)
