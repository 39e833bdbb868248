#pragma once

// What the chaos harness sees of a running volantd, as a user would: volar's
// --json output, volant-replay's state, the workload processes in /proc and the
// VMs' HTTP answers. Each check returns why it does not hold ("" when it does).

#include "chaos/model.hpp"
#include "e2e/e2e.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace volant::chaos {

using e2e::json;

/// How long a volar may take before the harness kills it (exit 137): no command
/// should take that long, since the daemon is stopped for at most 1.5 s at a
/// time (a volar whose daemon died under it waits out its request timeout).
constexpr int volar_timeout_s = 10;

/// `volar --data-dir D ARGS` with a hard timeout (a volar stuck on a stopped
/// daemon must not hang the harness).
e2e::run_result run_volar(const e2e::daemon& d, const std::string& args);

/// `ARGS --json` parsed, or nullopt when volar fails.
std::optional<json> volar_json(const e2e::daemon& d, const std::string& args);

/// The last failed volar_json call: its command line, exit code and stderr.
std::string last_volar_failure();

/// Every deployment the daemon lists, with its template (`deployments list` and
/// `deployments show`); nullopt when volar fails.
std::optional<std::map<std::string, observed_deployment>>
observe_deployments(const e2e::daemon& d);

/// Whether the daemon has settled on `deps`.
struct verdict {
  std::string why;        ///< "" once settled, else the first thing that is not
  std::string deployment; ///< the deployment `why` is about, if any
  std::vector<int> leaked; ///< workload processes that belong to no listed VM
  std::chrono::steady_clock::time_point
      seen_at; ///< when its `vms list` returned
};

/// Settled means:
/// - every VM belongs to a listed deployment and has an index below its desired
///   replicas; a running deployment has exactly the VMs name-0..name-(n-1);
/// - a running deployment's VMs are ready, on its current revision and cpu,
/// each
///   with one live process (the listed pid), serving its name on GET / and the
///   template's CHAOS_GEN in GET /env.txt;
/// - a paused deployment's VMs are frozen (status paused, the process stopped)
/// or
///   have no process;
/// - the IPs are distinct; every workload process belongs to a listed VM.
verdict settle_verdict(const e2e::daemon& d,
                       const std::map<std::string, observed_deployment>& deps);

/// The median duration of the volar calls so far (the harness's resolution).
double volar_median_ms();

/// Why `volant-replay state --json` differs from the live `deployments list` /
/// `vms list` ("" when they agree). Reads the live state before and after the
/// replay and reports only a difference that held across the replay.
std::string replay_differs(const e2e::daemon& d);

} // namespace volant::chaos
