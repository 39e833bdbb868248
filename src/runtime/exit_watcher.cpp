#include "runtime/exit_watcher.hpp"

#include "runtime/proc.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace volant::runtime {

namespace {

int pidfd_open(std::int64_t pid) {
  return static_cast<int>(syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0));
}

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return "killed by signal " + std::to_string(sig)
         + (abbrev ? " (SIG" + std::string(abbrev) + ")" : "");
}

/// Reaps our child through its pidfd; an adopted workload yields an unknown status.
exit_status reap(int pidfd) {
  siginfo_t info{};
  if (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info,
             WEXITED | WNOHANG)
        != 0
      || info.si_pid == 0)
    return {0, 0, false, "exited while not supervised by this daemon (status unknown)"};
  if (info.si_code == CLD_EXITED)
    return {info.si_pid, info.si_status, true,
            "exited with status " + std::to_string(info.si_status)};
  return {info.si_pid, -info.si_status, true, signal_name(info.si_status)};
}

} // namespace

exit_watcher::exit_watcher() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0; // pid 0 == wake-up
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  thread_ = std::thread([this] { loop(); });
}

exit_watcher::~exit_watcher() {
  {
    std::lock_guard guard(mtx_);
    for (auto& [pid, e] : watched_)
      ::close(e.fd);
    watched_.clear();
    watched_.emplace(-1, entry{}); // marks shutdown
  }
  std::uint64_t one = 1;
  (void) !write(wake_fd_, &one, sizeof one);
  thread_.join();
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

expected<std::uint64_t> exit_watcher::watch(std::int64_t pid, std::uint64_t ticks,
                                            callback on_exit) {
  int fd = pidfd_open(pid);
  if (fd < 0) {
    // Already gone: report from the watcher thread like any other exit.
    if (errno != ESRCH)
      return make_error(ec::io_error, "pidfd_open(" + std::to_string(pid)
                                        + "): " + std::strerror(errno));
  } else if (ticks != 0 && start_ticks(pid) != ticks) {
    ::close(fd); // the pid was reused by a stranger: the workload is gone
    fd = -1;
  }
  std::lock_guard guard(mtx_);
  if (fd < 0) {
    gone_.emplace_back(pid, std::move(on_exit));
    std::uint64_t one = 1;
    (void) !write(wake_fd_, &one, sizeof one);
    return next_id_++;
  }
  if (auto it = watched_.find(pid); it != watched_.end()) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->second.fd, nullptr);
    ::close(it->second.fd);
    watched_.erase(it);
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = static_cast<std::uint64_t>(pid);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    ::close(fd);
    return make_error(ec::io_error, "epoll_ctl: " + std::string(std::strerror(errno)));
  }
  auto id = next_id_++;
  watched_.emplace(pid, entry{fd, std::move(on_exit), id});
  return id;
}

void exit_watcher::unwatch(std::int64_t pid, std::uint64_t id) {
  std::lock_guard guard(mtx_);
  if (auto it = watched_.find(pid); it != watched_.end() && it->second.id == id) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->second.fd, nullptr);
    ::close(it->second.fd);
    watched_.erase(it);
  }
}

std::size_t exit_watcher::size() const {
  std::lock_guard guard(mtx_);
  return watched_.size();
}

void exit_watcher::loop() {
  epoll_event events[64];
  std::vector<std::pair<std::int64_t, callback>> gone;
  for (;;) {
    int n = epoll_wait(epoll_fd_, events, 64, -1);
    if (n < 0 && errno == EINTR)
      continue;
    for (int i = 0; i < n; ++i) {
      auto pid = static_cast<std::int64_t>(events[i].data.u64);
      callback cb;
      exit_status st;
      {
        std::lock_guard guard(mtx_);
        if (pid == 0) {
          std::uint64_t count;
          (void) !read(wake_fd_, &count, sizeof count);
          if (watched_.count(-1))
            return;
          gone.swap(gone_);
          continue;
        }
        auto it = watched_.find(pid);
        if (it == watched_.end())
          continue;
        int fd = it->second.fd;
        st = reap(fd);
        st.pid = pid;
        cb = std::move(it->second.cb);
        epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
        ::close(fd);
        watched_.erase(it);
      }
      if (cb)
        cb(st);
    }
    for (auto& [pid, cb] : gone)
      cb({pid, 0, false, "not running (found gone)"});
    gone.clear();
  }
}

} // namespace volant::runtime
