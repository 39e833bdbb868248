#pragma once

// The command groups of volar. Each registers its CLI11 subcommands; a parsed
// command stores what to run in `run`, and main runs it after parsing succeeded
// (so that global options given after the subcommand are already set).

#include "cli/read_input.hpp"
#include "cli/session.hpp"

#include <chrono>
#include <functional>

namespace CLI {
class App;
}

namespace volant::cli {

using action = std::function<void()>;

void add_deployment_commands(CLI::App& app, globals& g, action& run);
void add_vm_commands(CLI::App& app, globals& g, action& run);
void add_lb_commands(CLI::App& app, globals& g, action& run);
void add_volume_commands(CLI::App& app, globals& g, action& run);
void add_hpa_commands(CLI::App& app, globals& g, action& run);
void add_hosts_commands(CLI::App& app, globals& g, action& run);
void add_plugin_commands(CLI::App& app, globals& g, action& run);
/// apply, debug resources, version.
void add_misc_commands(CLI::App& app, globals& g, action& run);
void add_guest_commands(CLI::App& app, globals& g, action& run);
/// shell: the operator's prompt (ls, inspect, events, state, explain).
void add_shell_commands(CLI::App& app, globals& g, action& run);
/// credentials: show, export, import, rotate, revoke (mutual TLS).
void add_credentials_commands(CLI::App& app, globals& g, action& run);

/// Polls deployments.show every 250 ms until READY == CURRENT == DESIRED; a
/// live line on a terminal, plain lines when the numbers change otherwise.
/// Fails when the deployment stays blocked > 3 s or after `timeout`. `first` is
/// a reply already at hand (the deployment as a mutation returned it), or null.
void wait_for(session& s, const std::string& name, std::chrono::seconds timeout,
              const nlohmann::json* first);


/// Adds `--wait` and `--timeout SECONDS` (default 300) to `cmd`.
struct wait_opts {
  bool wait = false;
  int timeout = 300;
};
void add_wait_options(CLI::App& cmd, wait_opts& w);

} // namespace volant::cli
