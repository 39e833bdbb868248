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
