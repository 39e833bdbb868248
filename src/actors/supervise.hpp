#pragma once

// One supervision helper for every actor that parents others (root -> journal,
// controller, api; controller -> deployments; deployment -> VMs; VM -> probe): a
// child's crash is counted, journaled as actor_crashed, and the child restarted
// after the back-off of `on_crash` (src/events/plan.hpp), or, after too many
// crashes in a row, the supervisor gives up and crashes itself (escalation).

#include "actors/actors.hpp"
#include "actors/context.hpp"
#include "actors/log.hpp"

#include <caf/error.hpp>
#include <caf/send.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace volant {

/// What a supervisor remembers of its children's crashes, by child path.
struct supervision {
  std::map<std::string, std::uint32_t> crashes; ///< crashes so far per child
  std::map<std::string, crash_history> recent;  ///< for back-off and escalation
};

/// The child at `path` ("vm/web-0") of the supervisor `who` crashed with
/// `reason`: journals it (through `controller`, when there is one), then calls
/// `respawn(delay)`; after too many crashes in a row it quits `self` with the
/// child's reason instead, so that its own supervisor takes over, and returns
/// false.
template <class Self, class Respawn>
bool supervise_crash(Self* self, supervision& sup, const std::string& who,
                     const std::string& path, const caf::error& reason,
                     const controller_actor& controller, Respawn respawn) {
  auto text = self->system().render(reason);
  auto count = ++sup.crashes[path];
  auto response = on_crash(sup.recent[path], now_nanos());
  if (controller)
    caf::anon_send(controller, command_atom::value,
                   command{record_actor_crash{path, text, count}});
  if (response.escalate) {
    VLOG_ERROR(who, "{} keeps crashing ({}): giving up", path, text);
    self->quit(reason);
    return false;
  }
  VLOG_WARN(who, "{} crashed ({}), restarting it in {} ms (crash {})", path, text,
            response.delay_ms, count);
  respawn(std::chrono::milliseconds(response.delay_ms));
  return true;
}

} // namespace volant
