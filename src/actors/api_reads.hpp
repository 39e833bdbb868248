#pragma once

// What the api adds to the controller's answers from the host and the log:
// resource use of running VMs (/proc) and recent events (a scan of the log's
// tail). Done at the api edge, never on the controller's thread.

#include "actors/context.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>

namespace volant {

/// Adds "usage" {cpu_seconds, rss_bytes} to a vm object or to each of an array
/// of them (from its "driver" and "handle").
void add_usage(nlohmann::json& vms, const daemon_context& ctx);

/// Adds what HAProxy says of each server ("state", "sessions", "requests",
/// "total") to a load balancer object or to each of an array of them, and
/// the servers still draining ("draining": their VMs are terminating).
void add_lb_stats(nlohmann::json& lbs, const daemon_context& ctx);

/// The last `limit` events about deployment `name` or its VMs.
nlohmann::json recent_events(const daemon_context& ctx, const std::string& name,
                             std::size_t limit);

} // namespace volant
