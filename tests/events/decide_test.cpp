#include "fixture.hpp"

using namespace volant;
using namespace volant::test;

// -- host ---------------------------------------------------------------------

TEST_CASE("configuring the host emits host_configured once") {
  harness h;
  auto ev = only<host_configured>(h.must(configure_host{small_host()}));
  CHECK(ev.config == small_host());
  CHECK(ev.at == h.now);
  CHECK(h.w.host.configured);
  CHECK(h.must(configure_host{small_host()}).empty()); // unchanged: nothing
}

TEST_CASE("an invalid host configuration is rejected") {
  harness h;
  auto c = small_host();
  std::swap(c.pool_first, c.pool_last);
  CHECK(h.fails(configure_host{c}).code == ec::invalid_host_config);
}

TEST_CASE("a new pool may not strand a leased address") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 3)});
  h.create_vms("web", 3); // .10 .11 .12
  auto c = small_host();
  c.pool_first = ip(11);
  auto e = h.fails(configure_host{c});
  CHECK(e.code == ec::invalid_host_config);
  CHECK(e.message
        == "IP pool 10.0.0.11-10.0.0.20 would strand VM 'web-0' at 10.0.0.10");
  c = small_host();
  c.pool_last = ip(30);
  h.must(configure_host{c}); // growing the pool is fine
}

TEST_CASE("host capacity may not drop below what recorded VMs hold") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 3, 1024)});
  h.create_vms("web", 2);
  auto c = small_host();
  c.memory_total_mib = 1024;
  auto e = h.fails(configure_host{c});
  CHECK(e.code == ec::invalid_host_config);
  CHECK(e.message
        == "memory_total_mib 1024 is below the 2048 MiB that VMs hold");
  c = small_host();
  c.max_vms = 1;
  CHECK(h.fails(configure_host{c}).message
        == "max_vms 1 is below the 2 VMs recorded");
  // Admitted but not yet created replicas do not hold the host back.
  c = small_host();
  c.memory_total_mib = 2048;
  c.max_vms = 2;
  h.must(configure_host{c});
  CHECK(reconcile(h.w, "web").blocked == "host VM limit reached (2 VMs)");
}

// -- plugins ------------------------------------------------------------------

TEST_CASE("installing a plugin emits plugin_installed") {
  harness h;
  auto ev = only<plugin_installed>(h.must(install_plugin{nginx()}));
  CHECK(ev.manifest == nginx());
  CHECK(h.w.plugins.find({"nginx", "1.0.0"}) != nullptr);
}

TEST_CASE("installing the same plugin version twice is a duplicate") {
  auto h = harness::ready();
  auto e = h.fails(install_plugin{nginx()});
  CHECK(e.code == ec::duplicate_name);
  CHECK(e.message == "plugin 'nginx' version '1.0.0' is already installed");
  h.must(install_plugin{nginx("1.1.0")});
}

TEST_CASE("an invalid manifest is rejected naming the field") {
  harness h;
  auto m = nginx();
  m.health.probe = http_check{0, "/health"};
  auto e = h.fails(install_plugin{m});
  CHECK(e.code == ec::invalid_health_check);
  CHECK(contains(e.message, "health_check.http.port"));
}

TEST_CASE("removing an unknown plugin or version fails") {
  auto h = harness::ready();
  auto e = h.fails(remove_plugin{"redis", ""});
  CHECK(e.code == ec::unknown_plugin);
  CHECK(e.message
        == "plugin 'redis' is not installed: install it with volar plugins install --manifest FILE (examples/plugins/ has ready manifests; installed ones: volar plugins list)");
  CHECK(h.fails(remove_plugin{"nginx", "9.9"}).code == ec::unknown_plugin);
}

