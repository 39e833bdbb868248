#pragma once

// Domain values of Volant: plugin manifests, deployment specs, VM records and the host.
// Plain data with defaulted equality; all policy over them lives in the planners and
// decide functions. Times are nanoseconds since the Unix epoch, passed in by callers.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace volant {

/// Nanoseconds since the Unix epoch. The core never reads a clock: callers pass it.
using unix_nanos = std::int64_t;

/// An IPv4 address in host byte order (192.168.127.1 == 0xC0A87F01).
using ipv4 = std::uint32_t;

/// Labels: sorted, unique keys (map order is part of equality and of the log).
using labels = std::map<std::string, std::string>;

/// One environment variable, order preserved as the user gave it.
struct env_var {
  std::string key;
  std::string value;
  friend bool operator==(const env_var&, const env_var&) = default;
};

/// A secret environment variable as the core holds it. `sealed` is the value
/// sealed with the data dir's key by volantd's api (src/secrets/sealer.hpp):
/// opaque here, opened only when a workload is launched, and shown as "***" by
/// every view. Equal values seal to equal bytes (per deployment and key), so
/// that re-applying the same secret changes nothing.
struct sealed_env_var {
  std::string key;
  std::string sealed;
  friend bool operator==(const sealed_env_var&, const sealed_env_var&) = default;
};

/// A volume of every replica, seen by the workload at `path` (docs/volumes.md).
/// Persistent: one per (deployment, replica index, path), kept across
/// restarts, recreates, updates and scale-downs until purged. Not persistent:
/// scratch space of the VM, wiped when it is recreated.
struct volume {
  std::string path;
  bool persistent = false;
  /// A microVM's image size in MiB; 0: the default (1 GiB). The process
  /// driver's directories are not limited.
  std::int64_t size_mib = 0;
  friend bool operator==(const volume&, const volume&) = default;
};

/// A microVM volume image's size when the volume does not give one.
inline constexpr std::int64_t default_volume_mib = 1024;

// -- health checks ------------------------------------------------------------------

/// GET http://<vm-ip>:<port><path>; healthy on 2xx/3xx within the timeout.
struct http_check {
  std::uint16_t port = 80;
  std::string path = "/health";
  friend bool operator==(const http_check&, const http_check&) = default;
};

/// A TCP connect to <vm-ip>:<port> within the timeout.
struct tcp_check {
  std::uint16_t port = 0;
  friend bool operator==(const tcp_check&, const tcp_check&) = default;
};

/// A process of this name runs in the VM (process driver: in the workload's tree).
struct process_check {
  std::string name;
  friend bool operator==(const process_check&, const process_check&) = default;
};

/// No probe: a running workload counts as ready.
struct no_check {
  friend bool operator==(const no_check&, const no_check&) = default;
};

/// The variant tag order is persisted: append only.
using probe_kind = std::variant<no_check, http_check, tcp_check, process_check>;

/// A health check with Kubernetes-like defaults (period 10 s, timeout 1 s,
/// failure threshold 3).
struct health_check {
  bool enabled = false;
  probe_kind probe;
  std::uint32_t interval_seconds = 10;
  std::uint32_t timeout_seconds = 1;
  std::uint32_t unhealthy_threshold = 3;
  friend bool operator==(const health_check&, const health_check&) = default;
};

// -- plugins ------------------------------------------------------------------------

/// What the workload runs: `entrypoint` with `${VOLANT_IP}`-style substitution.
struct workload_spec {
  std::vector<std::string> entrypoint;
  std::vector<env_var> env;
  std::string workdir;
  friend bool operator==(const workload_spec&, const workload_spec&) = default;
};

/// A file a microVM guest image gets (manifest `guest.files`).
struct guest_file {
  std::string path;    ///< absolute, inside the guest
  std::string content; ///< written as is, mode 0644
  friend bool operator==(const guest_file&, const guest_file&) = default;
};

