#include "fixture.hpp"

using namespace volant;
using namespace volant::test;

// Reconcile plans a deployment's slots: which indices to record now, and a goal
// for every VM it has. What a VM does to reach its goal (start, restart,
// recreate, freeze, stop and remove) is its machine's: vm_machine_test.cpp.

namespace {

using indices = std::vector<std::uint32_t>;
using goals = std::map<std::string, vm_goal>;

/// The goal of a VM of an up-to-date deployment with the fixture's nginx
/// (which has a health check).
vm_goal keep(std::uint64_t revision = 1) {
  return vm_goal{true, false, revision, false, true, true};
}

vm_goal paused(std::uint64_t revision = 1) {
  auto g = keep(revision);
  g.paused = true;
  return g;
}

vm_goal removed(std::uint64_t revision = 1) {
  auto g = keep(revision);
  g.keep = false;
  return g;
}

/// An outdated VM that waits for the rolling update's budget.
vm_goal waiting(std::uint64_t revision) {
  auto g = keep(revision);
  g.outdated = true;
  return g;
}

vm_goal replaced(std::uint64_t revision) {
  auto g = keep(revision);
  g.replace = true;
  g.outdated = true;
  return g;
}

/// `g` for a ready VM a rolling update retires: terminating for the default
/// termination grace (2 s) first.
vm_goal draining(vm_goal g, std::string why) {
  g.drain_ms = 2000;
  g.retire_reason = std::move(why);
  return g;
}

/// Creates the surge candidate of slot `index` and brings it to ready.
std::string surge_up(harness& h, const std::string& dep, std::uint32_t index) {
  h.must(create_vm{dep, index, true});
  auto name = surge_name(dep, index, h.dep(dep).revision);
  h.must(record_vm_started{name, {"process", 500 + index, 1, ""}});
  h.must(record_vm_ready{name});
  return name;
}

/// The names of the VMs a plan lets go (goal not `keep`), in name order.
std::vector<std::string> leaving(const plan& p) {
  std::vector<std::string> out;
  for (const auto& [name, g] : p.goals)
    if (!g.keep)
      out.push_back(name);
  return out;
}

deployment_spec rolling(std::int32_t replicas, int_or_percent surge,
                        int_or_percent unavailable) {
  auto s = spec("web", replicas);
  s.strategy.kind = strategy_kind::rolling;
  s.strategy.max_surge = surge;
  s.strategy.max_unavailable = unavailable;
  return s;
}

/// The names of the VMs whose goal is `replace`, in name order.
std::vector<std::string> replacing(const plan& p) {
  std::vector<std::string> out;
  for (const auto& [name, g] : p.goals)
    if (g.replace)
      out.push_back(name);
  return out;
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

update_deployment cpu_update(std::int64_t cpu = 2) {
  update_deployment u;
  u.name = "web";
  u.cpu = cpu;
  return u;
}

/// Records `name`'s run stopped and the VM removed, as its machine does.
void stop_and_remove(harness& h, const std::string& name) {
  auto run = h.vm(name).incarnation;
  h.must(record_vm_stopped{name, run});
  h.must(remove_vm{name, run});
}

/// Recreates `name` at the deployment's revision, as its machine does once its
/// run ended (decide checks the run and the revision).
void recreate(harness& h, const std::string& name) {
  const auto& vm = h.vm(name);
  h.must(recreate_vm{name, vm.incarnation, h.dep(vm.deployment).revision, 0, 0,
                     "revision " + std::to_string(vm.revision) + " -> "
                       + std::to_string(h.dep(vm.deployment).revision)});
}

} // namespace

// -- creating and scaling -----------------------------------------------------

TEST_CASE("a new deployment plans a create per replica in index order") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 3)});
  auto p = reconcile(h.w, "web");
  CHECK(p.create == indices{0, 1, 2});
  CHECK(p.goals.empty());
  CHECK(p.blocked.empty());
}

TEST_CASE("every recorded VM gets a goal to keep it at the deployment's "
          "revision, whatever its status") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 4)});
  h.create_vms("web", 4);
  auto expected = goals{{"web-0", keep()}, {"web-1", keep()},
                        {"web-2", keep()}, {"web-3", keep()}};
  CHECK(reconcile(h.w, "web").goals == expected);
  CHECK(reconcile(h.w, "web").create.empty());
  // Starting, restarting and recreating are the machines' business: the plan
  // does not change with the VMs' statuses.
  h.bring_up("web", 2);
  h.must(record_vm_exited{"web-1", 1, "exit status 1"});
  h.must(record_vm_start_failed{"web-2", "ENOENT"});
  CHECK(reconcile(h.w, "web").goals == expected);
}