TEST_CASE("a plugin in use by a deployment cannot be removed") {
  auto h = harness::ready();
  h.must(install_plugin{nginx("2.0.0")});
  auto s = spec("web", 1);
  s.tmpl.plugin.version = "1.0.0";
  h.must(create_deployment{s});
  auto e = h.fails(remove_plugin{"nginx", "1.0.0"});
  CHECK(e.code == ec::plugin_in_use);
  CHECK(e.message == "plugin 'nginx:1.0.0' is in use by deployment 'web'");
  CHECK(h.fails(remove_plugin{"nginx", ""}).code == ec::plugin_in_use);
  only<plugin_removed>(h.must(remove_plugin{"nginx", "2.0.0"}));
}

TEST_CASE("a deployment without a version uses the newest plugin version") {
  auto h = harness::ready();
  h.must(install_plugin{nginx("1.10.0")});
  h.must(install_plugin{nginx("1.9.0")});
  h.must(create_deployment{spec("web", 1)});
  CHECK(h.fails(remove_plugin{"nginx", "1.10.0"}).code == ec::plugin_in_use);
  h.must(remove_plugin{"nginx", "1.9.0"});
  h.must(remove_plugin{"nginx", "1.0.0"});
}

TEST_CASE("removing every version of an unused plugin works") {
  auto h = harness::ready();
  h.must(install_plugin{nginx("2.0.0")});
  auto ev = only<plugin_removed>(h.must(remove_plugin{"nginx", ""}));
  CHECK(ev.version.empty());
  CHECK(h.w.plugins.by_name.empty());
}

// -- create -------------------------------------------------------------------

TEST_CASE("creating a deployment emits deployment_created at revision 1") {
  auto h = harness::ready();
  auto s = spec("web", 3);
  auto ev = only<deployment_created>(h.must(create_deployment{s}));
  CHECK(ev.spec == s);
  CHECK(ev.spec.tmpl.plugin.version.empty()); // kept as given
  CHECK(ev.revision == 1);
  CHECK(ev.at == h.now);
  CHECK(h.dep("web").revision == 1);
  CHECK(h.dep("web").created_at == h.now);
}

TEST_CASE("create validates the spec") {
  auto h = harness::ready();
  CHECK(h.fails(create_deployment{spec("Web", 1)}).code == ec::invalid_name);
  auto neg = h.fails(create_deployment{spec("web", -3)});
  CHECK(neg.code == ec::invalid_replicas);
  CHECK(neg.message == "replicas must be >= 0, got -3");
  auto over = h.fails(create_deployment{spec("web", 150)});
  CHECK(over.code == ec::replica_limit);
  CHECK(over.message == "replicas 150 exceeds the limit of 100 per deployment");
  auto s = spec("web", 1);
  s.tmpl.cpu = 0;
  CHECK(h.fails(create_deployment{s}).code == ec::invalid_cpu);
  s = spec("web", 1, 0);
  CHECK(h.fails(create_deployment{s}).code == ec::invalid_memory);
}

TEST_CASE("the host's replica limit applies") {
  auto c = small_host();
  c.max_replicas = 5;
  auto h = harness::ready(c);
  auto e = h.fails(create_deployment{spec("web", 6, 1)});
  CHECK(e.code == ec::replica_limit);
  CHECK(e.message == "replicas 6 exceeds the limit of 5 per deployment");
}

TEST_CASE("create needs an installed plugin") {
  auto h = harness::ready();
  auto s = spec("web", 1);
  s.tmpl.plugin = {"redis", ""};
  auto e = h.fails(create_deployment{s});
  CHECK(e.code == ec::unknown_plugin);
  CHECK(e.message
        == "plugin 'redis' is not installed: install it with volar plugins install --manifest FILE (examples/plugins/ has ready manifests; installed ones: volar plugins list)");
  s.tmpl.plugin = {"nginx", "v9"};
  CHECK(h.fails(create_deployment{s}).message
        == "plugin 'nginx:v9' is not installed: install it with volar plugins install --manifest FILE (examples/plugins/ has ready manifests; installed ones: volar plugins list)");
}

