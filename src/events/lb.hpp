#pragma once

// Load balancers (issue 13, docs/traffic.md), pure: which servers each load
// balancer has (a projection of the world) and the HAProxy configuration that
// serves them. The HAProxy supervisor (src/runtime/haproxy.cpp) writes the text,
// has HAProxy load it and changes servers through the runtime API; nothing here has an effect.

#include "events/state.hpp"

#include <cstdint>
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
};

/// The whole HAProxy configuration for `lbs` (master-worker; one frontend and
/// one backend per load balancer; retries and redispatch so that a replica
/// killed with kill -9 costs no request). Deterministic: the same views give
/// the same text.
std::string render_haproxy(const std::vector<lb_view>& lbs, const haproxy_paths& paths);

/// HAProxy's name for the server of VM key `vm`: "web-3@4" -> "web-3_r4".
std::string lb_server_name(std::string_view vm);

/// The VM key of HAProxy server `server`: "web-3_r4" -> "web-3@4".
std::string lb_server_vm(std::string_view server);

/// The backend that holds the servers of load balancer `lb`.
std::string lb_backend_name(std::string_view lb);

/// What follows "server NAME ADDR:PORT" for the servers of `lb` (its check),
/// in the configuration and in the runtime API's `add server` alike (HAProxy
/// applies no default-server to servers added at runtime, haproxy#1994).
std::string lb_server_options(const lb_view& lb);

/// `config` without its server lines (and the comment naming the target): two
/// configurations with the same frame differ only in servers, which the
/// runtime API changes without a reload (a blue-green switch included).
std::string haproxy_frame(std::string_view config);

} // namespace volant
