// The hosts of a cluster in the pure core (issue 16, docs/hosts.md): hosts
// join with their capacity, new VMs are placed on them (spread with
// --multi-host, binpack otherwise), a lost host's VMs are removed so that
// reconcile creates them on the others, and one pinned by a persistent
// volume stays.

#include "events/plan.hpp"

#include "fixture.hpp"

#include <algorithm>
#include <map>

namespace volant {

using namespace volant::test;

namespace {

cluster_host machine(std::string name, std::int32_t cpu = 4, std::int64_t memory = 2048) {
  cluster_host h;
  h.name = std::move(name);
  h.cpu_total = cpu;
  h.memory_total_mib = memory;
  return h;
}

/// The cluster pool 10.8.0.0/22: a /24 for each of up to four hosts.
host_config cluster_pool() {
  auto c = small_host();
  c.pool_first = (10u << 24) | (8u << 16) | 1;
  c.pool_last = (10u << 24) | (8u << 16) | (3u << 8) | 254;
  return c;
}

/// A cluster of hosts a, b, c (4 cores, 2 GiB each) and nginx installed.
harness cluster() {
  auto h = harness::ready(cluster_pool());
  for (const char* name : {"a", "b", "c"})
    h.must(join_host{machine(name)});
  return h;
}

std::map<std::string, int> per_host(const world& w) {
  std::map<std::string, int> out;
  for (const auto& [name, vm] : w.vms)
    ++out[vm.host];
  return out;
}

} // namespace

TEST_CASE("a cluster's capacity is its hosts'; a joining host is journaled once; the "
          "configuration sets the pool, not the capacity") {
  auto h = cluster();
  CHECK(h.w.hosts.size() == 3);
  CHECK(h.w.host.config.cpu_total == 12);
  CHECK(h.w.host.config.memory_total_mib == 6144);
  CHECK(h.must(join_host{machine("b")}).empty()); // a restart: nothing new
  auto bigger = h.must(join_host{machine("b", 8, 2048)});
  REQUIRE(bigger.size() == 1);
  CHECK(std::holds_alternative<host_joined>(bigger[0]));
  CHECK(h.w.host.config.cpu_total == 16);
  // A host's flags name its own machine: the cluster's capacity stays the hosts'.
  auto config = cluster_pool();
  config.max_vms = 50;
  h.must(configure_host{config});
  CHECK(h.w.host.config.max_vms == 50);
  CHECK(h.w.host.config.cpu_total == 16);
  CHECK(h.fails(join_host{machine("")}).message.find("--host-name") != std::string::npos);
}

TEST_CASE("new VMs are placed on the hosts: spread with --multi-host, packed without") {
  auto h = cluster();
  auto s = spec("web", 6);
  s.multi_host = true;
  h.must(create_deployment{s});
  h.create_vms("web", 6);
  CHECK(per_host(h.w) == std::map<std::string, int>{{"a", 2}, {"b", 2}, {"c", 2}});
  h.must(create_deployment{spec("db", 3)});
  h.create_vms("db", 3);
  std::map<std::string, int> db;
  for (const auto& [name, vm] : h.w.vms)
    if (vm.deployment == "db")
      ++db[vm.host];
  CHECK(db.size() == 1); // binpack: one host takes all three
}

TEST_CASE("a lost host: journaled once, its VMs removed (reconcile creates them on the "
          "others), its capacity out; a VM with a persistent volume stays pinned") {
  auto h = cluster();
  auto s = spec("web", 6);
  s.multi_host = true;
  h.must(create_deployment{s});
  h.bring_up("web", 6);
  auto pinned = spec("pg", 1);
  pinned.tmpl.volumes = {{"/data", true, 0}};
  h.must(create_deployment{pinned});
  h.create_vms("pg", 1);
  auto pg_host = h.w.vms.at("pg-0").host;
  auto lost = pg_host; // the host with the pinned replica
  auto evs = h.must(lose_host{lost, "its lease expired"});
  REQUIRE(!evs.empty());
  CHECK(std::holds_alternative<host_lost>(evs[0]));
  CHECK(h.w.hosts.at(lost).lost);
  CHECK(h.w.host.config.cpu_total == 8);
  CHECK(h.w.vms.contains("pg-0")); // pinned: stays, on its host
  for (const auto& [name, vm] : h.w.vms)
    if (vm.deployment == "web")
      CHECK(vm.host != lost);
  CHECK(h.must(lose_host{lost, "again"}).empty());
  // Reconcile wants the removed replicas back; they go to the hosts left.
  auto p = reconcile(h.w, "web", h.now);
  CHECK(p.create.size() == 2);
  for (auto index : p.create)
    h.must(create_vm{"web", index});
  CHECK(per_host(h.w)[lost] == 1); // only pg-0
  int web = 0;
  for (const auto& [name, vm] : h.w.vms)
    web += vm.deployment == "web" && vm.host != lost ? 1 : 0;
  CHECK(web == 6);
  // It comes back: it takes new VMs again.
  h.must(join_host{machine(lost)});
  CHECK_FALSE(h.w.hosts.at(lost).lost);
  CHECK(h.w.host.config.cpu_total == 12);
  CHECK(h.fails(lose_host{"nope", "x"}).message.find("not found") != std::string::npos);
}

TEST_CASE("each host's VMs get addresses of its own /24; a full pool refuses a host") {
  auto h = cluster();
  std::map<std::string, ipv4> subnets;
  for (const auto& [name, host] : h.w.hosts)
    subnets[name] = host.subnet;
  CHECK(subnets.at("a") == ((10u << 24) | (8u << 16)));
  CHECK(subnets.at("b") == ((10u << 24) | (8u << 16) | (1u << 8)));
  auto s = spec("web", 6);
  s.multi_host = true;
  h.must(create_deployment{s});
  h.create_vms("web", 6);
  for (const auto& [name, vm] : h.w.vms) {
    auto net = h.w.hosts.at(vm.host).subnet;
    CHECK(vm.ip > net);
    CHECK(vm.ip < net + 255);
  }
  // A lost host keeps its /24 for when it comes back; a fifth host finds none.
  h.must(lose_host{"c", "its lease expired"});
  h.must(join_host{machine("d")});
  auto e = h.fails(join_host{machine("e")});
  CHECK(e.message == "the cluster pool 10.8.0.1-10.8.3.254 has no /24 left for host 'e'");
  h.must(join_host{machine("c")});
  CHECK(h.w.hosts.at("c").subnet == ((10u << 24) | (8u << 16) | (2u << 8)));
}

TEST_CASE("a drained host takes no new VM, and its replicas move one at a time, each once "
          "the others serve") {
  auto h = cluster();
  auto s = spec("web", 6);
  s.multi_host = true;
  h.must(create_deployment{s});
  h.bring_up("web", 6);
  auto evs = h.must(drain_host{"a"});
  REQUIRE(evs.size() == 1);
  CHECK(h.w.hosts.at("a").draining);
  CHECK(h.must(drain_host{"a"}).empty());
  CHECK(h.fails(drain_host{"nope"}).message == "host 'nope' not found (see: volar hosts list)");
  int moved = 0;
  for (int round = 0; round < 10; ++round) {
    auto p = reconcile(h.w, "web", h.now);
    std::vector<std::string> leaving;
    for (const auto& [name, goal] : p.goals)
      if (!goal.keep)
        leaving.push_back(name);
    if (leaving.empty())
      break;
    REQUIRE(leaving.size() == 1); // one at a time
    CHECK(h.vm(leaving[0]).host == "a");
    CHECK(p.goals.at(leaving[0]).retire_reason == "host a is draining");
    auto index = h.vm(leaving[0]).index;
    h.must(record_vm_stopped{leaving[0]});
    h.must(remove_vm{leaving[0]});
    // Its slot comes back elsewhere; nothing else moves until it serves.
    p = reconcile(h.w, "web", h.now);
    REQUIRE(p.create == std::vector<std::uint32_t>{index});
    for (const auto& [name, goal] : p.goals)
      CHECK(goal.keep);
    h.must(create_vm{"web", index});
    auto name = vm_name("web", index);
    CHECK(h.vm(name).host != "a");
    CHECK(std::all_of(p.goals.begin(), p.goals.end(), [](const auto& g) { return g.second.keep; }));
    h.must(record_vm_started{name, {"process", 200u + index, 1, ""}});
    h.must(record_vm_ready{name});
    ++moved;
  }
  CHECK(moved == 2);
  CHECK(per_host(h.w).count("a") == 0);
  // The last host taking VMs cannot be drained too... after one more.
  h.must(drain_host{"b"});
  CHECK(h.fails(drain_host{"c"}).message
        == "host 'c' is the only host taking VMs: its replicas have nowhere to go");
}

TEST_CASE("a lost host with many VMs: at most 100 go per command (etcd's 128 operations a "
          "transaction), the rest with the next") {
  auto config = cluster_pool();
  config.max_vms = 1000;
  config.max_replicas = 1000;
  auto h = harness::ready(config);
  h.must(join_host{machine("a", 64, 65536)});
  h.must(join_host{machine("b", 64, 65536)});
  h.must(create_deployment{spec("web", 150, 16)});
  h.create_vms("web", 150);
  CHECK(per_host(h.w).size() == 1); // binpack: one host
  auto host = h.w.vms.begin()->second.host;
  auto first = h.must(lose_host{host, "its lease expired"});
  CHECK(first.size() == 101);
  CHECK(per_host(h.w)[host] == 50);
  auto second = h.must(lose_host{host, "its lease expired"});
  CHECK(second.size() == 50);
  CHECK(per_host(h.w).count(host) == 0);
}

TEST_CASE("a spread deployment scaled down stays even across hosts") {
  auto h = harness::ready(cluster_pool());
  h.must(join_host{machine("a")});
  h.must(join_host{machine("b")});
  auto s = spec("web", 9);
  s.multi_host = true;
  h.must(create_deployment{s});
  // The highest indexes all on c, which joined last: removing the highest
  // indexes would leave it empty.
  for (std::uint32_t i = 0; i < 6; ++i)
    h.must(create_vm{"web", i});
  h.must(join_host{machine("c")});
  for (std::uint32_t i = 6; i < 9; ++i)
    h.must(create_vm{"web", i});
  REQUIRE(per_host(h.w) == std::map<std::string, int>{{"a", 3}, {"b", 3}, {"c", 3}});
  for (std::uint32_t i = 6; i < 9; ++i)
    REQUIRE(h.vm(vm_name("web", i)).host == "c");
  h.must(scale_deployment{"web", 6});
  for (const auto& name : std::vector<std::string>(
           [&] {
             std::vector<std::string> out;
             for (const auto& [n, vm] : h.w.vms)
               if (!wants_index(h.dep("web"), vm.index))
                 out.push_back(n);
             return out;
           }())) {
    h.must(remove_vm{name});
  }
  CHECK(per_host(h.w) == std::map<std::string, int>{{"a", 2}, {"b", 2}, {"c", 2}});
  h.must(scale_deployment{"web", 3});
  for (const auto& [n, vm] : std::map<std::string, vm_record>(h.w.vms))
    if (!wants_index(h.dep("web"), vm.index))
      h.must(remove_vm{n});
  CHECK(per_host(h.w) == std::map<std::string, int>{{"a", 1}, {"b", 1}, {"c", 1}});
}

TEST_CASE("a single host refuses a drain in one line") {
  auto h = harness::ready();
  CHECK(h.fails(drain_host{"local"}).message
        == "host 'local' is the only host: its replicas have nowhere to go (volantd runs "
           "without --cluster)");
  CHECK(h.fails(drain_host{"b"}).message == "host 'b' not found (see: volar hosts list)");
}

TEST_CASE("no host can take a VM: the error says why per host") {
  auto h = harness::ready(cluster_pool());
  h.must(join_host{machine("a", 4, 256)});
  h.must(join_host{machine("b", 4, 256)});
  // The cluster has 512 MiB, but no host has 384.
  h.must(create_deployment{spec("big", 1, 384)});
  auto e = h.fails(create_vm{"big", 0});
  CHECK(e.message == "no host can take a VM of deployment 'big': 0/2 hosts can take it: 2 "
                     "insufficient memory");
}

} // namespace volant
