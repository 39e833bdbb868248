#pragma once

// The shared, bounded I/O facility of health checks: one event_loop thread
// multiplexes every HTTP and TCP check over non-blocking sockets, with per-check
// deadlines. Hundreds of probes cost one thread and at most `max_in_flight`
// sockets; checks beyond that wait in a queue.

#include "events/types.hpp"
#include "runtime/event_loop.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace volant::runtime {

/// One check's outcome.
struct check_result {
  bool ok = false;
  std::string error;            ///< "connection refused", "HTTP 503", "timed out after 1000 ms"
  std::uint64_t latency_us = 0;
};

/// An HTTP GET (when `path` is set: healthy on 2xx/3xx) or a TCP connect.
struct check_request {
  ipv4 ip = 0;
  std::uint16_t port = 0;
  std::string path; ///< empty: TCP connect only
  std::chrono::milliseconds timeout{1000};
  std::function<void(const check_result&)> done; ///< called on the prober thread
};

class prober {
public:
  explicit prober(std::size_t max_in_flight = 256);
  ~prober();
  prober(const prober&) = delete;
  prober& operator=(const prober&) = delete;

  /// Queues a check; `done` is called exactly once.
  void submit(check_request request);

  /// Checks started and not finished.
  std::size_t in_flight() const;

  struct connection;

private:
  /// After every wake-up of the loop: expires deadlines, starts queued checks;
  /// returns the next deadline.
  std::optional<std::chrono::steady_clock::time_point> tick();
  void start(check_request request);
  void finish(std::uint64_t id, check_result result);
  void on_ready(std::uint64_t id, std::uint32_t events);

  std::size_t max_in_flight_;
  mutable std::mutex mtx_;
  std::deque<check_request> queue_; ///< submitted, not started (guarded by mtx_)
  // Below: touched only by the loop thread.
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, std::unique_ptr<connection>> live_;
  std::multimap<std::chrono::steady_clock::time_point, std::uint64_t> deadlines_;
  std::size_t live_count_ = 0; ///< mirror of live_.size() for in_flight() (guarded by mtx_)
  // Last: stopped (first) before the connections its handlers touch are destroyed.
  event_loop loop_;
};

} // namespace volant::runtime
