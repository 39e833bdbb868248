#pragma once

// `--wait`: follows deployments.show replies until READY == CURRENT == DESIRED,
// and decides when to give up. Pure: the caller polls and passes elapsed time.

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace volant::cli {

/// The numbers of a deployments.show (or .list) entry.
struct progress {
  std::int64_t desired = 0;
  std::int64_t current = 0;
  std::int64_t ready = 0;
  std::int64_t updated = 0; ///< ready VMs of the current revision
  std::string blocked; ///< why it cannot progress; empty if it can
  bool paused = false;
  /// Why the deployment is not there yet, from its VMs: the first VM that is
  /// not ready, with its last start failure or health error if it has one.
  std::string why;
  // The rollout as the daemon journaled it (deployments show's "rollout").
  std::int64_t revision = 0;
  std::string rollout_phase; ///< "progressing", "complete", "failed"; empty: unknown
  std::string rollout_reason;
  std::int64_t revert_of = 0; ///< the rollout is an automatic revert of this revision
  friend bool operator==(const progress& a, const progress& b) {
    return a.desired == b.desired && a.current == b.current && a.ready == b.ready
           && a.updated == b.updated && a.blocked == b.blocked && a.paused == b.paused;
  }
};

progress progress_of(const nlohmann::json& deployment);

/// "web: 3/5 ready (5 current)"
std::string progress_line(const std::string& name, const progress& p);

/// `deployments rollout status`, in kubectl's words:
/// `Waiting for deployment "web" rollout to finish: 2 of 6 updated replicas are
/// available...`, `... 1 old replicas are pending termination...`, or
/// `deployment "web" successfully rolled out`.
std::string rollout_line(const std::string& name, const progress& p);

/// Whether every replica is ready, of the current revision, and nothing else runs.
bool rolled_out(const progress& p);

class wait_tracker {
public:
  using duration = std::chrono::milliseconds;

  enum class verdict { waiting, done, failed };

  /// `stuck_after`: how long a non-empty `blocked` may last before giving up.
  wait_tracker(std::string name, duration timeout,
               duration stuck_after = std::chrono::seconds(3));

  /// One sample at `elapsed` since the wait began.
  verdict observe(const progress& p, duration elapsed);

  /// Whether the last sample's numbers differ from the one before (the first
  /// sample counts as changed).
  bool changed() const noexcept { return changed_; }

  /// Why the wait failed ("web is stuck: ...", "timed out after ..."); set
  /// when observe returned failed.
  const std::string& failure() const noexcept { return failure_; }

private:
  std::string name_;
  duration timeout_;
  duration stuck_after_;
  std::optional<progress> last_;
  std::optional<duration> blocked_since_;
  std::int64_t first_revision_ = 0;
  bool changed_ = false;
  std::string failure_;
};

} // namespace volant::cli
