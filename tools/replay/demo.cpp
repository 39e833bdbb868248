// A scripted history written through the real decide/journal path, so that a new
// user has a log to audit before the daemon exists in their setup.

#include "replay.hpp"

#include "events/plan.hpp"
#include "events/state.hpp"
#include "events/vm_machine.hpp"
#include "store/journal.hpp"
#include "store/paths.hpp"

#include <chrono>
#include <filesystem>
#include <type_traits>
#include <variant>
#include <iostream>
#include <map>
#include <optional>

namespace volant::replay {

namespace {

class script {
public:
  script(store::journal& j, world& w) : journal_(j), world_(w) {}

  /// Decides, appends and applies; false (with a message) on rejection.
  bool run(const command& cmd) { return bool(commit(cmd)); }

  /// Lets the deployment's VMs reach their goals the way the daemon's actors
  /// do (each VM's lifecycle machine with a driver that always succeeds at
  /// once, fake pids), until nothing is left to do.
  bool settle(const std::string& deployment) {
    for (int round = 0; round < 50; ++round) {
      auto p = reconcile(world_, deployment);
      for (auto index : p.create)
        if (!run(create_vm{deployment, index}))
          return false;
      p = reconcile(world_, deployment);
      for (const auto& [vm, goal] : p.goals) {
        if (!machines_.count(vm)) {
          machines_.emplace(vm, make_vm_machine(world_.vms.at(vm)));
          feed(vm, in_spawned{false});
        }
        feed(vm, in_goal{goal});
      }
      if (!busy_)
        return !failed_;
      busy_ = false;
      if (wake_ != 0) {
        clock_ = std::max(clock_, wake_);
        wake_ = 0;
        for (auto& [vm, m] : machines_)
          feed(vm, in_tick{});
      }
    }
    return !failed_;
  }

  /// The workload of `vm` dies, as its exit watch would report it.
  bool kill(const std::string& vm, std::int32_t code, const std::string& reason) {
    auto& m = machines_.at(vm);
    feed(vm, in_exited{m.run.n, code, reason});
    return !failed_;
  }

private:
  unix_nanos now() {
    clock_ = std::max(clock_, wall_now());
    return clock_;
  }

  std::optional<std::vector<event>> commit(const command& cmd) {
    auto evs = decide(world_, cmd, now());
    if (!evs) {
      std::cerr << "volant-replay: demo step rejected: " << evs.error_value().message
                << '\n';
      return std::nullopt;
    }
    if (evs->empty())
      return std::vector<event>{};
    auto recs = journal_.append(*evs);
    if (!recs) {
      std::cerr << "volant-replay: " << recs.error_value().message << '\n';
      return std::nullopt;
    }
    for (const auto& rec : *recs)
      apply(world_, rec);
    return std::move(*evs);
  }

  void feed(const std::string& vm, vm_input first) {
    std::vector<vm_input> queue{std::move(first)};
    for (std::size_t i = 0; i < queue.size() && machines_.count(vm); ++i) {
      auto effects = vm_step(machines_.at(vm), queue[i], now(), config_);
      for (const auto& fx : effects)
        if (auto answer = carry_out(vm, fx))
          queue.push_back(std::move(*answer));
    }
  }

  std::optional<vm_input> carry_out(const std::string& vm, const vm_effect& fx) {
    busy_ = busy_ || !std::holds_alternative<fx_note>(fx);
    if (const auto* x = std::get_if<fx_start>(&fx))
      return in_started{x->n, driver_handle{"process", ++pid_, 1000, ""}};
    if (const auto* x = std::get_if<fx_check_alive>(&fx))
      return in_alive{x->n, true};
    if (const auto* x = std::get_if<fx_probe_start>(&fx))
      return in_verdict{x->n, true, ""};
    if (const auto* x = std::get_if<fx_terminate>(&fx))
      return in_exited{x->n, 0, "exited with status 0"};
    if (const auto* x = std::get_if<fx_freeze>(&fx))
      return in_frozen{x->n, true, ""};
    if (const auto* x = std::get_if<fx_thaw>(&fx); x && x->reply)
      return in_thawed{x->n, true, ""};
    if (const auto* x = std::get_if<fx_timer>(&fx))
      wake_ = wake_ == 0 ? x->at : std::min(wake_, x->at);
    if (const auto* x = std::get_if<fx_command>(&fx)) {
      auto evs = commit(x->cmd);
      if (!evs) {
        failed_ = true;
        return in_rejected{"refused"};
      }
      return in_committed{std::move(*evs)};
    }
    if (std::holds_alternative<fx_quit>(fx))
      machines_.erase(vm);
    return std::nullopt;
  }

  static unix_nanos wall_now() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
  }

  store::journal& journal_;
  world& world_;
  std::map<std::string, vm_machine> machines_;
  vm_config config_;
  unix_nanos clock_ = 0;
  unix_nanos wake_ = 0;
  bool busy_ = false;
  bool failed_ = false;
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
            && s.kill("web-1", -9, "killed by signal 9 (SIGKILL)")
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
