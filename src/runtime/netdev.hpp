#pragma once

// Host networking for microVMs: one Linux bridge (the guests' gateway) and one
// persistent TAP device per VM attached to it. Everything works through ioctls
// on the calling thread's network namespace (no `ip` subprocess), so a test or
// a daemon started with `ip netns exec` keeps its bridge and TAPs inside that
// namespace.

#include "events/error.hpp"
#include "events/types.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace volant::runtime {

/// The bridge the TAPs join; its address is the guests' default gateway.
struct bridge_config {
  std::string name = "vbr0";
  std::string cidr
      = "192.168.127.1/24"; ///< bridge address / guest prefix length
};

/// A parsed `bridge_config::cidr`.
struct bridge_address {
  ipv4 address = 0;
  int prefix = 24;
};

/// Parses "A.B.C.D/N" (N 1..30).
expected<bridge_address> parse_cidr(std::string_view cidr);

/// The prefix every TAP made by `tap_name` starts with ("vlt").
inline constexpr std::string_view tap_prefix = "vlt";

/// The TAP device name of `vm`: "vlt" + 12 hex digits of a hash of the name (15
/// characters, the kernel's limit), stable across daemon restarts.
std::string tap_name(std::string_view vm);

/// A stable, locally administered unicast MAC for `vm` ("02:xx:xx:xx:xx:xx").
std::string mac_address(std::string_view vm);

/// Whether a network interface of that name exists in this namespace.
bool link_exists(const std::string& name);

/// Names of this namespace's interfaces that start with `prefix`.
std::vector<std::string> links_with_prefix(std::string_view prefix);

/// Creates the bridge if missing, gives it the address if it has none, brings
/// it (and loopback) up. Idempotent.
status ensure_bridge(const bridge_config& bridge);

/// Creates the persistent TAP `tap` (replacing a stale one of that name),
/// attaches it to `bridge` and brings it up.
status create_tap(const std::string& tap, const std::string& bridge);

/// A descriptor attached to the existing TAP `tap` (close-on-exec), for QEMU's
/// `-netdev tap,fd=N`: QEMU may run as a user who cannot open /dev/net/tun.
expected<int> open_tap(const std::string& tap);

/// Removes the TAP `tap`; ok if it does not exist. Fails (busy) while a process
/// still holds it open.
status delete_tap(const std::string& tap);

} // namespace volant::runtime
