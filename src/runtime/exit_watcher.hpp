#pragma once

// One thread watches every workload's exit through pidfds on an event_loop, so
// that a thousand VMs cost one thread. Children of this process are reaped with
// their exit status; adopted workloads (started by an earlier daemon) report
// exit without a status.

#include "events/error.hpp"
#include "runtime/event_loop.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace volant::runtime {

/// How a workload ended.
struct exit_status {
  std::int64_t pid = 0;  ///< the process that ended
  std::int32_t code = 0; ///< >= 0 exit status, < 0 killed by signal -N; see `known`
  bool known = true;     ///< false for adopted workloads (not our children)
  std::string reason;    ///< "exited with status 3", "killed by signal 9 (KILL)"
};

class exit_watcher {
public:
  using callback = std::function<void(const exit_status&)>;

  exit_watcher();
  ~exit_watcher();
  exit_watcher(const exit_watcher&) = delete;
  exit_watcher& operator=(const exit_watcher&) = delete;

  /// Calls `on_exit` once, from the watcher thread, when `pid` (started at
  /// `ticks`, 0: any) ends. If it is already gone, soon after. A second watch of the
  /// same pid replaces the first. Returns the watch's id (for `unwatch`).
  expected<std::uint64_t> watch(std::int64_t pid, std::uint64_t ticks, callback on_exit);

  /// Stops the watch `id` of `pid` (its callback will not be called); a newer watch
  /// of the same pid stays.
  void unwatch(std::int64_t pid, std::uint64_t id);

  /// How many pids are watched.
  std::size_t size() const;

private:
  void on_pidfd_ready(std::int64_t pid, std::uint64_t id);

  mutable std::mutex mtx_;
  struct entry {
    int fd = -1;
    callback cb;
    std::uint64_t id = 0;
  };
  std::map<std::int64_t, entry> watched_; // pid -> its watch
  std::uint64_t next_id_ = 1;
  // Last: stopped (first) before the watches its handlers touch are destroyed.
  event_loop loop_;
};

} // namespace volant::runtime
