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

crash_response on_crash(crash_history& history, unix_nanos now) {
  auto window = static_cast<unix_nanos>(crash_window_ms) * 1'000'000;
  if (history.last_at == 0 || now - history.last_at > window)
    history.recent = 0;
  history.recent += 1;
  history.last_at = now;
  crash_response r;
  if (history.recent >= crash_limit) {
    r.escalate = true;
    return r;
  }
  if (history.recent > 3) {
    auto shift = std::min<std::uint32_t>(history.recent - 4, 20);
    r.delay_ms = std::min<std::uint64_t>(std::uint64_t{100} << shift, 10000);
  }
  return r;
}

} // namespace volant
