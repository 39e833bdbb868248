// volar guest fetch: fills the local package cache microVM guests are built
// from (docs/guests.md). Local: needs apt and Debian's archive, no daemon.

#include "cli/commands.hpp"
#include "guest/build.hpp"
#include "guest/debs.hpp"

#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

namespace volant::cli {

namespace {

void run_fetch(const std::vector<std::string>& packages, const std::string& dir, bool kernel) {
  auto wanted = packages;
  // What every built guest needs: busybox (a shell and the usual commands for
  // guests whose packages bring none) and, unless told otherwise, the kernel.
  wanted.push_back("busybox-static");
  if (kernel)
    wanted.push_back("linux-image-cloud-amd64");
  std::cerr << "volar: fetching into " << dir << " (with dependencies)\n";
  auto n = must(guest::fetch_packages(dir, wanted));
  auto cache = must(guest::scan_cache(dir));
  // Offline from here: the closure must resolve from the cache alone.
  auto closed = must(guest::closure(cache, packages.empty() ? std::vector<std::string>{"busybox-static"}
                                                            : packages,
                                    "volar guest fetch"));
  std::cout << n << " packages fetched; " << cache.size() << " in " << dir << "; "
            << closed.size() << " needed by " << (packages.empty() ? "busybox-static" : packages.front())
            << (packages.size() > 1 ? " and the others" : "") << "\n";
}

} // namespace

void add_guest_commands(CLI::App& app, globals& g, action& run) {
  static_cast<void>(g);
  auto* grp = app.add_subcommand("guest", "Prepare what microVM guests are built from");
  grp->callback([grp] {
    if (grp->get_subcommands().empty())
      throw CLI::CallForHelp();
  });
  auto* cmd = grp->add_subcommand(
      "fetch", "Download Debian packages and their dependencies into the local package "
               "cache (the only place guest builds take packages from)");
  auto packages = std::make_shared<std::vector<std::string>>();
  auto dir = std::make_shared<std::string>(guest::default_package_dir());
  auto no_kernel = std::make_shared<bool>(false);
  cmd->add_option("PACKAGE", *packages, "Debian packages, e.g. nginx python3");
  cmd->add_option("--cache", *dir, "The package cache (volantd --package-cache)")
      ->capture_default_str();
  cmd->add_flag("--no-kernel", *no_kernel,
                "Do not fetch the default guest kernel (linux-image-cloud-amd64)");
  cmd->callback([=, &run] { run = [=] { run_fetch(*packages, *dir, !*no_kernel); }; });
}

} // namespace volant::cli