TEST_CASE("a deployment name can only be used once") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 1)});
  auto e = h.fails(create_deployment{spec("web", 1)});
  CHECK(e.code == ec::duplicate_name);
  CHECK(e.message == "deployment 'web' already exists");
}

TEST_CASE("a deleted deployment's name is free only once its VMs are gone") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 1)});
  h.create_vms("web", 1);
  h.must(delete_deployment{"web"});
  CHECK(h.fails(create_deployment{spec("web", 1)}).code == ec::conflict);
  h.must(remove_vm{"web-0"});
  h.must(create_deployment{spec("web", 1)});
}

TEST_CASE("deployments need a configured host") {
  harness h;
  h.must(install_plugin{nginx()});
  auto e = h.fails(create_deployment{spec("web", 1)});
  CHECK(e.code == ec::invalid_host_config);
  CHECK(e.message == "host is not configured");
}

TEST_CASE("memory admission refuses a create that does not fit") {
  auto c = small_host();
  c.memory_total_mib = 1024;
  auto h = harness::ready(c);
  auto e = h.fails(create_deployment{spec("big", 4, 1024)});
  CHECK(e.code == ec::insufficient_memory);
  CHECK(e.message == "insufficient memory: need 4096 MiB, 1024 MiB free");
  h.must(create_deployment{spec("fits", 4, 256)});
}

TEST_CASE("two creates in a row cannot both be admitted before reconcile") {
  auto c = small_host();
  c.memory_total_mib = 1024;
  auto h = harness::ready(c);
  h.must(create_deployment{spec("a", 3, 256)}); // 768 reserved, no VM yet
  auto e = h.fails(create_deployment{spec("b", 2, 256)});
  CHECK(e.code == ec::insufficient_memory);
  CHECK(e.message == "insufficient memory: need 512 MiB, 256 MiB free");
  h.create_vms("a", 3); // recording the VMs changes nothing in the sum
  CHECK(h.fails(create_deployment{spec("b", 2, 256)}).message
        == "insufficient memory: need 512 MiB, 256 MiB free");
  h.must(create_deployment{spec("b", 1, 256)});
}

TEST_CASE("paused deployments keep their VMs' memory but reserve no more") {
  auto c = small_host();
  c.memory_total_mib = 1024;
  auto h = harness::ready(c);
  h.must(create_deployment{spec("a", 3, 256)});
  h.create_vms("a", 1);
  h.must(pause_deployment{"a"});
  // a-0 holds 256 MiB; the two missing replicas of a paused deployment do not.
  h.must(create_deployment{spec("b", 3, 256)});
}

TEST_CASE("the host VM limit counts every deployment") {
  auto c = small_host();
  c.max_vms = 4;
  auto h = harness::ready(c);
  h.must(create_deployment{spec("a", 3, 1)});
  auto e = h.fails(create_deployment{spec("b", 2, 1)});
  CHECK(e.code == ec::host_vm_limit);
  CHECK(contains(e.message, "the limit is 4"));
  h.must(create_deployment{spec("b", 1, 1)});
}

TEST_CASE("a deployment larger than the IP pool is refused") {
  auto h = harness::ready(); // 11 addresses
  auto e = h.fails(create_deployment{spec("web", 12, 1)});
  CHECK(e.code == ec::ip_pool_exhausted);
}

// -- scale --------------------------------------------------------------------

TEST_CASE("scaling emits deployment_scaled from and to") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 3)});
  auto ev = only<deployment_scaled>(h.must(scale_deployment{"web", 5}));
  CHECK(ev.name == "web");
  CHECK(ev.from == 3);
  CHECK(ev.to == 5);
  CHECK(h.dep("web").spec.replicas == 5);
  CHECK(h.must(scale_deployment{"web", 5}).empty());
  CHECK(only<deployment_scaled>(h.must(scale_deployment{"web", 0})).to == 0);
}

