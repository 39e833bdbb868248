#pragma once

// What both drivers share to fork and exec a workload: argument arrays built before
// fork (the child only reads memory and calls async-signal-safe functions) and the
// parent's side of the close-on-exec pipe through which a failed exec (or a step
// before it) reports its errno.

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

/// What a child that failed before or at exec reports through the pipe.
struct exec_report {
  int err = 0;
  char step[60] = {}; ///< the step before exec that failed; empty: exec itself
};

/// In the child: reports `err` (and the step, nullptr for exec itself) and exits
/// 127. Async-signal-safe.
[[noreturn]] inline void child_report(int report_fd, int err, const char* step) {
  exec_report r;
  r.err = err;
  for (std::size_t i = 0; step && step[i] && i + 1 < sizeof r.step; ++i)
    r.step[i] = step[i];
  (void) !::write(report_fd, &r, sizeof r);
  ::_exit(127);
}

/// The parent's view of an exec report.
struct exec_outcome {
  int err = 0;      ///< 0: the exec succeeded
  std::string step; ///< empty: the exec itself failed
};

/// Reads the exec report of child `pid` from `report_fd` (and closes it); a
/// failed child is reaped (it exited 127 without the exit watcher knowing it).
inline exec_outcome exec_failure(int report_fd, pid_t pid) {
  exec_report r;
  ssize_t n;
  do {
    n = ::read(report_fd, &r, sizeof r);
  } while (n < 0 && errno == EINTR);
  ::close(report_fd);
  if (n <= 0)
    return {};
  int ignored;
  ::waitpid(pid, &ignored, 0);
  r.step[sizeof r.step - 1] = '\0';
  return {r.err != 0 ? r.err : EIO, r.step};
}

} // namespace volant::runtime
