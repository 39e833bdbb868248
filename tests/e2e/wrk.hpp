#pragma once

// Debian's `wrk` as the e2e tests' load: run in the background from
// construction until finish(), as many requests as it can or (a Lua script's
// `delay()`, wrk 4.1 has no -R) a fixed rate.

#include "support/process.hpp"

#include <string>
#include <thread>

namespace volant::e2e {

/// What wrk said at its end.
struct wrk_result {
  long requests = 0;
  long socket_errors = 0; ///< connect + read + write + timeout
  long bad_status = 0;    ///< non-2xx or 3xx
  double per_second = 0;
  std::string text;
};

wrk_result parse_wrk(const std::string& text);

struct wrk_options {
  int threads = 2;
  int connections = 8;
  /// Requests per second over all connections; 0: as fast as it can. Each
  /// connection waits connections/rate s before its next request, so the
  /// rate is a ceiling the answers' latency lowers a little.
  double rate = 0;
  /// A network namespace (the test's own) to run wrk in; empty: this one.
  std::string netns = {};
};

/// wrk against `url` from construction until finish() (SIGINT: it prints its
/// totals and exits).
class wrk_load {
public:
  explicit wrk_load(const std::string& url, wrk_options options = {});
  ~wrk_load();
  wrk_load(const wrk_load&) = delete;
  wrk_load& operator=(const wrk_load&) = delete;

  wrk_result finish();

private:
  int pid() const;

  test::temp_dir dir_;
  std::thread thread_;
  std::string out_;
};

} // namespace volant::e2e