TEST_CASE("scale rejects unknown deployments and bad counts") {
  auto h = harness::ready();
  auto e = h.fails(scale_deployment{"web", 3});
  CHECK(e.code == ec::unknown_deployment);
  CHECK(contains(e.message, "deployment 'web' does not exist"));
  h.must(create_deployment{spec("web", 3)});
  auto neg = h.fails(scale_deployment{"web", -3});
  CHECK(neg.code == ec::invalid_replicas);
  CHECK(neg.message == "replicas must be >= 0, got -3");
  auto over = h.fails(scale_deployment{"web", 150});
  CHECK(over.code == ec::replica_limit);
  CHECK(over.message == "replicas 150 exceeds the limit of 100 per deployment");
  CHECK(h.fails(scale_deployment{"web", 5'000'000'000}).code
        == ec::replica_limit);
}

TEST_CASE(
    "scaling up is admitted against free memory, scaling down always works") {
  auto c = small_host();
  c.memory_total_mib = 1024;
  auto h = harness::ready(c);
  h.must(create_deployment{spec("web", 2, 256)});
  auto e = h.fails(scale_deployment{"web", 5});
  CHECK(e.code == ec::insufficient_memory);
  CHECK(e.message == "insufficient memory: need 768 MiB, 512 MiB free");
  h.must(scale_deployment{"web", 4});
  h.must(scale_deployment{"web", 0});
}

TEST_CASE("scaling back up over VMs not yet removed needs no new memory") {
  auto c = small_host();
  c.memory_total_mib = 1024;
  auto h = harness::ready(c);
  h.must(create_deployment{spec("web", 4, 256)});
  h.create_vms("web", 4);
  h.must(scale_deployment{"web", 2}); // web-2, web-3 still recorded
  h.must(scale_deployment{"web", 4});
}

TEST_CASE("scaling up respects the host VM limit") {
  auto c = small_host();
  c.max_vms = 3;
  auto h = harness::ready(c);
  h.must(create_deployment{spec("web", 2, 1)});
  CHECK(h.fails(scale_deployment{"web", 4}).code == ec::host_vm_limit);
}

// -- update -------------------------------------------------------------------

TEST_CASE("a template change bumps the revision") {
  auto h = harness::ready();
  h.must(install_plugin{nginx("2.0.0")});
  h.must(create_deployment{spec("web", 2)});
  update_deployment u;
  u.name = "web";
  u.plugin = plugin_ref{"nginx", "2.0.0"};
  u.cpu = 2;
  auto ev = only<deployment_updated>(h.must(u));
  CHECK(ev.revision == 2);
  CHECK(ev.tmpl.plugin.version == "2.0.0");
  CHECK(ev.tmpl.cpu == 2);
  CHECK(ev.tmpl.memory_mib == 128);
  CHECK(h.dep("web").revision == 2);

  update_deployment more;
  more.name = "web";
  more.vm_labels = labels{{"tier", "web"}};
  more.env = std::vector<env_var>{{"A", "1"}};
  more.health = health_check{true, tcp_check{80}, 10, 1, 3};
  more.memory_mib = 256;
  auto ev2 = only<deployment_updated>(h.must(more));
  CHECK(ev2.revision == 3);
  CHECK(ev2.tmpl.vm_labels.at("tier") == "web");
  CHECK(ev2.tmpl.env.size() == 1);
  CHECK(ev2.tmpl.health.has_value());
  CHECK(ev2.tmpl.memory_mib == 256);
}

TEST_CASE("a strategy-only change keeps the revision") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 2)});
  update_deployment u;
  u.name = "web";
  u.strategy = update_strategy{strategy_kind::rolling, {1, false}, {1, false}};
  auto ev = only<deployment_updated>(h.must(u));
  CHECK(ev.revision == 1);
  CHECK(ev.strategy.kind == strategy_kind::rolling);
}

