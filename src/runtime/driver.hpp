#pragma once

// VM drivers behind one interface. A driver launches, signals, finds again and
// measures workloads; it never blocks for long: stopping is `terminate` now and
// `kill` after the grace period (the caller's timer), and exits are reported by the
// `exit_watcher`, not by waiting.

#include "events/error.hpp"
#include "events/types.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace volant::runtime {

/// Everything a driver needs to launch one VM; built by the core's `launch_for`.
struct launch_spec {
  std::string vm_name;
  std::vector<std::string> argv; ///< Entrypoint, variables already substituted.
  std::vector<env_var> env;      ///< Added to the daemon's environment.
  std::string workdir;           ///< Working directory (the VM's run directory).
  std::string log_path;          ///< stdout/stderr (or serial console) appended here.
  std::int32_t cpu = 1;
  std::int64_t memory_mib = 128;
  ipv4 ip = 0;
  std::string kernel;    ///< microVM runtimes only
  std::string initramfs; ///< microVM runtimes only
};

/// Resource use of a running VM.
struct usage {
  double cpu_seconds = 0;      ///< user + system, whole process tree
  std::uint64_t rss_bytes = 0; ///< resident set, whole process tree
};

/// What the host allows a driver to enforce.
struct capabilities {
  bool memory_limit = false;
  bool cpu_limit = false;
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

  /// Releases what the VM held on the host (cgroups, TAP devices) after it exited,
  /// killing whatever of it is left.
  virtual void cleanup(const std::string& vm_name) = 0;

  /// At start-up: releases every VM the host still holds that is not in `known`
  /// (e.g. a workload forked just before a crash, for a VM deleted since). Returns
  /// the names released.
  virtual std::vector<std::string> reap_unknown(const std::vector<std::string>& known) = 0;

  /// Current resource use; zeros when unknown.
  virtual usage measure(const driver_handle& handle) const = 0;

  /// Names of the processes in the VM (process health checks).
  virtual std::vector<std::string> processes(const driver_handle& handle) const = 0;

  virtual capabilities limits() const = 0;
};

} // namespace volant::runtime
