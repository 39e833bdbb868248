// Load balancers, pure (src/events/lb.hpp): created, switched and deleted by
// decide; which servers each has (the ready VMs of its target, never a
// terminating one); the HAProxy configuration rendered from that, compared with
// a golden text.

#include "events/lb.hpp"

#include "fixture.hpp"

using namespace volant;
using namespace volant::test;

namespace {

lb_spec lb(std::string name = "web-lb", std::string deployment = "web",
           std::uint16_t port = 80) {
  lb_spec s;
  s.name = std::move(name);
  s.deployment = std::move(deployment);
  s.port = port;
  return s;
}

const haproxy_paths paths{"/d/haproxy/haproxy.sock", "/d/haproxy/haproxy.pid",
                          "/d/haproxy/slots.map"};

} // namespace

TEST_CASE("lb create: a name, an existing target, a port; one per address and port") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 2)});
  auto evs = h.must(create_lb{lb()});
  REQUIRE(evs.size() == 1);
  CHECK(std::get<lb_created>(evs[0]).spec == lb());
  CHECK(h.w.lbs.at("web-lb").deployment == "web");
  CHECK(h.fails(create_lb{lb()}).message == "load balancer 'web-lb' already exists");
  CHECK(h.fails(create_lb{lb("api-lb", "api")}).code == ec::unknown_deployment);
  CHECK(h.fails(create_lb{lb("other", "web", 80)}).message
        == "load balancer 'web-lb' listens on the default address:80 already");
  auto wild = lb("wild", "web", 81);
  wild.listen = "0.0.0.0";
  CHECK(h.fails(create_lb{wild}).message.starts_with("listen address 0.0.0.0 is a wildcard"));
  auto bad = lb("Bad_Name", "web", 82);
  CHECK(h.fails(create_lb{bad}).code == ec::invalid_name);
  auto path = lb("p", "web", 83);
  path.health_path = "health";
  CHECK(h.fails(create_lb{path}).code == ec::invalid_health_check);
}

TEST_CASE("lb switch: to a deployment with ready VMs (all of them with "
          "--require-all-ready); the guide's switch creates a missing one") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 2)});
  h.must(create_deployment{spec("web-green", 2)});
  h.bring_up("web", 2);
  h.must(create_lb{lb()});
  CHECK(h.fails(switch_lb{"web-lb", "web-green"}).message
        == "deployment 'web-green' has no ready VM: nothing would serve 'web-lb'");
  h.bring_up("web-green", 1);
  CHECK(h.fails(switch_lb{"web-lb", "web-green", true}).message
        == "deployment 'web-green' has 1 of 2 VMs ready (--require-all-ready)");
  auto evs = h.must(switch_lb{"web-lb", "web-green"});
  REQUIRE(evs.size() == 1);
  CHECK(std::get<lb_switched>(evs[0]) == lb_switched{"web-lb", "web", "web-green", h.now});
  CHECK(h.w.lbs.at("web-lb").deployment == "web-green");
  CHECK(h.fails(switch_lb{"web-lb", "web-green"}).code == ec::conflict);
  h.must(switch_lb{"web-lb", "web"}); // and back
  CHECK(h.w.lbs.at("web-lb").deployment == "web");
  CHECK(h.fails(switch_lb{"nope", "web"}).code == ec::unknown_lb);
  h.must(delete_lb{"web-lb"});
  evs = h.must(switch_lb{"web", "web-green", false, true});
  REQUIRE(evs.size() == 1);
  CHECK(std::get<lb_created>(evs[0]).spec.deployment == "web-green");
  h.must(delete_lb{"web"});
  CHECK_FALSE(h.w.lbs.contains("web"));
  CHECK(h.fails(delete_lb{"web"}).code == ec::unknown_lb);
}

TEST_CASE("an LB's servers are the ready VMs of its target, of every revision, "
          "never a terminating one") {
  auto h = harness::ready();
  auto s = spec("web", 3);
  s.strategy.kind = strategy_kind::rolling;
  s.strategy.max_surge = {1, false};
  s.strategy.max_unavailable = {0, false};
  h.must(create_deployment{s});
  h.must(create_lb{lb()});
  h.bring_up("web", 2);
  h.must(create_vm{"web", 2}); // pending: not a server
  auto view = project_lb(h.w, "web-lb", {});
  REQUIRE(view);
  CHECK(view->listen == "127.0.0.1");
  CHECK(view->target_port == 80);
  REQUIRE(view->servers.size() == 2);
  CHECK(view->servers[0].vm == "web-0");
  CHECK(view->servers[0].ip == h.vm("web-0").ip);
  // A rollout: the surge VM of revision 2 serves beside the old ones once
  // ready; the retired old one leaves at once.
  update_deployment u;
  u.name = "web";
  u.cpu = 2;
  h.must(u);
  h.must(create_vm{"web", 0, true});
  h.must(record_vm_started{"web-0@2", {"process", 700, 1, ""}});
  h.must(record_vm_ready{"web-0@2"});
  h.must(terminate_vm{"web-0", 0, 2000, "replaced by revision 2"});
  view = project_lb(h.w, "web-lb", {});
  std::vector<std::string> names;
  for (const auto& server : view->servers)
    names.push_back(server.name);
  CHECK(names == std::vector<std::string>{"web-0_r2", "web-1"});
  CHECK_FALSE(project_lb(h.w, "nope", {}));
}

