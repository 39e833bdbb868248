#include "runtime/netdev.hpp"

#include "events/events.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace volant::runtime {

namespace {

/// A file descriptor closed on scope exit.
class fd_guard {
public:
  explicit fd_guard(int fd) : fd_(fd) {}
  ~fd_guard() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  int get() const { return fd_; }

private:
  int fd_;
};

error sys_error(const std::string& what) {
  return make_error(ec::io_error, what + ": " + std::strerror(errno));
}

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

void set_name(ifreq& ifr, const std::string& name) {
  std::memset(&ifr, 0, sizeof ifr);
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
}

status check_name(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    return make_error(ec::invalid_argument,
                      "interface name '" + name
                          + "' must have 1-15 characters");
  return ok();
}

/// Sets IFF_UP on `name` through the control socket `sock`.
status link_up(int sock, const std::string& name) {
  ifreq ifr;
  set_name(ifr, name);
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) != 0)
    return sys_error("SIOCGIFFLAGS " + name);
  if (ifr.ifr_flags & IFF_UP)
    return ok();
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(sock, SIOCSIFFLAGS, &ifr) != 0)
    return sys_error("cannot bring " + name + " up");
  return ok();
}

sockaddr_in inet_addr_of(ipv4 ip) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(ip);
  return sin;
}

} // namespace

expected<bridge_address> parse_cidr(std::string_view cidr) {
  auto slash = cidr.find('/');
  if (slash == std::string_view::npos)
    return make_error(ec::invalid_argument,
                      "'" + std::string(cidr) + "' is not A.B.C.D/N");
  auto ip = parse_ipv4(cidr.substr(0, slash));
  int prefix = 0;
  auto rest = cidr.substr(slash + 1);
  bool digits = !rest.empty() && rest.size() <= 2;
  for (char c : rest)
    digits = digits && c >= '0' && c <= '9';
  if (digits)
    prefix = std::stoi(std::string(rest));
  if (!ip || !digits || prefix < 1 || prefix > 30)
    return make_error(ec::invalid_argument,
                      "'" + std::string(cidr) + "' is not A.B.C.D/N (N 1-30)");
  return bridge_address{*ip, prefix};
}

std::string tap_name(std::string_view vm) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.3s%012llx", tap_prefix.data(),
                static_cast<unsigned long long>(fnv1a(vm) & 0xffffffffffffull));
  return buf;
}

std::string mac_address(std::string_view vm) {
  auto h = fnv1a(std::string("mac:") + std::string(vm));
  char buf[18];
  std::snprintf(buf, sizeof buf, "02:%02x:%02x:%02x:%02x:%02x",
                static_cast<unsigned>(h >> 32 & 0xff),
                static_cast<unsigned>(h >> 24 & 0xff),
                static_cast<unsigned>(h >> 16 & 0xff),
                static_cast<unsigned>(h >> 8 & 0xff),
                static_cast<unsigned>(h & 0xff));
  return buf;
}

bool link_exists(const std::string& name) {
  return !name.empty() && name.size() < IFNAMSIZ
         && if_nametoindex(name.c_str()) != 0;
}

std::vector<std::string> links_with_prefix(std::string_view prefix) {
  // if_nameindex asks the calling thread's namespace over netlink;
  // /sys/class/net would show the namespace /sys was mounted in.
  std::vector<std::string> out;
  if (auto* list = if_nameindex()) {
    for (auto* i = list; i->if_index != 0; ++i)
      if (std::string_view(i->if_name).starts_with(prefix))
        out.emplace_back(i->if_name);
    if_freenameindex(list);
  }
  return out;
}

status ensure_bridge(const bridge_config& bridge) {
  if (auto st = check_name(bridge.name); !st)
    return st;
  auto addr = parse_cidr(bridge.cidr);
  if (!addr)
    return addr.error_value();
  fd_guard sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0)
    return sys_error("socket");
  if (auto st = link_up(sock.get(), "lo"); !st)
    return st;
  if (!link_exists(bridge.name)
      && ioctl(sock.get(), SIOCBRADDBR, bridge.name.c_str()) != 0
      && errno != EEXIST)
    return sys_error("cannot create bridge " + bridge.name);
  ifreq ifr;
  set_name(ifr, bridge.name);
  if (ioctl(sock.get(), SIOCGIFADDR, &ifr) != 0) {
    if (errno != EADDRNOTAVAIL)
      return sys_error("SIOCGIFADDR " + bridge.name);
    auto sin = inet_addr_of(addr->address);
    std::memcpy(&ifr.ifr_addr, &sin, sizeof sin);
    if (ioctl(sock.get(), SIOCSIFADDR, &ifr) != 0)
      return sys_error("cannot set the address of " + bridge.name);
    auto mask
        = inet_addr_of(addr->prefix == 0 ? 0 : ~0u << (32 - addr->prefix));
    std::memcpy(&ifr.ifr_netmask, &mask, sizeof mask);
    if (ioctl(sock.get(), SIOCSIFNETMASK, &ifr) != 0)
      return sys_error("cannot set the netmask of " + bridge.name);
  }
  return link_up(sock.get(), bridge.name);
}

namespace {

/// Opens (creating it if missing) the TAP `tap` and makes it outlive this
/// descriptor (`persist`) or not. Attaching to a TAP another process holds (a
/// running QEMU) fails with EBUSY.
status set_persist(const std::string& tap, bool persist) {
  fd_guard tun(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
  if (tun.get() < 0)
    return sys_error("/dev/net/tun");
  ifreq ifr;
  set_name(ifr, tap);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (ioctl(tun.get(), TUNSETIFF, &ifr) != 0)
    return sys_error((persist ? "cannot create TAP " : "cannot open TAP ") + tap);
  if (ioctl(tun.get(), TUNSETPERSIST, persist ? 1 : 0) != 0)
    return sys_error("TUNSETPERSIST " + tap);
  return ok();
}

} // namespace

status create_tap(const std::string& tap, const std::string& bridge) {
  if (auto st = check_name(tap); !st)
    return st;
  if (link_exists(tap))
    if (auto st = delete_tap(tap); !st)
      return st;
  if (auto st = set_persist(tap, true); !st)
    return st;
  fd_guard sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0)
    return sys_error("socket");
  ifreq ifr;
  set_name(ifr, bridge);
  ifr.ifr_ifindex = static_cast<int>(if_nametoindex(tap.c_str()));
  if (ifr.ifr_ifindex == 0 || ioctl(sock.get(), SIOCBRADDIF, &ifr) != 0) {
    auto err = sys_error("cannot attach " + tap + " to bridge " + bridge);
    (void)delete_tap(tap);
    return err;
  }
  return link_up(sock.get(), tap);
}

expected<int> open_tap(const std::string& tap) {
  if (auto st = check_name(tap); !st)
    return st.error_value();
  int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return sys_error("/dev/net/tun");
  ifreq ifr;
  set_name(ifr, tap);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    auto err = sys_error("cannot open TAP " + tap);
    ::close(fd);
    return err;
  }
  return fd;
}

status delete_tap(const std::string& tap) {
  if (auto st = check_name(tap); !st)
    return st;
  if (!link_exists(tap))
    return ok();
  return set_persist(tap, false); // unpersisted, it goes with the last descriptor
}

} // namespace volant::runtime
