#include "events/autoscale.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace volant {

namespace {

constexpr unix_nanos second = 1'000'000'000;

std::optional<double> value_of(const vm_sample& s, metric_kind kind) {
  switch (kind) {
  case metric_kind::cpu:
    return s.cpu_percent;
  case metric_kind::memory:
    return s.memory_percent;
  case metric_kind::requests:
    return s.requests_per_second;
  }
  return std::nullopt;
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, v == std::floor(v) && std::fabs(v) < 1e12 ? "%.0f" : "%.1f", v);
  return buf;
}

std::string amount(metric_kind kind, double v) {
  return kind == metric_kind::requests ? number(v) + " req/s" : number(v) + " %";
}

/// One metric's proposal, Kubernetes' way, over the current revision's VMs.
metric_result propose(const metric_target& m, const autoscaler_spec& spec,
                      const scaling_view& view) {
  metric_result out{m.kind, m.target, std::nullopt, view.spec_replicas, {}};
  double sum = 0;
  std::int32_t measured = 0, missing = 0, unready = 0;
  for (const auto& s : view.samples) {
    if (!s.current_revision)
      continue; // an older revision's VM (a rollout's) never counts
    if (!s.ready) {
      ++unready;
      continue;
    }
    if (auto v = value_of(s, m.kind)) {
      sum += *v;
      ++measured;
    } else {
      ++missing;
    }
  }
  if (measured == 0) {
    out.note = m.kind == metric_kind::requests && !view.missing_requests.empty()
                   ? "missing: " + view.missing_requests
                   : "missing: no ready VM has a sample";
    return out;
  }
  double average = sum / measured;
  out.average = average;
  double ratio = m.target > 0 ? average / m.target : 1;
  auto base = view.spec_replicas;
  if (std::fabs(ratio - 1) <= spec.tolerance) {
    out.note = "within tolerance";
    return out;
  }
  // VMs without a sample count against the move: as idle when scaling up
  // (unready ones too, as they are about to take load), as at the target when
  // scaling down.
  double adjusted = ratio > 1 ? sum / (measured + missing + unready)
                              : (sum + missing * m.target) / (measured + missing);
  double new_ratio = m.target > 0 ? adjusted / m.target : 1;
  if ((ratio > 1 && new_ratio <= 1 + spec.tolerance)
      || (ratio < 1 && new_ratio >= 1 - spec.tolerance)) {
    out.note = "VMs without a sample hold it";
    return out;
  }
  out.proposed = static_cast<std::int32_t>(std::ceil(new_ratio * base - 1e-9));
  out.note = amount(m.kind, average) + " of " + amount(m.kind, m.target) + " -> "
             + std::to_string(out.proposed);
  return out;
}

/// The most the rules let the count reach from `spec` now, given the
/// scalings of the last period (in the same direction).
std::int32_t rate_limit(const scaling_rules& r, bool up, std::int32_t spec,
                        const std::vector<past_scaling>& scalings, unix_nanos now) {
  std::int64_t moved = 0;
  for (const auto& s : scalings)
    if (s.at > now - r.period_seconds * second && s.at <= now && (s.to > s.from) == up)
      moved += up ? s.to - s.from : s.from - s.to;
  std::int64_t start = up ? spec - moved : spec + moved;
  start = std::max<std::int64_t>(start, 0);
  if (r.max_percent < 0 && r.max_vms < 0)
    return up ? std::numeric_limits<std::int32_t>::max() : 0;
  if (up) {
    std::int64_t limit = start;
    if (r.max_percent >= 0)
      limit = std::max<std::int64_t>(
          limit, static_cast<std::int64_t>(std::ceil(start * (1 + r.max_percent / 100.0))));
    if (r.max_vms >= 0)
      limit = std::max<std::int64_t>(limit, start + r.max_vms);
    return static_cast<std::int32_t>(std::min<std::int64_t>(limit, 1 << 30));
  }
  std::int64_t limit = start;
  if (r.max_percent >= 0)
    limit = std::min<std::int64_t>(
        limit, static_cast<std::int64_t>(std::ceil(start * (1 - r.max_percent / 100.0))));
  if (r.max_vms >= 0)
    limit = std::min<std::int64_t>(limit, start - r.max_vms);
  return static_cast<std::int32_t>(std::max<std::int64_t>(limit, 0));
}

} // namespace