TEST_CASE("the check follows the target's plugin unless the LB names a path, "
          "and is off with --no-health-check") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 1)});
  h.must(create_lb{lb()});
  auto view = project_lb(h.w, "web-lb", {});
  // The fixture's nginx checks HTTP GET /health on 80.
  CHECK(view->check == lb_check{lb_check::kind::http, "/health", 0});
  auto off = lb("off", "web", 81);
  off.health_check = false;
  off.target_port = 8080;
  h.must(create_lb{off});
  CHECK(project_lb(h.w, "off", {})->check.how == lb_check::kind::none);
  CHECK(project_lb(h.w, "off", {})->check.port == 0);
  CHECK(project_lb(h.w, "off", {})->target_port == 8080);
}

TEST_CASE("render_haproxy writes one frontend and two backends per LB, the servers in the "
          "active one (golden text)") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 2)});
  h.bring_up("web", 2);
  auto a = lb("web-lb", "web", 8080);
  a.listen = "127.0.0.9";
  a.algorithm = lb_algorithm::source;
  a.target_port = 80;
  h.must(create_lb{a});
  auto b = lb("quiet", "web", 9090);
  b.health_check = false;
  b.algorithm = lb_algorithm::least_conn;
  h.must(create_lb{b});
  auto text = render_haproxy(project_lbs(h.w, {"127.0.0.1", ""}), paths, {{"web-lb", 'b'}});
  CHECK(text
        == "# Written by volantd for its load balancers (volar lb ...): every change\n"
           "# rewrites it. Do not edit.\n"
           "global\n"
           "    master-worker\n"
           "    stats socket /d/haproxy/haproxy.sock mode 600 level admin expose-fd listeners\n"
           "    maxconn 4096\n"
           "\n"
           "defaults\n"
           "    mode http\n"
           "    timeout connect 2s\n"
           "    timeout client 30s\n"
           "    timeout server 30s\n"
           "    timeout http-request 10s\n"
           "    timeout queue 10s\n"
           "    retries 3\n"
           "    option redispatch 1\n"
           "    retry-on conn-failure empty-response\n"
           "\n"
           "frontend lb_quiet\n"
           "    # serves lb_quiet_a: deployment web\n"
           "    bind 127.0.0.1:9090\n"
           "    use_backend %[str(lb_quiet),map(/d/haproxy/slots.map,lb_quiet_a)]\n"
           "\n"
           "backend lb_quiet_a\n"
           "    balance leastconn\n"
           "    server web-0 10.0.0.10:9090\n"
           "    server web-1 10.0.0.11:9090\n"
           "\n"
           "backend lb_quiet_b\n"
           "    balance leastconn\n"
           "\n"
           "frontend lb_web-lb\n"
           "    # serves lb_web-lb_b: deployment web\n"
           "    bind 127.0.0.9:8080\n"
           "    use_backend %[str(lb_web-lb),map(/d/haproxy/slots.map,lb_web-lb_a)]\n"
           "\n"
           "backend lb_web-lb_a\n"
           "    balance source\n"
           "    hash-type consistent\n"
           "    option httpchk GET /health\n"
           "\n"
           "backend lb_web-lb_b\n"
           "    balance source\n"
           "    hash-type consistent\n"
           "    option httpchk GET /health\n"
           "    server web-0 10.0.0.10:80 check inter 1s fall 2 rise 1\n"
           "    server web-1 10.0.0.11:80 check inter 1s fall 2 rise 1\n");
  CHECK(render_lb_map(project_lbs(h.w, {}), {{"web-lb", 'b'}})
        == "lb_quiet lb_quiet_a\nlb_web-lb lb_web-lb_b\n");
  // What a configuration serves is read back from it (an adopted HAProxy).
  CHECK(haproxy_serving(text)
        == std::map<std::string, lb_serving>{{"quiet", {'a', "web"}}, {"web-lb", {'b', "web"}}});
  // The same world renders the same text (the supervisor reloads on change only).
  CHECK(render_haproxy(project_lbs(h.w, {"127.0.0.1", ""}), paths, {{"web-lb", 'b'}}) == text);
}

