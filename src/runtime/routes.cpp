#include "runtime/routes.hpp"

#include "events/events.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <net/if.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

extern char** environ;

namespace volant::runtime {

namespace {

/// Runs `ip ARGS...` and waits: its exit status as an error when not 0.
status ip(std::vector<std::string> args) {
  args.insert(args.begin(), "ip");
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, "ip", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  std::string line;
  for (std::size_t i = 0; i + 1 < argv.size(); ++i)
    line += (i == 0 ? "" : " ") + args[i];
  if (rc != 0)
    return make_error(ec::io_error, "cannot run '" + line + "': " + std::strerror(rc));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return make_error(ec::io_error, "'" + line + "' failed");
  return ok();
}

} // namespace

expected<std::string> route_interface(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr)
    return make_error(ec::invalid_argument, "cannot resolve '" + host + "'");
  sockaddr_in sin{};
  std::memcpy(&sin, found->ai_addr, sizeof sin);
  ::freeaddrinfo(found);
  auto to = to_string_ip(static_cast<ipv4>(ntohl(sin.sin_addr.s_addr)));
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return make_error(ec::io_error, std::string("pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::vector<std::string> args{"ip", "-o", "-4", "route", "get", to};
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, "ip", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; rc == 0 && (n = ::read(fds[0], buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  if (rc != 0)
    return make_error(ec::io_error, "cannot run 'ip route get': " + std::string(std::strerror(rc)));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  auto at = out.find(" dev ");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || at == std::string::npos)
    return make_error(ec::io_error, "no route to " + host + " (" + to + ")");
  auto dev = out.substr(at + 5);
  return dev.substr(0, dev.find(' '));
}

expected<ipv4> interface_address(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    return make_error(ec::invalid_argument, "--vm-interface '" + name + "' is not an interface name");
  int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return make_error(ec::io_error, std::string("socket: ") + std::strerror(errno));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  int rc = ::ioctl(sock, SIOCGIFADDR, &ifr);
  int err = errno;
  ::close(sock);
  if (rc != 0)
    return make_error(ec::invalid_argument,
                      "--vm-interface " + name + ": "
                          + (err == ENODEV ? std::string("no such interface")
                             : err == EADDRNOTAVAIL
                                 ? std::string("it has no IPv4 address")
                                 : std::string(std::strerror(err))));
  sockaddr_in sin{};
  std::memcpy(&sin, &ifr.ifr_addr, sizeof sin);
  return static_cast<ipv4>(ntohl(sin.sin_addr.s_addr));
}

status add_vm_address(const std::string& dev, ipv4 ip_) {
  return ip({"addr", "replace", to_string_ip(ip_) + "/32", "dev", dev});
}

subnet_routes sync_routes(const std::string& dev, const subnet_routes& have,
                          const subnet_routes& want, std::string& why) {
  subnet_routes now = have;
  for (const auto& [net, via] : have)
    if (!want.contains(net)) {
      auto st = ip({"route", "del", to_string_ip(net) + "/24", "dev", dev});
      if (!st && why.empty())
        why = st.error_value().message;
      now.erase(net);
    }
  for (const auto& [net, via] : want) {
    auto old = have.find(net);
    if (old != have.end() && old->second == via)
      continue;
    auto st = ip({"route", "replace", to_string_ip(net) + "/24", "via", to_string_ip(via), "dev",
                  dev});
    if (!st) {
      if (why.empty())
        why = st.error_value().message;
      continue;
    }
    now[net] = via;
  }
  return now;
}

} // namespace volant::runtime
