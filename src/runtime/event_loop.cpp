#include "runtime/event_loop.hpp"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace volant::runtime {

namespace {

constexpr std::uint64_t wake_id = 0;
constexpr int max_events = 128;

status epoll_error(const char* what) {
  return make_error(ec::io_error, std::string(what) + ": " + std::strerror(errno));
}

/// Milliseconds epoll_wait may sleep to be back at `next` (-1: no limit). One
/// millisecond more than the truncated difference, so that a deadline is never
/// woken for just before it passes.
int timeout_until(const std::optional<event_loop::clock::time_point>& next) {
  if (!next)
    return -1;
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
                *next - event_loop::clock::now())
                .count();
  return static_cast<int>(std::clamp<std::int64_t>(wait + 1, 0, 1 << 30));
}

} // namespace

event_loop::event_loop(const std::string& name, tick_handler tick)
  : tick_(std::move(tick)) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = wake_id;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  thread_ = std::thread([this] { run(); });
  pthread_setname_np(thread_.native_handle(), name.substr(0, 15).c_str());
}

event_loop::~event_loop() {
  stop();
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

status event_loop::add(int fd, std::uint32_t events, fd_handler on_ready) {
  std::lock_guard guard(mtx_);
  if (id_of_fd_.count(fd) != 0)
    return make_error(ec::io_error, "fd " + std::to_string(fd) + " is already watched");
  auto id = next_id_++;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = id;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0)
    return epoll_error("epoll_ctl");
  by_id_.emplace(id, registration{fd, std::make_shared<fd_handler>(std::move(on_ready))});
  id_of_fd_.emplace(fd, id);
  return ok();
}

status event_loop::modify(int fd, std::uint32_t events) {
  std::lock_guard guard(mtx_);
  auto it = id_of_fd_.find(fd);
  if (it == id_of_fd_.end())
    return make_error(ec::io_error, "fd " + std::to_string(fd) + " is not watched");
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = it->second;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0)
    return epoll_error("epoll_ctl");
  return ok();
}

void event_loop::remove(int fd) {
  std::lock_guard guard(mtx_);
  auto it = id_of_fd_.find(fd);
  if (it == id_of_fd_.end())
    return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  by_id_.erase(it->second);
  id_of_fd_.erase(it);
}

void event_loop::post(std::function<void()> work) {
  {
    std::lock_guard guard(mtx_);
    posted_.push_back(std::move(work));
  }
  wake();
}

void event_loop::wake() {
  std::uint64_t one = 1;
  (void) !::write(wake_fd_, &one, sizeof one);
}

void event_loop::stop() {
  {
    std::lock_guard guard(mtx_);
    stopping_ = true;
  }
  wake();
  // The loop's own thread cannot join itself: it ends at its next check.
  if (thread_.joinable() && !on_loop_thread())
    thread_.join();
}

std::size_t event_loop::size() const {
  std::lock_guard guard(mtx_);
  return by_id_.size();
}

bool event_loop::on_loop_thread() const {
  return std::this_thread::get_id() == thread_.get_id();
}

void event_loop::drain_wake_fd() {
  std::uint64_t count;
  (void) !::read(wake_fd_, &count, sizeof count);
}

void event_loop::run() {
  epoll_event events[max_events];
  std::optional<clock::time_point> next;
  std::vector<std::function<void()>> work;
  for (;;) {
    int n = epoll_wait(epoll_fd_, events, max_events, timeout_until(next));
    for (int i = 0; i < n; ++i) {
      auto id = events[i].data.u64;
      if (id == wake_id) {
        drain_wake_fd();
        continue;
      }
      std::shared_ptr<fd_handler> handler;
      {
        std::lock_guard guard(mtx_);
        if (stopping_)
          return;
        auto it = by_id_.find(id);
        if (it == by_id_.end())
          continue; // removed earlier in this batch
        handler = it->second.handler;
      }
      (*handler)(events[i].events);
    }
    {
      std::lock_guard guard(mtx_);
      if (stopping_)
        return;
      work.swap(posted_);
    }
    for (auto& w : work)
      w();
    work.clear();
    if (tick_)
      next = tick_();
  }
}

} // namespace volant::runtime
