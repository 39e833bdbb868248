#include "fixture.hpp"

using namespace volant;
using namespace volant::test;

namespace {

using actions = std::vector<action>;

create_vm_action create(std::uint32_t index, const std::string& dep = "web") {
  return {dep, index};
}

/// A world whose deployment bypassed admission, to test the planner's own
/// checks.
world unadmitted(host_config config, deployment_spec s) {
  world w;
  apply(w, host_configured{config, 1});
  apply(w, plugin_installed{nginx(), 1});
  apply(w, deployment_created{s, 1, 1});
  return w;
}

} // namespace

// -- creating and scaling -----------------------------------------------------

TEST_CASE("a new deployment plans a create per replica in index order") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 3)});
  auto p = reconcile(h.w, "web");
  CHECK(p.actions == actions{create(0), create(1), create(2)});
  CHECK(p.blocked.empty());
}

TEST_CASE("created VMs are started, then the plan is empty") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 2)});
  h.create_vms("web", 2);
  CHECK(reconcile(h.w, "web").actions
        == actions{start_vm_action{"web-0"}, start_vm_action{"web-1"}});
  h.bring_up("web", 2);
  CHECK(reconcile(h.w, "web") == plan{});
}

TEST_CASE("scaling 3 to 5 adds web-3 and web-4") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 3)});
  h.bring_up("web", 3);
  h.must(scale_deployment{"web", 5});
  CHECK(reconcile(h.w, "web").actions == actions{create(3), create(4)});
}

TEST_CASE("scaling 5 to 2 removes web-4, web-3 and web-2 in that order") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 5)});
  h.bring_up("web", 5);
  h.must(scale_deployment{"web", 2});
  CHECK(reconcile(h.w, "web").actions
        == actions{remove_vm_action{"web-4"}, remove_vm_action{"web-3"},
                   remove_vm_action{"web-2"}});
  CHECK(scale_down_victims(h.w, "web", 2)
        == std::vector<std::string>{"web-4", "web-3", "web-2"});
  CHECK(scale_down_victims(h.w, "web", 5).empty());
}

TEST_CASE("a missing replica in the middle is recreated under its own index") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 3)});
  h.bring_up("web", 3);
  h.must(record_vm_stopped{"web-1"});
  h.must(remove_vm{"web-1"});
  CHECK(reconcile(h.w, "web").actions == actions{create(1)});
}

// -- pause and resume ---------------------------------------------------------

TEST_CASE("a paused deployment freezes its running VMs and creates nothing") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 5)});
  h.bring_up("web", 3);
  h.must(record_vm_unhealthy{"web-1", "HTTP 500"});
  h.must(record_vm_exited{"web-2", 0, ""});
  h.must(create_vm{"web", 3});
  h.must(record_vm_started{"web-3", {}}); // running, not ready yet
  h.must(pause_deployment{"web"});
  CHECK(reconcile(h.w, "web").actions
        == actions{pause_vm_action{"web-0"}, pause_vm_action{"web-1"},
                   pause_vm_action{"web-3"}});
  h.must(record_vm_paused{"web-0"});
  h.must(record_vm_paused{"web-1"});
  h.must(record_vm_paused{"web-3"});
  CHECK(reconcile(h.w, "web") == plan{});
}

TEST_CASE("a paused deployment leaves pending, stopped and failed VMs as they "
          "are") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 3)});
  h.create_vms("web", 3);
  h.must(record_vm_started{"web-1", {}});
  h.must(record_vm_stopped{"web-1"});
  h.must(record_vm_start_failed{"web-2", "boom"});
  h.must(pause_deployment{"web"});
  CHECK(reconcile(h.w, "web") == plan{});
}

TEST_CASE("a paused deployment never restarts or recreates its VMs") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 2)});
  h.bring_up("web", 2);
  h.must(pause_deployment{"web"});
  h.must(record_vm_paused{"web-0"});
  h.must(record_vm_exited{"web-1", 137, "killed by signal 9"});
  CHECK(reconcile(h.w, "web", {}, h.now + 3'600'000'000'000) == plan{});
}