std::optional<double> rate_tracker::sample(const std::string& key, double value, unix_nanos at) {
  auto& e = last_[key];
  std::optional<double> rate;
  if (e.at != 0 && at > e.at && value >= e.value)
    rate = (value - e.value) / (static_cast<double>(at - e.at) / second);
  e = {value, at, true};
  return rate;
}

void rate_tracker::end_round() {
  for (auto it = last_.begin(); it != last_.end();) {
    if (!it->second.seen) {
      it = last_.erase(it);
      continue;
    }
    it->second.seen = false;
    ++it;
  }
}

double cpu_percent(double cpu_seconds_per_second, std::int32_t cpus) {
  return cpus > 0 ? cpu_seconds_per_second / cpus * 100 : 0;
}

double memory_percent(std::uint64_t bytes, std::int64_t memory_mib) {
  return memory_mib > 0 ? static_cast<double>(bytes) / (static_cast<double>(memory_mib) * 1048576) * 100
                        : 0;
}

std::string_view to_string(metric_kind kind) noexcept {
  switch (kind) {
  case metric_kind::cpu:
    return "cpu";
  case metric_kind::memory:
    return "memory";
  case metric_kind::requests:
    return "requests";
  }
  return "unknown";
}

recommendation recommend(const autoscaler_spec& spec, const scaling_view& view,
                         const std::vector<past_recommendation>& history,
                         const std::vector<past_scaling>& scalings, unix_nanos now) {
  recommendation out;
  auto current = view.spec_replicas;
  out.replicas = out.proposed = current;
  if (current == 0) {
    out.reason = "scaled to 0: autoscaling is off until the deployment is scaled up";
    return out;
  }
  bool any = false, missing = false;
  std::int32_t best = 0;
  std::string why;
  for (const auto& m : spec.metrics) {
    auto r = propose(m, spec, view);
    if (r.average) {
      if (!any || r.proposed > best) {
        best = r.proposed;
        why = std::string(to_string(m.kind)) + " " + r.note;
      }
      any = true;
    } else if (!(m.kind == metric_kind::requests && !view.missing_requests.empty())) {
      // A metric that cannot be measured now (no sample yet) holds a
      // scale-down; one this deployment cannot have (requests without a load
      // balancer) is only reported.
      missing = true;
    }
    out.metrics.push_back(std::move(r));
  }
  if (!any) {
    out.reason = "no metric has a sample: holding at " + std::to_string(current);
    return out;
  }
  if (best < current && missing) {
    out.reason = "a metric is missing: no scale-down (holding at " + std::to_string(current) + ")";
    return out;
  }
  if (best < current && view.rolling_out) {
    out.reason = "rollout in progress: no scale-down until it completes";
    return out;
  }
  auto clamped = std::clamp(best, spec.min_replicas, std::max(spec.min_replicas, spec.max_replicas));
  if (clamped != best)
    why += " (clamped to " + std::to_string(clamped) + ", min " + std::to_string(spec.min_replicas)
           + ", max " + std::to_string(spec.max_replicas) + ")";
  out.proposed = clamped;
  // Stabilization: up takes the lowest, down the highest recommendation of
  // its window, this one included.
  auto up_rec = clamped, down_rec = clamped;
  for (const auto& h : history) {
    if (h.at > now)
      continue;
    if (h.at >= now - spec.up.stabilization_seconds * second)
      up_rec = std::min(up_rec, h.replicas);
    if (h.at >= now - spec.down.stabilization_seconds * second)
      down_rec = std::max(down_rec, h.replicas);
  }
  auto target = current;
  if (up_rec > current)
    target = up_rec;
  if (down_rec < current)
    target = down_rec;
  if (target != clamped)
    why += target == current
               ? "; stabilization: holding at " + std::to_string(current) + " (window "
                     + std::to_string(clamped > current ? spec.up.stabilization_seconds
                                                        : spec.down.stabilization_seconds)
                     + " s)"
               : "; stabilization: " + std::to_string(target);
  if (target > current) {
    auto limit = rate_limit(spec.up, true, current, scalings, now);
    if (target > limit) {
      target = std::max(current, limit);
      why += "; rate limit: " + std::to_string(target) + " for now";
    }
  } else if (target < current) {
    auto limit = rate_limit(spec.down, false, current, scalings, now);
    if (target < limit) {
      target = std::min(current, limit);
      why += "; rate limit: " + std::to_string(target) + " for now";
    }
  }
  out.replicas = target;
  out.reason = why;
  return out;
}

} // namespace volant
