// A scripted history written through the real decide/journal path, so that a new
// user has a log to audit before the daemon exists in their setup.

#include "replay.hpp"

#include "events/plan.hpp"
#include "events/state.hpp"
#include "store/journal.hpp"
#include "store/paths.hpp"

#include <chrono>
#include <filesystem>
#include <type_traits>
#include <variant>
#include <iostream>

namespace volant::replay {

namespace {

unix_nanos now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

class script {
public:
  script(store::journal& j, world& w) : journal_(j), world_(w) {}

  /// Decides, appends and applies; false (with a message) on rejection.
  bool run(const command& cmd) {
    auto evs = decide(world_, cmd, now());
    if (!evs) {
      std::cerr << "volant-replay: demo step rejected: " << evs.error_value().message
                << '\n';
      return false;
    }
    if (evs->empty())
      return true;
    auto recs = journal_.append(std::move(*evs));
    if (!recs) {
      std::cerr << "volant-replay: " << recs.error_value().message << '\n';
      return false;
    }
    for (const auto& rec : *recs)
      apply(world_, rec);
    return true;
  }

  /// Carries out reconcile plans the way the daemon's actors do, with a fake
  /// process id, until the deployment has converged.
  bool settle(const std::string& deployment) {
    for (int round = 0; round < 10; ++round) {
      auto p = reconcile(world_, deployment);
      if (p.actions.empty())
        return true;
      for (const auto& a : p.actions)
        if (!carry_out(a))
          return false;
    }
    return true;
  }

private:
  bool start(const std::string& vm) {
    return run(record_vm_started{vm, driver_handle{"process", ++pid_, 1000, ""}})
           && run(record_vm_ready{vm});
  }

  bool carry_out(const action& a) {
    // Exhaustive: a new kind of action does not compile until handled here.
    return std::visit(
      [&](const auto& x) -> bool {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, create_vm_action>)
          return run(create_vm{x.deployment, x.index}) && start(vm_name(x.deployment, x.index));
        else if constexpr (std::is_same_v<T, start_vm_action>)
          return start(x.vm);
        else if constexpr (std::is_same_v<T, stop_vm_action>)
          return run(record_vm_stopped{x.vm});
        else if constexpr (std::is_same_v<T, restart_vm_action>)
          return run(schedule_vm_restart{x.vm, x.reason, x.backoff_ms}) && start(x.vm);
        else if constexpr (std::is_same_v<T, pause_vm_action>)
          return run(record_vm_paused{x.vm});
        else if constexpr (std::is_same_v<T, resume_vm_action>)
          return run(record_vm_resumed{x.vm}) && run(record_vm_ready{x.vm});
        else if constexpr (std::is_same_v<T, remove_vm_action>
                           || std::is_same_v<T, recreate_vm_action>)
          return run(record_vm_stopped{x.vm}) && run(remove_vm{x.vm});
        else
          static_assert(!sizeof(T), "unhandled action");
      },
      a);
  }

  store::journal& journal_;
  world& world_;
  std::int64_t pid_ = 4000;
};

} // namespace

int run_demo(const std::string& data_dir) {
  std::filesystem::create_directories(data_dir);
  auto j = store::journal::open(store::journal_dir(data_dir));
  if (!j) {
    std::cerr << "volant-replay: " << j.error_value().message << '\n';
    return 1;
  }
  if ((*j)->last_seq() != 0) {
    std::cerr << "volant-replay: " << data_dir
              << " already holds an event log; the demo only writes into an empty one\n";
    return 1;
  }
  world w;
  script s(**j, w);
  host_config host;
  host.pool_first = *parse_ipv4("127.77.0.10");
  host.pool_last = *parse_ipv4("127.77.0.250");
  host.cpu_total = 8;
  host.memory_total_mib = 8192;
  plugin_manifest nginx;
  nginx.name = "nginx";
  nginx.version = "1.0.0";
  nginx.workload.entrypoint = {"/usr/sbin/nginx", "-g", "daemon off;"};
  nginx.health.enabled = true;
  nginx.health.probe = http_check{80, "/health"};
  deployment_spec web;
  web.name = "web";
  web.replicas = 3;
  web.tmpl.plugin = {"nginx", ""};
  web.tmpl.memory_mib = 256;
  web.tmpl.vm_labels = {{"env", "demo"}, {"tier", "frontend"}};
  bool ok = s.run(configure_host{host}) && s.run(install_plugin{nginx})
            && s.run(create_deployment{web}) && s.settle("web")
            && s.run(scale_deployment{"web", 5}) && s.settle("web")
            && s.run(record_vm_exited{"web-1", -9, "killed by signal 9"})
            && s.settle("web") && s.run(scale_deployment{"web", 2})
            && s.settle("web");
  if (!ok)
    return 1;
  if (auto st = (*j)->write_snapshot(w); !st) {
    std::cerr << "volant-replay: " << st.error_value().message << '\n';
    return 1;
  }
  update_deployment upd;
  upd.name = "web";
  upd.auto_restart = false;
  if (!s.run(upd) || !s.run(pause_deployment{"web"}) || !s.settle("web"))
    return 1;
  std::cout << "wrote " << w.last_seq << " events to " << store::journal_dir(data_dir)
            << " (snapshot included)\n";
  return 0;
}

} // namespace volant::replay
