#include "fixture.hpp"

using namespace volant;
using namespace volant::test;

// -- create_vm ----------------------------------------------------------------

TEST_CASE("create_vm records the replica with the lowest free address") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 2)});
  auto ev = only<vm_created>(h.must(create_vm{"web", 1}));
  CHECK(ev.name == "web-1");
  CHECK(ev.deployment == "web");
  CHECK(ev.index == 1);
  CHECK(ev.host == "local");
  CHECK(ev.ip == ip(10));
  CHECK(ev.revision == 1);
  CHECK(ev.cpu == 1);
  CHECK(ev.memory_mib == 128);
  CHECK(ev.at == h.now);
  CHECK(only<vm_created>(h.must(create_vm{"web", 0})).ip == ip(11));
}

TEST_CASE("create_vm refuses what reconcile would not plan") {
  auto h = harness::ready();
  CHECK(h.fails(create_vm{"web", 0}).code == ec::unknown_deployment);
  h.must(create_deployment{spec("web", 2)});
  auto range = h.fails(create_vm{"web", 2});
  CHECK(range.code == ec::invalid_argument);
  CHECK(contains(range.message, "replica index 2 is out of range"));
  h.must(create_vm{"web", 0});
  auto dup = h.fails(create_vm{"web", 0});
  CHECK(dup.code == ec::duplicate_name);
  CHECK(dup.message == "VM 'web-0' already exists");
  h.must(pause_deployment{"web"});
  CHECK(h.fails(create_vm{"web", 1}).code == ec::conflict);
}

TEST_CASE("create_vm checks the VM limit, recorded memory and the pool") {
  auto c = small_host();
  c.max_vms = 1;
  auto h = harness::ready(c);
  h.w.deployments["web"] = deployment_state{spec("web", 3, 128), 1, 0, 0};
  h.must(create_vm{"web", 0});
  auto limit = h.fails(create_vm{"web", 1});
  CHECK(limit.code == ec::host_vm_limit);
  CHECK(limit.message == "host VM limit reached (1 VMs)");

  auto mem = harness::ready();
  mem.w.deployments["web"] = deployment_state{spec("web", 3, 4000), 1, 0, 0};
  mem.must(create_vm{"web", 0});
  auto e = mem.fails(create_vm{"web", 1});
  CHECK(e.code == ec::insufficient_memory);
  CHECK(e.message == "insufficient memory: need 4000 MiB, 96 MiB free");

  auto pool = small_host();
  pool.pool_last = ip(11);
  auto p = harness::ready(pool);
  p.w.deployments["web"] = deployment_state{spec("web", 3, 1), 1, 0, 0};
  p.create_vms("web", 2);
  auto ex = p.fails(create_vm{"web", 2});
  CHECK(ex.code == ec::ip_pool_exhausted);
}

// -- VM lifecycle -------------------------------------------------------------

TEST_CASE("lifecycle reports for an unknown VM fail with unknown_vm") {
  auto h = harness::ready();
  std::vector<command> cmds{record_vm_started{"x", {}},
                            record_vm_adopted{"x", {}},
                            record_vm_ready{"x"},
                            record_vm_unhealthy{"x", ""},
                            record_vm_exited{"x", 0, ""},
                            record_vm_start_failed{"x", ""},
                            schedule_vm_restart{"x", "", 0},
                            record_vm_stopped{"x"},
                            remove_vm{"x"},
                            record_vm_paused{"x"},
                            record_vm_resumed{"x"},
                            recreate_vm{"x", 0, 1, 0, 0, ""}};
  for (const auto& cmd : cmds) {
    auto e = h.fails(cmd);
    CHECK(e.code == ec::unknown_vm);
    CHECK(e.message == "VM 'x' does not exist (see: volar vms list)");
  }
}

TEST_CASE("a VM goes from pending to running to ready") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 1)});
  h.create_vms("web", 1);
  driver_handle handle{"process", 4242, 99, ""};
  auto started = only<vm_started>(h.must(record_vm_started{"web-0", handle}));
  CHECK(started.handle == handle);
  CHECK(h.vm("web-0").status == vm_status::running);
  CHECK(h.vm("web-0").started_at == h.now);
  CHECK(h.fails(record_vm_started{"web-0", handle}).code == ec::conflict);
  only<vm_ready>(h.must(record_vm_ready{"web-0"}));
  CHECK(h.vm("web-0").status == vm_status::ready);
  CHECK(h.vm("web-0").ready_at == h.now);
  CHECK(h.must(record_vm_ready{"web-0"}).empty());
}

