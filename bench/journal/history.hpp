#pragma once

// A deterministic, realistic event history for the replay benchmark: one host,
// one plugin, four deployments of 20 replicas, then an endless mix of VM
// replacements, health flaps, crashes and scale-ups/downs (20 <-> 22 replicas).
// Every prefix of the stream is a valid log: a VM is created before it starts,
// names are unique while live, IPs are the lowest free ones and are released on
// removal, and at most 88 VMs are ever live, so `apply` does real map work on a
// bounded world.

#include "events/events.hpp"

#include <cstdint>
#include <deque>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace volant::bench {

class history {
public:
  explicit history(std::uint64_t seed = 42) : rng_(seed) {
    for (ipv4 ip = pool_first; ip <= pool_last; ++ip)
      free_ips_.insert(ip);
    setup();
  }

  /// Appends exactly `n` further events of the history to `out`.
  void next(std::size_t n, std::vector<event>& out) {
    out.reserve(out.size() + n);
    for (std::size_t i = 0; i < n; ++i) {
      if (pending_.empty())
        step();
      out.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
  }

  /// VMs live once every generated step has been emitted (for a sanity check).
  std::size_t live_vms() const {
    std::size_t n = 0;
    for (const auto& d : deps_)
      n += static_cast<std::size_t>(d.replicas);
    return n;
  }

private:
  static constexpr ipv4 pool_first = (127u << 24) | (77u << 16) | 10u;
  static constexpr ipv4 pool_last
      = (127u << 24) | (77u << 16) | (1u << 8) | 250u;
  static constexpr std::int32_t base_replicas = 20;
  static constexpr std::int32_t scaled_replicas = 22;

  struct dep {
    std::string name;
    std::int32_t replicas = 0; ///< Indices 0..replicas-1 are live.
    std::vector<ipv4> ips;     ///< IP of each live index.
  };

  unix_nanos tick() { return at_ += 1'000'000; } // 1 ms apart

  void emit(event ev) { pending_.push_back(std::move(ev)); }

  void setup() {
    host_config host;
    host.id = "local";
    host.pool_first = pool_first;
    host.pool_last = pool_last;
    host.cpu_total = 128;
    host.memory_total_mib = 65536;
    emit(host_configured{host, tick()});

    plugin_manifest nginx;
    nginx.name = "nginx";
    nginx.version = "1.25.3";
    nginx.description = "nginx web server";
    nginx.workload.entrypoint = {"/usr/sbin/nginx", "-g", "daemon off;"};
    nginx.workload.env = {{"NGINX_PORT", "80"}};
    nginx.health.enabled = true;
    nginx.health.probe = http_check{80, "/health"};
    emit(plugin_installed{nginx, tick()});

    for (const char* name : {"web", "api", "worker", "cache"}) {
      deployment_spec spec;
      spec.name = name;
      spec.replicas = base_replicas;
      spec.tmpl.plugin = {"nginx", "1.25.3"};
      spec.tmpl.cpu = 1;
      spec.tmpl.memory_mib = 128;
      spec.tmpl.vm_labels = {{"app", name}, {"tier", "prod"}};
      spec.tmpl.env = {{"PORT", "8080"}, {"LOG_LEVEL", "info"}};
      spec.strategy.kind = strategy_kind::rolling;
      emit(deployment_created{spec, 1, tick()});
      deps_.push_back(dep{name, 0, {}});
    }
    for (auto& d : deps_)
      while (d.replicas < base_replicas)
        grow(d);
  }

  void create(dep& d, std::uint32_t index) {
    auto ip = *free_ips_.begin();
    free_ips_.erase(free_ips_.begin());
    d.ips[index] = ip;
    auto name = d.name + "-" + std::to_string(index);
    emit(vm_created{name, d.name, index, "local", ip, 1, 1, 128, tick()});
    start(name);
  }

  void start(const std::string& name) {
    ++pid_;
    auto ticks = static_cast<std::uint64_t>(100'000 + pid_);
    emit(vm_started{name, driver_handle{"process", pid_, ticks, ""}, tick()});
    emit(vm_ready{name, tick()});
  }

  void destroy(dep& d, std::uint32_t index) {
    auto name = d.name + "-" + std::to_string(index);
    emit(vm_stopped{name, tick()});
    emit(vm_removed{name, tick()});
    free_ips_.insert(d.ips[index]);
  }

  void grow(dep& d) {
    d.ips.push_back(0);
    create(d, static_cast<std::uint32_t>(d.replicas));
    ++d.replicas;
  }

  void shrink(dep& d) {
    --d.replicas;
    destroy(d, static_cast<std::uint32_t>(d.replicas));
    d.ips.pop_back();
  }

  /// One operator-visible happening, as the daemon would journal it.
  void step() {
    auto& d = deps_[pick(deps_.size())];
    auto index = static_cast<std::uint32_t>(
        pick(static_cast<std::size_t>(d.replicas)));
    auto name = d.name + "-" + std::to_string(index);
    auto roll = pick(100);
    if (roll < 50) { // replacement (rolling update / recreate of one replica)
      destroy(d, index);
      create(d, index);
    } else if (roll < 75) { // health flap and restart in place
      emit(vm_unhealthy{name, "connection refused", tick()});
      emit(vm_restart_scheduled{name, "unhealthy", 1000, tick()});
      start(name);
    } else if (roll < 85) { // crash
      emit(vm_exited{name, -9, "killed by signal 9", tick()});
      emit(vm_restart_scheduled{name, "exited", 2000, tick()});
      start(name);
    } else { // scale up or down by two
      auto to = d.replicas == base_replicas ? scaled_replicas : base_replicas;
      emit(deployment_scaled{d.name, d.replicas, to, tick()});
      while (d.replicas < to)
        grow(d);
      while (d.replicas > to)
        shrink(d);
    }
  }

  std::size_t pick(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>{0, n - 1}(rng_);
  }

  std::mt19937_64 rng_;
  std::deque<event> pending_;
  std::vector<dep> deps_;
  std::set<ipv4> free_ips_;
  unix_nanos at_ = 1'798'761'600'000'000'000; // 2027-01-01T00:00:00Z
  std::int64_t pid_ = 4000;
};

} // namespace volant::bench
