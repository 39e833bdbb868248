#pragma once

// The parts of `decide` (events/state.hpp) kept in files of their own: what
// they share with decide.cpp. Internal to src/events.

#include "events/commands.hpp"
#include "events/error.hpp"
#include "events/state.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace volant::decide_detail {

using events = std::vector<event>;
using result = expected<events>;

/// 'text', for messages.
std::string quoted(std::string_view text);

error no_deployment(const std::string& name);

/// True when `a` and `b` differ at most in their health and readiness checks:
/// such a change needs no new VM (an in-place update), the probe restarts.
bool checks_only(vm_template a, vm_template b);

// Load balancers (decide_lb.cpp).
result decide_one(const world& w, const create_lb& cmd, unix_nanos now);
result decide_one(const world& w, const switch_lb& cmd, unix_nanos now);
result decide_one(const world& w, const delete_lb& cmd, unix_nanos now);

// Rollouts (decide_rollout.cpp).
result decide_one(const world& w, const record_rollout& cmd, unix_nanos now);
result decide_one(const world& w, const check_rollout& cmd, unix_nanos now);

} // namespace volant::decide_detail
