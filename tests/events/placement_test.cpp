// Placement of new replicas on hosts (issue 16): binpack by default, spread
// with --multi-host, and the reason when no host can take one.

#include "events/placement.hpp"

#include <doctest/doctest.h>

#include <map>

using namespace volant;

namespace {

host_capacity host(const std::string& name, std::int64_t cpu, std::int64_t memory,
                   std::int64_t memory_used = 0, std::int32_t replicas = 0) {
  host_capacity h;
  h.name = name;
  h.cpu = cpu;
  h.cpu_limit = cpu;
  h.memory_mib = memory;
  h.memory_mib_used = memory_used;
  h.replicas = replicas;
  return h;
}

std::map<std::string, int> counts(const placement& p) {
  std::map<std::string, int> out;
  for (const auto& h : p.hosts)
    ++out[h];
  return out;
}

} // namespace

TEST_CASE("binpack fills the fullest host that fits before it starts another") {
  std::vector<host_capacity> hosts{host("a", 8, 4096), host("b", 8, 4096, 2048),
                                   host("c", 8, 4096)};
  auto p = place(hosts, {1, 512, 6, false});
  CHECK(p.unplaced == 0);
  // b is the fullest: it takes 4 (2048 + 4 x 512 = 4096), then a (by name).
  CHECK(p.hosts == std::vector<std::string>{"b", "b", "b", "b", "a", "a"});
}

TEST_CASE("--multi-host spreads 9 replicas 3/3/3, and evens out hosts that already run some") {
  std::vector<host_capacity> hosts{host("a", 8, 8192), host("b", 8, 8192), host("c", 8, 8192)};
  auto p = place(hosts, {1, 256, 9, true});
  CHECK(p.unplaced == 0);
  CHECK(counts(p) == std::map<std::string, int>{{"a", 3}, {"b", 3}, {"c", 3}});
  // A host lost: its 3 replicas go to the other two, which already run 3 each.
  hosts = {host("a", 8, 8192, 768, 3), host("c", 8, 8192, 768, 3)};
  p = place(hosts, {1, 256, 3, true});
  CHECK(counts(p) == std::map<std::string, int>{{"a", 2}, {"c", 1}});
  // Equal counts: the emptiest host first.
  hosts = {host("a", 8, 8192, 4096, 1), host("b", 8, 8192, 1024, 1)};
  CHECK(place(hosts, {1, 256, 1, true}).hosts == std::vector<std::string>{"b"});
}

TEST_CASE("a lost or draining host takes nothing; a replica no host can take is unplaced, "
          "with why per host") {
  auto lost = host("a", 8, 8192);
  lost.unschedulable = "lost";
  auto draining = host("b", 8, 8192);
  draining.unschedulable = "draining";
  std::vector<host_capacity> hosts{lost, draining, host("c", 2, 1024), host("d", 8, 1024)};
  auto p = place(hosts, {1, 512, 5, false});
  // c and d take 2 each (memory), the fifth fits nowhere.
  CHECK(p.hosts.size() == 4);
  CHECK(counts(p) == std::map<std::string, int>{{"c", 2}, {"d", 2}});
  CHECK(p.unplaced == 1);
  CHECK(p.reason == "0/4 hosts can take it: 1 draining, 2 insufficient memory, 1 lost");
  // CPU: c has 2 cores and no overcommit.
  hosts = {host("c", 2, 8192)};
  p = place(hosts, {1, 128, 3, true});
  CHECK(p.hosts.size() == 2);
  CHECK(p.reason == "0/1 hosts can take it: 1 insufficient CPU");
  // Without a CPU limit (no --cpu-overcommit), only memory bounds a host.
  hosts[0].cpu_limit = 0;
  CHECK(place(hosts, {1, 128, 3, true}).unplaced == 0);
}

TEST_CASE("a single-host world is one host with its committed use and the deployment's "
          "replicas") {
  world w;
  w.host.config.id = "local";
  w.host.config.cpu_total = 2;
  w.host.config.memory_total_mib = 4096;
  deployment_state d;
  d.spec.name = "web";
  d.spec.tmpl.cpu = 1;
  d.spec.tmpl.memory_mib = 256;
  d.spec.replicas = 2;
  w.deployments["web"] = d;
  w.host.memory_used_mib = 512; // as the fold keeps it
  w.host.cpu_used = 2;
  for (const char* name : {"web-0", "web-1"}) {
    vm_record vm;
    vm.name = name;
    vm.deployment = "web";
    vm.cpu = 1;
    vm.memory_mib = 256;
    vm.status = vm_status::ready;
    w.vms[name] = vm;
  }
  auto hosts = host_capacities(w, "web");
  REQUIRE(hosts.size() == 1);
  CHECK(hosts[0].name == "local");
  CHECK(hosts[0].replicas == 2);
  CHECK(hosts[0].memory_mib == 4096);
  CHECK(hosts[0].memory_mib_used == 512);
  CHECK(hosts[0].cpu_used == 2);
  auto p = place(hosts, {1, 256, 9, true});
  CHECK(p.unplaced == 0);
  CHECK(counts(p) == std::map<std::string, int>{{"local", 9}});
}

