#pragma once

// The controller's read side: docs/protocol.md's read verbs answered from the
// folded state, and what a VM is launched from.

#include "actors/actors.hpp"
#include "actors/context.hpp"

#include <string>

namespace volant {

/// Answers a read verb (deployments.list, vms.list, ...) as JSON text.
expected<std::string> answer_query(const world& w, const daemon_context& ctx,
                                   const std::string& verb, const std::string& args);

/// The record, plugin, template and health check of VM `name`. For a VM whose
/// deployment is gone (or whose plugin was removed) `plugin.name` is empty.
expected<launch_info> launch_for(const world& w, const std::string& name);

} // namespace volant
