#pragma once

// Where and as whom volantd runs workloads: `--workload-user`, `--run-dir`,
// `--max-pids` (docs/security.md, "Workloads").

#include "events/error.hpp"
#include "runtime/sandbox.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace volant {

struct workload_options {
  std::string user = runtime::default_workload_user;
  std::string run_dir;          ///< empty: the default of default_run_dir()
  std::int64_t max_pids = 1024; ///< per VM; 0: no limit
};

void add_workload_options(CLI::App& app, workload_options& opts);

/// /var/lib/volant/run when volantd is root, else <data-dir>/run.
std::string default_run_dir(const std::string& data_dir);

/// What volantd settled on at start.
struct workload_setup {
  runtime::workload_identity identity;
  std::string run_dir;
  std::string summary; ///< one line for volantd's log
};

/// Resolves the workload user, prepares and locks the run directory (refused
/// when the workload user cannot reach it, e.g. inside the 0700 data directory,
/// or when others could write it: runtime::prepare_run_root).
expected<workload_setup> prepare_workloads(const workload_options& opts,
                                           const std::string& data_dir);

} // namespace volant