TEST_CASE("a paused deployment still removes replicas above its count") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 3)});
  h.bring_up("web", 3);
  h.must(pause_deployment{"web"});
  h.must(scale_deployment{"web", 2});
  CHECK(reconcile(h.w, "web").actions
        == actions{remove_vm_action{"web-2"}, pause_vm_action{"web-0"},
                   pause_vm_action{"web-1"}});
}

TEST_CASE("a template change waits while the deployment is paused") {
  auto h = harness::ready();
  auto s = spec("web", 2);
  s.strategy = {strategy_kind::rolling, {1, false}, {1, false}};
  h.must(create_deployment{s});
  h.bring_up("web", 2);
  h.must(pause_deployment{"web"});
  h.must(record_vm_paused{"web-0"});
  h.must(record_vm_paused{"web-1"});
  update_deployment u;
  u.name = "web";
  u.cpu = 2;
  h.must(u);
  CHECK(reconcile(h.w, "web") == plan{});
  // Resumed: thawed first, replaced once they run again.
  h.must(resume_deployment{"web"});
  CHECK(reconcile(h.w, "web").actions
        == actions{resume_vm_action{"web-0"}, resume_vm_action{"web-1"}});
  h.must(record_vm_resumed{"web-0"});
  h.must(record_vm_resumed{"web-1"});
  h.must(record_vm_ready{"web-0"});
  h.must(record_vm_ready{"web-1"});
  CHECK(reconcile(h.w, "web").actions
        == actions{recreate_vm_action{"web-0", "revision 1 -> 2"}});
}

TEST_CASE("resuming thaws the paused VMs") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 2)});
  h.bring_up("web", 2);
  h.must(pause_deployment{"web"});
  h.must(record_vm_paused{"web-0"});
  h.must(record_vm_paused{"web-1"});
  h.must(resume_deployment{"web"});
  CHECK(reconcile(h.w, "web").actions
        == actions{resume_vm_action{"web-0"}, resume_vm_action{"web-1"}});
  h.must(record_vm_resumed{"web-0"});
  h.must(record_vm_resumed{"web-1"});
  CHECK(reconcile(h.w, "web") == plan{}); // running: the probe decides
}

TEST_CASE("a resumed VM that was restarted before is not held to the ready "
          "deadline") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 1)});
  h.bring_up("web", 1);
  restart_policy policy{1000, 60000, 60000, 5000};
  h.must(record_vm_exited{"web-0", 1, "exit status 1"});
  h.must(schedule_vm_restart{"web-0", "exit status 1", 0});
  h.must(record_vm_started{"web-0", {}});
  h.must(record_vm_ready{"web-0"});
  h.must(pause_deployment{"web"});
  h.must(record_vm_paused{"web-0"});
  h.must(resume_deployment{"web"});
  h.must(record_vm_resumed{"web-0"});
  auto started = h.vm("web-0").started_at;
  CHECK(reconcile(h.w, "web", policy, started + 3'600'000'000'000) == plan{});
}

TEST_CASE("resuming starts the stopped VMs (stopped by an older pause)") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 2)});
  h.bring_up("web", 2);
  h.must(pause_deployment{"web"});
  h.must(record_vm_stopped{"web-0"});
  h.must(record_vm_stopped{"web-1"});
  h.must(resume_deployment{"web"});
  CHECK(reconcile(h.w, "web").actions
        == actions{start_vm_action{"web-0"}, start_vm_action{"web-1"}});
}

// -- restarts -----------------------------------------------------------------

TEST_CASE(
    "with auto-restart, exited and unhealthy VMs are restarted with back-off") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 2)});
  h.bring_up("web", 2);
  h.must(record_vm_exited{"web-0", 137, "killed by signal 9"});
  h.must(record_vm_unhealthy{"web-1", "connection refused"});
  restart_policy policy{500, 8000, 60000};
  CHECK(reconcile(h.w, "web", policy).actions
        == actions{restart_vm_action{"web-0", "killed by signal 9", 0},
                   restart_vm_action{"web-1", "connection refused", 0}});

  // web-0 came back and was ready before it crashed again: another restart in
  // place, with two restarts so far, so 500 << 1.
  h.must(schedule_vm_restart{"web-0", "x", 0});
  h.must(record_vm_started{"web-0", {}});
  h.must(record_vm_ready{"web-0"});
  h.must(record_vm_exited{"web-0", 1, "exit status 1"});
  h.must(schedule_vm_restart{"web-0", "x", 500});
  h.must(record_vm_started{"web-0", {}});
  h.must(record_vm_ready{"web-0"});
  h.must(record_vm_exited{"web-0", 1, "exit status 1"});
  CHECK(reconcile(h.w, "web", policy).actions.front()
        == action{restart_vm_action{"web-0", "exit status 1", 1000}});
}

