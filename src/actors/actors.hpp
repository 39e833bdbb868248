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
#include "runtime/exit_watcher.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace volant {

/// Events to append, in order.
using event_batch = std::vector<event>;

/// Events as committed (with seq and time).
using record_batch = std::vector<recorded_event>;

/// What a vm actor needs to launch its replica.
struct launch_info {
  vm_record vm;
  plugin_manifest plugin;
  vm_template tmpl;
  health_check health;
  bool auto_restart = true;
};

using append_atom = caf::atom_constant<caf::atom("append")>;
using command_atom = caf::atom_constant<caf::atom("command")>;
using query_atom = caf::atom_constant<caf::atom("query")>;
using plan_atom = caf::atom_constant<caf::atom("plan")>;
using launch_atom = caf::atom_constant<caf::atom("launch")>;
using changed_atom = caf::atom_constant<caf::atom("changed")>;
using reconcile_atom = caf::atom_constant<caf::atom("reconcile")>;
using start_atom = caf::atom_constant<caf::atom("start")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using restart_atom = caf::atom_constant<caf::atom("restart")>;
using exited_atom = caf::atom_constant<caf::atom("exited")>;
using kill_atom = caf::atom_constant<caf::atom("kill")>;
using inspect_atom = caf::atom_constant<caf::atom("inspect")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using sample_atom = caf::atom_constant<caf::atom("sample")>;
using crash_atom = caf::atom_constant<caf::atom("crash")>;
using pause_atom = caf::atom_constant<caf::atom("pause")>;
using resume_atom = caf::atom_constant<caf::atom("resume")>;

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
  caf::replies_to<append_atom, event_batch>::with<record_batch>>;

/// Holds the folded state, decides every command, parents the deployments.
using controller_actor = inspectable_actor::extend<
  /// Test hook (volantd --enable-crash-hook): throw if the path names this actor
  /// ("controller", "journal", "deployment/web", "vm/web-0", "probe/web-0"), else
  /// pass it on to the child that leads there.
  caf::reacts_to<crash_atom, std::string>,
  /// decide -> append -> apply; replies with the committed events.
  caf::replies_to<command_atom, command>::with<record_batch>,
  /// Read-only views (docs/protocol.md verb + JSON args) -> JSON.
  caf::replies_to<query_atom, std::string, std::string>::with<std::string>,
  /// The reconcile plan of one deployment, from the current state.
  caf::replies_to<plan_atom, std::string>::with<plan>,
  /// What a VM is launched from.
  caf::replies_to<launch_atom, std::string>::with<launch_info>,
  /// Respawn the deployment actor of this name after its crash back-off.
  caf::reacts_to<restart_atom, std::string>>;

/// One per deployment: runs the reconcile loop and parents its VM actors.
using deployment_actor = inspectable_actor::extend<
  /// Test hook (volantd --enable-crash-hook): throw if the path names this actor
  /// ("controller", "journal", "deployment/web", "vm/web-0", "probe/web-0"), else
  /// pass it on to the child that leads there.
  caf::reacts_to<crash_atom, std::string>,
  /// Something about this deployment changed: reconcile soon.
  caf::reacts_to<changed_atom>,
  /// Timer and explicit trigger of one reconcile round.
  caf::reacts_to<reconcile_atom>,
  /// Respawn the VM actor of this VM after its crash back-off.
  caf::reacts_to<restart_atom, std::string>>;

/// One per replica: drives the driver for it.
using vm_actor = inspectable_actor::extend<
  /// Test hook (volantd --enable-crash-hook): throw if the path names this actor
  /// ("controller", "journal", "deployment/web", "vm/web-0", "probe/web-0"), else
  /// pass it on to the child that leads there.
  caf::reacts_to<crash_atom, std::string>,
  /// Launch (no-op if running or starting).
  caf::reacts_to<start_atom>,
  /// Stop; with `true` also remove the VM (then the actor quits).
  caf::reacts_to<stop_atom, bool>,
  /// Restart in place after the back-off (ms), for the reason given.
  caf::reacts_to<restart_atom, std::uint64_t, std::string>,
  /// Freeze the running workload in place (its memory is kept), and thaw it.
  caf::reacts_to<pause_atom>,
  caf::reacts_to<resume_atom>,
  /// From the exit watcher: the workload ended.
  caf::reacts_to<exited_atom, runtime::exit_status>,
  /// Grace period over: force the stop.
  caf::reacts_to<kill_atom, std::uint64_t>>;

/// One per running VM with a health check: checks on a timer through the shared
/// prober and journals transitions only (ready, unhealthy), never every sample.
using probe_actor = inspectable_actor::extend<
  /// Test hook (volantd --enable-crash-hook): throw if the path names this actor
  /// ("controller", "journal", "deployment/web", "vm/web-0", "probe/web-0"), else
  /// pass it on to the child that leads there.
  caf::reacts_to<crash_atom, std::string>,
  /// Time for the next check.
  caf::reacts_to<tick_atom>,
  /// A check finished.
  caf::reacts_to<sample_atom, probe_sample>>;

/// The registry key of the live controller: holders that outlive a controller
/// restart (the api) look it up per request instead of keeping a stale handle.
inline constexpr caf::atom_value controller_key = caf::atom("controller");

/// The registry key of the live journal (replaced by the root after a crash).
inline constexpr caf::atom_value journal_key = caf::atom("journal");

/// The actor registered under `key` right now (invalid while being replaced).
template <class Handle>
Handle current(caf::actor_system& sys, caf::atom_value key) {
  return caf::actor_cast<Handle>(sys.registry().get(key));
}

} // namespace volant

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(volant::event_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(volant::record_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(volant::command)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(volant::plan)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(volant::launch_info)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(volant::runtime::exit_status)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(volant::probe_sample)