TEST_CASE("a goal carries the deployment's auto-restart and health check") {
  auto h = harness::ready();
  auto s = spec("web", 1);
  s.auto_restart = false;
  s.tmpl.health = health_check{}; // no check: READY at once
  h.must(create_deployment{s});
  h.create_vms("web", 1);
  CHECK(reconcile(h.w, "web").goals.at("web-0")
        == vm_goal{true, false, 1, false, false, false});
  update_deployment u;
  u.name = "web";
  u.auto_restart = true;
  u.health = health_check{true, tcp_check{8080}, 5, 1, 2};
  h.must(u);
  // A new revision; only the check changed, so the VM moved to it in place.
  CHECK(reconcile(h.w, "web").goals.at("web-0") == vm_goal{true, false, 2, false, true, true});
  CHECK(h.vm("web-0").revision == 2);
}

TEST_CASE("a change of the health check alone is applied in place; with anything "
          "else the VMs are outdated") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 2)});
  h.bring_up("web", 2);
  update_deployment u;
  u.name = "web";
  u.health = health_check{true, tcp_check{8080}, 5, 1, 2};
  auto evs = h.must(u);
  REQUIRE(evs.size() == 1);
  auto up = std::get<deployment_updated>(evs[0]);
  CHECK(up.in_place);
  CHECK(up.revision == 2);
  CHECK(h.vm("web-0").revision == 2);
  CHECK(h.vm("web-1").revision == 2);
  auto p = reconcile(h.w, "web");
  CHECK(p.goals.at("web-0") == keep(2));
  CHECK(replacing(p).empty());
  // The check and the CPU together: a real new revision, the VMs outdated.
  auto both = cpu_update(2);
  both.health = health_check{true, tcp_check{8081}, 5, 1, 2};
  evs = h.must(both);
  CHECK_FALSE(std::get<deployment_updated>(evs[0]).in_place);
  CHECK(h.vm("web-0").revision == 2);
  CHECK(reconcile(h.w, "web").goals.at("web-0").outdated);
  // A check-only change now moves only the VMs of the current revision: the
  // outdated ones stay outdated.
  update_deployment again;
  again.name = "web";
  again.health = health_check{true, tcp_check{8082}, 5, 1, 2};
  h.must(again);
  CHECK(h.dep("web").revision == 4);
  CHECK(h.vm("web-0").revision == 2);
  CHECK(reconcile(h.w, "web").goals.at("web-0").outdated);
}

TEST_CASE("a readiness override alone is applied in place, and the VMs' READY then "
          "comes from it; switched off, from the health check again") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 2)});
  h.bring_up("web", 2);
  CHECK_FALSE(reconcile(h.w, "web").goals.at("web-0").readiness);
  update_deployment u;
  u.name = "web";
  u.readiness = health_check{true, http_check{80, "/ready"}, 1, 1, 1};
  auto evs = h.must(u);
  REQUIRE(evs.size() == 1);
  auto up = std::get<deployment_updated>(evs[0]);
  CHECK(up.in_place);
  CHECK(up.revision == 2);
  CHECK(up.tmpl.readiness == u.readiness);
  CHECK(h.vm("web-0").revision == 2);
  auto p = reconcile(h.w, "web");
  CHECK(p.goals.at("web-0").readiness);
  CHECK_FALSE(p.goals.at("web-0").outdated);
  CHECK(replacing(p).empty());
  CHECK(effective_readiness_check(h.w, h.dep("web")) == *u.readiness);
  // --no-readiness-check: no readiness check apart from the health check.
  update_deployment off;
  off.name = "web";
  off.readiness = health_check{};
  off.readiness->enabled = false;
  CHECK(std::get<deployment_updated>(h.must(off)[0]).in_place);
  CHECK_FALSE(reconcile(h.w, "web").goals.at("web-0").readiness);
  // Validated as the health check is, naming the readiness check.
  update_deployment bad;
  bad.name = "web";
  bad.readiness = health_check{true, tcp_check{0}};
  auto e = h.fails(bad);
  CHECK(e.code == ec::invalid_health_check);
  CHECK(e.message == "readiness_check.tcp.port must be 1..65535, got 0");
}

TEST_CASE("scaling 3 to 5 adds web-3 and web-4") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 3)});
  h.bring_up("web", 3);
  h.must(scale_deployment{"web", 5});
  auto p = reconcile(h.w, "web");
  CHECK(p.create == indices{3, 4});
  CHECK(p.goals.size() == 3);
}