TEST_CASE("a VM that fails again after a restart, before it was ready, is "
          "recreated with its restarts and back-off carried over") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 1)});
  h.bring_up("web", 1);
  restart_policy policy{500, 8000, 60000};
  h.must(record_vm_unhealthy{"web-0", "HTTP 503"});
  h.must(schedule_vm_restart{"web-0", "HTTP 503", 0});
  h.must(record_vm_started{"web-0", {}});
  h.must(record_vm_unhealthy{"web-0", "connection refused"});
  CHECK(reconcile(h.w, "web", policy).actions
        == actions{recreate_vm_action{"web-0",
                                      "connection refused (again after a restart)",
                                      true, 2, 500}});
  // Likewise for a workload that exits before it was ever ready.
  h.must(record_vm_exited{"web-0", 1, "exit status 1"});
  CHECK(reconcile(h.w, "web", policy).actions
        == actions{recreate_vm_action{"web-0", "exit status 1 (again after a restart)",
                                      true, 2, 500}});
}

TEST_CASE("a VM restarted in place that is not ready within the deadline is "
          "recreated") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 1)});
  h.bring_up("web", 1);
  restart_policy policy{1000, 60000, 60000, 5000};
  h.must(record_vm_unhealthy{"web-0", "HTTP 503"});
  h.must(schedule_vm_restart{"web-0", "HTTP 503", 0});
  h.must(record_vm_started{"web-0", {}});
  auto started = h.w.vms.at("web-0").started_at;
  CHECK(reconcile(h.w, "web", policy, started + 4'999'000'000) == plan{});
  CHECK(reconcile(h.w, "web", policy, started + 5'000'000'000).actions
        == actions{recreate_vm_action{"web-0", "not ready within 5 s of its restart",
                                      true, 2, 1000}});
  SUBCASE("the first start has no deadline (the probe decides)") {
    auto g = harness::ready();
    g.must(create_deployment{spec("web", 1)});
    g.create_vms("web", 1);
    g.must(record_vm_started{"web-0", {}});
    CHECK(reconcile(g.w, "web", policy, g.now + 3'600'000'000'000) == plan{});
  }
  SUBCASE("without auto-restart it stays for inspection") {
    update_deployment off;
    off.name = "web";
    off.auto_restart = false;
    h.must(off);
    CHECK(reconcile(h.w, "web", policy, started + 10'000'000'000) == plan{});
  }
}

TEST_CASE("a recreated VM waits out its carried back-off before it starts") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 1)});
  auto ev = only<vm_created>(h.must(create_vm{"web", 0, 4, 2000, "HTTP 503"}));
  CHECK(ev.restarts == 4);
  CHECK(ev.backoff_ms == 2000);
  CHECK(ev.reason == "HTTP 503");
  const auto& vm = h.w.vms.at("web-0");
  CHECK(vm.restarts == 4);
  CHECK(vm.backoff_ms == 2000);
  CHECK(vm.last_error == "HTTP 503");
  CHECK(reconcile(h.w, "web", {}, vm.created_at + 1'999'000'000) == plan{});
  CHECK(reconcile(h.w, "web", {}, vm.created_at + 2'000'000'000).actions
        == actions{start_vm_action{"web-0"}});
}

TEST_CASE("a restarting VM is left to its actor") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 1)});
  h.bring_up("web", 1);
  h.must(record_vm_exited{"web-0", 1, ""});
  h.must(schedule_vm_restart{"web-0", "exited", 0});
  CHECK(reconcile(h.w, "web") == plan{});
}

