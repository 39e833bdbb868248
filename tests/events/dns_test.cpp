// DNS for volant.local, pure (src/events/dns.hpp): which names exist (a
// projection of the world: ready VMs, slots, load balancers, SRV ports) and
// the answer to one question: records, NXDOMAIN and NODATA with the SOA,
// names outside the zone left to the forwarder, shuffled A and SRV records.

#include "events/dns.hpp"

#include "fixture.hpp"

#include <algorithm>
#include <set>

using namespace volant;
using namespace volant::test;

namespace {

constexpr std::uint16_t A = 1, SOA = 6, AAAA = 28, SRV = 33, ANY = 255, TXT = 16;

std::multiset<ipv4> a_records(const dns_answer& ans) {
  std::multiset<ipv4> out;
  for (const auto& rr : ans.answer)
    if (const auto* ip = std::get_if<ipv4>(&rr.data))
      out.insert(*ip);
  return out;
}

bool has_soa_authority(const dns_answer& ans) {
  return ans.authority.size() == 1 && ans.authority[0].type() == dns_type::soa
         && ans.authority[0].name == "volant.local.";
}

/// A host with nginx (HTTP check on port 80) and `web` of 3 replicas, two ready.
harness web_two_ready() {
  auto h = harness::ready();
  auto s = spec("web", 3);
  s.strategy.kind = strategy_kind::rolling;
  s.strategy.max_surge = {1, false};
  s.strategy.max_unavailable = {0, false};
  h.must(create_deployment{s});
  h.bring_up("web", 2);
  h.must(create_vm{"web", 2}); // pending: not answered
  return h;
}

} // namespace

TEST_CASE("dns: <deployment>.volant.local answers the ready VMs, TTL 5 s, any case, "
          "with or without the trailing dot") {
  auto h = web_two_ready();
  auto zone = project_dns(h.w, {});
  std::multiset<ipv4> ready{h.vm("web-0").ip, h.vm("web-1").ip};
  for (auto qname : {"web.volant.local", "web.volant.local.", "WEB.Volant.LOCAL."}) {
    auto ans = answer_dns(zone, qname, A, 1);
    CHECK_FALSE(ans.forward);
    CHECK(ans.rcode == dns_rcode::noerror);
    CHECK(a_records(ans) == ready);
    for (const auto& rr : ans.answer) {
      CHECK(rr.name == "web.volant.local.");
      CHECK(rr.ttl == 5);
    }
    CHECK(ans.authority.empty());
  }
  // ANY gives the same records; a type the name has not: NODATA with the SOA.
  CHECK(a_records(answer_dns(zone, "web.volant.local", ANY, 1)) == ready);
  auto aaaa = answer_dns(zone, "web.volant.local", AAAA, 1);
  CHECK(aaaa.rcode == dns_rcode::noerror);
  CHECK(aaaa.answer.empty());
  CHECK(has_soa_authority(aaaa));
}

TEST_CASE("dns: the A records of a deployment are shuffled by the seed, the same "
          "seed giving the same order") {
  auto h = harness::ready(); // pool of 11 addresses
  h.must(create_deployment{spec("web", 8)});
  h.bring_up("web", 8);
  auto zone = project_dns(h.w, {});
  auto order = [&](std::uint64_t seed) {
    std::vector<ipv4> out;
    for (const auto& rr : answer_dns(zone, "web.volant.local", A, seed).answer)
      out.push_back(std::get<ipv4>(rr.data));
    return out;
  };
  CHECK(order(7) == order(7));
  std::set<ipv4> firsts;
  std::set<std::vector<ipv4>> orders;
  for (std::uint64_t seed = 0; seed < 64; ++seed) {
    auto o = order(seed);
    REQUIRE(o.size() == 8);
    firsts.insert(o.front());
    orders.insert(o);
  }
  CHECK(firsts.size() > 4); // every client does not get the same first address
  CHECK(orders.size() > 32);
}

