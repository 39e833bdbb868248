#pragma once

// End-to-end fixture: a real `volantd` started as a child process on a fresh data
// directory and run directory (its own IP pool 127.78.N.0/24, an ephemeral
// control port), driven
// with the real `volar`. On destruction every deployment is deleted, the daemon
// stopped and any workload process still around killed, so that nothing leaks
// from one test into the next.

#include "support/process.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace volant::e2e {

using json = nlohmann::json;
using test::run_result;
using namespace std::chrono_literals;

std::string volantd_bin();
std::string volar_bin();
std::string replay_bin();
std::string examples_dir();

/// Single-quotes `s` for /bin/sh.
std::string sh_quote(const std::string& s);

/// Polls `pred` every `every` until it holds or `timeout` passes; true if it held.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 20s,
                std::chrono::milliseconds every = 100ms);

struct http_reply {
  int status = 0;
  std::string body;
};

/// GET http://ip:port/path with a short timeout; nullopt when nothing answers.
std::optional<http_reply> http_get(const std::string& ip, int port, const std::string& path,
                                   std::chrono::milliseconds timeout = 2s);

/// The body of GET ip:80/path once it answers 200 within `timeout`, else "".
std::string http_body_eventually(const std::string& ip, const std::string& path = "/",
                                 std::chrono::milliseconds timeout = 10s);

/// True while /proc/PID exists and the process is not a zombie.
bool pid_alive(int pid);

/// Number of TCP sockets listening on ip:port (from /proc/net/tcp).
int listeners_on(const std::string& ip, int port);

/// Bytes received and not yet read by the sockets of established TCP connections
/// whose local end is 127.0.0.1:port (from /proc/net/tcp): what a stopped server
/// has been sent and has not read.
int unread_bytes_on(int port);

/// Pids of live processes whose environment has `key` = `value` exactly.
std::vector<int> pids_with_env(const std::string& key, const std::string& value);

/// Lines of `text` (without the newline), empty lines dropped.
std::vector<std::string> lines_of(const std::string& text);

/// Whitespace-separated fields of `line`.
std::vector<std::string> fields_of(const std::string& line);

/// True if `err` is exactly one non-empty line (ending with a newline).
bool one_line(const std::string& err);

/// A manifest for a workload without a health check (READY as soon as it runs):
/// busybox httpd on ${VOLANT_IP}:80 serving / (the VM name) and /env.txt (the
/// workload's environment, sorted).
json httpd_manifest(const std::string& name = "e2e-httpd");

class daemon;

/// A `volar` command running in the background as this test's child, its
/// stdout and stderr in files; killed (and reaped) on destruction if still running.
class background_volar {
public:
  background_volar(const daemon& d, const std::string& args);
  ~background_volar();
  background_volar(const background_volar&) = delete;
  background_volar& operator=(const background_volar&) = delete;

  /// Waits up to `limit` for volar to exit: its exit code, or nullopt if it is
  /// still running.
  std::optional<int> wait_exit(std::chrono::milliseconds limit);
  std::string out() const;
  std::string err() const;

private:
  test::temp_dir files_;
  int pid_ = -1;
};

class daemon {
public:
  struct options {
    /// The third octet of the pool 127.78.N.0/24: distinct per test.
    int pool_octet = 1;
    std::int64_t memory_mib = 8192;
    int cpus = 16;
    int reconcile_ms = 500;
    int stop_grace_ms = 2000;
    std::vector<std::string> extra = {}; // more volantd flags
    std::string pool_cidr = {}; ///< instead of 127.78.N.0/24 (microVMs: the bridge's)
    /// A network namespace (of the test's own) that volantd and volar run in.
    std::string netns = {};
  };

  explicit daemon(options opts);
  ~daemon();
  daemon(const daemon&) = delete;
  daemon& operator=(const daemon&) = delete;

  /// Starts volantd on the data directory (again, after kill9/stop) and waits until
  /// it wrote its endpoint.
  void start();
  /// Starts volantd without waiting for it: a kill9() right after hits it while
  /// it opens and replays its log.
  void launch();
  /// SIGKILL, as a crash: the workloads keep running.
  void kill9();
  /// SIGTERM, then SIGKILL after a few seconds.
  void stop();
  /// Waits up to `limit` for volantd to exit on its own: its exit status (128 +
  /// the signal if a signal ended it), or nullopt if it still runs.
  std::optional<int> wait_exit(std::chrono::milliseconds limit);
  int pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  options& opts() { return opts_; }

  const std::string& dir() const { return dir_.path(); }
  /// The daemon's --run-dir (mode 0711, so that the workload user reaches its
  /// VM's directory in it).
  const std::string& run_dir() const { return run_.path(); }
  /// A VM's run directory (its VOLANT_VM_DIR).
  std::string vm_dir(const std::string& vm) const { return run_ / vm; }
  /// The data directory's volantd log (stderr of every run).
  std::string log() const;
  /// The last lines of the log, for failure messages.
  std::string log_tail(std::size_t lines = 40) const;

  /// 127.78.N.host
  std::string ip(int host) const;
  std::string pool() const;

  /// `volar --data-dir D ARGS` (stdin from /dev/null); `env` is prefixed, e.g.
  /// "VOLANT_TOKEN=wrong".
  run_result volar(const std::string& args, const std::string& env = "") const;
  /// As volar(), and CHECKs exit 0 (stderr in the message). Returns stdout.
  std::string ok(const std::string& args) const;
  /// `ARGS --json`, CHECKs exit 0, parsed.
  json get_json(const std::string& args) const;

  /// `ARGS --json` parsed, or nullopt when volar fails (no test failure).
  std::optional<json> try_json(const std::string& args) const;

  json deployments() const { return get_json("deployments list"); }
  /// The deployment's `deployments list` entry, or null.
  json deployment(const std::string& name) const;
  /// `vms list --json ARGS`.
  json vms(const std::string& args = "") const;
  /// The VMs of `deployment` among all of `vms list` (also for one that was
  /// deleted, which `vms list --deployment` refuses as unknown).
  json vms_of(const std::string& deployment) const;
  /// Every committed event, one JSON object each, read by `volant-replay
  /// events --json` (also while volantd runs).
  std::vector<json> journal() const;
  /// The VM's `vms list` entry, or null.
  json vm(const std::string& name) const;

  /// Writes `manifest` to the scratch directory and installs it.
  void install(const json& manifest);
  /// Installs a manifest file (e.g. examples/plugins/nginx.manifest.json).
  void install_file(const std::string& path);

  /// Polls until `deployments list` shows desired == current == ready == n and
  /// `vms list --deployment name` has exactly n VMs, all with a pid.
  bool settled(const std::string& name, int n, std::chrono::milliseconds timeout = 30s) const;

  /// Processes of this daemon's workloads: in its cgroups or with its VM dirs in
  /// their environment.
  std::vector<int> workload_pids() const;
  /// Processes of one VM (its VOLANT_VM_NAME under this data dir), without the
  /// workload's own child processes: more than one means two copies.
  std::vector<int> vm_pids(const std::string& vm) const;

  /// The temp area next to the data dir (for manifests and scripts).
  std::string scratch(const std::string& name) const { return files_ / name; }
  /// A directory in the scratch area that the workloads may write (they run as
  /// the workload user, volant-workload): owned by that user, mode 0700, the
  /// scratch area made traversable (0711). Created if missing.
  std::string workload_scratch(const std::string& name) const;

private:
  void cleanup();
  std::string cgroup_group() const;

  options opts_;
  test::temp_dir dir_;
  test::temp_dir files_;
  test::temp_dir run_;
  int pid_ = -1;
};

} // namespace volant::e2e
