#pragma once

// VM drivers behind one interface. A driver launches, signals, finds again and
// measures workloads; it never blocks for long: stopping is `terminate` now and
// `kill` after the grace period (the caller's timer), and exits are reported by the
// `exit_watcher`, not by waiting.

#include "events/error.hpp"
#include "events/types.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <string_view>
#include <vector>

namespace volant::runtime {

/// The key of one run (incarnation) of a VM on the host, "<vm>.<n>": its cgroups,
/// QEMU's `-name` marker. A stop, a cleanup or an adoption meant for one run never
/// touches another run of the same VM. (n == 0: the bare VM name, as before runs
/// were numbered.)
std::string run_id(const std::string& vm, std::uint64_t incarnation);

/// The VM a run id belongs to: "web-3.7" -> "web-3" (a bare name stays).
std::string vm_of_run(const std::string& run);

/// Everything a driver needs to launch one run of a VM.
/// A volume of a VM (issue 14, docs/volumes.md): `source` is seen by the
/// workload at `path`. Process driver: `source` is a host directory, made if
/// missing, bind-mounted at `path` in the workload's own mount namespace.
/// microVM driver: `source` is a raw ext4 image, made with `size_mib` if
/// missing, attached as a virtio-blk disk and mounted at `path` by the guest
/// init.
struct volume_mount {
  std::string source;
  std::string path;
  std::int64_t size_mib = 1024;
  bool persistent = true; ///< false: scratch space (its source is in the run directory)
  friend bool operator==(const volume_mount&, const volume_mount&) = default;
};

struct launch_spec {
  std::string vm_name;
  std::uint64_t incarnation = 0; ///< the run; host resources are keyed by run_id
  std::vector<std::string> argv; ///< Entrypoint, variables already substituted.
  std::vector<env_var> env;      ///< Added to the daemon's environment.
  std::string workdir;           ///< Working directory (the VM's run directory).
  std::string log_path;          ///< stdout/stderr (or serial console) appended here.
  std::int32_t cpu = 1;
  std::int64_t memory_mib = 128;
  ipv4 ip = 0;
  std::string kernel;    ///< microVM runtimes only
  std::string initramfs; ///< microVM runtimes only
  /// Secret env, opened: given to the workload like `env` (after it), never
  /// put on a command line or in a log. A driver that cannot pass it privately
  /// refuses the start.
  std::vector<env_var> secret_env;
  /// microVM runtimes: the guest's root disk (ext4, booted with a throw-away
  /// overlay); empty when the root is in the initramfs.
  std::string rootfs;
  /// Process driver: a file bind-mounted over the workload's /etc/resolv.conf
  /// in a mount namespace of its own (volantd's DNS, docs/traffic.md); empty:
  /// the host's. Needs root; without it the workload sees the host's file.
  std::string resolv_conf;
  /// The VM's volumes, in the template's order.
  std::vector<volume_mount> volumes;

  std::string run() const { return run_id(vm_name, incarnation); }
};

/// Resource use of a running VM.
struct usage {
  double cpu_seconds = 0;      ///< user + system: the run's cgroup, or its process tree
  std::uint64_t rss_bytes = 0; ///< the run's cgroup working set, or its tree's resident set
};

/// What the host allows a driver to enforce.
struct capabilities {
  bool memory_limit = false;
  bool cpu_limit = false;
  std::int64_t max_pids = 0; ///< processes per VM; 0: not limited
  std::string user;          ///< who workloads run as
  std::string note; ///< Why a limit is not enforced, for `debug resources`.
};

class driver {
public:
  virtual ~driver() = default;

  /// "process", "qemu", ...
  virtual std::string_view name() const = 0;

  /// Launches the VM; returns once the process exists (not once it is ready).
  virtual expected<driver_handle> start(const launch_spec& spec) = 0;

  /// Asks the VM to stop (SIGTERM to the process group, ACPI power-down, ...).
  virtual status terminate(const driver_handle& handle) = 0;

  /// Stops the VM at once (SIGKILL to the process group).
  virtual status kill(const driver_handle& handle) = 0;

  /// Freezes the VM in place (SIGSTOP to the process group, QMP `stop`); its
  /// memory and uptime are kept.
  virtual status pause(const driver_handle& handle) = 0;

  /// Continues a paused VM (SIGCONT, QMP `cont`).
  virtual status resume(const driver_handle& handle) = 0;

  /// Whether the VM `handle` names still runs (pid alive with the same start time).
  virtual bool alive(const driver_handle& handle) const = 0;

  /// Releases what run `run` (a run_id) held on the host (cgroups, a QEMU left
  /// over) once it ended, killing whatever of it is left. Other runs are untouched.
  virtual void release(const std::string& run) = 0;

  /// The VM is removed: releases what it held across its runs (a TAP device).
  virtual void forget(const std::string& vm_name) = 0;

  /// At start-up: releases every run the host still holds that is not in `known`
  /// (run ids; e.g. a workload forked just before a crash and never recorded, or
  /// of a VM deleted since). Returns the run ids released.
  virtual std::vector<std::string> reap_unknown(const std::vector<std::string>& known) = 0;

  /// Current resource use of the run `run` (run_id) whose main process is
  /// `handle`; zeros when unknown.
  virtual usage measure(const driver_handle& handle, const std::string& run) const = 0;

  /// Names of the processes in the VM (process health checks).
  virtual std::vector<std::string> processes(const driver_handle& handle) const = 0;

  virtual capabilities limits() const = 0;

  /// How the workload itself ended, when the driver learns it apart from its
  /// process's end (a microVM guest reports it on its control port, which its
  /// console output cannot reach): {status, reason}; nullopt keeps the
  /// process's. `run_dir` is the run's directory.
  virtual std::optional<std::pair<std::int32_t, std::string>>
  workload_exit(const std::string& run_dir) const {
    static_cast<void>(run_dir);
    return std::nullopt;
  }
};

} // namespace volant::runtime