TEST_CASE("scaling 5 to 2 lets web-4, web-3 and web-2 go") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 5)});
  h.bring_up("web", 5);
  h.must(scale_deployment{"web", 2});
  CHECK(reconcile(h.w, "web").goals
        == goals{{"web-0", keep()}, {"web-1", keep()}, {"web-2", removed()},
                      {"web-3", removed()}, {"web-4", removed()}});
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
  auto p = reconcile(h.w, "web");
  CHECK(p.create == indices{1});
  CHECK(p.goals == goals{{"web-0", keep()}, {"web-2", keep()}});
}

// -- pause and resume ---------------------------------------------------------

TEST_CASE("a paused deployment pauses every VM's goal and creates nothing") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 5)});
  h.bring_up("web", 3);
  h.must(record_vm_unhealthy{"web-1", "HTTP 500"});
  h.must(record_vm_exited{"web-2", 0, ""});
  h.must(create_vm{"web", 3});
  h.must(pause_deployment{"web"});
  // web-4 is missing: a paused deployment records no VM, and is not blocked.
  CHECK(reconcile(h.w, "web").goals
        == goals{{"web-0", paused()}, {"web-1", paused()},
                      {"web-2", paused()}, {"web-3", paused()}});
  h.must(resume_deployment{"web"});
  auto p = reconcile(h.w, "web");
  CHECK(p.create == indices{4});
  CHECK(p.goals.at("web-3") == keep());
}

TEST_CASE("a paused deployment still lets replicas above its count go") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 3)});
  h.bring_up("web", 3);
  h.must(pause_deployment{"web"});
  h.must(scale_deployment{"web", 2});
  auto gone = removed();
  gone.paused = true;
  CHECK(reconcile(h.w, "web").goals
        == goals{{"web-0", paused()}, {"web-1", paused()}, {"web-2", gone}});
}

TEST_CASE("a template change waits while the deployment is paused, then rolls") {
  auto h = harness::ready();
  auto s = spec("web", 2);
  s.strategy = {strategy_kind::rolling, {1, false}, {1, false}};
  h.must(create_deployment{s});
  h.bring_up("web", 2);
  h.must(pause_deployment{"web"});
  h.must(record_vm_paused{"web-0"});
  h.must(record_vm_paused{"web-1"});
  h.must(cpu_update());
  // Frozen VMs are not ready, so they may be replaced, but the goal is paused
  // and a paused goal wins in the machine (vm_machine_test.cpp).
  auto p = reconcile(h.w, "web");
  CHECK(p.create.empty());
  CHECK(p.surge.empty());
  for (const auto& [name, g] : p.goals) {
    const auto& vm = name; // clang 14 cannot capture a structured binding
    CAPTURE(vm);
    CHECK(g.paused);
    CHECK(g.revision == 2);
  }
  // Resumed and ready again: a surge VM in slot 0 and, with no more room to
  // surge, web-1 replaced in place (one may be unavailable), after its drain.
  h.must(resume_deployment{"web"});
  h.must(record_vm_resumed{"web-0"});
  h.must(record_vm_resumed{"web-1"});
  h.must(record_vm_ready{"web-0"});
  h.must(record_vm_ready{"web-1"});
  p = reconcile(h.w, "web");
  CHECK(p.surge == indices{0});
  CHECK(p.goals.at("web-0") == waiting(2));
  CHECK(p.goals.at("web-1") == draining(replaced(2), "revision 1 -> 2"));
}

// -- new revisions ------------------------------------------------------------

TEST_CASE("a template change replaces every VM with the recreate strategy") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 3)});
  h.bring_up("web", 3);
  h.must(record_vm_exited{"web-2", 1, ""});
  h.must(cpu_update());
  CHECK(reconcile(h.w, "web").goals
        == goals{{"web-0", replaced(2)}, {"web-1", replaced(2)},
                 {"web-2", replaced(2)}});
}

