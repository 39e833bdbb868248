#pragma once

// One thread running epoll, shared by the runtime's I/O watchers (workload exits,
// health-check sockets), so that each of them is a set of callbacks rather than
// a hand-written loop with its own wake-up and shutdown logic.
//
// Callbacks run on the loop thread, one at a time, never under the loop's lock:
// a callback may add, modify or remove registrations and post work.

#include "events/error.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace volant::runtime {

class event_loop {
public:
  using clock = std::chrono::steady_clock;
  /// Called with the epoll event bits (EPOLLIN, EPOLLOUT, EPOLLHUP, ...).
  using fd_handler = std::function<void(std::uint32_t events)>;
  /// Called on the loop thread after every wake-up (ready fds, posted work, a
  /// wake() or a deadline); returns when it wants to be called next at the
  /// latest (nullopt: only on the next wake-up).
  using tick_handler = std::function<std::optional<clock::time_point>()>;

  /// Starts the thread, named `name` (at most 15 characters are kept).
  explicit event_loop(const std::string& name, tick_handler tick = {});
  /// Stops the loop (see stop()).
  ~event_loop();
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;

  /// Watches `fd` for `events`; `on_ready` runs on the loop thread until
  /// remove(fd). The caller keeps owning `fd` (and closes it after remove()).
  /// One registration per fd. Any thread.
  status add(int fd, std::uint32_t events, fd_handler on_ready);

  /// Changes the events of a registered fd. Any thread.
  status modify(int fd, std::uint32_t events);

  /// Forgets `fd`: no call of its handler starts after this returns (one that
  /// already started on the loop thread may still be running). Any thread; a
  /// no-op for an unknown fd.
  void remove(int fd);

  /// Runs `work` on the loop thread soon, after the ready fds of the current
  /// round, in the order posted. Work not yet run at stop() is dropped. Any thread.
  void post(std::function<void()> work);

  /// Wakes the loop so that the tick handler runs. Any thread.
  void wake();

  /// Ends the thread and waits for it (from any thread but the loop's own);
  /// handlers and posted work not yet started never run. Idempotent.
  void stop();

  /// How many fds are registered.
  std::size_t size() const;

  /// True when called from a handler, posted work or the tick.
  bool on_loop_thread() const;

private:
  void run();
  void drain_wake_fd();

  struct registration {
    int fd = -1;
    std::shared_ptr<fd_handler> handler;
  };

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  tick_handler tick_;
  mutable std::mutex mtx_;
  // Registrations are keyed by an id that is never reused, so that an event of a
  // removed fd, still in the current epoll batch, cannot reach a new
  // registration of the same fd number.
  std::map<std::uint64_t, registration> by_id_; // guarded by mtx_
  std::map<int, std::uint64_t> id_of_fd_;       // guarded by mtx_
  std::uint64_t next_id_ = 1;                   // guarded by mtx_; 0 = wake fd
  std::vector<std::function<void()>> posted_;   // guarded by mtx_
  bool stopping_ = false;                       // guarded by mtx_
  std::thread thread_;
};

} // namespace volant::runtime
