#pragma once

// The controller's parts shared by controller.cpp and controller_cluster.cpp
// (a host of a cluster, issue 16). Internal to src/actors.

#include "actors/controller.hpp"

#include <functional>
#include <string>
#include <vector>

namespace volant::controller_detail {

using self_ptr = controller_actor::stateful_pointer<controller_state>;

/// decide -> apply -> append (a single host), or queued for `pump` (a host
/// of a cluster); `done` gets the committed events or the error.
void run_command(self_ptr self, const command& cmd,
                 std::function<void(expected<record_batch>)> done = {});

/// Folds committed records' consequences: deployment actors, plans pushed,
/// load balancers, DNS, routes, snapshots.
void after_commit(self_ptr self, const record_batch& recs);

/// Whether this controller makes the cluster-wide decisions (new replicas,
/// rollouts, autoscalers, quota file, lost hosts): on a single host always,
/// in a cluster the leader only.
bool decides(const controller_state& st);

// A host of a cluster (controller_cluster.cpp).

/// Folds what the local copy of the cluster log holds past the state.
void fold_new(self_ptr self);
/// Decides the queued commands one at a time and appends each on the head.
void pump(self_ptr self);
/// The leader: journals hosts whose lease expired as lost.
void check_hosts(self_ptr self);
/// Fencing: stops this host's workloads.
void fence(self_ptr self);
/// --vm-interface: routes to the other hosts' /24s.
void sync_routes(self_ptr self);

} // namespace volant::controller_detail
