// Property test: random command sequences (seeded, so every failure reproduces)
// are decided against the state; the accepted events are applied and logged.
// After every step and after every "settle" (the reconcile loop carried out by
// a perfect driver) the invariants below must hold.

#include "fixture.hpp"

#include <map>
#include <random>
#include <set>

using namespace volant;
using namespace volant::test;

namespace {

constexpr int sequences = 200;
constexpr int steps = 100;
constexpr int settle_rounds = 200;

/// Totals over all sequences, to show the random walk reached the interesting
/// places at all.
struct coverage {
  std::map<std::string, int> events;
  std::map<std::string, int> errors;
  std::map<std::string, int> actions;
  int blocked = 0;
  int settles = 0;
};

class simulation {
public:
  simulation(std::uint32_t seed, coverage& cov) : rng_(seed), cov_(cov) {
    h_.must(configure_host{random_host(true)});
    h_.must(install_plugin{nginx("1.0.0")});
  }

  void step() {
    int what = pick(0, 99);
    if (what < 8)
      settle();
    else if (what < 25)
      reconcile_once();
    else
      run(random_command());
    check_invariants();
  }

  /// Carries out reconcile plans until one round plans nothing.
  void settle() {
    cov_.settles++;
    int round = 0;
    while (settle_round()) {
      REQUIRE(++round < settle_rounds);
    }
    check_invariants();
    check_settled();
  }

private:
  harness h_;
  std::mt19937 rng_;
  coverage& cov_;
  restart_policy policy_;

  // -- randomness -------------------------------------------------------------

  int pick(int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng_);
  }

  bool chance(int percent) { return pick(0, 99) < percent; }

  template <class T> T one_of(const std::vector<T>& xs) {
    return xs[static_cast<std::size_t>(
        pick(0, static_cast<int>(xs.size()) - 1))];
  }

  /// Mostly an existing deployment, else a free name, now and then an invalid
  /// one.
  std::string deployment_name() {
    static const std::vector<std::string> valid{"web", "db", "api", "web-1"};
    static const std::vector<std::string> invalid{"Bad", "", "-x"};
    if (!h_.w.deployments.empty() && chance(70)) {
      auto i = h_.w.deployments.begin();
      std::advance(i, pick(0, static_cast<int>(h_.w.deployments.size()) - 1));
      return i->first;
    }
    return chance(95) ? one_of(valid) : one_of(invalid);
  }

  std::string vm_name_any() {
    if (h_.w.vms.empty() || chance(5))
      return "ghost-0";
    auto i = h_.w.vms.begin();
    std::advance(i, pick(0, static_cast<int>(h_.w.vms.size()) - 1));
    return i->first;
  }

  plugin_ref plugin() {
    static const std::vector<std::string> versions{"1.0.0", "1.9.0", "1.10.0",
                                                   "v2"};
    return {chance(95) ? "nginx" : "redis", chance(75) ? "" : one_of(versions)};
  }

  host_config random_host(bool valid) {
    auto c = small_host();
    c.pool_first = ip(10);
    c.pool_last = ip(static_cast<std::uint32_t>(10 + pick(4, 30)));
    c.memory_total_mib = 256 * pick(4, 16);
    c.max_vms = static_cast<std::uint32_t>(pick(4, 30));
    c.max_replicas = static_cast<std::uint32_t>(pick(4, 12));
    if (!valid)
      c.pool_last = ip(5);
    return c;
  }

  update_strategy strategy() {
    update_strategy s;
    if (chance(50)) {
      s.kind = strategy_kind::rolling;
      s.max_unavailable
          = chance(50) ? int_or_percent{1, false} : int_or_percent{50, true};
      if (chance(5))
        s.max_surge = s.max_unavailable = {0, false}; // invalid
    }
    return s;
  }

  /// Mostly within the smallest replica limit, sometimes negative or too many.
  std::int32_t replicas() {
    if (chance(5))
      return -1;
    return chance(90) ? pick(0, 6) : pick(7, 14);
  }

  std::int64_t memory() {
    static const std::vector<std::int64_t> sizes{64, 128, 128, 256, 512};
    return chance(95) ? one_of(sizes) : 0;
  }

  // -- commands ---------------------------------------------------------------