TEST_CASE(
    "without auto-restart, exited and failed VMs are left for inspection") {
  auto h = harness::ready();
  auto s = spec("web", 3);
  s.auto_restart = false;
  h.must(create_deployment{s});
  h.bring_up("web", 3);
  h.must(record_vm_exited{"web-0", 1, "exit status 1"});
  h.must(record_vm_unhealthy{"web-1", "HTTP 503"});
  h.must(record_vm_exited{"web-2", 1, ""});
  h.must(record_vm_start_failed{"web-2", "ENOENT"});
  CHECK(reconcile(h.w, "web") == plan{});
}

TEST_CASE("a VM that failed to start is recreated") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 1)});
  h.create_vms("web", 1);
  h.must(record_vm_start_failed{"web-0", "qemu: kernel not found"});
  CHECK(reconcile(h.w, "web").actions
        == actions{recreate_vm_action{"web-0", "qemu: kernel not found", true, 1, 0}});
}

// -- new revisions ------------------------------------------------------------

TEST_CASE("a template change recreates every VM with the recreate strategy") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 3)});
  h.bring_up("web", 3);
  h.must(record_vm_exited{"web-2", 1, ""});
  update_deployment u;
  u.name = "web";
  u.cpu = 2;
  h.must(u);
  CHECK(reconcile(h.w, "web").actions
        == actions{recreate_vm_action{"web-0", "revision 1 -> 2"},
                   recreate_vm_action{"web-1", "revision 1 -> 2"},
                   recreate_vm_action{"web-2", "revision 1 -> 2"}});
}

TEST_CASE("a rolling update replaces ready VMs within max_unavailable") {
  auto h = harness::ready();
  auto s = spec("web", 4);
  s.strategy = {strategy_kind::rolling, {1, false}, {1, false}};
  h.must(create_deployment{s});
  h.bring_up("web", 4);
  update_deployment u;
  u.name = "web";
  u.cpu = 2;
  h.must(u);
  CHECK(reconcile(h.w, "web").actions
        == actions{recreate_vm_action{"web-0", "revision 1 -> 2"}});

  // web-0 replaced but not ready yet: the budget is used up.
  h.must(record_vm_stopped{"web-0"});
  h.must(remove_vm{"web-0"});
  h.must(create_vm{"web", 0});
  CHECK(reconcile(h.w, "web").actions == actions{start_vm_action{"web-0"}});
  h.bring_up("web", 1);
  CHECK(reconcile(h.w, "web").actions
        == actions{recreate_vm_action{"web-1", "revision 1 -> 2"}});
}

TEST_CASE("a rolling update's budget may be a percentage") {
  auto h = harness::ready();
  auto s = spec("web", 4);
  s.strategy = {strategy_kind::rolling, {0, false}, {50, true}};
  h.must(create_deployment{s});
  h.bring_up("web", 4);
  update_deployment u;
  u.name = "web";
  u.memory_mib = 64;
  h.must(u);
  CHECK(reconcile(h.w, "web").actions
        == actions{recreate_vm_action{"web-0", "revision 1 -> 2"},
                   recreate_vm_action{"web-1", "revision 1 -> 2"}});
}

TEST_CASE("a rolling update replaces VMs that are down at once") {
  auto h = harness::ready();
  auto s = spec("web", 3);
  s.strategy = {strategy_kind::rolling, {1, false}, {1, false}};
  h.must(create_deployment{s});
  h.bring_up("web", 3);
  h.must(record_vm_exited{"web-2", 1, ""});
  update_deployment u;
  u.name = "web";
  u.cpu = 2;
  h.must(u);
  // web-2 is down already: replacing it costs no availability, but it counts as
  // the one replica allowed to be unavailable, so the ready ones wait.
  CHECK(reconcile(h.w, "web").actions
        == actions{recreate_vm_action{"web-2", "revision 1 -> 2"}});
}

// -- blocked ------------------------------------------------------------------

TEST_CASE("creates stop at the first that does not fit in memory") {
  auto c = small_host();
  c.memory_total_mib = 320;
  auto w = unadmitted(c, spec("web", 3, 128));
  auto p = reconcile(w, "web");
  CHECK(p.actions == actions{create(0), create(1)});
  CHECK(p.blocked == "insufficient memory: need 128 MiB, 64 MiB free");
}

