#pragma once

// Horizontal autoscaling (issue 15), pure: what replica count an autoscaler
// recommends from the latest metric samples, its own past recommendations and
// the deployment's past scalings. Kubernetes' HPA algorithm (desired =
// ceil(current x metric / target) per metric, the largest wins; a tolerance;
// stabilization windows; rate limits per period; conservative rules for pods
// without metrics), made rollout-aware: it works from the deployment's spec
// replicas and the ready VMs of its current revision only, so surge VMs never
// inflate it (kubernetes#72775: 383 -> 479 -> 589 -> 664 replicas during one
// rollout), and each autoscaler has its own tolerance (kubernetes#62013).
//
// No clock, no I/O: the caller passes samples and `now`.

#include "events/types.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace volant {

/// The metrics of the guide's HPA YAML. The numbers are persisted: append only.
enum class metric_kind : std::uint8_t {
  cpu = 0,      ///< % of the VM's --cpu (averageUtilization)
  memory = 1,   ///< % of the VM's --memory (averageUtilization)
  requests = 2, ///< requests/s per VM through its load balancer (averageValue)
};

std::string_view to_string(metric_kind kind) noexcept;

struct metric_target {
  metric_kind kind = metric_kind::cpu;
  double target = 0; ///< a percentage (cpu, memory) or requests/s per VM
  friend bool operator==(const metric_target&, const metric_target&) = default;
};

/// How fast one direction may go: within any `period_seconds`, by at most the
/// larger of `max_percent` % and `max_vms` VMs (below 0: that policy is off;
/// both off: no limit). A recommendation in this direction waits out
/// `stabilization_seconds`: up takes the lowest, down the highest of the
/// recommendations made within the window.
struct scaling_rules {
  std::int64_t stabilization_seconds = 0;
  std::int32_t max_percent = 100;
  std::int32_t max_vms = 4;
  std::int64_t period_seconds = 15;
  friend bool operator==(const scaling_rules&, const scaling_rules&) = default;
};

/// An autoscaler of one deployment. Kubernetes' defaults: tolerance 0.1; up
/// without stabilization, the larger of +100 % and +4 per 15 s; down after 300 s
/// of stabilization, at most -100 % per 15 s.
struct autoscaler_spec {
  std::string name;
  std::string deployment;
  std::int32_t min_replicas = 1;
  std::int32_t max_replicas = 1;
  std::vector<metric_target> metrics;
  double tolerance = 0.1;
  scaling_rules up{0, 100, 4, 15};
  scaling_rules down{300, 100, -1, 15};
  friend bool operator==(const autoscaler_spec&, const autoscaler_spec&) = default;
};

/// One VM's latest sample. A value is absent when it could not be measured.
struct vm_sample {
  std::string vm;
  bool ready = false;            ///< READY now
  bool current_revision = true;  ///< of the deployment's current revision
  std::optional<double> cpu_percent;
  std::optional<double> memory_percent;
  std::optional<double> requests_per_second;
};

/// What the autoscaler sees of its deployment at one evaluation.
struct scaling_view {
  std::int32_t spec_replicas = 0; ///< the deployment's desired count
  /// A rollout is in progress (VMs of several revisions): only the current
  /// revision's ready VMs count, and a scale-down waits for it to finish.
  bool rolling_out = false;
  std::vector<vm_sample> samples;
  /// Why the deployment cannot have a requests metric (no load balancer):
  /// the metric is reported missing with this reason and ignored. Empty: it
  /// is measured, and a VM without a sample is a missing sample.
  std::string missing_requests;
};

/// A recommendation made earlier (the stabilization windows read them).
struct past_recommendation {
  unix_nanos at = 0;
  std::int32_t replicas = 0;
};

/// A scaling of the deployment, by anyone (the rate limits read them).
struct past_scaling {
  unix_nanos at = 0;
  std::int32_t from = 0;
  std::int32_t to = 0;
};

/// One metric's part of a recommendation.
struct metric_result {
  metric_kind kind = metric_kind::cpu;
  double target = 0;
  std::optional<double> average; ///< over the VMs counted; absent: no sample
  std::int32_t proposed = 0;     ///< its replica count (spec replicas if none)
  std::string note;              ///< "missing: ...", "within tolerance", ...
};

struct recommendation {
  std::int32_t replicas = 0; ///< what to scale to (== spec replicas: no change)
  std::int32_t proposed = 0; ///< the largest metric proposal, clamped to min/max
  std::vector<metric_result> metrics;
  /// Why `replicas` is what it is, in one line with the numbers: "cpu 85 % of
  /// 70 % -> 5", "stabilization: 4 within the last 300 s", "rate limit: +4 per
  /// 15 s".
  std::string reason;
};

/// Turns cumulative counters (a run's CPU seconds, a server's requests) into
/// rates: per key, the change since its previous sample over the time between.
/// The metrics collector keeps one per counter kind.
class rate_tracker {
public:
  /// The per-second rate of `key` since its previous sample; nullopt for its
  /// first sample, a counter that went backwards (a new run or a restarted
  /// HAProxy: the next sample has a rate again), or no time between.
  std::optional<double> sample(const std::string& key, double value, unix_nanos at);
  /// Forgets the keys not sampled since the previous call (VMs gone).
  void end_round();
  std::size_t size() const { return last_.size(); }

private:
  struct entry {
    double value = 0;
    unix_nanos at = 0;
    bool seen = false;
  };
  std::map<std::string, entry> last_;
};

/// A VM's CPU use in % of its vCPUs, from CPU seconds used per second.
double cpu_percent(double cpu_seconds_per_second, std::int32_t cpus);

/// A VM's memory use in % of its memory.
double memory_percent(std::uint64_t bytes, std::int64_t memory_mib);

/// The replica count `spec` recommends at `now` (see the file comment).
/// `history`: this autoscaler's earlier recommendations (oldest first);
/// `scalings`: the deployment's scalings (oldest first).
recommendation recommend(const autoscaler_spec& spec, const scaling_view& view,
                         const std::vector<past_recommendation>& history,
                         const std::vector<past_scaling>& scalings, unix_nanos now);

} // namespace volant
