#pragma once

// `rollout undo` (issue 12), pure: a deployment's revisions from its events
// (the journal keeps every event, so no history is kept in the state), and the
// update that copies an earlier revision's template into a new revision.

#include "events/commands.hpp"
#include "events/error.hpp"
#include "events/events.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace volant {

struct revision_record {
  std::uint64_t revision = 0;
  vm_template tmpl;
  unix_nanos at = 0;
  /// Revisions the deployment keeps (--revision-history) as of this one.
  std::int32_t keep = 10;
  friend bool operator==(const revision_record&, const revision_record&) = default;
};

/// Folds one event into `name`'s revisions (its current life: a create starts
/// over, a delete ends it).
void fold_revision(std::vector<revision_record>& revs, const std::string& name, const event& ev);

/// The update that makes a new revision of `name` with the template of
/// revision `to` (default: the one before the current). Errors: no earlier
/// revision, an unknown one, one beyond the history kept, the current one, or
/// across a volume change.
expected<update_deployment> undo_to(const std::vector<revision_record>& revs,
                                    const std::string& name,
                                    std::optional<std::uint64_t> to);

} // namespace volant