TEST_CASE("a rolling update with surge 2 / unavailable 0 starts two surge VMs "
          "beside the old ones and retires an old one only once its slot's new "
          "one is available") {
  auto h = harness::ready();
  h.must(create_deployment{rolling(6, {2, false}, {0, false})});
  h.bring_up("web", 6);
  h.must(cpu_update());
  auto p = reconcile(h.w, "web");
  CHECK(p.surge == indices{0, 1});
  CHECK(p.create.empty());
  CHECK(leaving(p).empty());
  CHECK(replacing(p).empty());
  CHECK(p.updated == 0);
  CHECK_FALSE(p.complete);

  // Recorded under their own key, with an IP of their own.
  h.must(create_vm{"web", 0, true});
  h.must(create_vm{"web", 1, true});
  CHECK(h.vm("web-0@2").index == 0);
  CHECK(h.vm("web-0@2").ip != h.vm("web-0").ip);
  CHECK(h.vm("web-0@2").revision == 2);
  // Starting, not available: nothing more (8 VMs is the ceiling), nothing goes.
  p = reconcile(h.w, "web");
  CHECK(p.surge.empty());
  CHECK(leaving(p).empty());
  CHECK(p.goals.at("web-0@2") == keep(2));

  // web-0@2 ready: web-0 retires (terminating first); web-1 stays.
  h.must(record_vm_started{"web-0@2", {"process", 900, 1, ""}});
  h.must(record_vm_ready{"web-0@2"});
  p = reconcile(h.w, "web");
  CHECK(leaving(p) == std::vector<std::string>{"web-0"});
  auto gone = removed(2);
  gone.outdated = true;
  CHECK(p.goals.at("web-0") == draining(gone, "replaced by revision 2"));
  CHECK(p.surge.empty()); // web-0 counts until it is removed
  CHECK(p.updated == 0);  // slot 0 holds two VMs still

  // Once web-0 is gone, slot 0 is done and slot 2 gets its surge VM.
  h.must(terminate_vm{"web-0", 0, 2000, "replaced by revision 2"});
  CHECK(h.vm("web-0").status == vm_status::terminating);
  p = reconcile(h.w, "web");
  CHECK(p.surge.empty()); // terminating still counts toward the ceiling
  CHECK(leaving(p) == std::vector<std::string>{"web-0"});
  stop_and_remove(h, "web-0");
  p = reconcile(h.w, "web");
  CHECK(p.updated == 1);
  CHECK(p.surge == indices{2});
}

TEST_CASE("a rolling update converges: every slot ends with one available VM of "
          "the new revision, never below the floor nor above the ceiling") {
  auto h = harness::ready();
  h.must(create_deployment{rolling(4, {1, false}, {0, false})});
  h.bring_up("web", 4);
  h.must(cpu_update());
  for (int round = 0; round < 40; ++round) {
    auto p = reconcile(h.w, "web");
    if (p.complete)
      break;
    for (auto index : p.surge)
      surge_up(h, "web", index);
    for (const auto& [name, g] : p.goals) {
      if (!g.keep) {
        stop_and_remove(h, std::string(name));
        break; // one at a time, and plan again
      }
    }
    std::size_t ready = 0;
    for (const auto& [name, vm] : h.w.vms)
      ready += vm.status == vm_status::ready ? 1 : 0;
    CHECK(ready >= 4);
    CHECK(h.w.vms.size() <= 5);
  }
  auto p = reconcile(h.w, "web");
  CHECK(p.complete);
  CHECK(p.updated == 4);
  CHECK(h.w.vms.size() == 4);
  for (const auto& [name, vm] : h.w.vms)
    CHECK(vm.revision == 2);
}

TEST_CASE("a rolling update without surge replaces in place, lowest index first, "
          "within max_unavailable") {
  auto h = harness::ready();
  h.must(create_deployment{rolling(4, {0, false}, {1, false})});
  h.bring_up("web", 4);
  h.must(cpu_update());
  auto p = reconcile(h.w, "web");
  CHECK(p.surge.empty());
  CHECK(replacing(p) == std::vector<std::string>{"web-0"});
  CHECK(p.goals.at("web-0") == draining(replaced(2), "revision 1 -> 2"));
  CHECK(p.goals.at("web-1") == waiting(2));

  // web-0 recreated at revision 2 but not ready yet: the budget is used up.
  recreate(h, "web-0");
  CHECK(h.vm("web-0").revision == 2);
  CHECK(replacing(reconcile(h.w, "web")).empty());
  CHECK(reconcile(h.w, "web").goals.at("web-0") == keep(2));
  h.bring_up("web", 1);
  CHECK(replacing(reconcile(h.w, "web")) == std::vector<std::string>{"web-1"});
}

TEST_CASE("a rolling update's limits may be percentages") {
  auto h = harness::ready();
  h.must(create_deployment{rolling(4, {0, false}, {50, true})});
  h.bring_up("web", 4);
  update_deployment u;
  u.name = "web";
  u.memory_mib = 64;
  h.must(u);
  CHECK(replacing(reconcile(h.w, "web"))
        == std::vector<std::string>{"web-0", "web-1"});
  // 25 % of 4 rounds up to one surge VM.
  auto h2 = harness::ready();
  h2.must(create_deployment{rolling(4, {25, true}, {0, true})});
  h2.bring_up("web", 4);
  h2.must(cpu_update());
  CHECK(reconcile(h2.w, "web").surge == indices{0});
}