TEST_CASE("creates stop at the host VM limit") {
  auto c = small_host();
  c.max_vms = 2;
  auto w = unadmitted(c, spec("web", 3, 1));
  auto p = reconcile(w, "web");
  CHECK(p.actions == actions{create(0), create(1)});
  CHECK(p.blocked == "host VM limit reached (2 VMs)");
}

TEST_CASE("creates stop when the IP pool is exhausted") {
  auto c = small_host();
  c.pool_last = ip(11);
  auto w = unadmitted(c, spec("web", 3, 1));
  auto p = reconcile(w, "web");
  CHECK(p.actions == actions{create(0), create(1)});
  CHECK(p.blocked == "IP pool exhausted (10.0.0.10-10.0.0.11)");
}

TEST_CASE("a blocked create does not hold up other replicas' actions") {
  auto c = small_host();
  c.memory_total_mib = 256;
  auto w = unadmitted(c, spec("web", 3, 128));
  apply(w, vm_created{"web-2", "web", 2, "local", ip(10), 1, 1, 128, 2});
  apply(w, vm_created{"web-0", "web", 0, "local", ip(11), 1, 1, 128, 2});
  auto p = reconcile(w, "web");
  CHECK(p.actions
        == actions{start_vm_action{"web-0"}, start_vm_action{"web-2"}});
  CHECK(p.blocked == "insufficient memory: need 128 MiB, 0 MiB free");
}

// -- deleted deployments and orphans ------------------------------------------

TEST_CASE("a deleted deployment's VMs are removed highest index first") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 3)});
  h.bring_up("web", 3);
  h.must(delete_deployment{"web"});
  CHECK(reconcile(h.w, "web").actions
        == actions{remove_vm_action{"web-2"}, remove_vm_action{"web-1"},
                   remove_vm_action{"web-0"}});
}

TEST_CASE("orphans are grouped by deployment, highest index first") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 2, 1)});
  h.must(create_deployment{spec("db", 2, 1)});
  h.must(create_deployment{spec("api", 1, 1)});
  for (auto dep : {"web", "db", "api"})
    h.create_vms(dep, static_cast<std::uint32_t>(h.dep(dep).spec.replicas));
  h.must(delete_deployment{"web"});
  h.must(delete_deployment{"db"});
  CHECK(orphans(h.w)
        == std::vector<std::string>{"db-1", "db-0", "web-1", "web-0"});
}

TEST_CASE("plans are deterministic") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 5)});
  h.bring_up("web", 3);
  h.must(record_vm_exited{"web-1", 1, ""});
  CHECK(reconcile(h.w, "web") == reconcile(h.w, "web"));
}

// -- IP allocation ------------------------------------------------------------

TEST_CASE("addresses are allocated lowest first and reused after a release") {
  auto h = harness::ready(); // pool 10.0.0.10 - 10.0.0.20
  h.must(create_deployment{spec("web", 5)});
  h.create_vms("web", 5);
  for (std::uint32_t i = 0; i < 5; ++i)
    CHECK(h.vm(vm_name("web", i)).ip == ip(10 + i));
  h.must(remove_vm{"web-2"}); // releases .12
  CHECK(*allocate_ip(h.w.host) == ip(12));
  h.must(create_vm{"web", 2});
  CHECK(h.vm("web-2").ip == ip(12));
  CHECK(*allocate_ip(h.w.host) == ip(15));
}

TEST_CASE("addresses are ordered numerically across octets") {
  host_state host;
  host.configured = true;
  host.config.pool_first = *parse_ipv4("10.0.0.254");
  host.config.pool_last = *parse_ipv4("10.0.1.9");
  host.leases[*parse_ipv4("10.0.0.254")] = "a";
  host.leases[*parse_ipv4("10.0.0.255")] = "b";
  host.leases[*parse_ipv4("10.0.1.1")] = "c";
  host.leases[*parse_ipv4("10.0.0.9")] = "outside the pool";
  CHECK(to_string_ip(*allocate_ip(host)) == "10.0.1.0");
  host.leases[*parse_ipv4("10.0.1.0")] = "d";
  CHECK(to_string_ip(*allocate_ip(host)) == "10.0.1.2");
}

