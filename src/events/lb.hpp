#pragma once

// Load balancers (issue 13, docs/traffic.md), pure: which servers each load
// balancer has (a projection of the world) and the HAProxy configuration that
// serves them. The HAProxy supervisor (src/runtime/haproxy.cpp) writes the text,
// has HAProxy load it and changes servers through the runtime API; nothing here has an effect.

#include "events/state.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace volant {

/// How a load balancer checks its servers.
struct lb_check {
  enum class kind : std::uint8_t { none, tcp, http };
  kind how = kind::tcp;
  std::string path;          ///< http: the GET path
  std::uint16_t port = 0;    ///< 0: the server's port
  friend bool operator==(const lb_check&, const lb_check&) = default;
};

/// One server of a load balancer: a ready VM of its target.
struct lb_server {
  std::string name; ///< HAProxy's server name: the VM key, '@' spelled "_r"
  std::string vm;   ///< the VM key ("web-3@4")
  ipv4 ip = 0;
  std::uint16_t port = 0;
  friend bool operator==(const lb_server&, const lb_server&) = default;
};

/// A load balancer as HAProxy is to serve it.
struct lb_view {
  lb_spec spec;
  std::string listen;           ///< the address it binds (the default resolved)
  std::uint16_t target_port = 0;
  lb_check check;
  /// The ready VMs of its target (both revisions during a rollout; never a
  /// terminating one), by index then revision.
  std::vector<lb_server> servers;
  friend bool operator==(const lb_view&, const lb_view&) = default;
};

/// The addresses a load balancer binds when its spec names none: a specific
/// one, never a wildcard (a wildcard would collide with replicas listening on
/// their own IPs).
struct lb_defaults {
  std::string listen = "127.0.0.1"; ///< process-driver targets
  std::string microvm_listen;       ///< microVM targets: the bridge's address
};

/// Every load balancer of `w`, in name order.
std::vector<lb_view> project_lbs(const world& w, const lb_defaults& defaults);

/// The one load balancer named `name` (nullopt if none).
std::optional<lb_view> project_lb(const world& w, const std::string& name,
                                  const lb_defaults& defaults);

/// Where HAProxy keeps its runtime files.
struct haproxy_paths {
  std::string stats_socket; ///< the master's runtime API (admin level, mode 0600)
  std::string pid_file; ///< given on HAProxy's command line (-p)
  std::string slots_map; ///< which backend each frontend uses (`set map` switches)
};

/// The backend each load balancer serves from: 'a' or 'b' (none: 'a'). A
/// load balancer has two backends, and its frontend picks one through a map
/// that the runtime API's `set map` changes atomically: a blue-green switch
/// fills the other backend with the new target's servers, flips the map
/// entry, then drains the old backend.
using lb_slots = std::map<std::string, char>;

/// What a configuration says a load balancer serves (its comment).
struct lb_serving {
  char slot = 'a';
  std::string deployment;
  friend bool operator==(const lb_serving&, const lb_serving&) = default;
};

/// The whole HAProxy configuration for `lbs` (master-worker; one frontend and
/// two backends per load balancer, its servers in the one `active` names;
/// retries and redispatch so that a replica killed with kill -9 costs no
/// request). Deterministic: the same views give the same text.
std::string render_haproxy(const std::vector<lb_view>& lbs, const haproxy_paths& paths,
                           const lb_slots& active = {});

/// The slots map file: "lb_NAME lb_NAME_SLOT" per load balancer.
std::string render_lb_map(const std::vector<lb_view>& lbs, const lb_slots& active);

/// What each load balancer of `config` (a render_haproxy text) serves.
std::map<std::string, lb_serving> haproxy_serving(std::string_view config);

/// HAProxy's name for the server of VM key `vm`: "web-3@4" -> "web-3_r4".
std::string lb_server_name(std::string_view vm);

/// The VM key of HAProxy server `server`: "web-3_r4" -> "web-3@4".
std::string lb_server_vm(std::string_view server);

/// Backend `slot` ('a' or 'b') of load balancer `lb`: "lb_web_a".
std::string lb_backend_name(std::string_view lb, char slot);

/// The load balancer and slot of backend `backend` ("lb_web_b" -> web, 'b');
/// nullopt for another name.
std::optional<std::pair<std::string, char>> lb_of_backend(std::string_view backend);

/// The slot that is not `slot`.
constexpr char other_slot(char slot) {
  return slot == 'b' ? 'a' : 'b';
}

/// What follows "server NAME ADDR:PORT" for the servers of `lb` (its check),
/// in the configuration and in the runtime API's `add server` alike (HAProxy
/// applies no default-server to servers added at runtime, haproxy#1994).
std::string lb_server_options(const lb_view& lb);

/// `config` without its server lines (and the comment saying what it serves):
/// two configurations with the same frame differ only in servers and slots,
/// which the runtime API changes without a reload (a blue-green switch
/// included).
std::string haproxy_frame(std::string_view config);

} // namespace volant