TEST_CASE("unhealthy, exit and failed starts are recorded with their reasons") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 1)});
  h.bring_up("web", 1);
  auto u = only<vm_unhealthy>(h.must(record_vm_unhealthy{"web-0", "HTTP 503"}));
  CHECK(u.reason == "HTTP 503");
  CHECK(h.must(record_vm_unhealthy{"web-0", "HTTP 503"}).empty());
  CHECK(h.vm("web-0").last_error == "HTTP 503");
  auto x
      = only<vm_exited>(h.must(record_vm_exited{"web-0", 1, "exit status 1"}));
  CHECK(x.exit_code == 1);
  CHECK(h.vm("web-0").status == vm_status::exited);
  CHECK(h.vm("web-0").last_exit_code == 1);
  CHECK(h.fails(record_vm_exited{"web-0", 1, ""}).code == ec::conflict);
  CHECK(h.fails(record_vm_ready{"web-0"}).code == ec::conflict);
  CHECK(h.fails(record_vm_unhealthy{"web-0", ""}).code == ec::conflict);
  auto f = only<vm_start_failed>(
      h.must(record_vm_start_failed{"web-0", "ENOENT"}));
  CHECK(f.error == "ENOENT");
  CHECK(h.vm("web-0").status == vm_status::failed);
  CHECK(h.vm("web-0").last_error == "ENOENT");
}

TEST_CASE("a repeated start failure report emits nothing") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 1)});
  h.create_vms("web", 1);
  h.must(record_vm_start_failed{"web-0", "ENOENT"});
  CHECK(h.must(record_vm_start_failed{"web-0", "ENOENT"}).empty());
  CHECK(h.must(record_vm_start_failed{"web-0", "EACCES"}).size() == 1);
  CHECK(h.vm("web-0").last_error == "EACCES");
}

TEST_CASE("a scheduled restart counts and waits out its back-off") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 1)});
  h.bring_up("web", 1);
  h.must(record_vm_exited{"web-0", 1, "exit status 1"});
  auto r = only<vm_restart_scheduled>(
      h.must(schedule_vm_restart{"web-0", "exited", 1000}));
  CHECK(r.backoff_ms == 1000);
  CHECK(h.vm("web-0").status == vm_status::restarting);
  CHECK(h.vm("web-0").restarts == 1);
  CHECK(h.fails(schedule_vm_restart{"web-0", "again", 0}).code == ec::conflict);
  h.must(record_vm_started{"web-0", {}});
  CHECK(h.vm("web-0").status == vm_status::running);
  CHECK(h.vm("web-0").restarts == 1);
}

TEST_CASE("a pending VM cannot be restarted") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 1)});
  h.create_vms("web", 1);
  auto e = h.fails(schedule_vm_restart{"web-0", "x", 0});
  CHECK(e.code == ec::conflict);
  CHECK(e.message == "cannot restart VM 'web-0': it is pending");
}

TEST_CASE("adoption updates the handle of a known VM") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 1)});
  h.bring_up("web", 1);
  driver_handle handle{"process", 777, 5, ""};
  only<vm_adopted>(h.must(record_vm_adopted{"web-0", handle}));
  CHECK(h.vm("web-0").handle == handle);
  CHECK(h.vm("web-0").status == vm_status::ready);
}

TEST_CASE("a running VM must be stopped before it is removed") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 1)});
  h.bring_up("web", 1);
  auto e = h.fails(remove_vm{"web-0"});
  CHECK(e.code == ec::conflict);
  CHECK(e.message == "VM 'web-0' is ready: stop it before removing it");
  only<vm_stopped>(h.must(record_vm_stopped{"web-0"}));
  CHECK(h.must(record_vm_stopped{"web-0"}).empty());
  only<vm_removed>(h.must(remove_vm{"web-0"}));
  CHECK(h.w.vms.empty());
  CHECK(h.w.host.leases.empty());
  CHECK(h.w.host.memory_used_mib == 0);
  CHECK(h.w.host.cpu_used == 0);
}

// -- runs (incarnations) ------------------------------------------------------

