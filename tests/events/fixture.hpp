#pragma once

// Shared helpers of the core tests: a world driven through decide + apply, with
// every committed event kept in a log, and a few ready-made specs.

#include "events/plan.hpp"
#include "events/state.hpp"
#include "events/validate.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace volant::test {

/// 10.0.0.<n>
inline ipv4 ip(std::uint32_t last_octet) {
  return (10u << 24) | last_octet;
}

/// A host with the pool 10.0.0.10-10.0.0.20 (11 addresses) and 4 GiB.
inline host_config small_host() {
  host_config c;
  c.id = "local";
  c.pool_first = ip(10);
  c.pool_last = ip(20);
  c.cpu_total = 8;
  c.memory_total_mib = 4096;
  c.max_vms = 100;
  c.max_replicas = 100;
  return c;
}

inline plugin_manifest nginx(std::string version = "1.0.0") {
  plugin_manifest m;
  m.name = "nginx";
  m.version = std::move(version);
  m.workload.entrypoint = {"/usr/sbin/nginx", "-g", "daemon off;"};
  m.health.enabled = true;
  m.health.probe = http_check{80, "/health"};
  return m;
}

inline deployment_spec spec(std::string name, std::int32_t replicas,
                            std::int64_t memory_mib = 128) {
  deployment_spec s;
  s.name = std::move(name);
  s.replicas = replicas;
  s.tmpl.plugin = {"nginx", ""};
  s.tmpl.memory_mib = memory_mib;
  return s;
}

/// A world changed only through decide and apply, as an actor would.
struct harness {
  world w;
  std::vector<recorded_event> log;
  unix_nanos now = 1'000'000'000;

  /// Decides `cmd`; on success applies and records the events.
  expected<std::vector<event>> run(const command& cmd) {
    now += 1000;
    auto r = decide(w, cmd, now);
    if (r)
      for (const auto& ev : *r)
        record(ev);
    return r;
  }

  void record(const event& ev) {
    recorded_event rec{log.size() + 1, now, ev};
    apply(w, rec);
    log.push_back(std::move(rec));
  }

  /// Runs `cmd`, which must succeed.
  std::vector<event> must(const command& cmd) {
    auto r = run(cmd);
    if (!r)
      FAIL("unexpected error: " << r.error_value().message);
    return *r;
  }

  /// Runs `cmd`, which must fail; the state must not change.
  error fails(const command& cmd) {
    auto before = w;
    auto r = run(cmd);
    REQUIRE_FALSE(r.has_value());
    CHECK(w == before);
    return r.error_value();
  }

  /// A configured host with nginx 1.0.0 installed.
  static harness ready(host_config config = small_host()) {
    harness h;
    h.must(configure_host{config});
    h.must(install_plugin{nginx()});
    return h;
  }

  /// Records replicas 0..n-1 of `deployment` (pending).
  void create_vms(const std::string& deployment, std::uint32_t n) {
    for (std::uint32_t i = 0; i < n; ++i)
      must(create_vm{deployment, i});
  }

  /// Records replicas 0..n-1 and brings them to `ready`.
  void bring_up(const std::string& deployment, std::uint32_t n) {
    for (std::uint32_t i = 0; i < n; ++i) {
      auto name = vm_name(deployment, i);
      if (!w.vms.contains(name))
        must(create_vm{deployment, i});
      must(record_vm_started{name, {"process", 100 + i, 1, ""}});
      must(record_vm_ready{name});
    }
  }

  const vm_record& vm(const std::string& name) const {
    auto i = w.vms.find(name);
    REQUIRE(i != w.vms.end());
    return i->second;
  }

  const deployment_state& dep(const std::string& name) const {
    auto i = w.deployments.find(name);
    REQUIRE(i != w.deployments.end());
    return i->second;
  }
};

inline bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

/// The one event of type T in `evs`, which must hold exactly that.
template <class T> T only(const std::vector<event>& evs) {
  REQUIRE(evs.size() == 1);
  REQUIRE(std::holds_alternative<T>(evs.front()));
  return std::get<T>(evs.front());
}

/// Folds `log` into an empty world.
inline world replay(const std::vector<recorded_event>& log) {
  world w;
  for (const auto& rec : log)
    apply(w, rec);
  return w;
}

} // namespace volant::test
