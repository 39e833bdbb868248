#pragma once

// What both drivers share to fork and exec a workload: argument arrays built before
// fork (the child only reads memory and calls async-signal-safe functions) and the
// parent's side of the close-on-exec pipe through which a failed exec reports its
// errno.

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

namespace volant::runtime {

class c_strings {
public:
  explicit c_strings(std::vector<std::string> items) : items_(std::move(items)) {
    for (auto& s : items_)
      ptrs_.push_back(s.data());
    ptrs_.push_back(nullptr);
  }
  char** get() { return ptrs_.data(); }

private:
  std::vector<std::string> items_;
  std::vector<char*> ptrs_;
};

/// Reads the exec report of child `pid` from `report_fd` (and closes it): 0 once
/// the exec succeeded (the pipe closed on exec), else the child's errno, the child
/// then reaped (it exited 127 without the exit watcher knowing it).
inline int exec_errno(int report_fd, pid_t pid) {
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(report_fd, &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(report_fd);
  if (n <= 0)
    return 0;
  int ignored;
  ::waitpid(pid, &ignored, 0);
  return child_errno;
}

} // namespace volant::runtime
