// Load balancers with the real binaries and a real HAProxy (issue 13, first
// part; docs/traffic.md): requests spread over the ready VMs, scaling changes
// the servers, the HAProxy keeps serving while volantd is killed and is adopted
// when it comes back, blue-green switch, delete.

#include "e2e/e2e.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

namespace volant::e2e {

namespace {

/// The VM name that answered one request to the load balancer ("<failed>"
/// for a failed request).
std::string answer(const std::string& ip) {
  auto r = http_get(ip, 80, "/", 2s);
  auto body = r && r->status == 200 ? r->body : std::string("<failed>");
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r'))
    body.pop_back();
  return body;
}

/// The VM names that answered `n` requests to the load balancer.
std::multiset<std::string> answers(const std::string& ip, int n) {
  std::multiset<std::string> out;
  for (int i = 0; i < n; ++i)
    out.insert(answer(ip));
  return out;
}

/// The answers of requests sent one after the other (a new connection each)
/// while `action` runs, until `after` requests followed the action's end.
std::vector<std::string> answers_during(const std::string& ip, const std::function<void()>& action,
                                        int after) {
  std::vector<std::string> seen;
  std::atomic<bool> done{false};
  std::thread sampler([&] {
    int tail = 0;
    while (tail < after) {
      seen.push_back(answer(ip));
      if (done)
        ++tail;
    }
  });
  std::this_thread::sleep_for(100ms);
  action();
  done = true;
  sampler.join();
  return seen;
}

/// Whether `seen` goes from answers of `from` to answers of `to` once and
/// for all, none failed.
bool switched_once(const std::vector<std::string>& seen, const std::set<std::string>& from,
                   const std::set<std::string>& to) {
  bool arrived = false;
  for (const auto& s : seen) {
    if (to.count(s))
      arrived = true;
    else if (arrived || !from.count(s))
      return false;
  }
  return arrived;
}

std::string joined(const std::vector<std::string>& seen) {
  std::string out;
  for (const auto& s : seen)
    out += s + " ";
  return out;
}

std::set<std::string> names_of(const std::multiset<std::string>& m) {
  return {m.begin(), m.end()};
}

int haproxy_master(const daemon& d) {
  int pid = 0;
  std::ifstream(d.dir() + "/haproxy/haproxy.pid") >> pid;
  return pid > 0 && pid_alive(pid) ? pid : 0;
}

} // namespace

TEST_CASE("lb: requests spread over the ready VMs; scaling, a daemon crash, "
          "blue-green switch and delete") {
  daemon d({.pool_octet = 154});
  d.install(httpd_manifest());
  d.ok("deployments create web --plugin e2e-httpd --replicas 3 --wait");
  auto lb_ip = d.ip(250);
  auto created = d.ok("lb create web-lb --deployment web --port 80 --listen " + lb_ip
                      + " --no-health-check");
  CHECK(created == "load balancer web-lb created: http://" + lb_ip + ":80/ -> web\n");
  std::set<std::string> three{"web-0", "web-1", "web-2"};
  REQUIRE_MESSAGE(eventually([&] { return names_of(answers(lb_ip, 6)) == three; }, 20s),
                  d.log_tail());
  auto shown = d.get_json("lb show web-lb");
  CHECK(shown["servers"].size() == 3);
  CHECK(shown.value("address", "") == lb_ip + ":80");
  CHECK(d.get_json("lb list").size() == 1);

  // Scaling: the servers follow the ready VMs.
  d.ok("deployments scale web --replicas 5 --wait");
  bool five = eventually([&] { return names_of(answers(lb_ip, 10)).size() == 5; }, 20s);
  if (!five) {
    auto seen = answers(lb_ip, 10);
    std::string all;
    for (const auto& s : seen) all += s + " ";
    FAIL_CHECK(all << d.get_json("lb show web-lb").dump() << std::ifstream(d.dir() + "/haproxy/haproxy.cfg").rdbuf());
  }

  // volantd killed: HAProxy keeps serving; the next volantd adopts it.
  auto master = haproxy_master(d);
  REQUIRE(master > 0);
  d.kill9();
  CHECK(names_of(answers(lb_ip, 10)).size() == 5);
  d.start();
  d.ok("deployments scale web --replicas 2 --wait");
  CHECK(eventually([&] { return names_of(answers(lb_ip, 6)) == std::set<std::string>{"web-0", "web-1"}; },
                   20s));
  CHECK(haproxy_master(d) == master); // adopted, reloaded, never restarted

  // Blue-green: refused while the target has no ready VM, then atomic: the
  // requests sent one after another during the switch see blue, then green,
  // never blue again after the first green (HAProxy's frontend flips from one
  // backend to the other with `set map`), none fails; and back.
  d.ok("deployments create web-green --plugin e2e-httpd --replicas 2 --wait");
  auto refused = d.volar("lb switch web-lb --to nope");
  CHECK(refused.exit_code != 0);
  const std::set<std::string> blue{"web-0", "web-1"}, green{"web-green-0", "web-green-1"};
  auto to_green = answers_during(lb_ip, [&] { d.ok("lb switch web-lb --to web-green"); }, 100);
  CHECK_MESSAGE(switched_once(to_green, blue, green), joined(to_green));
  CHECK(eventually([&] {
    return names_of(answers(lb_ip, 6)) == green;
  }, 20s));
  auto to_blue = answers_during(lb_ip, [&] { d.ok("lb switch web-lb --to web"); }, 100);
  CHECK_MESSAGE(switched_once(to_blue, green, blue), joined(to_blue));
  CHECK(eventually([&] { return names_of(answers(lb_ip, 6)) == std::set<std::string>{"web-0", "web-1"}; },
                   20s));

  // Bad input: one line, nothing changes.
  auto dup = d.volar("lb create web-lb --deployment web --port 81");
  CHECK(dup.exit_code != 0);
  CHECK(dup.err == "volar: load balancer 'web-lb' already exists\n");

  // Deleted: nothing listens any more, and HAProxy is gone with the last LB.
  d.ok("lb delete web-lb");
  CHECK(eventually([&] { return !http_get(lb_ip, 80, "/", 500ms).has_value(); }, 10s));
  CHECK(eventually([&] { return !pid_alive(master); }, 10s));
  auto journal = d.journal();
  int lb_events = 0;
  for (const auto& e : journal)
    lb_events += e.value("aggregate", "") == "lb" ? 1 : 0;
  CHECK(lb_events == 4); // created, switched twice, deleted
}

TEST_CASE("lb switch creates a missing load balancer in front of the target, as the "
          "guide's blue-green flow expects") {
  daemon d({.pool_octet = 155});
  d.install(httpd_manifest());
  d.ok("deployments create web-green --plugin e2e-httpd --replicas 1 --wait");
  auto out = d.ok("lb switch web --to web-green");
  CHECK(out.find("load balancer web did not exist: created in front of web-green") == 0);
  CHECK(d.get_json("lb show web").value("deployment", "") == "web-green");
  d.ok("lb delete web");
}

} // namespace volant::e2e