TEST_CASE("a rolling update replaces VMs that are not ready at once, in place") {
  auto h = harness::ready();
  h.must(create_deployment{rolling(3, {1, false}, {1, false})});
  h.bring_up("web", 3);
  h.must(record_vm_exited{"web-2", 1, ""});
  h.must(cpu_update());
  // web-2 is down already: replacing it costs no availability. It counts as
  // the one replica allowed to be unavailable, so no ready one goes; the
  // surge VM goes to slot 0.
  auto p = reconcile(h.w, "web");
  CHECK(replacing(p) == std::vector<std::string>{"web-2"});
  CHECK(p.goals.at("web-2").drain_ms == 0); // not serving: nothing to drain
  CHECK(p.surge == indices{0});
  CHECK(leaving(p).empty());
}

TEST_CASE("a deployment with persistent volumes never surges") {
  auto h = harness::ready();
  auto s = rolling(3, {2, false}, {1, false});
  s.tmpl.volumes = {volume{"/srv/data", true}};
  h.must(create_deployment{s});
  h.bring_up("web", 3);
  h.must(cpu_update());
  auto p = reconcile(h.w, "web");
  CHECK(p.surge.empty());
  CHECK(replacing(p) == std::vector<std::string>{"web-0"});
}

TEST_CASE("--min-ready-seconds: a new VM is available only after it stayed ready "
          "that long") {
  auto h = harness::ready();
  auto s = rolling(2, {1, false}, {0, false});
  s.strategy.min_ready_seconds = 10;
  h.must(create_deployment{s});
  h.bring_up("web", 2);
  h.must(cpu_update());
  CHECK(reconcile(h.w, "web", h.now).surge == indices{0});
  surge_up(h, "web", 0);
  auto ready_at = h.vm("web-0@2").ready_at;
  auto p = reconcile(h.w, "web", ready_at + 5'000'000'000);
  CHECK(leaving(p).empty());
  CHECK(p.recheck_at == ready_at + 10'000'000'000);
  p = reconcile(h.w, "web", ready_at + 10'000'000'000);
  CHECK(leaving(p) == std::vector<std::string>{"web-0"});
}

TEST_CASE("no room for a surge VM: in place with max-unavailable >= 1, blocked "
          "and saying why with max-unavailable 0") {
  auto c = small_host();
  c.memory_total_mib = 3 * 128;
  {
    auto h = harness::ready(c);
    h.must(create_deployment{rolling(3, {1, false}, {1, false})});
    h.bring_up("web", 3);
    h.must(cpu_update());
    auto p = reconcile(h.w, "web");
    CHECK(p.surge.empty());
    CHECK(replacing(p) == std::vector<std::string>{"web-0"});
    CHECK(p.note == "no room for surge VMs (insufficient memory: need 128 MiB, 0 MiB "
                    "free): replacing in place");
    CHECK(p.blocked.empty());
  }
  {
    auto h = harness::ready(c);
    h.must(create_deployment{rolling(3, {1, false}, {0, false})});
    h.bring_up("web", 3);
    h.must(cpu_update());
    auto p = reconcile(h.w, "web");
    CHECK(p.surge.empty());
    CHECK(replacing(p).empty());
    CHECK(p.blocked == "rollout blocked: no room for a surge VM (insufficient memory: "
                       "need 128 MiB, 0 MiB free) and max-unavailable is 0");
  }
}

TEST_CASE("rollout pause holds the rollout; resume goes on") {
  auto h = harness::ready();
  h.must(create_deployment{rolling(3, {1, false}, {1, false})});
  h.bring_up("web", 3);
  update_deployment pause;
  pause.name = "web";
  pause.rollout_paused = true;
  h.must(pause);
  h.must(cpu_update());
  auto p = reconcile(h.w, "web");
  CHECK(p.surge.empty());
  CHECK(replacing(p).empty());
  CHECK(leaving(p).empty());
  update_deployment resume;
  resume.name = "web";
  resume.rollout_paused = false;
  h.must(resume);
  CHECK(reconcile(h.w, "web").surge == indices{0});
}

TEST_CASE("a scale-down during a rolling update drops the slots above the count, "
          "surge VMs and old ones alike") {
  auto h = harness::ready();
  h.must(create_deployment{rolling(3, {1, false}, {0, false})});
  h.bring_up("web", 3);
  h.must(cpu_update());
  h.must(create_vm{"web", 2, true}); // as if slot 2 had surged
  h.must(scale_deployment{"web", 2});
  auto p = reconcile(h.w, "web");
  CHECK(leaving(p) == std::vector<std::string>{"web-2", "web-2@2"});
  CHECK(p.goals.at("web-2").drain_ms == 2000); // ready: drained first
  CHECK(p.goals.at("web-2@2").drain_ms == 0);  // never served
}

// -- rollout progress, deadline and automatic revert ---------------------------

TEST_CASE("a rollout is journaled as it progresses and completes; the completed "
          "revision becomes the stable one") {
  auto h = harness::ready();
  h.must(create_deployment{rolling(2, {1, false}, {0, false})});
  CHECK(h.dep("web").rollout.phase == rollout_phase::progressing);
  h.bring_up("web", 2);
  auto p = reconcile(h.w, "web");
  CHECK(p.complete);
  auto evs = h.must(record_rollout{"web", 1, p.updated, p.replicas, p.complete});
  REQUIRE(evs.size() == 1);
  CHECK(std::get<deployment_rollout>(evs[0]).phase == rollout_phase::complete);
  CHECK(h.dep("web").stable_revision == 1);
  CHECK(h.must(record_rollout{"web", 1, 2, 2, true}).empty()); // nothing new
  h.must(cpu_update());
  CHECK(h.dep("web").rollout.revision == 2);
  CHECK(h.dep("web").rollout.phase == rollout_phase::progressing);
  CHECK(h.dep("web").stable_revision == 1);
  // Progress: one slot done.
  evs = h.must(record_rollout{"web", 2, 1, 2, false});
  REQUIRE(evs.size() == 1);
  CHECK(h.dep("web").rollout.updated == 1);
  CHECK(h.must(record_rollout{"web", 2, 1, 2, false}).empty()); // no progress
  CHECK(h.must(record_rollout{"web", 1, 2, 2, true}).empty());  // another revision
  // Why it goes slower than its strategy says: journaled once, not progress.
  auto progress_at = h.dep("web").rollout.progress_at;
  evs = h.must(record_rollout{"web", 2, 1, 2, false, "no room for surge VMs (x)"});
  REQUIRE(evs.size() == 1);
  CHECK(std::get<deployment_rollout>(evs[0]).reason == "no room for surge VMs (x)");
  CHECK(h.dep("web").rollout.progress_at == progress_at);
  CHECK(h.must(record_rollout{"web", 2, 1, 2, false, "no room for surge VMs (x)"}).empty());
}

TEST_CASE("a rollout without progress within its deadline fails and reverts to "
          "the last revision that completed, with the same strategy, once") {
  auto h = harness::ready();
  auto s = rolling(2, {1, false}, {0, false});
  s.strategy.progress_deadline_seconds = 30;
  h.must(create_deployment{s});
  h.bring_up("web", 2);
  h.must(record_rollout{"web", 1, 2, 2, true});
  h.must(cpu_update(3));
  CHECK(h.must(check_rollout{"web"}).empty()); // not yet
  h.now += 31'000'000'000;
  auto evs = h.must(check_rollout{"web"});
  REQUIRE(evs.size() == 2);
  auto failed = std::get<deployment_rollout>(evs[0]);
  CHECK(failed.phase == rollout_phase::failed);
  CHECK(failed.reason == "no progress for 30 s (0 of 2 replicas updated)");
  auto revert = std::get<deployment_updated>(evs[1]);
  CHECK(revert.revision == 3);
  CHECK(revert.revert_of == 2);
  CHECK(revert.tmpl.cpu == 1);
  CHECK(revert.strategy == h.dep("web").spec.strategy);
  CHECK(revert.reason.starts_with("automatic revert to revision 1: rollout of revision 2 failed"));
  CHECK(h.dep("web").revision == 3);
  CHECK(h.dep("web").rollout.revert_of == 2);
  // The VMs that run the stable template are kept as they are: no rollout
  // for them, only the failed revision's VMs go.
  CHECK(h.vm("web-0").revision == 3);
  CHECK(h.vm("web-1").revision == 3);
  CHECK(h.dep("web").stable_revision == 3);
  CHECK_FALSE(reconcile(h.w, "web").goals.at("web-0").outdated);
  // A revert that fails too is not reverted again: it is only marked failed.
  h.now += 31'000'000'000;
  evs = h.must(check_rollout{"web"});
  REQUIRE(evs.size() == 1);
  CHECK(std::get<deployment_rollout>(evs[0]).phase == rollout_phase::failed);
  CHECK(h.dep("web").revision == 3);
}

TEST_CASE("no automatic revert with --no-auto-revert, while paused, or without a "
          "completed revision") {
  {
    auto h = harness::ready();
    auto s = rolling(2, {1, false}, {0, false});
    s.strategy.progress_deadline_seconds = 30;
    s.strategy.auto_revert = false;
    h.must(create_deployment{s});
    h.bring_up("web", 2);
    h.must(record_rollout{"web", 1, 2, 2, true});
    h.must(cpu_update(3));
    h.now += 31'000'000'000;
    auto evs = h.must(check_rollout{"web"});
    REQUIRE(evs.size() == 1);
    CHECK(h.dep("web").rollout.phase == rollout_phase::failed);
    CHECK(h.dep("web").revision == 2);
  }
  {
    auto h = harness::ready();
    auto s = rolling(2, {1, false}, {0, false});
    s.strategy.progress_deadline_seconds = 30;
    h.must(create_deployment{s});
    h.now += 31'000'000'000; // the first rollout never completed
    auto evs = h.must(check_rollout{"web"});
    REQUIRE(evs.size() == 1);
    CHECK(h.dep("web").revision == 1);
  }
  {
    auto h = harness::ready();
    auto s = rolling(2, {1, false}, {0, false});
    s.strategy.progress_deadline_seconds = 30;
    s.strategy.rollout_paused = true;
    h.must(create_deployment{s});
    h.now += 31'000'000'000;
    CHECK(h.must(check_rollout{"web"}).empty());
  }
}

// -- blocked ------------------------------------------------------------------

TEST_CASE("creates stop at the first that does not fit in memory") {
  auto c = small_host();
  c.memory_total_mib = 320;
  auto w = unadmitted(c, spec("web", 3, 128));
  auto p = reconcile(w, "web");
  CHECK(p.create == indices{0, 1});
  CHECK(p.blocked == "insufficient memory: need 128 MiB, 64 MiB free");
}

TEST_CASE("creates stop at the host VM limit") {
  auto c = small_host();
  c.max_vms = 2;
  auto w = unadmitted(c, spec("web", 3, 1));
  auto p = reconcile(w, "web");
  CHECK(p.create == indices{0, 1});
  CHECK(p.blocked == "host VM limit reached (2 VMs)");
}

TEST_CASE("creates stop when the IP pool is exhausted") {
  auto c = small_host();
  c.pool_last = ip(11);
  auto w = unadmitted(c, spec("web", 3, 1));
  auto p = reconcile(w, "web");
  CHECK(p.create == indices{0, 1});
  CHECK(p.blocked == "IP pool exhausted (10.0.0.10-10.0.0.11)");
}

TEST_CASE("a blocked create does not hold up the other replicas' goals") {
  auto c = small_host();
  c.memory_total_mib = 256;
  auto w = unadmitted(c, spec("web", 3, 128));
  apply(w, vm_created{"web-2", "web", 2, "local", ip(10), 1, 1, 128, 2});
  apply(w, vm_created{"web-0", "web", 0, "local", ip(11), 1, 1, 128, 2});
  auto p = reconcile(w, "web");
  CHECK(p.create.empty());
  CHECK(p.goals == goals{{"web-0", keep()}, {"web-2", keep()}});
  CHECK(p.blocked == "insufficient memory: need 128 MiB, 0 MiB free");
}

// -- deleted deployments and orphans ------------------------------------------

TEST_CASE("a deleted deployment's VMs all go") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 3)});
  h.bring_up("web", 3);
  h.must(cpu_update());
  recreate(h, "web-1"); // web-1 at revision 2, the others at 1
  h.must(delete_deployment{"web"});
  auto gone = [](std::uint64_t revision) {
    return vm_goal{false, false, revision, false, false, false};
  };
  CHECK(reconcile(h.w, "web").goals
        == goals{{"web-0", gone(1)}, {"web-1", gone(2)}, {"web-2", gone(1)}});
  CHECK(reconcile(h.w, "nothing") == plan{});
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