TEST_CASE("every start takes a new run number, recorded on its events") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 1)});
  h.create_vms("web", 1);
  CHECK(h.vm("web-0").incarnation == 0);
  CHECK(only<vm_started>(h.must(record_vm_started{"web-0", {}, 1})).incarnation
        == 1);
  CHECK(only<vm_ready>(h.must(record_vm_ready{"web-0"})).incarnation == 1);
  CHECK(only<vm_exited>(h.must(record_vm_exited{"web-0", 1, "x", 1})).incarnation
        == 1);
  CHECK(only<vm_restart_scheduled>(h.must(schedule_vm_restart{"web-0", "x", 0}))
          .incarnation
        == 1);
  auto again = h.fails(record_vm_started{"web-0", {}, 1});
  CHECK(again.code == ec::conflict);
  CHECK(again.message == "VM 'web-0' already had run 1: a start takes a new number");
  // Without a number (an old caller) a start takes the next one.
  CHECK(only<vm_started>(h.must(record_vm_started{"web-0", {}})).incarnation == 2);
  CHECK(h.vm("web-0").incarnation == 2);
}

TEST_CASE("a failed start uses up its run number") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 1)});
  h.create_vms("web", 1);
  CHECK(only<vm_start_failed>(h.must(record_vm_start_failed{"web-0", "ENOENT", 1}))
          .incarnation
        == 1);
  CHECK(h.vm("web-0").incarnation == 1);
  auto stale = h.fails(record_vm_start_failed{"web-0", "ENOENT", 1});
  CHECK(stale.code == ec::conflict);
  CHECK(stale.message == "stale report for VM 'web-0': run 1 is not a new run");
  CHECK(h.fails(record_vm_started{"web-0", {}, 1}).code == ec::conflict);
  h.must(record_vm_started{"web-0", {}, 2});
}

TEST_CASE("reports about another run than the current one are refused as stale") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 1)});
  h.bring_up("web", 1); // run 1
  h.must(record_vm_exited{"web-0", 1, "x", 1});
  h.must(schedule_vm_restart{"web-0", "x", 0, 1});
  h.must(record_vm_started{"web-0", {}, 2});
  std::vector<command> stale{record_vm_adopted{"web-0", {}, 1},
                             record_vm_ready{"web-0", 1},
                             record_vm_unhealthy{"web-0", "x", 1},
                             record_vm_exited{"web-0", 1, "x", 1},
                             schedule_vm_restart{"web-0", "x", 0, 1},
                             record_vm_stopped{"web-0", 1},
                             record_vm_paused{"web-0", 1},
                             record_vm_resumed{"web-0", 3},
                             record_vm_ready{"web-0", 3}};
  for (const auto& cmd : stale) {
    auto e = h.fails(cmd);
    CHECK(e.code == ec::conflict);
    CHECK(contains(e.message, "stale report for VM 'web-0': run "));
    CHECK(contains(e.message, " is not its current run 2"));
  }
  // The current run's reports (or unnumbered ones) are taken.
  CHECK(only<vm_ready>(h.must(record_vm_ready{"web-0", 2})).incarnation == 2);
  CHECK(only<vm_paused>(h.must(record_vm_paused{"web-0", 2})).incarnation == 2);
  CHECK(only<vm_resumed>(h.must(record_vm_resumed{"web-0"})).incarnation == 2);
}

TEST_CASE("a VM that may run is removed or recreated only naming its current run "
          "as ended") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 2)});
  h.bring_up("web", 2); // web-0 run 1, web-1 run 2
  auto e = h.fails(remove_vm{"web-0"});
  CHECK(e.code == ec::conflict);
  CHECK(e.message == "VM 'web-0' is ready: stop it before removing it");
  CHECK(h.fails(remove_vm{"web-0", 2}).code == ec::conflict);
  auto r = h.fails(recreate_vm{"web-0", 0, 1, 0, 0, "x"});
  CHECK(r.message == "VM 'web-0' is ready: stop it before recreating it");
  CHECK(h.fails(recreate_vm{"web-0", 2, 1, 0, 0, "x"}).code == ec::conflict);
  only<vm_recreated>(h.must(recreate_vm{"web-0", 1, 1, 0, 0, "x"}));
  only<vm_removed>(h.must(remove_vm{"web-1", 2}));

  // A restarting VM's run may still be up until it is seen to end.
  h.must(record_vm_started{"web-0", {}});
  h.must(record_vm_exited{"web-0", 1, "x"});
  h.must(schedule_vm_restart{"web-0", "x", 1000});
  CHECK(h.fails(remove_vm{"web-0"}).message
        == "VM 'web-0' is restarting: stop it before removing it");
  only<vm_removed>(h.must(remove_vm{"web-0", h.vm("web-0").incarnation}));
}