  command random_command() {
    switch (pick(0, 15)) {
    case 0:
      return install();
    case 1:
      return uninstall();
    case 2:
    case 3:
      return create();
    case 4:
      return scale_deployment{deployment_name(), replicas()};
    case 5:
      return update();
    case 6:
      return pause_deployment{deployment_name()};
    case 7:
      return resume_deployment{deployment_name()};
    case 8:
      return chance(50) ? command{delete_deployment{deployment_name()}}
                        : command{configure_host{random_host(chance(90))}};
    case 9:
      return create_vm{deployment_name(),
                       static_cast<std::uint32_t>(pick(0, 8))};
    default:
      return lifecycle();
    }
  }

  command install() {
    auto m = nginx(
        one_of(std::vector<std::string>{"1.0.0", "1.9.0", "1.10.0", "v2"}));
    if (chance(20))
      m.name = "redis";
    if (chance(10))
      m.workload.entrypoint.clear(); // invalid
    m.health.enabled = chance(50);
    return install_plugin{m};
  }

  /// Mostly one version: removing every version at once would end the walk's
  /// deployments for good.
  command uninstall() {
    static const std::vector<std::string> versions{"1.0.0", "1.9.0", "1.10.0",
                                                   "v2"};
    return remove_plugin{chance(80) ? "nginx" : "redis",
                         chance(90) ? one_of(versions) : ""};
  }

  command create() {
    auto name
        = chance(60)
              ? one_of(std::vector<std::string>{"web", "db", "api", "web-1"})
              : deployment_name();
    auto s = spec(name, replicas(), memory());
    s.tmpl.plugin = plugin();
    s.tmpl.cpu = chance(95) ? pick(1, 3) : 0;
    s.auto_restart = chance(75);
    s.paused = chance(10);
    s.strategy = strategy();
    if (chance(5))
      s.tmpl.vm_labels = {{"bad key", "x"}};
    return create_deployment{s};
  }

  command update() {
    update_deployment u;
    u.name = deployment_name();
    if (chance(30))
      u.plugin = plugin();
    if (chance(30))
      u.cpu = pick(0, 3);
    if (chance(30))
      u.memory_mib = memory();
    if (chance(20))
      u.env = std::vector<env_var>{{chance(90) ? "MODE" : "1BAD", "x"}};
    if (chance(20))
      u.auto_restart = chance(50);
    if (chance(20))
      u.strategy = strategy();
    return u;
  }

  command lifecycle() {
    auto vm = vm_name_any();
    switch (pick(0, 11)) {
    case 0:
      return record_vm_started{vm, {"process", pick(1, 9999), 1, ""}};
    case 1:
      return record_vm_ready{vm};
    case 2:
      return record_vm_unhealthy{vm, "HTTP 503"};
    case 3:
      return record_vm_exited{vm, pick(-9, 2), "exit"};
    case 4:
      return record_vm_start_failed{vm, "ENOENT"};
    case 5:
      return record_vm_stopped{vm};
    case 6:
      return remove_vm{vm};
    case 7:
      return schedule_vm_restart{vm, "test", 1000};
    case 8:
      return record_vm_adopted{vm, {"process", pick(1, 9999), 2, ""}};
    case 9:
      return record_vm_paused{vm};
    case 10:
      return record_vm_resumed{vm};
    default:
      return record_actor_crash{"vm/" + vm, "boom", 1};
    }
  }

  /// Decides and applies `cmd`; errors must name a code and say something.
  expected<std::vector<event>> run(const command& cmd) {
    auto before = h_.w;
    auto r = h_.run(cmd);
    if (r) {
      // Every accepted event takes effect: none is silently dropped by apply.
      auto folded = before;
      for (const auto& ev : *r) {
        cov_.events[std::string(kind_name(ev))]++;
        auto prev = folded;
        apply(folded, ev);
        if (!std::holds_alternative<actor_crashed>(ev)
            && !std::holds_alternative<vm_adopted>(ev))
          CHECK_MESSAGE(folded != prev, kind_name(ev));
      }
    } else {
      CHECK_FALSE(r.error_value().message.empty());
      CHECK(h_.w == before);
      cov_.errors[std::string(to_string(r.error_value().code))]++;
    }
    return r;
  }

  void must(const command& cmd) {
    auto r = run(cmd);
    if (!r)
      FAIL("settle step refused: " << r.error_value().message);
  }

  // -- the perfect driver -----------------------------------------------------

