#include "runtime/prober.hpp"

#include "events/events.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace volant::runtime {

struct prober::connection {
  int fd = -1;
  check_request request;
  std::chrono::steady_clock::time_point started;
  std::chrono::steady_clock::time_point deadline;
  bool connected = false;
  std::string out; ///< unsent request bytes
  std::string in;  ///< received bytes (status line only)
};

namespace {

using clock_type = std::chrono::steady_clock;

std::uint64_t micros_since(clock_type::time_point t) {
  return static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - t).count());
}

std::string errno_text(int err) {
  switch (err) {
    case ECONNREFUSED:
      return "connection refused";
    case ETIMEDOUT:
      return "connection timed out";
    case EHOSTUNREACH:
    case ENETUNREACH:
      return "host unreachable";
    default:
      return std::strerror(err);
  }
}

/// "HTTP/1.1 204 No Content" -> 204; 0 if not a status line.
int status_code(const std::string& in) {
  if (in.rfind("HTTP/", 0) != 0)
    return 0;
  auto space = in.find(' ');
  if (space == std::string::npos || in.size() < space + 4)
    return 0;
  int code = 0;
  for (std::size_t i = space + 1; i < space + 4; ++i) {
    if (in[i] < '0' || in[i] > '9')
      return 0;
    code = code * 10 + (in[i] - '0');
  }
  return code;
}

} // namespace

prober::prober(std::size_t max_in_flight)
  : max_in_flight_(max_in_flight), loop_("volant.probes", [this] { return tick(); }) {}

prober::~prober() {
  loop_.stop();
  for (auto& [id, c] : live_)
    ::close(c->fd);
}

void prober::submit(check_request request) {
  {
    std::lock_guard guard(mtx_);
    queue_.push_back(std::move(request));
  }
  loop_.wake();
}

std::size_t prober::in_flight() const {
  std::lock_guard guard(mtx_);
  return live_count_;
}

void prober::start(check_request request) {
  auto c = std::make_unique<connection>();
  c->request = std::move(request);
  c->started = clock_type::now();
  c->deadline = c->started + c->request.timeout;
  auto id = next_id_++;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    c->request.done({false, "socket: " + errno_text(errno), 0});
    return;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(c->request.port);
  addr.sin_addr.s_addr = htonl(c->request.ip);
  if (!c->request.path.empty())
    c->out = "GET " + c->request.path + " HTTP/1.0\r\nHost: " + to_string_ip(c->request.ip)
             + "\r\nUser-Agent: volant-probe\r\nConnection: close\r\n\r\n";
  int rc = connect(c->fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  if (rc != 0 && errno != EINPROGRESS) {
    auto err = errno;
    ::close(c->fd);
    c->request.done({false, errno_text(err), micros_since(c->started)});
    return;
  }
  auto added = loop_.add(c->fd, EPOLLOUT | EPOLLIN | EPOLLRDHUP,
                         [this, id](std::uint32_t events) { on_ready(id, events); });
  if (!added) {
    ::close(c->fd);
    c->request.done({false, added.error_value().message, micros_since(c->started)});
    return;
  }
  deadlines_.emplace(c->deadline, id);
  live_.emplace(id, std::move(c));
}

void prober::finish(std::uint64_t id, check_result result) {
  auto it = live_.find(id);
  if (it == live_.end())
    return;
  auto c = std::move(it->second);
  live_.erase(it);
  for (auto d = deadlines_.lower_bound(c->deadline);
       d != deadlines_.end() && d->first == c->deadline; ++d)
    if (d->second == id) {
      deadlines_.erase(d);
      break;
    }
  loop_.remove(c->fd);
  ::close(c->fd);
  result.latency_us = micros_since(c->started);
  c->request.done(result);
}

void prober::on_ready(std::uint64_t id, std::uint32_t events) {
  auto it = live_.find(id);
  if (it == live_.end())
    return;
  auto& c = *it->second;
  if (!c.connected) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      finish(id, {false, errno_text(err), 0});
      return;
    }
    if (!(events & EPOLLOUT))
      return;
    c.connected = true;
    if (c.request.path.empty()) {
      finish(id, {true, "", 0});
      return;
    }
  }
  if (!c.out.empty() && (events & EPOLLOUT)) {
    auto n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN) {
      finish(id, {false, errno_text(errno), 0});
      return;
    }
    if (n > 0)
      c.out.erase(0, static_cast<std::size_t>(n));
    if (c.out.empty())
      loop_.modify(c.fd, EPOLLIN | EPOLLRDHUP);
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
    char buf[512];
    auto n = recv(c.fd, buf, sizeof buf, 0);
    if (n > 0)
      c.in.append(buf, static_cast<std::size_t>(n));
    if (c.in.find("\r\n") != std::string::npos || c.in.size() >= 64 || n == 0
        || (n < 0 && errno != EAGAIN)) {
      int code = status_code(c.in);
      if (code >= 200 && code < 400)
        finish(id, {true, "", 0});
      else if (code != 0)
        finish(id, {false, "HTTP " + std::to_string(code), 0});
      else if (n < 0)
        finish(id, {false, errno_text(errno), 0});
      else
        finish(id, {false, c.in.empty() ? "connection closed without a response"
                                         : "not an HTTP response",
                    0});
    }
  }
}

std::optional<clock_type::time_point> prober::tick() {
  auto now = clock_type::now();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    auto id = deadlines_.begin()->second;
    auto& c = *live_.at(id);
    finish(id, {false,
                "timed out after " + std::to_string(c.request.timeout.count()) + " ms",
                0});
  }
  std::deque<check_request> starting;
  {
    std::lock_guard guard(mtx_);
    while (!queue_.empty() && live_.size() + starting.size() < max_in_flight_) {
      starting.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
  }
  for (auto& r : starting)
    start(std::move(r));
  {
    std::lock_guard guard(mtx_);
    live_count_ = live_.size();
  }
  if (deadlines_.empty())
    return std::nullopt;
  return deadlines_.begin()->first;
}

} // namespace volant::runtime
