#pragma once

// A small client of QEMU's machine protocol (QMP) over its unix socket: read
// the greeting, negotiate with `qmp_capabilities`, send one command at a time
// and read its reply, skipping the asynchronous events QEMU interleaves. Every
// read has a deadline: a paused or wedged QEMU must not block the caller.
//
// QEMU serves one QMP client at a time; a second connection waits for the first
// to close. Keep connections short (`qmp_execute`).

#include "events/error.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace volant::runtime {

class qmp_client {
public:
  using duration = std::chrono::milliseconds;

  /// Connects to the socket `path` (any length: long paths go through
  /// /proc/self/fd) and negotiates capabilities, all within `timeout`.
  static expected<qmp_client> connect(const std::string& path,
                                      duration timeout);

  qmp_client(qmp_client&& other) noexcept;
  qmp_client& operator=(qmp_client&& other) noexcept;
  qmp_client(const qmp_client&) = delete;
  qmp_client& operator=(const qmp_client&) = delete;
  ~qmp_client();

  /// Runs `command` with `arguments` (a JSON object's text, or empty) and
  /// returns the JSON text of its "return" value; a QMP "error" reply becomes
  /// an io_error with QEMU's description.
  expected<std::string> execute(std::string_view command,
                                std::string_view arguments = {});

private:
  qmp_client(int fd, duration timeout) : fd_(fd), timeout_(timeout) {}
  expected<std::string>
  read_line(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  duration timeout_;
  std::string buffer_;
};

/// Connects to `path`, runs one command and disconnects.
expected<std::string>
qmp_execute(const std::string& path, std::string_view command,
            std::string_view arguments = {},
            qmp_client::duration timeout = std::chrono::milliseconds(3000));

/// The VM's run state from `query-status`: "running", "paused", "shutdown", ...
expected<std::string> qmp_query_status(const std::string& path,
                                       qmp_client::duration timeout
                                       = std::chrono::milliseconds(3000));

} // namespace volant::runtime