TEST_CASE("a recreate keeps the VM's name, index, IP and lease and takes the "
          "deployment's template") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 2)});
  h.bring_up("web", 2);
  update_deployment u;
  u.name = "web";
  u.cpu = 3;
  u.memory_mib = 512;
  h.must(u);
  auto before = h.vm("web-1");
  auto ev = only<vm_recreated>(
    h.must(recreate_vm{"web-1", before.incarnation, 2, 0, 0, "revision 1 -> 2"}));
  CHECK(ev == vm_recreated{"web-1", 2, 3, 512, 0, 0, "revision 1 -> 2", h.now});
  const auto& vm = h.vm("web-1");
  CHECK(vm.index == 1);
  CHECK(vm.ip == before.ip);
  CHECK(h.w.host.leases.at(before.ip) == "web-1");
  CHECK(h.w.host.leases.size() == 2);
  CHECK(vm.status == vm_status::pending);
  CHECK(vm.incarnation == before.incarnation);
  CHECK(h.w.host.memory_used_mib == 128 + 512);
  CHECK(h.w.host.cpu_used == 1 + 3);
  // Failure recreates carry their restart count and back-off.
  auto failed = only<vm_recreated>(h.must(
    recreate_vm{"web-1", 0, 2, 3, 4000, "recreated: ENOENT"}));
  CHECK(failed.restarts == 3);
  CHECK(failed.backoff_ms == 4000);
  CHECK(h.vm("web-1").not_before == h.now + 4'000'000'000);
  CHECK(replay(h.log) == h.w);
}

TEST_CASE("a recreate is refused at a stale revision or for a deleted deployment") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 1)});
  h.create_vms("web", 1);
  update_deployment u;
  u.name = "web";
  u.cpu = 2;
  h.must(u);
  auto e = h.fails(recreate_vm{"web-0", 0, 1, 0, 0, "x"});
  CHECK(e.code == ec::conflict);
  CHECK(e.message
        == "cannot recreate VM 'web-0' at revision 1: deployment 'web' is at "
           "revision 2");
  CHECK(h.fails(recreate_vm{"web-0", 0, 3, 0, 0, "x"}).code == ec::conflict);
  h.must(delete_deployment{"web"});
  CHECK(h.fails(recreate_vm{"web-0", 0, 2, 0, 0, "x"}).code
        == ec::unknown_deployment);
}

TEST_CASE("a recreate is refused when the memory it grows by does not fit") {
  auto h = harness::ready(); // 4096 MiB
  h.must(create_deployment{spec("web", 2, 512)});
  h.create_vms("web", 2); // 1024 MiB held
  update_deployment u;
  u.name = "web";
  u.memory_mib = 1024;
  h.must(u); // admitted: the growth is reserved
  auto c = small_host();
  c.memory_total_mib = 1200; // still above what the VMs hold
  h.must(configure_host{c});
  auto e = h.fails(recreate_vm{"web-0", 0, 2, 0, 0, "revision 1 -> 2"});
  CHECK(e.code == ec::insufficient_memory);
  CHECK(e.message == "insufficient memory: need 1024 MiB, 688 MiB free");
  // Shrinking always fits.
  u.memory_mib = 256;
  h.must(u);
  only<vm_recreated>(h.must(recreate_vm{"web-0", 0, 3, 0, 0, "revision 2 -> 3"}));
  CHECK(h.w.host.memory_used_mib == 512 + 256);
}

TEST_CASE("a new VM of a reused name numbers its runs above every recorded run") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 2)});
  h.bring_up("web", 2); // runs 1 and 2
  h.must(record_vm_exited{"web-0", 0, "", 1});
  h.must(remove_vm{"web-0"});
  h.must(create_vm{"web", 0});
  CHECK(h.w.last_incarnation == 2);
  CHECK(h.vm("web-0").incarnation == 2);
  CHECK(h.fails(record_vm_started{"web-0", {}, 1}).code == ec::conflict);
  CHECK(h.fails(record_vm_started{"web-0", {}, 2}).code == ec::conflict);
  CHECK(only<vm_started>(h.must(record_vm_started{"web-0", {}})).incarnation == 3);
  CHECK(replay(h.log) == h.w);
}

// -- pause and resume ---------------------------------------------------------