TEST_CASE("dns: the answers follow the world: scaling, a VM leaving ready, a rollout's "
          "surge VM and its terminating predecessor") {
  auto h = web_two_ready();
  h.must(record_vm_started{"web-2", {"process", 102, 1, ""}});
  h.must(record_vm_ready{"web-2"});
  CHECK(a_records(answer_dns(project_dns(h.w, {}), "web.volant.local", A, 0)).size() == 3);
  h.must(record_vm_unhealthy{"web-2", "GET /health: 500"});
  auto zone = project_dns(h.w, {});
  CHECK(a_records(answer_dns(zone, "web.volant.local", A, 0))
        == std::multiset<ipv4>{h.vm("web-0").ip, h.vm("web-1").ip});
  // The slot's name exists while it is not ready: NODATA, not NXDOMAIN.
  auto unready = answer_dns(zone, "web-2.web.volant.local", A, 0);
  CHECK(unready.rcode == dns_rcode::noerror);
  CHECK(unready.answer.empty());
  CHECK(has_soa_authority(unready));

  // A rollout: the surge candidate answers beside the old VMs once ready, and
  // the slot name answers the newest ready one; a terminating VM is gone.
  update_deployment u;
  u.name = "web";
  u.cpu = 2;
  h.must(u);
  h.must(create_vm{"web", 0, true});
  h.must(record_vm_started{"web-0@2", {"process", 700, 1, ""}});
  h.must(record_vm_ready{"web-0@2"});
  zone = project_dns(h.w, {});
  auto surge_ip = h.vm("web-0@2").ip;
  CHECK(a_records(answer_dns(zone, "web.volant.local", A, 0))
        == std::multiset<ipv4>{h.vm("web-0").ip, surge_ip, h.vm("web-1").ip});
  CHECK(a_records(answer_dns(zone, "web-0.web.volant.local", A, 0))
        == std::multiset<ipv4>{surge_ip});
  h.must(terminate_vm{"web-0", 0, 2000, "replaced by revision 2"});
  zone = project_dns(h.w, {});
  CHECK(a_records(answer_dns(zone, "web.volant.local", A, 0))
        == std::multiset<ipv4>{surge_ip, h.vm("web-1").ip});
  // The surge key itself is not a DNS name ('@' is no label character).
  CHECK(answer_dns(zone, "web-0@2.web.volant.local", A, 0).rcode == dns_rcode::nxdomain);
}

TEST_CASE("dns: <vm>.<deployment>.volant.local answers the slot's ready VM") {
  auto h = web_two_ready();
  auto zone = project_dns(h.w, {});
  auto ans = answer_dns(zone, "web-1.web.volant.local.", A, 3);
  CHECK(a_records(ans) == std::multiset<ipv4>{h.vm("web-1").ip});
  REQUIRE(ans.answer.size() == 1);
  CHECK(ans.answer[0].name == "web-1.web.volant.local.");
  CHECK(answer_dns(zone, "web-7.web.volant.local", A, 0).rcode == dns_rcode::nxdomain);
  CHECK(answer_dns(zone, "web-1.api.volant.local", A, 0).rcode == dns_rcode::nxdomain);
}

TEST_CASE("dns: <lb>.lb.volant.local answers the load balancer's listen address") {
  auto h = web_two_ready();
  lb_spec lb;
  lb.name = "web-lb";
  lb.deployment = "web";
  lb.port = 8080;
  lb.listen = "127.0.0.9";
  h.must(create_lb{lb});
  lb.name = "plain";
  lb.listen = "";
  lb.port = 8081;
  h.must(create_lb{lb});
  auto zone = project_dns(h.w, {.listen = "127.0.0.1", .microvm_listen = ""});
  CHECK(a_records(answer_dns(zone, "web-lb.lb.volant.local", A, 0))
        == std::multiset<ipv4>{*parse_ipv4("127.0.0.9")});
  CHECK(a_records(answer_dns(zone, "plain.lb.volant.local", A, 0))
        == std::multiset<ipv4>{*parse_ipv4("127.0.0.1")});
  CHECK(answer_dns(zone, "nope.lb.volant.local", A, 0).rcode == dns_rcode::nxdomain);
  // lb.volant.local has names below it: it exists, with no record.
  auto parent = answer_dns(zone, "lb.volant.local", A, 0);
  CHECK(parent.rcode == dns_rcode::noerror);
  CHECK(parent.answer.empty());
}