// -- choosing the replica to remove (scale --remove) and vms delete -----------------

TEST_CASE("scale --remove web-1 removes exactly web-1; the others keep their "
          "indexes and IPs, and a scale-up fills index 1 first") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 5)});
  h.bring_up("web", 5);
  auto ip_of = [&](const std::string& n) { return h.vm(n).ip; };
  std::map<std::string, ipv4> before;
  for (auto n : {"web-0", "web-2", "web-3", "web-4"})
    before[n] = ip_of(n);

  auto evs = h.must(scale_deployment{"web", 4, {"web-1"}});
  REQUIRE(evs.size() == 1);
  CHECK(std::get<deployment_scaled>(evs[0]).removed == indices{1});
  CHECK(wanted_indexes(h.dep("web")) == indices{0, 2, 3, 4});
  CHECK(reconcile(h.w, "web").goals
        == goals{{"web-0", keep()}, {"web-1", removed()}, {"web-2", keep()},
                      {"web-3", keep()}, {"web-4", keep()}});
  stop_and_remove(h, "web-1");
  for (const auto& [n, ip] : before)
    CHECK(ip_of(n) == ip);
  CHECK(reconcile(h.w, "web").create.empty());

  // Scaling down without --remove takes the top index, not the hole.
  h.must(scale_deployment{"web", 3});
  CHECK(wanted_indexes(h.dep("web")) == indices{0, 2, 3});
  CHECK(reconcile(h.w, "web").goals.at("web-4") == removed());
  stop_and_remove(h, "web-4");

  // Scaling up fills the hole first, then grows at the top.
  h.must(scale_deployment{"web", 5});
  CHECK(wanted_indexes(h.dep("web")) == indices{0, 1, 2, 3, 4});
  CHECK(h.dep("web").holes.empty());
  CHECK(reconcile(h.w, "web").create == indices{1, 4});
}

