#pragma once

#include "events/autoscale.hpp"
#include "actors/actors.hpp"
#include "actors/context.hpp"
#include "actors/supervise.hpp"
#include "wire/queries.hpp"

#include <nlohmann/json.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <set>
#include <string>

namespace volant {

struct dns_zone;

struct controller_state {
  daemon_context* ctx = nullptr;
  world w;                      ///< committed events + decided ones awaiting commit
  std::uint64_t in_flight = 0;  ///< appends not yet committed
  std::uint64_t snapshot_seq = 0;
  std::map<std::string, deployment_actor> deployments;
  /// Deployment actors that have not had a push with every record yet, and
  /// whether that push adopts what the daemon ran before it came back.
  std::map<std::string, bool> fresh;
  supervision children;         ///< its deployment actors' crashes
  wire::daemon_info info;
  std::uint64_t pushes = 0;
  /// The load balancers last handed to the HAProxy supervisor (none yet: nullopt).
  std::optional<std::vector<lb_view>> lb_views;
  /// The zone last handed to the DNS server (null: none yet).
  std::shared_ptr<const dns_zone> dns;
  /// The quota file as last read ("<mtime>:<size>"; empty: not yet).
  std::string quota_stamp;
  // Autoscaling (issue 15): when the next evaluation is due, the counters'
  // last samples, each autoscaler's recommendations and last decision, and
  // each deployment's recent scalings (the rate limits).
  unix_nanos next_evaluation = 0;
  rate_tracker cpu_rates;
  rate_tracker request_rates;
  std::map<std::string, std::vector<past_recommendation>> recommendations;
  std::map<std::string, nlohmann::json> last_decision;
  std::map<std::string, std::vector<past_scaling>> scalings;
  // A host of a cluster (ctx->cluster, issue 16): commands are decided one at
  // a time on the committed state and appended on its head; a conflict (another
  // host appended first) folds what is new and decides again.
  struct queued {
    command cmd;
    std::function<void(expected<record_batch>)> done;
    int conflicts = 0;
  };
  std::deque<queued> queue;
  bool appending = false;
  bool leader = false;          ///< it decides what the whole cluster plans
  std::string leader_name;      ///< who leads ("" : nobody known)
  unix_nanos leader_since = 0;
  std::vector<std::string> alive; ///< hosts whose lease lives (the leader's view)
  unix_nanos alive_at = 0;        ///< when that list came
  std::set<std::string> lose_pending; ///< lost hosts whose VMs are being removed
  bool fenced = false;            ///< its lease went unrenewed: workloads stopped
  std::map<std::string, std::string> addresses; ///< each live host's, as announced
  std::map<ipv4, ipv4> routes;    ///< the other hosts' /24s -> their addresses, as set
  std::string route_error;        ///< the last failure to set them, logged once
  static inline const char* name = "controller";
};

/// Holds the folded state, decides every command (so admission, IP allocation and
/// names are decided in one place, in order), plans every deployment after each
/// committed change and pushes the plan to the deployment actors it parents.
/// `initial` is the state loaded from the log at start.
controller_actor::behavior_type
controller(controller_actor::stateful_pointer<controller_state> self,
           daemon_context* ctx, world initial);

} // namespace volant