TEST_CASE("server names map to VM keys and back; the frame of a configuration "
          "leaves its servers out, so that a server change needs no reload") {
  CHECK(lb_server_name("web-3@4") == "web-3_r4");
  CHECK(lb_server_vm("web-3_r4") == "web-3@4");
  CHECK(lb_server_vm("web-3") == "web-3");
  CHECK(lb_server_vm("my_rx-1") == "my_rx-1"); // "_r" not followed by a revision
  CHECK(lb_backend_name("web-lb", 'b') == "lb_web-lb_b");
  CHECK(lb_of_backend("lb_web-lb_b") == std::pair{std::string("web-lb"), 'b'});
  CHECK(lb_of_backend("lb_a_a") == std::pair{std::string("a"), 'a'});
  CHECK_FALSE(lb_of_backend("lb_web-lb_servers"));
  CHECK_FALSE(lb_of_backend("stats"));
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 3)});
  h.bring_up("web", 2);
  h.must(create_lb{lb()});
  auto two = render_haproxy(project_lbs(h.w, {}), paths);
  h.must(create_vm{"web", 2});
  h.must(record_vm_started{"web-2", {"process", 702, 1, ""}});
  h.must(record_vm_ready{"web-2"});
  auto three = render_haproxy(project_lbs(h.w, {}), paths);
  CHECK(two != three);
  CHECK(haproxy_frame(two) == haproxy_frame(three));
  CHECK(haproxy_frame(three).find("server web-") == std::string::npos);
  CHECK(haproxy_frame(three).find("backend lb_web-lb_b") != std::string::npos);
  auto view = project_lb(h.w, "web-lb", {});
  CHECK(lb_server_options(*view) == "check inter 1s fall 2 rise 1");
  // A switch to a deployment checked alike changes servers only: no reload.
  h.must(create_deployment{spec("web-green", 1)});
  h.bring_up("web-green", 1);
  h.must(switch_lb{"web-lb", "web-green"});
  auto green = render_haproxy(project_lbs(h.w, {}), paths, {{"web-lb", 'b'}});
  CHECK(green.find("# serves lb_web-lb_b: deployment web-green") != std::string::npos);
  CHECK(haproxy_frame(green) == haproxy_frame(three));
  h.must(create_lb{lb("other", "web", 81)});
  CHECK(haproxy_frame(render_haproxy(project_lbs(h.w, {}), paths)) != haproxy_frame(three));
}

TEST_CASE("behind an LB, a ready VM that leaves is drained first: terminating for "
          "the LB's drain timeout, stopped early once the LB says it is drained") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 3)}); // recreate: the default strategy
  h.bring_up("web", 3);
  // Without an LB a scale-down stops at once.
  h.must(scale_deployment{"web", 2});
  auto p = reconcile(h.w, "web", h.now);
  CHECK_FALSE(p.goals.at("web-2").keep);
  CHECK(p.goals.at("web-2").drain_ms == 0);
  h.must(scale_deployment{"web", 3});
  auto spec_ = lb();
  spec_.drain_timeout_ms = 5000;
  h.must(create_lb{spec_});
  h.must(scale_deployment{"web", 2});
  p = reconcile(h.w, "web", h.now);
  CHECK_FALSE(p.goals.at("web-2").keep);
  CHECK(p.goals.at("web-2").drain_ms == 5000);
  CHECK(p.goals.at("web-2").retire_reason == "removed");
  CHECK(p.goals.at("web-0").drain_ms == 0);
  // The VM's machine journals it terminating: it leaves the LB at once.
  h.must(terminate_vm{"web-2", 0, 5000, "removed"});
  CHECK(h.vm("web-2").status == vm_status::terminating);
  CHECK(project_lb(h.w, "web-lb", {})->servers.size() == 2);
  auto until = h.vm("web-2").terminate_at;
  CHECK(until == h.now + 5000 * 1'000'000LL);
  CHECK(reconcile(h.w, "web", h.now).goals.at("web-2").terminate_at == until);
  // The LB reports zero sessions: journaled, and the VM may stop now.
  h.now += 1'000'000'000;
  auto evs = h.must(mark_drained{"web-2", "web-lb"});
  REQUIRE(evs.size() == 1);
  CHECK(std::get<vm_drained>(evs[0]).lb == "web-lb");
  CHECK(h.vm("web-2").terminate_at == h.now);
  CHECK(reconcile(h.w, "web", h.now).goals.at("web-2").terminate_at == h.now);
  // Told twice, or about a VM that is not terminating: nothing happens.
  CHECK(h.must(mark_drained{"web-2", "web-lb"}).empty());
  CHECK(h.must(mark_drained{"web-0", "web-lb"}).empty());
  CHECK(h.must(mark_drained{"nope", "web-lb"}).empty());
  // A rolling update behind the LB waits the longer of grace and drain.
  auto s = spec("api", 2);
  s.strategy.kind = strategy_kind::rolling;
  s.strategy.termination_grace_ms = 1000;
  h.must(create_deployment{s});
  h.bring_up("api", 2);
  auto api_lb = lb("api-lb", "api", 81);
  api_lb.drain_timeout_ms = 7000;
  h.must(create_lb{api_lb});
  h.must(scale_deployment{"api", 1});
  p = reconcile(h.w, "api", h.now);
  CHECK(p.goals.at("api-1").drain_ms == 7000);
}