TEST_CASE("scale --remove: several names, the rest from the top, and the holes "
          "above the new top are forgotten") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 6)});
  h.bring_up("web", 6);
  h.must(scale_deployment{"web", 3, {"web-4", "web-1"}});
  // 6 → 3 with web-1 and web-4 named: the third to go is the top one, web-5.
  CHECK(wanted_indexes(h.dep("web")) == indices{0, 2, 3});
  CHECK(h.dep("web").holes == std::set<std::uint32_t>{1});
  CHECK(scale_down_victims(h.w, "web", 3) == std::vector<std::string>{"web-5", "web-4", "web-1"});
  // To 0: no hole means anything any more.
  h.must(scale_deployment{"web", 0});
  CHECK(h.dep("web").holes.empty());
}

TEST_CASE("scale --remove refuses names that are not wanted replicas, a name "
          "twice, and more names than the scale-down removes; nothing changes") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 3)});
  h.must(create_deployment{spec("api", 2)});
  h.bring_up("web", 3);
  h.bring_up("api", 2);
  auto e = h.fails(scale_deployment{"web", 2, {"api-1"}});
  CHECK(e.code == ec::unknown_vm);
  CHECK(contains(e.message, "VM 'api-1' is not a replica of deployment 'web'"));
  CHECK(h.fails(scale_deployment{"web", 2, {"web-7"}}).code == ec::unknown_vm);
  e = h.fails(scale_deployment{"web", 1, {"web-1", "web-1"}});
  CHECK(contains(e.message, "named twice"));
  e = h.fails(scale_deployment{"web", 2, {"web-0", "web-1"}});
  CHECK(e.code == ec::invalid_argument);
  CHECK(contains(e.message, "--remove names 2 replica(s) but scaling web 3 → 2 removes 1"));
  CHECK(h.fails(scale_deployment{"web", 3, {"web-0"}}).code == ec::invalid_argument);
  CHECK(h.fails(scale_deployment{"web", 4, {"web-0"}}).code == ec::invalid_argument);
  // A name already let go is not a wanted replica.
  h.must(scale_deployment{"web", 2, {"web-0"}});
  CHECK(h.fails(scale_deployment{"web", 1, {"web-0"}}).code == ec::unknown_vm);
  // A replica index that is a hole cannot be recorded.
  CHECK(h.fails(create_vm{"web", 0}).code == ec::invalid_argument);
}

