#pragma once

// volantd's one HAProxy (issue 13, docs/traffic.md): started in master-worker
// mode at the first load balancer, in a session of its own so that it keeps
// serving while volantd is down (kill -9 included), adopted from its pid file
// when volantd comes back, reloaded hitlessly (SIGUSR2 to the master) with
// every new frame (frontends and backends), restarted if it dies, stopped when
// the last load balancer is deleted. The configuration is rendered by the pure
// core (events/lb.hpp); a new frame is checked with `haproxy -c` before it
// replaces the one in force, so a bad one never takes the running one down.
//
// Each load balancer has two backends; its frontend uses the one a map names.
// A blue-green switch fills the other backend with the new target's servers,
// then `set map` flips the frontend to it atomically (no request can reach the
// old target after the first one reached the new), then the old backend's
// servers drain.
//
// Servers change through the runtime API, without a reload: a new one is added,
// its check and itself enabled; one that leaves is drained (no new requests),
// then, at zero sessions or after its load balancer's drain timeout, put in
// maintenance, its sessions shut and deleted. Every tick compares what HAProxy
// serves (`show servers state`) with what it should, so a lost command or a
// lost reload is mended; the configuration file always holds the servers too,
// for a restart.
//
// A thread of its own does the process work; `apply` only hands it the views.

#include "events/lb.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
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
    /// Told, from the supervisor's thread, when a server that left load
    /// balancer `lb` has no session left (or its drain timed out): VM `vm` may
    /// stop. May be told more than once.
    std::function<void(const std::string& lb, const std::string& vm)> on_drained;
  };

  /// One server as HAProxy reports it (`show stat`, at most a tick old).
  struct server_stat {
    std::string lb;
    std::string server;
    std::string vm;
    std::string status;          ///< UP, DOWN, DRAIN, MAINT, ...
    std::uint64_t sessions = 0;  ///< current
    std::uint64_t total = 0;     ///< sessions since it was added
    std::uint64_t requests = 0;  ///< HTTP requests since it was added
    bool draining = false;       ///< leaving: no new requests
  };

  /// What it is doing, for `lb show` and inspection.
  struct status {
    bool wanted = false;   ///< a configuration with load balancers is in force
    bool running = false;
    std::int64_t pid = 0;  ///< the master
    bool adopted = false;  ///< found running when volantd started
    std::uint32_t starts = 0;
    std::uint32_t reloads = 0;
    std::uint64_t api_commands = 0; ///< runtime API changes (servers added, drained, ...)
    std::string last_error; ///< the last start, check or reload that failed
  };

  explicit haproxy_supervisor(options opts);
  /// Stops the thread; HAProxy keeps running (the next volantd adopts it).
  ~haproxy_supervisor();
  haproxy_supervisor(const haproxy_supervisor&) = delete;
  haproxy_supervisor& operator=(const haproxy_supervisor&) = delete;

  /// Where the configuration puts the runtime files.
  haproxy_paths paths() const;

  /// The load balancers to serve; none stops HAProxy. The latest call wins.
  void apply(std::vector<lb_view> lbs);

  status state() const;

  /// Every server of every load balancer, from the last tick.
  std::vector<server_stat> stats() const;

  /// Sends one command to the runtime API ("show stat") and returns its answer;
  /// nullopt if HAProxy cannot be reached. Blocking, at most `timeout_ms`.
  std::optional<std::string> runtime_command(const std::string& command,
                                             int timeout_ms = 1000) const;

  /// The master's pid from the pid file when it runs HAProxy (0: none).
  std::int64_t find_running() const;

private:
  using clock = std::chrono::steady_clock;
  struct drain {
    clock::time_point since;
    std::uint32_t timeout_ms = 0;
    std::string lb, vm;
  };

  void loop();
  void step(bool changed);
  bool install(const std::string& config);
  void stop_all();
  void start();
  bool alive();
  void reload();
  std::int64_t worker_pid() const;
  void read_stats();
  void sync_lb(const lb_view& lb, const std::map<std::string, std::string>& map_now);
  bool sync_backend(const lb_view& lb, const std::string& be,
                    const std::vector<lb_server>& servers);
  void choose_slots();
  std::map<std::string, std::string> read_map();
  std::string send(const std::string& command);

  options opts_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::vector<lb_view>> pending_;
  // The thread's own:
  std::optional<std::vector<lb_view>> desired_; ///< nullopt: not told yet (adopted)
  std::string frame_;   ///< the frame in force
  std::string written_; ///< the configuration file's text
  lb_slots slots_;      ///< the backend each LB serves from
  std::map<std::string, std::string> slot_target_; ///< the deployment in it
  std::map<std::string, drain> draining_; ///< "backend/server"
  std::map<std::pair<std::string, std::string>, server_stat> stat_; ///< (backend, server)
  bool reload_pending_ = false;
  bool stats_ok_ = false; ///< the last `show stat` was answered
  clock::time_point quick_until_{}; ///< quick ticks after a change (fresh `lb show`)
  std::int64_t reload_from_ = 0; ///< the worker before the reload
  clock::time_point reload_at_{};
  status work_;         ///< the thread's view
  status st_;           ///< published under mu_
  std::vector<server_stat> published_stats_;
  bool our_child_ = false;
  bool stop_ = false;
  std::thread thread_;
};

} // namespace volant::runtime