  /// Up and not frozen.
  bool is_running(vm_status s) {
    return s == vm_status::starting || s == vm_status::running
           || s == vm_status::ready || s == vm_status::unhealthy
           || s == vm_status::stopping;
  }

  /// Holds a workload, frozen or not: stopped before a restart or removal.
  bool is_live(vm_status s) {
    return is_running(s) || s == vm_status::paused;
  }

  void stop_if_live(const std::string& vm) {
    if (is_live(h_.vm(vm).status))
      must(record_vm_stopped{vm});
  }

  void start(const std::string& vm) {
    must(record_vm_started{vm, {"process", 1, 1, ""}});
    must(record_vm_ready{vm});
  }

  void carry_out(const action& a) {
    std::visit([&](const auto& x) { carry_out_one(x); }, a);
  }

  void carry_out_one(const create_vm_action& a) {
    cov_.actions["create"]++;
    must(create_vm{a.deployment, a.index});
  }

  void carry_out_one(const start_vm_action& a) {
    cov_.actions["start"]++;
    start(a.vm);
  }

  void carry_out_one(const stop_vm_action& a) {
    cov_.actions["stop"]++;
    must(record_vm_stopped{a.vm});
  }

  void carry_out_one(const restart_vm_action& a) {
    cov_.actions["restart"]++;
    stop_if_live(a.vm);
    must(schedule_vm_restart{a.vm, a.reason, a.backoff_ms});
    start(a.vm);
  }

  void carry_out_one(const recreate_vm_action& a) {
    cov_.actions["recreate"]++;
    auto vm = h_.vm(a.vm);
    stop_if_live(a.vm);
    must(remove_vm{a.vm});
    // The replacement may not fit any more (capacity taken meanwhile): then the
    // next plan reports itself blocked.
    auto r = run(create_vm{vm.deployment, vm.index});
    if (!r)
      CHECK((r.error_value().code == ec::insufficient_memory
             || r.error_value().code == ec::host_vm_limit
             || r.error_value().code == ec::ip_pool_exhausted));
  }

  void carry_out_one(const remove_vm_action& a) {
    cov_.actions["remove"]++;
    stop_if_live(a.vm);
    must(remove_vm{a.vm});
  }

  void carry_out_one(const pause_vm_action& a) {
    cov_.actions["pause"]++;
    must(record_vm_paused{a.vm});
  }

  /// Thawed, it is running; its probe passing is left to finish_in_flight.
  void carry_out_one(const resume_vm_action& a) {
    cov_.actions["resume"]++;
    must(record_vm_resumed{a.vm});
  }

  /// What actors and probes finish on their own: restarts whose back-off
  /// elapses, running VMs whose probe passes.
  bool finish_in_flight() {
    bool acted = false;
    std::vector<std::string> names;
    for (const auto& [name, vm] : h_.w.vms)
      names.push_back(name);
    for (const auto& name : names) {
      const auto& vm = h_.vm(name);
      auto d = h_.w.deployments.find(vm.deployment);
      if (d == h_.w.deployments.end() || d->second.spec.paused)
        continue;
      if (vm.status == vm_status::restarting) {
        start(name);
        acted = true;
      } else if (vm.status == vm_status::running) {
        must(record_vm_ready{name});
        acted = true;
      }
    }
    return acted;
  }

  /// One pass over orphans and every deployment; whether anything was done.
  bool settle_round() {
    bool acted = finish_in_flight();
    for (const auto& vm : orphans(h_.w)) {
      carry_out(remove_vm_action{vm});
      acted = true;
    }
    std::vector<std::string> names;
    for (const auto& [name, d] : h_.w.deployments)
      names.push_back(name);
    for (const auto& name : names) {
      auto p = reconcile(h_.w, name, policy_);
      if (!p.blocked.empty())
        cov_.blocked++;
      for (const auto& a : p.actions)
        carry_out(a);
      acted = acted || !p.actions.empty();
    }
    return acted;
  }

  /// Carries out only the first action of one deployment's plan: the world is
  /// observed half-way through the reconcile loop.
  void reconcile_once() {
    if (h_.w.deployments.empty())
      return;
    auto i = h_.w.deployments.begin();
    std::advance(i, pick(0, static_cast<int>(h_.w.deployments.size()) - 1));
    auto p = reconcile(h_.w, i->first, policy_);
    if (!p.actions.empty())
      carry_out(p.actions.front());
  }

  // -- invariants -------------------------------------------------------------