namespace {

/// A cluster world: deployment `web` (spread) with 9 replicas 3/3/3 on
/// hosts a, b, c; `db` (a persistent volume) with one replica on c.
world cluster_world() {
  world w;
  auto add_dep = [&](const std::string& name, bool spread, bool persistent) {
    deployment_state d;
    d.spec.name = name;
    d.spec.multi_host = spread;
    d.spec.tmpl.cpu = 1;
    d.spec.tmpl.memory_mib = 256;
    if (persistent)
      d.spec.tmpl.volumes.push_back(volume{"/data", true, 0});
    w.deployments[name] = d;
  };
  add_dep("web", true, false);
  add_dep("db", false, true);
  auto add_vm = [&](const std::string& name, const std::string& dep, const std::string& host) {
    vm_record vm;
    vm.name = name;
    vm.deployment = dep;
    vm.host = host;
    vm.cpu = 1;
    vm.memory_mib = 256;
    w.vms[name] = vm;
  };
  const char* hosts[] = {"a", "b", "c"};
  for (int i = 0; i < 9; ++i)
    add_vm("web-" + std::to_string(i), "web", hosts[i % 3]);
  add_vm("db-0", "db", "c");
  return w;
}

} // namespace

TEST_CASE("a cluster's hosts: use counted from the VMs on them; a host VMs name that is not "
          "registered is lost") {
  auto w = cluster_world();
  std::vector<host_capacity> registered{host("a", 8, 8192), host("b", 8, 8192)};
  auto hosts = cluster_capacities(w, registered, "web");
  REQUIRE(hosts.size() == 3);
  CHECK(hosts[0].name == "a");
  CHECK(hosts[0].replicas == 3);
  CHECK(hosts[0].memory_mib_used == 768);
  CHECK(hosts[2].name == "c");
  CHECK(hosts[2].unschedulable == "lost");
  CHECK(hosts[2].memory_mib_used == 1024); // web-2, 5, 8 and db-0
}

TEST_CASE("a lost host's replicas are rescheduled on the others, evenly for a spread "
          "deployment; one pinned by a persistent volume stays, and says why") {
  auto w = cluster_world();
  std::vector<host_capacity> registered{host("a", 8, 8192), host("b", 8, 8192)};
  auto plan = reschedule(w, registered);
  std::map<std::string, int> to;
  for (const auto& m : plan.moves) {
    CHECK(m.from == "c");
    ++to[m.to];
  }
  CHECK(plan.moves.size() == 3);
  // 3/3 + 3 moves: spread as 5/4 or 4/5.
  CHECK(to["a"] + to["b"] == 3);
  CHECK(std::abs(to["a"] - to["b"]) == 1);
  REQUIRE(plan.stuck.size() == 1);
  CHECK(plan.stuck[0].first == "db-0");
  CHECK(plan.stuck[0].second
        == "its persistent volume /data is on host 'c': unschedulable until the host is back");

  // A draining host's VMs move too; nothing moves when every host is fine.
  auto c = host("c", 8, 8192);
  c.unschedulable = "draining";
  registered.push_back(c);
  CHECK(reschedule(w, registered).moves.size() == 3);
  registered.back().unschedulable.clear();
  auto calm = reschedule(w, registered);
  CHECK(calm.moves.empty());
  CHECK(calm.stuck.empty());

  // No room elsewhere: stuck, with the reason.
  std::vector<host_capacity> tiny{host("a", 8, 768), host("b", 8, 768)};
  auto full = reschedule(w, tiny);
  CHECK(full.moves.empty());
  REQUIRE(full.stuck.size() == 4);
  CHECK(full.stuck[1].second == "no host can take it: 0/3 hosts can take it: 2 insufficient "
                                "memory, 1 lost");
}

TEST_CASE("each host gets its own /24 of the cluster pool, keeps it, and a full pool says so") {
  // 10.8.0.0/22: four /24s.
  ipv4 first = (10u << 24) | (8u << 16);
  ipv4 last = first + 4 * 256 - 1;
  auto p = assign_subnets(first, last, {"b", "a", "c"}, {});
  CHECK(p.why.empty());
  CHECK(p.subnets == std::map<std::string, ipv4>{{"a", first}, {"b", first + 256},
                                                 {"c", first + 512}});
  // a host that had one keeps it; a new one takes the lowest free.
  p = assign_subnets(first, last, {"a", "c", "d"}, {{"c", first}, {"b", first + 256}});
  CHECK(p.subnets.at("c") == first);
  CHECK(p.subnets.at("a") == first + 512); // b's is kept for b while it may come back
  CHECK(p.subnets.at("d") == first + 768);
  CHECK_FALSE(p.subnets.contains("b"));
  // Released: b's /24 goes to the next new host.
  p = assign_subnets(first, last, {"a", "c"}, {{"c", first}, {"b", first + 256}}, true);
  CHECK(p.subnets.at("a") == first + 256);
  // Full: the fifth host gets nothing, and why.
  p = assign_subnets(first, last, {"a", "b", "c", "d", "e"}, {});
  CHECK(p.subnets.size() == 4);
  CHECK_FALSE(p.subnets.contains("e"));
  CHECK(p.why == "the cluster pool 10.8.0.0-10.8.3.255 has no /24 left for host 'e'");
  // A pool that does not start on a /24 boundary uses only whole /24s in it.
  p = assign_subnets(first + 10, last, {"a"}, {});
  CHECK(p.subnets.at("a") == first + 256);
}
