#include "runtime/qmp.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace volant::runtime {

namespace {

using json = nlohmann::json;
using steady = std::chrono::steady_clock;

error qmp_error(const std::string& what) {
  return make_error(ec::io_error, "qmp: " + what);
}

/// Connects a unix stream socket to `path`; paths longer than sun_path go
/// through an O_PATH descriptor of the parent directory.
expected<int> connect_unix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return qmp_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string target = path;
  int dir = -1;
  if (path.size() >= sizeof addr.sun_path) {
    auto p = std::filesystem::path(path);
    dir = ::open(p.parent_path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) {
      ::close(fd);
      return qmp_error(p.parent_path().string() + ": " + std::strerror(errno));
    }
    target
        = "/proc/self/fd/" + std::to_string(dir) + "/" + p.filename().string();
  }
  std::strncpy(addr.sun_path, target.c_str(), sizeof addr.sun_path - 1);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = errno;
  if (dir >= 0)
    ::close(dir);
  if (rc != 0) {
    ::close(fd);
    return qmp_error("cannot connect to " + path + ": " + std::strerror(err));
  }
  return fd;
}

status send_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    auto n = ::send(fd, text.data() + done, text.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return qmp_error(std::string("send: ") + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
  return ok();
}

} // namespace

expected<qmp_client> qmp_client::connect(const std::string& path,
                                         duration timeout) {
  auto fd = connect_unix(path);
  if (!fd)
    return fd.error_value();
  qmp_client client(*fd, timeout);
  auto deadline = steady::now() + timeout;
  auto greeting = client.read_line(deadline);
  if (!greeting)
    return greeting.error_value();
  auto j = json::parse(*greeting, nullptr, false);
  if (j.is_discarded() || !j.contains("QMP"))
    return qmp_error("unexpected greeting from " + path + ": " + *greeting);
  if (auto r = client.execute("qmp_capabilities"); !r)
    return r.error_value();
  return client;
}

qmp_client::qmp_client(qmp_client&& other) noexcept
    : fd_(other.fd_), timeout_(other.timeout_),
      buffer_(std::move(other.buffer_)) {
  other.fd_ = -1;
}

qmp_client& qmp_client::operator=(qmp_client&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = other.fd_;
    timeout_ = other.timeout_;
    buffer_ = std::move(other.buffer_);
    other.fd_ = -1;
  }
  return *this;
}

qmp_client::~qmp_client() {
  if (fd_ >= 0)
    ::close(fd_);
}

expected<std::string> qmp_client::read_line(steady::time_point deadline) {
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      auto line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - steady::now());
    if (left.count() <= 0)
      return qmp_error("no reply within " + std::to_string(timeout_.count())
                       + " ms");
    pollfd pfd{fd_, POLLIN, 0};
    int rc = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno == EINTR)
      continue;
    if (rc < 0)
      return qmp_error(std::string("poll: ") + std::strerror(errno));
    if (rc == 0)
      continue; // the deadline check above reports it
    char buf[4096];
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return qmp_error(n == 0 ? "connection closed by QEMU"
                              : std::string("recv: ") + std::strerror(errno));
    buffer_.append(buf, static_cast<std::size_t>(n));
  }
}

expected<std::string> qmp_client::execute(std::string_view command,
                                          std::string_view arguments) {
  json request = {{"execute", std::string(command)}};
  if (!arguments.empty()) {
    auto args = json::parse(arguments, nullptr, false);
    if (args.is_discarded() || !args.is_object())
      return make_error(ec::invalid_argument, "qmp: arguments of "
                                                  + std::string(command)
                                                  + " are not a JSON object");
    request["arguments"] = std::move(args);
  }
  if (auto st = send_all(fd_, request.dump() + "\n"); !st)
    return st.error_value();
  auto deadline = steady::now() + timeout_;
  for (;;) {
    auto line = read_line(deadline);
    if (!line)
      return line.error_value();
    auto reply = json::parse(*line, nullptr, false);
    if (reply.is_discarded())
      return qmp_error("malformed reply: " + *line);
    if (reply.contains("event"))
      continue; // asynchronous; not the reply
    if (auto it = reply.find("return"); it != reply.end())
      return it->dump();
    if (auto it = reply.find("error"); it != reply.end())
      return qmp_error(
          std::string(command) + ": "
          + it->value("desc", it->value("class", std::string("error"))));
    return qmp_error("unexpected reply: " + *line);
  }
}

expected<std::string> qmp_execute(const std::string& path,
                                  std::string_view command,
                                  std::string_view arguments,
                                  qmp_client::duration timeout) {
  auto client = qmp_client::connect(path, timeout);
  if (!client)
    return client.error_value();
  return client->execute(command, arguments);
}

expected<std::string> qmp_query_status(const std::string& path,
                                       qmp_client::duration timeout) {
  auto reply = qmp_execute(path, "query-status", {}, timeout);
  if (!reply)
    return reply.error_value();
  auto j = json::parse(*reply, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("status")
      || !j["status"].is_string())
    return qmp_error("query-status: unexpected reply " + *reply);
  return j["status"].get<std::string>();
}

} // namespace volant::runtime