TEST_CASE("auto-restart changes emit deployment_auto_restart_set") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 2)});
  update_deployment u;
  u.name = "web";
  u.auto_restart = false;
  auto ev = only<deployment_auto_restart_set>(h.must(u));
  CHECK_FALSE(ev.enabled);
  CHECK_FALSE(h.dep("web").spec.auto_restart);
  CHECK(h.must(u).empty());
  u.cpu = 3;
  u.auto_restart = true;
  auto evs = h.must(u);
  REQUIRE(evs.size() == 2);
  CHECK(std::holds_alternative<deployment_updated>(evs[0]));
  CHECK(std::holds_alternative<deployment_auto_restart_set>(evs[1]));
}

TEST_CASE("an update that changes nothing emits nothing") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 2)});
  update_deployment u;
  u.name = "web";
  u.cpu = 1;
  u.memory_mib = 128;
  CHECK(h.must(u).empty());
}

TEST_CASE("updates are validated") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 2)});
  update_deployment u;
  u.name = "nope";
  CHECK(h.fails(u).code == ec::unknown_deployment);
  u.name = "web";
  u.cpu = 0;
  auto cpu = h.fails(u);
  CHECK(cpu.code == ec::invalid_cpu);
  CHECK(cpu.message == "cpu must be >= 1, got 0");
  u.cpu = 1LL << 40;
  CHECK(h.fails(u).code == ec::invalid_cpu);
  u = {};
  u.name = "web";
  u.memory_mib = -1;
  CHECK(h.fails(u).code == ec::invalid_memory);
  u.memory_mib.reset();
  u.plugin = plugin_ref{"redis", ""};
  CHECK(h.fails(u).code == ec::unknown_plugin);
  u.plugin.reset();
  u.vm_labels = labels{{"bad key", "v"}};
  CHECK(h.fails(u).code == ec::invalid_label);
  u.vm_labels.reset();
  u.env = std::vector<env_var>{{"1BAD", "v"}};
  CHECK(h.fails(u).code == ec::invalid_env);
  u.env.reset();
  u.strategy = update_strategy{strategy_kind::rolling, {0, false}, {0, false}};
  CHECK(h.fails(u).code == ec::invalid_strategy);
}

TEST_CASE("a memory increase is admitted for every replica") {
  auto c = small_host();
  c.memory_total_mib = 1024;
  auto h = harness::ready(c);
  h.must(create_deployment{spec("web", 2, 256)});
  update_deployment u;
  u.name = "web";
  u.memory_mib = 768; // 2 * 512 more, 512 free
  auto e = h.fails(u);
  CHECK(e.code == ec::insufficient_memory);
  CHECK(e.message == "insufficient memory: need 1024 MiB, 512 MiB free");
  u.memory_mib = 512;
  h.must(u);
  u.memory_mib = 64; // decreases always fit
  h.must(u);
}

// -- pause, resume, delete ----------------------------------------------------

TEST_CASE("pause and resume toggle and refuse a repeat") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 2)});
  only<deployment_paused>(h.must(pause_deployment{"web"}));
  CHECK(h.dep("web").spec.paused);
  auto again = h.fails(pause_deployment{"web"});
  CHECK(again.code == ec::conflict);
  CHECK(again.message == "deployment 'web' is already paused");
  only<deployment_resumed>(h.must(resume_deployment{"web"}));
  CHECK_FALSE(h.dep("web").spec.paused);
  auto not_paused = h.fails(resume_deployment{"web"});
  CHECK(not_paused.code == ec::conflict);
  CHECK(contains(not_paused.message, "is not paused"));
  CHECK(h.fails(pause_deployment{"x"}).code == ec::unknown_deployment);
  CHECK(h.fails(resume_deployment{"x"}).code == ec::unknown_deployment);
}

TEST_CASE("delete removes the deployment and leaves its VMs to reconcile") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 2)});
  h.create_vms("web", 2);
  only<deployment_deleted>(h.must(delete_deployment{"web"}));
  CHECK(h.w.deployments.empty());
  CHECK(h.w.vms.size() == 2);
  CHECK(h.fails(delete_deployment{"web"}).code == ec::unknown_deployment);
}
