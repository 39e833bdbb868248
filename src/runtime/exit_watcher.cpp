#include "runtime/exit_watcher.hpp"

#include "runtime/proc.hpp"

#include <signal.h>
#include <sys/epoll.h>
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

exit_watcher::exit_watcher() : loop_("volant.exits") {}

exit_watcher::~exit_watcher() {
  loop_.stop();
  std::lock_guard guard(mtx_);
  for (auto& [pid, e] : watched_)
    ::close(e.fd);
  watched_.clear();
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
    loop_.post([pid, cb = std::move(on_exit)] {
      cb({pid, 0, false, "not running (found gone)"});
    });
    return next_id_++;
  }
  if (auto it = watched_.find(pid); it != watched_.end()) {
    loop_.remove(it->second.fd);
    ::close(it->second.fd);
    watched_.erase(it);
  }
  auto id = next_id_++;
  auto added
    = loop_.add(fd, EPOLLIN, [this, pid, id](std::uint32_t) { on_pidfd_ready(pid, id); });
  if (!added) {
    ::close(fd);
    return added.error_value();
  }
  watched_.emplace(pid, entry{fd, std::move(on_exit), id});
  return id;
}

void exit_watcher::unwatch(std::int64_t pid, std::uint64_t id) {
  std::lock_guard guard(mtx_);
  if (auto it = watched_.find(pid); it != watched_.end() && it->second.id == id) {
    loop_.remove(it->second.fd);
    ::close(it->second.fd);
    watched_.erase(it);
  }
}

std::size_t exit_watcher::size() const {
  std::lock_guard guard(mtx_);
  return watched_.size();
}

void exit_watcher::on_pidfd_ready(std::int64_t pid, std::uint64_t id) {
  callback cb;
  exit_status st;
  {
    std::lock_guard guard(mtx_);
    auto it = watched_.find(pid);
    if (it == watched_.end() || it->second.id != id)
      return;
    int fd = it->second.fd;
    st = reap(fd);
    st.pid = pid;
    cb = std::move(it->second.cb);
    loop_.remove(fd);
    ::close(fd);
    watched_.erase(it);
  }
  if (cb)
    cb(st);
}

} // namespace volant::runtime
