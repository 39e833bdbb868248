#pragma once

// What `volar` shows, computed from the folded state: the JSON replies of the
// read verbs in docs/protocol.md. Pure (the caller passes `now`), so the views are
// tested without a daemon.

#include "events/plan.hpp"
#include "events/state.hpp"
#include "events/vm_machine.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace volant::wire {

/// Filters of `vms.list`.
struct vm_filter {
  std::string deployment; ///< empty: all
  labels match;           ///< every pair must match (AND)
};

/// `vms.list` rows (an array of vm objects), ordered by deployment then index.
nlohmann::json vms_view(const world& w, const vm_filter& filter);

/// One vm object.
nlohmann::json vm_view(const world& w, const vm_record& vm);

/// One `deployments.list` row: name, plugin, desired, current, ready, created_at,
/// revision, paused, auto_restart, blocked.
nlohmann::json deployment_row(const world& w, const deployment_state& d);

/// `deployments.list`.
nlohmann::json deployments_view(const world& w);

/// `deployments.show`: the row plus spec, vms and the given recent events.
nlohmann::json deployment_detail(const world& w, const deployment_state& d,
                                 const nlohmann::json& events);

/// `debug.resources` without the driver's limits (the caller adds "limits").
nlohmann::json resources_view(const world& w);

/// `plugins.list`.
nlohmann::json plugins_view(const world& w);

/// "nginx" or "nginx:1.0.0".
std::string plugin_label(const plugin_ref& ref);
/// `name:version` of the installed plugin that `ref` picks (the newest when it
/// names no version); just the name when none is installed.
std::string resolved_plugin_label(const world& w, const plugin_ref& ref);

/// A VM actor's inspection (`volar shell inspect web-0`): the record as its
/// machine has it (ip, pid, status, restarts as `vms list`), its goal and its run.
nlohmann::json vm_machine_view(const vm_machine& m);

/// A deployment actor's inspection: where the deployment stood at the latest
/// plan it was pushed, and the plan.
nlohmann::json deployment_actor_view(std::int32_t desired, std::size_t current,
                                     std::size_t ready, std::size_t updated,
                                     std::uint64_t revision, const update_strategy& strategy,
                                     const plan& p, std::size_t vm_actors,
                                     std::uint64_t pushes);

/// Whether a VM counts as READY.
bool is_ready(const vm_record& vm);

} // namespace volant::wire