TEST_CASE("a running, ready or unhealthy VM can be paused and resumed") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 3)});
  h.create_vms("web", 3);
  h.must(record_vm_started{"web-0", {}}); // running
  h.must(record_vm_started{"web-1", {}});
  h.must(record_vm_ready{"web-1"});
  h.must(record_vm_started{"web-2", {}});
  h.must(record_vm_unhealthy{"web-2", "HTTP 503"});
  for (std::string name : {"web-0", "web-1", "web-2"}) {
    CAPTURE(name);
    auto before = h.vm(name);
    auto paused = only<vm_paused>(h.must(record_vm_paused{name}));
    CHECK(paused.name == name);
    CHECK(paused.at == h.now);
    CHECK(h.vm(name).status == vm_status::paused);
    CHECK(h.must(record_vm_paused{name}).empty()); // the same report again
    only<vm_resumed>(h.must(record_vm_resumed{name}));
    CHECK(h.vm(name).status == vm_status::running);
    CHECK(h.vm(name).ready_at == before.ready_at);
  }
  CHECK(replay(h.log) == h.w);
}

TEST_CASE("only a VM that runs can be paused, only a paused one resumed") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 3)});
  h.create_vms("web", 3);
  h.must(record_vm_started{"web-1", {}});
  h.must(record_vm_exited{"web-1", 1, "exit status 1"});
  h.must(record_vm_start_failed{"web-2", "boom"});
  auto e = h.fails(record_vm_paused{"web-0"});
  CHECK(e.code == ec::conflict);
  CHECK(e.message == "cannot pause VM 'web-0': it is pending");
  CHECK(h.fails(record_vm_paused{"web-1"}).code == ec::conflict);
  CHECK(h.fails(record_vm_paused{"web-2"}).code == ec::conflict);
  h.must(record_vm_started{"web-0", {}});
  e = h.fails(record_vm_resumed{"web-0"});
  CHECK(e.code == ec::conflict);
  CHECK(e.message == "cannot resume VM 'web-0': it is running, not paused");
  CHECK(h.fails(record_vm_resumed{"web-1"}).code == ec::conflict);
}

TEST_CASE("a paused VM must be stopped before it is removed, restarted or "
          "started") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 1)});
  h.bring_up("web", 1);
  h.must(record_vm_paused{"web-0"});
  auto e = h.fails(remove_vm{"web-0"});
  CHECK(e.code == ec::conflict);
  CHECK(e.message == "VM 'web-0' is paused: stop it before removing it");
  CHECK(h.fails(schedule_vm_restart{"web-0", "x", 0}).code == ec::conflict);
  CHECK(h.fails(record_vm_started{"web-0", {}}).code == ec::conflict);
  CHECK(h.fails(record_vm_ready{"web-0"}).code == ec::conflict);
  CHECK(h.fails(record_vm_unhealthy{"web-0", "x"}).code == ec::conflict);
  only<vm_stopped>(h.must(record_vm_stopped{"web-0"}));
  only<vm_removed>(h.must(remove_vm{"web-0"}));
  CHECK(h.w.host.leases.empty());
}

TEST_CASE("a paused VM whose workload dies is recorded as exited") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 1)});
  h.bring_up("web", 1);
  h.must(record_vm_paused{"web-0"});
  only<vm_exited>(h.must(record_vm_exited{"web-0", -9, "killed by signal 9"}));
  CHECK(h.vm("web-0").status == vm_status::exited);
}

TEST_CASE("pending, exited and failed VMs can be removed directly") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 3)});
  h.bring_up("web", 3);
  h.must(record_vm_exited{"web-1", 0, ""});
  h.must(record_vm_exited{"web-2", 0, ""});
  h.must(record_vm_start_failed{"web-2", "boom"});
  h.must(remove_vm{"web-1"});
  h.must(remove_vm{"web-2"});
  h.must(scale_deployment{"web", 4});
  h.must(create_vm{"web", 3});
  h.must(remove_vm{"web-3"});
}

TEST_CASE("actor crashes are recorded for the audit") {
  auto h = harness::ready();
  auto ev
      = only<actor_crashed>(h.must(record_actor_crash{"vm/web-0", "boom", 3}));
  CHECK(ev.actor == "vm/web-0");
  CHECK(ev.reason == "boom");
  CHECK(ev.count == 3);
  CHECK(h.fails(record_actor_crash{"", "x", 1}).code == ec::invalid_argument);
}

TEST_CASE("decide never changes the world and its events apply cleanly") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 2)});
  auto before = h.w;
  auto r = decide(h.w, scale_deployment{"web", 4}, 5);
  REQUIRE(r.has_value());
  CHECK(h.w == before);
  CHECK(replay(h.log) == h.w);
}