  void check_invariants() {
    const auto& w = h_.w;
    CHECK(replay(h_.log) == w);
    std::int64_t memory = 0;
    std::int64_t cpu = 0;
    std::set<ipv4> ips;
    for (const auto& [name, vm] : w.vms) {
      CHECK(name == vm.name);
      CHECK(name == vm_name(vm.deployment, vm.index));
      CHECK(ips.insert(vm.ip).second); // no address held twice
      auto lease = w.host.leases.find(vm.ip);
      REQUIRE(lease != w.host.leases.end());
      CHECK(lease->second == name);
      CHECK(vm.ip >= w.host.config.pool_first);
      CHECK(vm.ip <= w.host.config.pool_last);
      memory += vm.memory_mib;
      cpu += vm.cpu;
    }
    CHECK(w.host.leases.size() == w.vms.size());
    CHECK(w.host.memory_used_mib == memory);
    CHECK(w.host.cpu_used == cpu);
    CHECK(w.host.memory_used_mib <= w.host.config.memory_total_mib);
    CHECK(w.vms.size() <= w.host.config.max_vms);
    for (const auto& [name, d] : w.deployments) {
      CHECK(d.spec.replicas >= 0);
      CHECK(w.plugins.find(d.spec.tmpl.plugin) != nullptr);
    }
  }

  void check_settled() {
    const auto& w = h_.w;
    CHECK(orphans(w).empty());
    for (const auto& [name, d] : w.deployments) {
      auto p = reconcile(w, name, policy_);
      CHECK(p.actions.empty());
      auto vms = vms_of(w, name);
      for (const auto* vm : vms) {
        CHECK(vm->index < static_cast<std::uint32_t>(d.spec.replicas));
        if (d.spec.paused)
          CHECK_FALSE(is_running(vm->status)); // frozen, stopped or never up
      }
      if (d.spec.paused || !p.blocked.empty())
        continue;
      // Exactly <dep>-0 ... <dep>-(n-1).
      REQUIRE(vms.size() == static_cast<std::size_t>(d.spec.replicas));
      for (std::uint32_t i = 0; i < vms.size(); ++i) {
        CHECK(vms[i]->name == vm_name(name, i));
        if (d.spec.auto_restart) {
          CHECK(vms[i]->status == vm_status::ready);
          CHECK(vms[i]->revision == d.revision);
        }
      }
    }
  }
};

} // namespace

TEST_CASE("random command sequences keep the state consistent and converge") {
  coverage cov;
  for (int seed = 1; seed <= sequences; ++seed) {
    CAPTURE(seed);
    simulation sim(static_cast<std::uint32_t>(seed), cov);
    for (int i = 0; i < steps; ++i) {
      CAPTURE(i);
      sim.step();
    }
    sim.settle();
  }
  // The walk reached the interesting places.
  for (auto kind :
       {"deployment_created", "deployment_scaled", "deployment_updated",
        "deployment_paused", "deployment_resumed", "deployment_deleted",
        "vm_created", "vm_started", "vm_ready", "vm_unhealthy", "vm_exited",
        "vm_start_failed", "vm_restart_scheduled", "vm_stopped", "vm_removed",
        "vm_paused", "vm_resumed", "plugin_installed", "plugin_removed",
        "host_configured"}) {
    CAPTURE(kind);
    CHECK(cov.events[kind] > 0);
  }
  for (auto code : {"insufficient_memory", "unknown_deployment", "unknown_vm",
                    "conflict", "invalid_replicas", "replica_limit",
                    "plugin_in_use", "duplicate_name", "invalid_name"}) {
    CAPTURE(code);
    CHECK(cov.errors[code] > 0);
  }
  // "stop" is no longer planned: a pause freezes VMs.
  for (auto a : {"create", "start", "restart", "recreate", "remove", "pause",
                 "resume"}) {
    CAPTURE(a);
    CHECK(cov.actions[a] > 0);
  }
  CHECK(cov.blocked > 0);
  std::string summary;
  for (const auto& [k, n] : cov.events)
    summary += k + "=" + std::to_string(n) + " ";
  for (const auto& [k, n] : cov.errors)
    summary += k + "=" + std::to_string(n) + " ";
  for (const auto& [k, n] : cov.actions)
    summary += k + "=" + std::to_string(n) + " ";
  MESSAGE("settles=" << cov.settles << " blocked=" << cov.blocked << " "
                     << summary);
}