/// What a microVM guest is made of (manifest `guest`, docs/guests.md): one
/// source (Debian packages, an OCI archive, a directory or a prepared ext4
/// image), plus files. Paths are absolute on the daemon's host.
struct guest_spec {
  std::vector<std::string> debian_packages;
  std::string oci_archive;
  std::string directory;
  std::string rootfs; ///< a prepared ext4 image, booted as is
  std::vector<guest_file> files;
  std::string format; ///< "ext4" (default) or "initramfs" (the root in the initramfs)
  bool empty() const {
    return debian_packages.empty() && oci_archive.empty() && directory.empty()
           && rootfs.empty();
  }
  friend bool operator==(const guest_spec&, const guest_spec&) = default;
};

/// What `plugins install` built for a guest (src/guest, a content-addressed
/// cache): shown by `plugins show`.
struct guest_image {
  std::string key;     ///< sha256 of every input (the cache entry's name)
  std::int64_t bytes = 0;
  std::string summary; ///< "nginx + 42 Debian packages, ext4"
  friend bool operator==(const guest_image&, const guest_image&) = default;
};

/// A plugin manifest, the JSON of the spec's `nginx.manifest.json` plus what a microVM
/// needs. `runtime` is "process" (the embedded default) or "qemu".
struct plugin_manifest {
  std::string name;
  std::string version;
  std::string description;
  std::string runtime = "process";
  std::string kernel;    ///< Path of the guest kernel (microVM runtimes).
  std::string initramfs; ///< Path of the guest initramfs (microVM runtimes).
  workload_spec workload;
  health_check health;
  /// Decides load balancer and DNS membership (READY) apart from `health`,
  /// which then decides restarts only; disabled: `health` serves both.
  health_check readiness;
  /// microVMs: what the guest is made of; built at install into `rootfs`,
  /// `initramfs` and (unless given) `kernel`.
  guest_spec guest;
  std::string rootfs; ///< the guest's root disk (ext4), empty: root in the initramfs
  guest_image image;  ///< what was built from `guest`
  friend bool operator==(const plugin_manifest&, const plugin_manifest&) = default;
};

/// `nginx` or `nginx:v2`; an empty version means the newest installed.
struct plugin_ref {
  std::string name;
  std::string version;
  friend bool operator==(const plugin_ref&, const plugin_ref&) = default;
};

// -- deployments --------------------------------------------------------------------

/// An absolute count or a percentage of the desired replicas (Kubernetes'
/// IntOrString for maxSurge / maxUnavailable).
struct int_or_percent {
  std::int32_t value = 0;
  bool percent = false;
  friend bool operator==(const int_or_percent&, const int_or_percent&) = default;
};

/// How a template change is rolled out. The numbers are persisted.
enum class strategy_kind : std::uint8_t { recreate = 0, rolling = 1 };

/// How a template change is rolled out (docs/rollout.md). Kubernetes'
/// defaults: 25 % surge, 25 % unavailable, a 600 s progress deadline.
struct update_strategy {
  strategy_kind kind = strategy_kind::recreate;
  int_or_percent max_surge{25, true};
  int_or_percent max_unavailable{25, true};
  /// A new VM counts as available once it has been ready this long.
  std::int32_t min_ready_seconds = 0;
  /// A rollout that makes no progress for this long has failed.
  std::int32_t progress_deadline_seconds = 600;
  /// A retired VM is listed as terminating (out of the load balancer and DNS)
  /// this long before it is stopped.
  std::int32_t termination_grace_ms = 2000;
  /// A failed rollout goes back to the last revision that completed.
  bool auto_revert = true;
  /// Revisions kept for `rollout history` and `rollout undo`.
  std::int32_t revision_history = 10;
  /// `rollout pause`: the rollout holds where it is (VMs keep running).
  bool rollout_paused = false;
  friend bool operator==(const update_strategy&, const update_strategy&) = default;
};

/// Where a deployment's latest rollout is. The numbers are persisted.
enum class rollout_phase : std::uint8_t { progressing = 0, complete = 1, failed = 2 };

/// Everything a VM is made from; a change to it makes a new revision.
struct vm_template {
  plugin_ref plugin;
  std::int32_t cpu = 1;         ///< vCPUs; signed so that the core rejects < 1.
  std::int64_t memory_mib = 128; ///< MiB; signed so that the core rejects < 1.
  labels vm_labels;
  std::vector<env_var> env;
  std::vector<volume> volumes;
  /// Overrides the plugin's health check when set.
  std::optional<health_check> health;
  /// Secret env, sealed; passed to the workload after `env` (keys differ from
  /// env's), never substituted.
  std::vector<sealed_env_var> secret_env;
  /// Overrides the plugin's readiness check when set.
  std::optional<health_check> readiness;
  friend bool operator==(const vm_template&, const vm_template&) = default;
};

