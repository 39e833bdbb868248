#pragma once

// The daemon-wide services actors share: created once in volantd's main, alive for
// the whole actor system. Holding pointers keeps the actors' state plain data.

#include "events/limits.hpp"
#include "events/plan.hpp"
#include "events/vm_machine.hpp"
#include "guest/build.hpp"
#include "runtime/driver.hpp"
#include "events/lb.hpp"
#include "runtime/exit_watcher.hpp"
#include "runtime/haproxy.hpp"
#include "runtime/prober.hpp"
#include "secrets/sealer.hpp"
#include "store/journal.hpp"

#include <chrono>
#include <functional>
#include <string>

namespace volant {

namespace runtime {
class dns_server;
}

class actor_directory;
class live_actors;

/// The cluster log a host of a cluster appends to (issue 16, docs/hosts.md;
/// src/daemon/cluster_mode.hpp has the etcd one). Called from the journal's
/// writer thread only.
class cluster_log {
public:
  virtual ~cluster_log() = default;
  /// Appends `events` as the seqs after `after` if the log's head is still
  /// `after` (ec::conflict otherwise, with the newer records copied into the
  /// local journal first); the records as committed, in the local journal too.
  virtual expected<std::vector<recorded_event>> append(std::uint64_t after,
                                                       std::vector<event> events)
    = 0;
};

struct daemon_context {
  std::string data_dir;
  std::string run_dir; ///< the VMs' run directories, reachable by the workload user
  store::journal* store = nullptr;
  /// A host of a cluster (volantd --cluster): the log it appends to, and its
  /// name; null on a single host.
  cluster_log* cluster = nullptr;
  std::string host_name = "local";
  /// --vm-interface: where VM addresses go and the routes to the other hosts'
  /// VMs point (empty: VM addresses are loopback ones, nothing is routed).
  std::string vm_interface;
  runtime::driver* driver = nullptr; ///< the process driver (the default runtime)
  runtime::driver* qemu = nullptr;   ///< microVMs (runtime "qemu"), when available
  std::string qemu_accelerator;      ///< "kvm" or "tcg", decided once at start
  std::string qemu_bridge;           ///< "vbr0 192.168.127.1/24"
  runtime::haproxy_supervisor* haproxy = nullptr; ///< the load balancers' HAProxy
  lb_defaults lbs;                   ///< where load balancers listen by default
  /// The workloads' /etc/resolv.conf (volantd's DNS on port 53); empty: the host's.
  std::string resolv_conf;
  runtime::dns_server* dns = nullptr; ///< volant.local's responder (null: off)
  runtime::exit_watcher* watcher = nullptr;
  runtime::prober* prober = nullptr;
  actor_directory* actors = nullptr; ///< live actors, for the remote shell
  live_actors* live = nullptr;       ///< the journal and controller of the moment
  restart_policy policy;
  vm_config machine;                   ///< timing of every VM's lifecycle machine
  std::chrono::milliseconds stop_grace{10000};
  std::chrono::milliseconds reconcile_every{2000};
  /// How often autoscalers collect metrics and decide (`--metrics-interval`).
  std::chrono::milliseconds metrics_every{15000};
  std::uint64_t snapshot_every = 10000; ///< events between snapshots
  std::string token;
  /// `volantd --quotas FILE`: the quotas' source of truth (re-read when it
  /// changes); empty: quotas come from `volar apply -f`.
  std::string quota_file;
  /// Reads the quota file (the guide's YAML; src/cli/manifest_yaml.hpp).
  std::function<expected<std::vector<quota_spec>>(const std::string&)> read_quotas;
  /// Seals secret env at the api and opens it at a VM's launch; made from
  /// `<data-dir>/secret.key` at start (null: secrets are refused).
  const secrets::sealer* sealer = nullptr;
  bool crash_hook = false; ///< route debug.crash (tests only)
  guest::paths guests;     ///< where microVM guests are built from and kept
  /// A request's verb and arguments together (volantd --max-request-bytes).
  std::size_t max_request_bytes = default_max_request_bytes;
  std::string version = "0.1.0";
  std::int64_t started_at = 0;

  /// The driver of a runtime or handle ("process", "qemu"); the process driver
  /// for an empty or unknown name.
  runtime::driver& driver_for(std::string_view runtime) const {
    return runtime == "qemu" && qemu != nullptr ? *qemu : *driver;
  }

  /// A VM's run directory (its workload's HOME and VOLANT_VM_DIR), outside the
  /// private data directory: `<run-dir>/<vm>`, owned by the workload user.
  std::string vm_dir(const std::string& vm) const {
    return (run_dir.empty() ? data_dir + "/run" : run_dir) + "/" + vm;
  }
  std::string log_path(const std::string& vm) const {
    return data_dir + "/logs/" + vm + ".log";
  }
  /// Where persistent volumes live (docs/volumes.md): `<data-dir>/volumes`,
  /// each as `<id>` (a directory, process driver) or `<id>.ext4` (microVMs).
  std::string volumes_dir() const { return data_dir + "/volumes"; }
};

/// The current time in Unix nanoseconds (the core never reads a clock itself).
std::int64_t now_nanos();

} // namespace volant
