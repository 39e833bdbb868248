#pragma once

// `explain NAME` in the shell: why a VM or a deployment is in its current state,
// told from its committed events. Pure: the caller reads the history from the
// journal and passes it in; times come from the events, never from a clock.

#include "events/events.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace volant {

/// One event of the chain that led to the current state, in one human line.
struct explain_step {
  std::uint64_t seq = 0;
  unix_nanos at = 0;
  std::string kind; ///< The event's kind_name, e.g. "vm_unhealthy".
  std::string text; ///< e.g. "web-3 health check failed: connection refused"
  friend bool operator==(const explain_step&, const explain_step&) = default;
};

/// Why `subject` is in its current state.
struct explanation {
  std::string subject; ///< "vm/web-3", "deployment/web", or the bare name if unknown
  /// One paragraph, e.g. "web-3 restarted 4× since 10:02:11: health check failed
  /// (connection refused) ×3 → exited with status 1; now ready since 10:05:00".
  std::string summary;
  std::vector<explain_step> chain; ///< One step per relevant event, in seq order.
  friend bool operator==(const explanation&, const explanation&) = default;
};

/// Explains the VM or deployment `name` from `history`: every committed event of
/// that aggregate in seq order (for a deployment: its own events plus those of its
/// VMs; `actor_crashed` events of the subject's actors may be included). A name
/// with a deployment event in `history` is a deployment, otherwise a VM. Events
/// of other aggregates are ignored, except `journal_loss_accepted`: a loss of
/// events may touch any story, so it is in every chain and summary.
explanation explain(const std::vector<recorded_event>& history,
                    std::string_view name);

/// "10:02:11": the UTC time of day of `t`.
std::string clock_text(unix_nanos t);

/// "4s", "1500ms": a back-off or delay in milliseconds.
std::string millis_text(std::uint64_t ms);

} // namespace volant