TEST_CASE("dns: SRV _http._tcp.<deployment> names each ready slot with the HTTP "
          "port, the targets' A records as additional records") {
  auto h = web_two_ready();
  auto zone = project_dns(h.w, {});
  auto ans = answer_dns(zone, "_http._tcp.web.volant.local", SRV, 5);
  CHECK(ans.rcode == dns_rcode::noerror);
  REQUIRE(ans.answer.size() == 2);
  std::set<std::string> targets;
  for (const auto& rr : ans.answer) {
    CHECK(rr.name == "_http._tcp.web.volant.local.");
    CHECK(rr.ttl == 5);
    const auto& srv = std::get<dns_srv>(rr.data);
    CHECK(srv.port == 80); // nginx's HTTP check
    CHECK(srv.weight == 1);
    targets.insert(srv.target);
  }
  CHECK(targets == std::set<std::string>{"web-0.web.volant.local.", "web-1.web.volant.local."});
  REQUIRE(ans.additional.size() == 2);
  for (const auto& rr : ans.additional)
    CHECK(std::get<ipv4>(rr.data) == h.vm(rr.name.substr(0, 5)).ip);
  // An A question for the SRV name: NODATA. A deployment without an HTTP
  // check has no SRV name.
  auto a = answer_dns(zone, "_http._tcp.web.volant.local", A, 5);
  CHECK(a.rcode == dns_rcode::noerror);
  CHECK(a.answer.empty());
  auto tcp = plugin_manifest(nginx("2.0.0"));
  tcp.name = "plain";
  tcp.health.probe = tcp_check{6379};
  h.must(install_plugin{tcp});
  auto s = spec("cache", 1);
  s.tmpl.plugin = {"plain", ""};
  h.must(create_deployment{s});
  zone = project_dns(h.w, {});
  CHECK(answer_dns(zone, "_http._tcp.cache.volant.local", SRV, 0).rcode
        == dns_rcode::nxdomain);
}

TEST_CASE("dns: unknown names under volant.local are NXDOMAIN with the SOA; the apex "
          "answers its SOA; names outside the zone are forwarded") {
  auto h = web_two_ready();
  auto zone = project_dns(h.w, {});
  for (auto qname : {"nope.volant.local", "a.b.c.d.volant.local", "x.web-0.web.volant.local",
                     "_http._tcp.nope.volant.local"}) {
    auto ans = answer_dns(zone, qname, A, 0);
    CHECK_MESSAGE(ans.rcode == dns_rcode::nxdomain, qname);
    CHECK(ans.answer.empty());
    CHECK(has_soa_authority(ans));
  }
  auto soa = answer_dns(zone, "volant.local.", SOA, 0);
  REQUIRE(soa.answer.size() == 1);
  const auto& rec = std::get<dns_soa>(soa.answer[0].data);
  CHECK(rec.mname == "ns.volant.local.");
  CHECK(rec.serial == static_cast<std::uint32_t>(h.w.last_seq));
  CHECK(rec.minimum == 5);
  CHECK(answer_dns(zone, "volant.local", TXT, 0).answer.empty());
  for (auto qname : {"example.com", "example.com.", "volant.localhost", "xvolant.local",
                     "local", ""})
    CHECK_MESSAGE(answer_dns(zone, qname, A, 0).forward, qname);
}

TEST_CASE("dns: the projection's records change only with what DNS shows") {
  auto h = web_two_ready();
  auto before = project_dns(h.w, {});
  h.must(scale_deployment{"web", 4, {}});
  h.must(create_vm{"web", 3}); // a new pending slot appears
  auto after = project_dns(h.w, {});
  CHECK_FALSE(before.same_records(after));
  auto again = project_dns(h.w, {});
  CHECK(after.same_records(again));
  again.serial += 10;
  CHECK(after.same_records(again));
}