/// A deployment as the user declared it.
struct deployment_spec {
  std::string name;
  std::int32_t replicas = 1; ///< Signed so that the core can reject negatives.
  vm_template tmpl;
  bool auto_restart = true;
  update_strategy strategy;
  bool paused = false;
  /// The resource quota its VMs count against (`--quota`); empty: none.
  std::string quota;
  /// Placement across hosts (`--multi-host`, the guide's): its replicas spread
  /// over the hosts, fewest of its replicas first; otherwise they are packed
  /// onto the fullest host that fits (binpack, Nomad's default). A single-host
  /// volantd runs them all on its one host (events/placement.hpp).
  bool multi_host = false;
  friend bool operator==(const deployment_spec&, const deployment_spec&) = default;
};

// -- VMs ----------------------------------------------------------------------------

/// Lifecycle of one replica. The numbers are persisted: append only.
enum class vm_status : std::uint8_t {
  pending = 0,   ///< Recorded, IP allocated, not started yet.
  starting = 1,  ///< Driver launched it; no probe verdict yet.
  running = 2,   ///< Running, health check not passed yet (or none configured).
  ready = 3,     ///< Passing its health check (or running without one).
  unhealthy = 4, ///< Failed its check `unhealthy_threshold` times in a row.
  stopping = 5,  ///< Stop requested, graceful period running.
  stopped = 6,   ///< Stopped on purpose (scale-down, restart; pause in old logs).
  exited = 7,    ///< The workload exited on its own.
  failed = 8,    ///< The driver could not start it.
  restarting = 9, ///< Waiting out its crash-loop back-off before starting again.
  paused = 10,    ///< Frozen with its memory, IP and capacity kept (deployment paused).
  /// Retired by a rollout: out of the load balancer and DNS, stopped once its
  /// termination grace is over.
  terminating = 11,
};

/// How a driver finds a workload again after a daemon restart.
struct driver_handle {
  std::string driver;          ///< "process", "qemu", ...
  std::int64_t pid = 0;        ///< Main process (workload or VMM).
  std::uint64_t start_ticks = 0; ///< /proc/PID/stat starttime: pid reuse guard.
  std::string control;         ///< QMP socket path or similar; empty if none.
  friend bool operator==(const driver_handle&, const driver_handle&) = default;
};

/// One replica of a deployment, `<deployment>-<index>`: the holder of a slot
/// (a rolling update's surge candidate beside an older one is recorded as
/// `<deployment>-<index>@<revision>`, shown as its slot's name everywhere)
/// (docs/lifecycle.md). Each start of its workload is an *incarnation*, numbered
/// upwards and never reused for the same name, so that everything the driver
/// does (cgroup, exit watch, stop, kill, adoption) names exactly one run.
struct vm_record {
  std::string name;
  std::string deployment;
  std::uint32_t index = 0;
  std::string host;        ///< Host identity; "local" on a single host.
  ipv4 ip = 0;
  std::uint64_t revision = 0; ///< Deployment template revision it was made from.
  std::int32_t cpu = 1;
  std::int64_t memory_mib = 128;
  vm_status status = vm_status::pending;
  driver_handle handle;
  std::uint32_t restarts = 0;
  std::int32_t last_exit_code = 0; ///< >= 0 exit status, < 0 killed by signal -N.
  std::string last_error;
  std::uint64_t backoff_ms = 0; ///< Current crash-loop back-off before next start.
  unix_nanos created_at = 0;
  unix_nanos started_at = 0;
  unix_nanos ready_at = 0;
  /// The incarnation started last; for a VM never started yet, the number below
  /// its first (so that a new VM of a reused name never repeats an old number).
  std::uint64_t incarnation = 0;
  /// A restart or a recreate for a failure waits until then (its back-off).
  unix_nanos not_before = 0;
  /// Deleted by the user (`vms delete`): to be recreated in its slot.
  bool replace_requested = false;
  /// Terminating: stopped not before then (its termination grace).
  unix_nanos terminate_at = 0;
  friend bool operator==(const vm_record&, const vm_record&) = default;
};

