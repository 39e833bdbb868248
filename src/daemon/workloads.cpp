#include "daemon/workloads.hpp"

#include <unistd.h>

#include <filesystem>

namespace volant {

void add_workload_options(CLI::App& app, workload_options& opts) {
  app.add_option("--workload-user", opts.user,
                 "User the workloads run as when volantd is root (created by "
                 "scripts/setup.sh; default volant-workload)");
  app.add_option("--run-dir", opts.run_dir,
                 "Directory of the VMs' run directories (default: /var/lib/volant/run "
                 "as root, else <data-dir>/run)");
  app.add_option("--max-pids", opts.max_pids,
                 "Most processes and threads of one VM (cgroup pids; 0: no limit)")
    ->check(CLI::Range(std::int64_t{0}, std::int64_t{4194304}));
}

std::string default_run_dir(const std::string& data_dir) {
  return ::geteuid() == 0 ? "/var/lib/volant/run" : data_dir + "/run";
}

expected<workload_setup> prepare_workloads(const workload_options& opts,
                                           const std::string& data_dir) {
  workload_setup out;
  auto id = runtime::resolve_workload_user(opts.user);
  if (!id)
    return id.error_value();
  out.identity = std::move(*id);
  std::error_code ignored;
  out.run_dir = std::filesystem::absolute(
                  opts.run_dir.empty() ? default_run_dir(data_dir) : opts.run_dir, ignored)
                  .lexically_normal()
                  .string();
  while (out.run_dir.size() > 1 && out.run_dir.back() == '/')
    out.run_dir.pop_back();
  if (auto st = runtime::prepare_run_root(out.run_dir, out.identity); !st)
    return st.error_value();
  if (auto st = runtime::lock_run_root(out.run_dir, data_dir); !st)
    return st.error_value();
  const auto& who = out.identity;
  if (who.switch_user)
    out.summary = "workloads run as " + who.name + " (uid " + std::to_string(who.uid)
                  + ", CAP_NET_BIND_SERVICE only) in " + out.run_dir;
  else
    out.summary = "volantd is not root: workloads run as " + who.name + " (uid "
                  + std::to_string(who.uid) + ") itself, without a user switch, in "
                  + out.run_dir;
  return out;
}

} // namespace volant
