#pragma once

// `volar deployments rollout history`: a deployment's revisions, read from the
// journal's events of its aggregate (deployment_created, deployment_updated,
// deployment_deleted: the journal keeps every event, so nothing else is
// stored). Pure: events in, revisions and text out.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace volant::cli {

struct revision {
  std::uint64_t number = 0;
  std::string at;          ///< RFC 3339, as the event says
  nlohmann::json tmpl;     ///< the VM template of that revision
  std::string change;      ///< what differs from the revision before
  bool in_place = false;   ///< a health-check-only change (no VM replaced)
};

/// The revisions of the deployment's current life (events after its last
/// creation; none after a delete), oldest first, from `events` (the `events`
/// verb's objects, in journal order).
std::vector<revision> revisions_of(const nlohmann::json& events);

/// "plugin web:1.0.0 -> web:2.0.0, env +GEN=2, memory 128 -> 256 MiB"; for the
/// first revision, what it was created with.
std::string describe_change(const nlohmann::json& before, const nlohmann::json& after);

/// REVISION  CREATED  CHANGE, the last `keep` revisions.
std::string render_history(const std::vector<revision>& revs, std::size_t keep);

} // namespace volant::cli