TEST_CASE("vms delete: the VM's goal asks for a recreate in its slot until it is "
          "recreated; a second delete meanwhile changes nothing") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 2)});
  h.bring_up("web", 2);
  auto ip = h.vm("web-1").ip;
  auto evs = h.must(delete_vm{"web-1"});
  REQUIRE(evs.size() == 1);
  CHECK(std::holds_alternative<vm_replace_requested>(evs[0]));
  CHECK(h.vm("web-1").replace_requested);
  auto p = reconcile(h.w, "web");
  CHECK(p.goals.at("web-1").recreate);
  CHECK_FALSE(p.goals.at("web-0").recreate);
  CHECK(p.create.empty());
  CHECK(h.must(delete_vm{"web-1"}).empty());
  auto run = h.vm("web-1").incarnation;
  h.must(record_vm_stopped{"web-1", run});
  h.must(recreate_vm{"web-1", run, 1, 0, 0, "deleted by the user: replaced"});
  CHECK_FALSE(h.vm("web-1").replace_requested);
  CHECK(h.vm("web-1").ip == ip);
  CHECK_FALSE(reconcile(h.w, "web").goals.at("web-1").recreate);
}

TEST_CASE("vms delete refuses unknown VMs, VMs being removed and VMs of a paused "
          "deployment") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 3)});
  h.bring_up("web", 3);
  CHECK(h.fails(delete_vm{"web-9"}).code == ec::unknown_vm);
  h.must(scale_deployment{"web", 2});
  auto e = h.fails(delete_vm{"web-2"});
  CHECK(e.code == ec::conflict);
  CHECK(contains(e.message, "being removed already"));
  h.must(pause_deployment{"web"});
  e = h.fails(delete_vm{"web-0"});
  CHECK(contains(e.message, "is paused"));
}
