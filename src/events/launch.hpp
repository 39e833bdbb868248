#pragma once

// What a replica runs: the plugin's entrypoint and environment with the VM's
// variables substituted. Pure, so that substitution rules are tested as data.

#include "events/types.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace volant {

/// The variables every workload sees, in this order: VOLANT_IP, VOLANT_VM_NAME,
/// VOLANT_INDEX, VOLANT_DEPLOYMENT, VOLANT_VM_DIR, VOLANT_CPU, VOLANT_MEMORY_MIB.
std::vector<env_var> workload_vars(const vm_record& vm, const std::string& vm_dir);

/// Replaces each `${NAME}` whose NAME is in `vars` by its value; other text,
/// including unknown `${...}`, is kept as written. `$${` escapes to a literal `${`.
std::string substitute(std::string_view text, const std::vector<env_var>& vars);

/// A workload's command line and environment.
struct launch_command {
  std::vector<std::string> argv;
  std::vector<env_var> env;
  /// The deployment's secret env, opened: kept apart from `env` so that a
  /// driver never puts it where others can read it (a command line, a log).
  std::vector<env_var> secret_env;
  friend bool operator==(const launch_command&, const launch_command&) = default;
};

/// The plugin's entrypoint and env, then the deployment's env (overriding keys of
/// the same name), then the VOLANT_* variables; every argument and value
/// substituted with those variables. `secrets` (the template's secret env,
/// opened by the caller) override the plugin's env of the same key, are passed
/// as given (never substituted, never substituted into arguments), and give way
/// to the VOLANT_* variables.
launch_command plan_launch(const plugin_manifest& plugin, const vm_template& tmpl,
                           const vm_record& vm, const std::string& vm_dir,
                           const std::vector<env_var>& secrets = {});

} // namespace volant
