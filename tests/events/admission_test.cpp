// vCPU accounting (issue 14, item 3): vCPUs are committed like memory; by
// default they may exceed the cores (the command that does so is warned);
// with --cpu-overcommit RATIO admission refuses beyond cores x RATIO, with the
// numbers, at create, scale, update, VM creation, recreate and reconcile.

#include "events/admission.hpp"

#include "fixture.hpp"

namespace volant {

using namespace volant::test;

namespace {

deployment_spec cpu_spec(std::string name, std::int32_t replicas, std::int32_t cpu) {
  auto s = spec(std::move(name), replicas);
  s.tmpl.cpu = cpu;
  return s;
}

host_config two_cores(double ratio) {
  auto c = small_host();
  c.cpu_total = 2;
  c.cpu_overcommit_milli = static_cast<std::uint32_t>(ratio * 1000);
  return c;
}

} // namespace

TEST_CASE("vCPUs are committed like memory: recorded VMs plus wanted replicas") {
  auto h = harness::ready(two_cores(0));
  CHECK(committed(h.w).cpu == 0);
  h.must(create_deployment{cpu_spec("web", 3, 2)}); // no VM yet: reserved
  CHECK(committed(h.w).cpu == 6);
  h.create_vms("web", 3);
  CHECK(committed(h.w).cpu == 6);
  CHECK(h.w.host.cpu_used == 6);
  h.must(scale_deployment{"web", 1});
  CHECK(committed(h.w).cpu == 2 + 2 * 2); // the two removed VMs still hold theirs
  h.must(pause_deployment{"web"});
  CHECK(committed(h.w).cpu == h.w.host.cpu_used);
}

TEST_CASE("without a limit, vCPUs beyond the cores are admitted (the guide's commands "
          "on a small host)") {
  auto h = harness::ready(two_cores(0));
  CHECK(cpu_limit(h.w.host.config) == 0);
  h.must(create_deployment{cpu_spec("web", 5, 4)}); // 20 vCPUs on 2 cores
  h.must(scale_deployment{"web", 10});
  h.create_vms("web", 10);
}

TEST_CASE("with --cpu-overcommit, admission refuses beyond cores x ratio with the numbers") {
  auto h = harness::ready(two_cores(2)); // 4 vCPUs
  CHECK(cpu_limit(h.w.host.config) == 4);
  h.must(create_deployment{cpu_spec("a", 1, 2)});
  auto e = h.fails(create_deployment{cpu_spec("b", 2, 2)});
  CHECK(e.code == ec::insufficient_cpu);
  CHECK(e.message == "insufficient CPU: need 4 vCPUs, 2 of 4 free (2 cores x --cpu-overcommit 2)");
  h.must(create_deployment{cpu_spec("b", 1, 2)});
  // Full: a scale-up and an update that grows vCPUs are refused, nothing changes.
  e = h.fails(scale_deployment{"a", 2});
  CHECK(e.message == "insufficient CPU: need 2 vCPUs, 0 of 4 free (2 cores x --cpu-overcommit 2)");
  update_deployment grow;
  grow.name = "a";
  grow.cpu = 3;
  CHECK(h.fails(grow).code == ec::insufficient_cpu);
  // Scaled down, the room comes back; a fractional ratio rounds down.
  h.must(scale_deployment{"b", 0});
  h.must(scale_deployment{"a", 2});
  auto c = two_cores(1.5);
  CHECK(cpu_limit(c) == 3);
  c.cpu_overcommit_milli = 1250;
  CHECK(insufficient_cpu(4, 0, c).message
        == "insufficient CPU: need 4 vCPUs, 0 of 2 free (2 cores x --cpu-overcommit 1.25)");
}

TEST_CASE("a limit below what VMs hold is refused as a host configuration") {
  auto h = harness::ready(two_cores(0));
  h.must(create_deployment{cpu_spec("web", 3, 2)});
  h.create_vms("web", 3);
  auto e = h.fails(configure_host{two_cores(2)});
  CHECK(e.code == ec::invalid_host_config);
  CHECK(e.message == "--cpu-overcommit allows 4 vCPUs on 2 cores, below the 6 that VMs hold");
  h.must(configure_host{two_cores(3)});
}

TEST_CASE("reconcile creates up to the vCPU limit, then reports the deployment blocked; "
          "VM creation itself refuses beyond it") {
  // Recorded straight (as a deployment admitted before the limit was set).
  world w;
  apply(w, host_configured{two_cores(2), 1});
  apply(w, plugin_installed{nginx(), 1});
  apply(w, deployment_created{cpu_spec("web", 3, 2), 1, 1});
  auto p = reconcile(w, "web");
  CHECK(p.create == std::vector<std::uint32_t>{0, 1});
  CHECK(p.blocked == "insufficient CPU: need 2 vCPUs, 0 free under --cpu-overcommit");
  auto created = decide(w, create_vm{"web", 0}, 2);
  REQUIRE(created);
  for (const auto& ev : *created)
    apply(w, ev);
  apply(w, (*decide(w, create_vm{"web", 1}, 3)).front());
  auto refused = decide(w, create_vm{"web", 2}, 4);
  REQUIRE_FALSE(refused);
  CHECK(refused.error_value().message
        == "insufficient CPU: need 2 vCPUs, 0 of 4 free (2 cores x --cpu-overcommit 2)");
}

TEST_CASE("the warning goes to the command that takes committed vCPUs over the cores, or "
          "further over them") {
  CHECK_FALSE(cpu_overcommit_warning(0, 2, 2));
  CHECK_FALSE(cpu_overcommit_warning(4, 3, 2)); // over, but shrinking
  CHECK_FALSE(cpu_overcommit_warning(4, 4, 2));
  auto crossing = cpu_overcommit_warning(2, 3, 2);
  REQUIRE(crossing);
  CHECK(*crossing
        == "vCPUs overcommitted: 3 committed on 2 cores (150 %); volantd --cpu-overcommit "
           "RATIO refuses beyond cores x RATIO");
  CHECK(cpu_overcommit_warning(3, 5, 2));
}

} // namespace volant
