#pragma once

// The read verbs of docs/protocol.md (deployments.list, vms.list, ...) answered
// from the folded state. Pure: what needs the host (resource use of running VMs,
// recent events from the log) is added at the api edge (src/actors/api_reads.hpp),
// never on the controller's thread.

#include "events/lb.hpp"
#include "events/error.hpp"
#include "events/state.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace volant::wire {

/// What the daemon says about itself in `ping` and `debug.resources`.
struct daemon_info {
  std::string version;
  std::int64_t started_at = 0;
  std::string data_dir;
  std::string driver;        ///< the default runtime's driver
  nlohmann::json limits;     ///< {memory, cpu, pids, user, run_dir, note} of the default driver
  nlohmann::json qemu;       ///< {accelerator, bridge, note}, or null
  lb_defaults lbs;           ///< the addresses load balancers bind by default
};

/// Answers a read verb from `w`; errors name the bad argument or the unknown
/// verb.
expected<nlohmann::json> answer_query(const world& w, const daemon_info& info,
                                      const std::string& verb, const nlohmann::json& args);

} // namespace volant::wire