TEST_CASE("an exhausted pool is an error") {
  host_state host;
  host.configured = true;
  host.config.pool_first = ip(10);
  host.config.pool_last = ip(11);
  host.leases[ip(10)] = "a";
  host.leases[ip(11)] = "b";
  auto r = allocate_ip(host);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error_value().code == ec::ip_pool_exhausted);
  CHECK(r.error_value().message
        == "IP pool exhausted: all 2 addresses of 10.0.0.10-10.0.0.11 are in "
           "use");
}

TEST_CASE("a pool ending at the last address does not wrap") {
  host_state host;
  host.configured = true;
  host.config.pool_first = 0xFFFFFFFE;
  host.config.pool_last = 0xFFFFFFFF;
  host.leases[0xFFFFFFFE] = "a";
  CHECK(*allocate_ip(host) == 0xFFFFFFFFu);
  host.leases[0xFFFFFFFF] = "b";
  CHECK_FALSE(allocate_ip(host).has_value());
}

TEST_CASE("an unconfigured host allocates nothing") {
  auto r = allocate_ip(host_state{});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error_value().code == ec::invalid_host_config);
}

// -- back-off -----------------------------------------------------------------

TEST_CASE("the back-off doubles from the initial delay up to the cap") {
  restart_policy p; // 1 s doubling to 60 s
  std::vector<std::uint64_t> got;
  for (std::uint32_t r = 0; r < 10; ++r)
    got.push_back(backoff_ms(r, p));
  CHECK(got
        == std::vector<std::uint64_t>{0, 1000, 2000, 4000, 8000, 16000, 32000,
                                      60000, 60000, 60000});
}

TEST_CASE("the back-off never overflows") {
  restart_policy p{1000, 60000, 60000};
  CHECK(backoff_ms(64, p) == 60000);
  CHECK(backoff_ms(65, p) == 60000);
  CHECK(backoff_ms(4'000'000'000u, p) == 60000);
  restart_policy huge{1ull << 62, ~0ull, 0};
  CHECK(backoff_ms(2, huge) == 1ull << 63);
  CHECK(backoff_ms(3, huge) == ~0ull);
  CHECK(backoff_ms(5, restart_policy{0, 1000, 0}) == 0);
}

// -- health checks ------------------------------------------------------------

TEST_CASE("the effective health check is the override, else the plugin's") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 1)});
  CHECK(effective_health_check(h.w, h.dep("web")) == nginx().health);
  health_check own{true, tcp_check{8080}, 5, 2, 2};
  update_deployment u;
  u.name = "web";
  u.health = own;
  h.must(u);
  CHECK(effective_health_check(h.w, h.dep("web")) == own);
  deployment_state orphan{spec("gone", 1), 1, 0, 0};
  orphan.spec.tmpl.plugin = {"redis", ""};
  CHECK(effective_health_check(h.w, orphan) == health_check{});
}

TEST_CASE("a crash loop doubles the back-off from the previous one, up to the cap") {
  restart_policy p{1000, 8000, 60000};
  vm_record vm;
  vm.started_at = 1'000'000'000;
  unix_nanos soon = vm.started_at + 500'000'000; // crashed after 0.5 s
  CHECK(next_backoff_ms(vm, soon, p) == 0);      // first restart: at once
  vm.restarts = 1;
  CHECK(next_backoff_ms(vm, soon, p) == 1000);
  vm.backoff_ms = 1000;
  CHECK(next_backoff_ms(vm, soon, p) == 2000);
  vm.backoff_ms = 4000;
  CHECK(next_backoff_ms(vm, soon, p) == 8000);
  vm.backoff_ms = 8000;
  CHECK(next_backoff_ms(vm, soon, p) == 8000);
}

TEST_CASE("a VM that stayed up past the reset period restarts without back-off") {
  restart_policy p{1000, 60000, 60000};
  vm_record vm;
  vm.restarts = 7;
  vm.backoff_ms = 32000;
  vm.started_at = 1'000'000'000;
  CHECK(next_backoff_ms(vm, vm.started_at + 59'000'000'000, p) == 60000);
  CHECK(next_backoff_ms(vm, vm.started_at + 60'000'000'000, p) == 0);
  CHECK(next_backoff_ms(vm, 0, p) == 60000); // no clock given: no reset
}