// -- load balancers -----------------------------------------------------------------

/// How a load balancer spreads requests. The numbers are persisted.
enum class lb_algorithm : std::uint8_t { round_robin = 0, least_conn = 1, source = 2 };

/// A load balancer in front of a deployment (issue 13, docs/traffic.md): one
/// HAProxy frontend on `listen:port` and a backend of the deployment's ready VMs
/// on `target_port`.
struct lb_spec {
  std::string name;
  std::string deployment;     ///< the target
  std::uint16_t port = 80;    ///< the frontend's port
  std::string listen;         ///< its address; empty: the daemon's default
  lb_algorithm algorithm = lb_algorithm::round_robin;
  /// Servers are checked: HTTP GET of `health_path` when given, else as the
  /// target's plugin checks (an HTTP path, or TCP); false: no check.
  bool health_check = true;
  std::string health_path;
  std::uint16_t target_port = 0; ///< the VMs' port; 0: `port`
  /// A server that leaves (its VM scaled down, replaced, deleted) gets no new
  /// request and is removed at zero sessions or after this long; its VM waits.
  std::uint32_t drain_timeout_ms = 30000;
  friend bool operator==(const lb_spec&, const lb_spec&) = default;
};

// -- volumes and quotas -------------------------------------------------------------

/// A persistent volume as recorded (issue 14): the data of replica `index` of
/// `deployment` at `path`, kept under the data directory as `volumes/<id>`
/// (a directory for the process driver, `<id>.ext4` for microVMs). Ids are
/// never reused, so that a purged volume's leftovers are never found again.
struct volume_record {
  std::uint64_t id = 0;
  std::string deployment;
  std::uint32_t index = 0;
  std::string path;
  std::int64_t size_mib = 0; ///< 0: the default
  std::string vm;            ///< the VM it is attached to; empty: detached
  unix_nanos created_at = 0;
  /// `deployments delete --purge-volumes`: deleted as soon as it is detached.
  bool purge = false;
  friend bool operator==(const volume_record&, const volume_record&) = default;
};

/// A resource quota (the guide's quotas.yaml): what the deployments that name
/// it may hold together. A limit below 0 is no limit.
struct quota_spec {
  std::string name;
  std::int64_t max_vms = -1;
  std::int64_t max_cpu = -1;        ///< vCPUs
  std::int64_t max_memory_mib = -1; ///< `max_memory_gb` x 1024
  friend bool operator==(const quota_spec&, const quota_spec&) = default;
};

// -- host ---------------------------------------------------------------------------

/// The host's pool, capacity and limits. Journaled on first start and on change.
struct host_config {
  std::string id = "local";
  ipv4 pool_first = 0;      ///< First assignable address, inclusive.
  ipv4 pool_last = 0;       ///< Last assignable address, inclusive.
  std::int32_t cpu_total = 1;
  std::int64_t memory_total_mib = 1024;
  std::uint32_t max_vms = 100;
  std::uint32_t max_replicas = 100;
  /// vCPUs admitted per core, times 1000 (`--cpu-overcommit 16` is 16000);
  /// 0: no limit, vCPUs beyond the cores only warn.
  std::uint32_t cpu_overcommit_milli = 0;
  friend bool operator==(const host_config&, const host_config&) = default;
};

/// One host of a cluster (issue 16, docs/hosts.md): the capacity it joined
/// with, and whether the leader places VMs on it. A single-host volantd has
/// none: its one host is `host_config`.
struct cluster_host {
  std::string name;
  std::int32_t cpu_total = 1;
  std::int64_t memory_total_mib = 1024;
  /// vCPUs admitted per core, times 1000 (0: no limit).
  std::uint32_t cpu_overcommit_milli = 0;
  bool draining = false; ///< `volar hosts drain`: its replicas move away
  bool lost = false;     ///< its lease expired: its VMs were rescheduled
  unix_nanos since = 0;  ///< when it joined (or was lost)
  /// Its /24 of the cluster pool (the first address; its VMs get .1-.254 of
  /// it), kept while it is lost; 0: none yet.
  ipv4 subnet = 0;
  friend bool operator==(const cluster_host&, const cluster_host&) = default;
};

} // namespace volant
