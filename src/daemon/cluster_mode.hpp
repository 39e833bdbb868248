#pragma once

// volantd as a host of a cluster (issue 16, docs/hosts.md): `--cluster URLS
// --host-name NAME`. The cluster log is in etcd; this host keeps a copy of it
// in its RocksDB journal (so that volant-replay, the shell and audits work on
// every host), appends to it through the controller, holds a lease, and
// campaigns for the lead.
//
// Three threads, each with its own etcd client: the journal's writer (append,
// through `cluster_log`), the follower (copies every record into the local
// journal and tells the controller), and the heartbeat (keeps the lease,
// announces the host, campaigns, and tells the leader which hosts live).

#include "actors/context.hpp"
#include "daemon/host.hpp"
#include "events/error.hpp"
#include "store/journal.hpp"

#include <CLI/CLI.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

namespace volant {

class live_actors;

struct cluster_options {
  std::string endpoints; ///< --cluster: etcd's client URLs, comma-separated
  std::string host_name; ///< --host-name (default: the machine's hostname)
  std::string prefix = "/volant";
  std::string cacert, cert, key; ///< --etcd-cacert, --etcd-cert, --etcd-key
  std::string join;              ///< --join: the bundle of `volar cluster init`
  std::int64_t lease_seconds = 5;
  /// --vm-interface: VM addresses go on it, other hosts route to them via
  /// its address (empty: loopback VM addresses, one machine only).
  std::string vm_interface;
};

void add_cluster_options(CLI::App& app, cluster_options& opts);

class cluster_link final : public cluster_log {
public:
  /// Connects (TLS as the options say) and checks that this host can follow
  /// the cluster log: every record decodes (mixed versions), and a local
  /// journal that is not empty is a copy of this cluster's log.
  static expected<std::unique_ptr<cluster_link>> open(cluster_options opts,
                                                      store::journal& store,
                                                      const std::string& data_dir);
  ~cluster_link() override;

  /// Copies what the cluster log has past the local journal into it.
  status catch_up();

  expected<std::vector<recorded_event>> append(std::uint64_t after,
                                               std::vector<event> events) override;

  /// Decides `cmd` on `w` and appends it (again after a conflict), at start,
  /// before the actors run: the host's configuration and its joining.
  status commit(world& w, const command& cmd);

  /// Starts the follower and the heartbeat; `me` is what this host joins
  /// with, `address` where the others route its VMs' /24 (empty: nowhere).
  void start(live_actors& live, cluster_host me, std::string address = {});
  void stop();

  const cluster_options& options() const noexcept { return opts_; }

private:
  cluster_link(cluster_options opts, store::journal& store);
  void follow_loop(live_actors& live);
  void heartbeat_loop(live_actors& live, cluster_host me, const std::string& address);

  struct clients;
  cluster_options opts_;
  store::journal& store_;
  std::unique_ptr<clients> writer_;
  std::atomic<bool> stop_{false};
  std::thread follower_;
  std::thread heartbeat_;
};

} // namespace volant
