#include "events/plan.hpp"

#include <algorithm>

namespace volant {

std::optional<event> observe(probe_state& state, const std::string& vm,
                             const health_check& check,
                             const probe_sample& sample) {
  state.recent.push_back(sample);
  if (state.recent.size() > probe_history)
    state.recent.erase(state.recent.begin(),
                       state.recent.end()
                           - static_cast<std::ptrdiff_t>(probe_history));
  if (sample.ok) {
    state.successes_in_row += 1;
    state.failures_in_row = 0;
    if (state.verdict == probe_verdict::healthy)
      return std::nullopt;
    state.verdict = probe_verdict::healthy;
    return event{vm_ready{vm, sample.at}};
  }
  state.failures_in_row += 1;
  state.successes_in_row = 0;
  // A threshold of 0 is invalid (validate_health_check); treat it as 1 here.
  auto threshold = std::max<std::uint32_t>(check.unhealthy_threshold, 1);
  if (state.failures_in_row < threshold
      || state.verdict == probe_verdict::unhealthy)
    return std::nullopt;
  state.verdict = probe_verdict::unhealthy;
  return event{vm_unhealthy{vm, sample.error, sample.at}};
}

std::uint64_t probe_delay_ms(const probe_state& state, const health_check& check) {
  std::uint64_t interval = std::uint64_t{check.interval_seconds} * 1000;
  if (state.verdict == probe_verdict::unknown)
    return std::min(interval, startup_probe_ms);
  return interval;
}

bool failure_counts(const probe_state& state, const health_check& check,
                    std::uint64_t ms_since_start) {
  if (state.verdict != probe_verdict::unknown)
    return true;
  std::uint64_t grace = std::uint64_t{check.interval_seconds} * 1000
                        * std::max<std::uint32_t>(check.unhealthy_threshold, 1);
  return ms_since_start >= grace;
}

} // namespace volant
