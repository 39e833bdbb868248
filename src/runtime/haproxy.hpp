#pragma once

// volantd's one HAProxy (issue 13, docs/traffic.md): started in master-worker
// mode at the first load balancer, in a session of its own so that it keeps
// serving while volantd is down (kill -9 included), adopted from its pid file
// when volantd comes back, reloaded hitlessly (SIGUSR2 to the master) with
// every new configuration, restarted if it dies, stopped when the last load
// balancer is deleted. The configuration is rendered by the pure core
// (events/lb.hpp); a new one is checked with `haproxy -c` before it replaces
// the one in force, so a bad one never takes the running one down.
//
// A thread of its own does the process work; `apply` only hands it the text.

#include "events/lb.hpp"

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace volant::runtime {

class haproxy_supervisor {
public:
  struct options {
    std::string binary = "haproxy";
    std::string dir; ///< its config, pid file, socket and log (`<data-dir>/haproxy`)
  };

  /// What it is doing, for `lb show` and inspection.
  struct status {
    bool wanted = false;   ///< a configuration with load balancers is in force
    bool running = false;
    std::int64_t pid = 0;  ///< the master
    bool adopted = false;  ///< found running when volantd started
    std::uint32_t starts = 0;
    std::uint32_t reloads = 0;
    std::string last_error; ///< the last start, check or reload that failed
  };

  explicit haproxy_supervisor(options opts);
  /// Stops the thread; HAProxy keeps running (the next volantd adopts it).
  ~haproxy_supervisor();
  haproxy_supervisor(const haproxy_supervisor&) = delete;
  haproxy_supervisor& operator=(const haproxy_supervisor&) = delete;

  /// Where the configuration puts the runtime files.
  haproxy_paths paths() const;

  /// The configuration to serve; an empty text stops HAProxy (no load balancer).
  /// The latest one wins.
  void apply(std::string config);

  status state() const;

  /// Sends one command to the runtime API ("show stat") and returns its answer;
  /// nullopt if HAProxy cannot be reached. Blocking, at most `timeout_ms`.
  std::optional<std::string> runtime_command(const std::string& command,
                                             int timeout_ms = 1000) const;

  /// The master's pid from the pid file when it runs HAProxy (0: none).
  std::int64_t find_running() const;

private:
  void loop();
  void install(const std::string& config);
  void start();
  bool alive();

  options opts_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::string> pending_;
  std::string current_; ///< the configuration in force (the thread's)
  status work_;         ///< the thread's view
  status st_;           ///< published under mu_
  bool our_child_ = false;
  bool stop_ = false;
  std::thread thread_;
};

} // namespace volant::runtime
