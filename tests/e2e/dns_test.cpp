// DNS for volant.local with the real binaries (issue 13; docs/traffic.md):
// volantd answers `dig` for a deployment (its ready VMs, following scaling),
// a VM, a load balancer and SRV, NXDOMAIN with an SOA for unknown names, over
// UDP and TCP; other names go to the resolver given with --dns-forward (a
// tiny one run by this test on loopback: tests send nothing off the host),
// SERVFAIL when it is gone; malformed packets crash nothing.

#include "e2e/e2e.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

namespace volant::e2e {

namespace {

constexpr int pool_octet = 156;
const std::string dns_ip = "127.78.156.253";
constexpr int dns_port = 5353;
const std::string upstream_ip = "127.78.156.252";
constexpr int upstream_port = 5354;

sockaddr_in address(const std::string& ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

/// A resolver for the forwarding test: answers every A question with
/// 127.9.9.9 (TTL 60), on upstream_ip:upstream_port, until destroyed.
class fake_resolver {
public:
  fake_resolver() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    auto at = address(upstream_ip, upstream_port);
    bound_ = ::bind(fd_, reinterpret_cast<const sockaddr*>(&at), sizeof at) == 0;
    thread_ = std::thread([this] { serve(); });
  }
  ~fake_resolver() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  bool bound() const { return bound_; }
  int answered() const { return answered_; }

private:
  void serve() {
    std::uint8_t buf[1500];
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0)
        continue;
      sockaddr_in from{};
      socklen_t len = sizeof from;
      auto n = ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 17)
        continue;
      // The question ends after its name and type/class.
      std::size_t end = 12;
      while (end < static_cast<std::size_t>(n) && buf[end] != 0)
        end += buf[end] + 1;
      end += 5;
      if (end > static_cast<std::size_t>(n))
        continue;
      std::vector<std::uint8_t> out(buf, buf + end);
      out[2] = 0x81; // QR, RD
      out[3] = 0x80; // RA, NOERROR
      out[6] = 0, out[7] = 1;                // one answer
      out[8] = out[9] = out[10] = out[11] = 0; // no authority, no additional
      const std::uint8_t answer[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 9, 9, 9};
      out.insert(out.end(), std::begin(answer), std::end(answer));
      ::sendto(fd_, out.data(), out.size(), 0, reinterpret_cast<const sockaddr*>(&from), len);
      ++answered_;
    }
  }

  int fd_ = -1;
  bool bound_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<int> answered_{0};
  std::thread thread_;
};

/// `dig @volantd ARGS` (one try, 2 s).
std::string dig(const std::string& args) {
  auto r = test::run("dig @" + dns_ip + " -p " + std::to_string(dns_port)
                     + " +time=2 +tries=1 " + args);
  return r.out;
}

/// The records `dig +short` prints for NAME TYPE, as a set of lines.
std::set<std::string> short_answer(const std::string& name, const std::string& type = "A",
                                   const std::string& extra = "") {
  auto lines = lines_of(dig("+short " + extra + " " + name + " " + type));
  return {lines.begin(), lines.end()};
}

/// The IPs of the ready VMs of `deployment` as `vms list` shows them.
std::set<std::string> ready_ips(const daemon& d, const std::string& deployment) {
  std::set<std::string> out;
  for (const auto& vm : d.vms_of(deployment))
    if (vm.value("status", "") == "ready")
      out.insert(vm.value("ip", ""));
  return out;
}

/// Sends `packet` over UDP to volantd and waits up to 2 s for an answer ("" if none).
std::string udp_exchange(const std::string& packet) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  auto to = address(dns_ip, dns_port);
  ::sendto(fd, packet.data(), packet.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  std::string out;
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 2000) == 1) {
    char buf[1500];
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0)
      out.assign(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

} // namespace

TEST_CASE("dns: volant.local names the ready VMs of a deployment, following scaling; "
          "VMs, load balancers, SRV; NXDOMAIN with the SOA; forwarding; malformed "
          "packets") {
  fake_resolver upstream;
  REQUIRE(upstream.bound());
  daemon d({.pool_octet = pool_octet,
            .extra = {"--dns-listen", dns_ip + ":" + std::to_string(dns_port), "--dns-forward",
                      upstream_ip + ":" + std::to_string(upstream_port)}});
  // An HTTP health check (port 80): READY from its probe, and an SRV port.
  d.install_file(examples_dir() + "/plugins/busybox-httpd.manifest.json");
  d.ok("deployments create web --plugin busybox-httpd --replicas 3 --wait");

  // The deployment's name: every ready VM (a probe may lag `--wait` by a beat).
  REQUIRE_MESSAGE(eventually([&] {
    auto ready = ready_ips(d, "web");
    return ready.size() == 3 && short_answer("web.volant.local") == ready;
  }, 60s), d.log_tail());
  auto three = ready_ips(d, "web");
  auto full = dig("web.volant.local A");
  CHECK(full.find("status: NOERROR") != std::string::npos);
  CHECK(full.find("flags: qr aa rd") != std::string::npos); // authoritative
  CHECK(full.find("\t5\tIN\tA\t") != std::string::npos); // TTL 5 s
  CHECK(short_answer("WEB.Volant.Local.") == three);                     // any case
  CHECK(short_answer("web.volant.local", "A", "+tcp") == three);         // over TCP

  // Scaling: the answer follows the ready VMs, up and down.
  d.ok("deployments scale web --replicas 5 --wait");
  CHECK_MESSAGE(eventually([&] {
    auto ready = ready_ips(d, "web");
    return ready.size() == 5 && short_answer("web.volant.local") == ready;
  }, 60s), d.log_tail());
  d.ok("deployments scale web --replicas 2 --wait");
  CHECK(eventually([&] {
    auto ready = ready_ips(d, "web");
    return ready.size() == 2 && short_answer("web.volant.local") == ready;
  }, 60s));

  // One VM by its slot name; a load balancer by its name.
  auto web0 = d.vm("web-0").value("ip", "");
  CHECK(short_answer("web-0.web.volant.local") == std::set<std::string>{web0});
  auto lb_ip = d.ip(250);
  d.ok("lb create web-lb --deployment web --port 8080 --listen " + lb_ip);
  CHECK(eventually([&] {
    return short_answer("web-lb.lb.volant.local") == std::set<std::string>{lb_ip};
  }, 10s));

  // SRV: one record per ready VM with the HTTP port.
  auto srv = short_answer("_http._tcp.web.volant.local", "SRV");
  CHECK(srv == std::set<std::string>{"0 1 80 web-0.web.volant.local.",
                                     "0 1 80 web-1.web.volant.local."});

  // An unknown name: NXDOMAIN, the zone's SOA as authority.
  auto nx = dig("nope.volant.local A");
  CHECK(nx.find("status: NXDOMAIN") != std::string::npos);
  CHECK(nx.find("AUTHORITY: 1") != std::string::npos);
  CHECK(nx.find("\t5\tIN\tSOA\tns.volant.local. hostmaster.volant.local.")
        != std::string::npos);
  // A name that exists, without records of the type asked: NODATA.
  auto nodata = dig("web.volant.local AAAA");
  CHECK(nodata.find("status: NOERROR") != std::string::npos);
  CHECK(nodata.find("ANSWER: 0") != std::string::npos);

  // Outside volant.local: relayed to the resolver, its answer returned.
  CHECK(short_answer("example.test") == std::set<std::string>{"127.9.9.9"});
  CHECK(upstream.answered() >= 1);

  // Malformed packets: FORMERR for a header with a broken question, nothing
  // for a runt or a reflected response; volantd answers as before.
  auto formerr = udp_exchange(std::string("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x3f" "abc", 16));
  REQUIRE(formerr.size() >= 12);
  CHECK(formerr.substr(0, 2) == "\x12\x34");
  CHECK((static_cast<unsigned char>(formerr[3]) & 0x0f) == 1); // FORMERR
  CHECK(udp_exchange(std::string("\x01\x02\x03", 3)).empty());
  CHECK(udp_exchange(std::string("\x12\x34\x81\x80\x00\x00\x00\x00\x00\x00\x00\x00", 12)).empty());
  CHECK(pid_alive(d.pid()));
  CHECK(short_answer("web.volant.local") == ready_ips(d, "web"));
  d.ok("lb delete web-lb"); // HAProxy stops with the last load balancer
}

TEST_CASE("dns: a name outside volant.local gets SERVFAIL when no resolver answers; "
          "--dns-listen off turns DNS off") {
  // Nothing listens on the resolver's port: refused at once.
  daemon d({.pool_octet = pool_octet + 1,
            .extra = {"--dns-listen", dns_ip + ":" + std::to_string(dns_port), "--dns-forward",
                      upstream_ip + ":" + std::to_string(upstream_port)}});
  CHECK(dig("example.test A").find("status: SERVFAIL") != std::string::npos);
  CHECK(dig("nope.volant.local A").find("status: NXDOMAIN") != std::string::npos);
  d.stop();
  d.opts().extra = {"--dns-listen", "off"};
  d.start();
  CHECK(dig("nope.volant.local A").find("status:") == std::string::npos); // no answer
}

} // namespace volant::e2e

namespace volant::e2e {

TEST_CASE("dns: a workload reaches another deployment by name through getaddrinfo "
          "(its own /etc/resolv.conf names volantd's DNS; the host's is untouched)") {
  // resolv.conf takes no port: volantd's DNS on port 53 of an address of the pool.
  auto dns_at = "127.78.159.253";
  daemon d({.pool_octet = 159, .extra = {"--dns-listen", std::string(dns_at) + ":53"}});
  auto host_resolv = test::read_file("/etc/resolv.conf");
  d.install(httpd_manifest());
  json client = {
      {"name", "e2e-client"},
      {"version", "1.0.0"},
      {"description", "e2e: curl http://api.volant.local/ every second"},
      {"runtime", "process"},
      {"workload",
       {{"entrypoint",
         {"/bin/sh", "-c",
          "cp /etc/resolv.conf \"$VOLANT_VM_DIR/resolv.conf\"; while true; do "
          "curl -sf --max-time 2 -o \"$VOLANT_VM_DIR/got.tmp\" http://api.volant.local/ "
          "&& mv \"$VOLANT_VM_DIR/got.tmp\" \"$VOLANT_VM_DIR/got\"; sleep 1; done"}}}},
  };
  d.install(client);
  d.ok("deployments create api --plugin e2e-httpd --replicas 1 --wait");
  d.ok("deployments create client --plugin e2e-client --replicas 1 --wait");
  auto got = d.vm_dir("client-0") + "/got";
  CHECK_MESSAGE(eventually([&] { return test::read_file(got) == "api-0\n"; }, 30s),
                "client-0 got '" << test::read_file(got) << "'\n" << d.log_tail());
  auto resolv = test::read_file(d.vm_dir("client-0") + "/resolv.conf");
  CHECK(resolv.find(std::string("nameserver ") + dns_at + "\n") != std::string::npos);
  CHECK(resolv.find("search volant.local") != std::string::npos);
  CHECK(test::read_file("/etc/resolv.conf") == host_resolv);
}

} // namespace volant::e2e

namespace volant::e2e {

namespace {

/// `dig +short web.volant.local A` against volantd's DNS on `at`:5353.
std::set<std::string> web_answer(const std::string& at) {
  auto r = test::run("dig @" + at + " -p 5353 +time=2 +tries=1 +short web.volant.local A");
  auto lines = lines_of(r.out);
  return {lines.begin(), lines.end()};
}

/// Writes `page` (`text`) into `vm`'s web root once its workload has made
/// it (its index.html is there); false before.
bool put_page(const daemon& d, const std::string& vm, const std::string& page,
              const std::string& text) {
  auto www = d.vm_dir(vm) + "/www";
  if (!std::filesystem::exists(www + "/index.html"))
    return false;
  std::ofstream(www + "/" + page) << text;
  return true;
}

/// The VM names that answered 6 requests to the load balancer on `lb_ip`.
std::set<std::string> served_by(const std::string& lb_ip) {
  std::set<std::string> names;
  for (int i = 0; i < 6; ++i)
    if (auto r = http_get(lb_ip, 80, "/", 2s); r && r->status == 200)
      names.insert(r->body.substr(0, r->body.find('\n')));
  return names;
}

} // namespace

TEST_CASE("dns and lb: a VM whose health check fails leaves the DNS answer and the "
          "load balancer; it gets traffic again only once ready") {
  auto dns_at = std::string("127.78.161.253");
  daemon d({.pool_octet = 161, .extra = {"--dns-listen", dns_at + ":5353"}});
  d.install(httpd_manifest());
  d.ok("deployments create web --plugin e2e-httpd --replicas 2 --no-auto-restart "
       "--health-http 80:/ok.html --health-interval 1 --health-threshold 1");
  // Ready once the test gives each VM its health page.
  for (const auto* vm : {"web-0", "web-1"})
    REQUIRE(eventually([&] { return put_page(d, vm, "ok.html", "ok\n"); }, 30s));
  REQUIRE(d.settled("web", 2, 60s));
  auto lb_ip = d.ip(250);
  d.ok("lb create web-lb --deployment web --listen " + lb_ip);
  auto answer = [&] { return web_answer(dns_at); };
  auto served = [&] { return served_by(lb_ip); };
  auto ip0 = d.vm("web-0").value("ip", ""), ip1 = d.vm("web-1").value("ip", "");
  CHECK(eventually([&] { return answer() == std::set<std::string>{ip0, ip1}; }, 20s));
  CHECK(eventually([&] { return served() == std::set<std::string>{"web-0", "web-1"}; }, 20s));
  // web-1 fails its check: unhealthy (not restarted), out of DNS and the LB.
  std::filesystem::remove(d.vm_dir("web-1") + "/www/ok.html");
  CHECK(eventually([&] { return d.vm("web-1").value("status", "") == "unhealthy"; }, 30s));
  CHECK(eventually([&] { return answer() == std::set<std::string>{ip0}; }, 20s));
  CHECK(eventually([&] { return served() == std::set<std::string>{"web-0"}; }, 20s));
  auto shown = d.get_json("lb show web-lb");
  CHECK(shown["servers"].size() == 1);
  // Healthy again: back in both.
  std::ofstream(d.vm_dir("web-1") + "/www/ok.html") << "ok\n";
  CHECK(eventually([&] { return d.vm("web-1").value("status", "") == "ready"; }, 30s));
  CHECK(eventually([&] { return answer() == std::set<std::string>{ip0, ip1}; }, 20s));
  CHECK(eventually([&] { return served() == std::set<std::string>{"web-0", "web-1"}; }, 20s));
  d.ok("lb delete web-lb");
}

} // namespace volant::e2e

namespace volant::e2e {

TEST_CASE("readiness_check apart from health_check: a VM that is not ready leaves DNS "
          "and the load balancer but keeps running; its health check alone restarts") {
  auto dns_at = std::string("127.78.162.253");
  daemon d({.pool_octet = 162, .extra = {"--dns-listen", dns_at + ":5353"}});
  auto manifest = httpd_manifest("e2e-ready");
  manifest["workload"]["health_check"] = {{"tcp", {{"port", 80}, {"interval_seconds", 1}}}};
  manifest["workload"]["readiness_check"]
      = {{"http", {{"port", 80}, {"path", "/ready.html"}, {"interval_seconds", 1},
                   {"unhealthy_threshold", 1}}}};
  d.install(manifest);
  d.ok("deployments create web --plugin e2e-ready --replicas 2");
  // Running, answering TCP, but not READY until the page exists.
  CHECK(eventually([&] {
    return d.vm("web-0").value("status", "") == "running"
           && d.vm("web-1").value("status", "") == "running";
  }, 30s));
  for (const auto* vm : {"web-0", "web-1"})
    REQUIRE(eventually([&] { return put_page(d, vm, "ready.html", "ready\n"); }, 30s));
  REQUIRE(d.settled("web", 2, 60s));
  auto lb_ip = d.ip(250);
  d.ok("lb create web-lb --deployment web --listen " + lb_ip);
  auto answer = [&] { return web_answer(dns_at); };
  auto served = [&] { return served_by(lb_ip); };
  auto ip0 = d.vm("web-0").value("ip", ""), ip1 = d.vm("web-1").value("ip", "");
  CHECK(eventually([&] { return answer() == std::set<std::string>{ip0, ip1}; }, 20s));
  CHECK(eventually([&] { return served() == std::set<std::string>{"web-0", "web-1"}; }, 20s));
  auto pid1 = d.vm("web-1").value("pid", 0);
  // Not ready: running (the same process), out of DNS and the LB, journaled.
  std::filesystem::remove(d.vm_dir("web-1") + "/www/ready.html");
  CHECK(eventually([&] { return d.vm("web-1").value("status", "") == "running"; }, 30s));
  CHECK(eventually([&] { return answer() == std::set<std::string>{ip0}; }, 20s));
  CHECK(eventually([&] { return served() == std::set<std::string>{"web-0"}; }, 20s));
  CHECK(d.vm("web-1").value("pid", 0) == pid1);
  int not_ready = 0;
  for (const auto& e : d.journal())
    not_ready += e.value("event", "") == "vm_not_ready" ? 1 : 0;
  CHECK(not_ready == 1);
  // Ready again: back in both, never restarted.
  std::ofstream(d.vm_dir("web-1") + "/www/ready.html") << "ready\n";
  CHECK(eventually([&] { return d.vm("web-1").value("status", "") == "ready"; }, 30s));
  CHECK(eventually([&] { return answer() == std::set<std::string>{ip0, ip1}; }, 20s));
  CHECK(eventually([&] { return served() == std::set<std::string>{"web-0", "web-1"}; }, 20s));
  CHECK(d.vm("web-1").value("pid", 0) == pid1);
  CHECK(d.vm("web-1").value("restarts", 0) == 0);
  d.ok("lb delete web-lb");
}

} // namespace volant::e2e

namespace volant::e2e {

TEST_CASE("a deployment's own readiness check (YAML readinessCheck, deployments update "
          "--readiness-http) keeps a running VM of a plugin without one out of DNS until "
          "its workload is ready; --no-readiness-check hands READY back; all in place") {
  auto dns_at = std::string("127.78.163.253");
  daemon d({.pool_octet = 163, .extra = {"--dns-listen", dns_at + ":5353"}});
  d.install(httpd_manifest()); // neither a health nor a readiness check
  auto yaml = d.scratch("web.yaml");
  std::ofstream(yaml) << "apiVersion: volant.io/v1\nkind: Deployment\nmetadata:\n"
                         "  name: web\nspec:\n  replicas: 1\n  plugin: e2e-httpd\n"
                         "  readinessCheck:\n    http: {port: 80, path: /ready.html, "
                         "intervalSeconds: 1, unhealthyThreshold: 1}\n";
  d.ok("apply -f " + sh_quote(yaml));
  auto answer = [&] { return web_answer(dns_at); };
  auto status = [&] { return d.vm("web-0").value("status", ""); };
  // The readiness probe of web-0 has failed `n` times in a row (`vms show`).
  auto failed = [&](int n) {
    auto vm = d.try_json("vms show web-0");
    return vm && vm->contains("probe") && (*vm)["probe"].value("failures_in_row", 0) >= n;
  };
  // The workload serves, but there is no /ready.html: running, not READY, not in DNS.
  REQUIRE_MESSAGE(eventually([&] { return failed(3); }, 30s), d.log_tail());
  auto ip = d.vm("web-0").value("ip", "");
  auto page = http_get(ip, 80, "/", 2s);
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(status() == "running");
  CHECK(answer().empty());
  auto shown = d.ok("deployments show web");
  CHECK_MESSAGE(shown.find("Readiness check:  http :80/ready.html every 1s") != std::string::npos,
                shown);
  auto spec = d.get_json("deployments show web")["spec"];
  CHECK(spec["tmpl"]["readiness"]["probe"]["path"] == "/ready.html");
  // The workload turns ready: READY, and in DNS.
  std::ofstream(d.vm_dir("web-0") + "/www/ready.html") << "ready\n";
  CHECK(eventually([&] { return status() == "ready"; }, 30s));
  CHECK(eventually([&] { return answer() == std::set<std::string>{ip}; }, 20s));
  auto pid = d.vm("web-0").value("pid", 0);
  // A new readiness check from the CLI, which the workload fails: out of DNS,
  // running, the same process (an in-place update, no VM recreated).
  d.ok("deployments update web --readiness-http 80:/gone.html --readiness-interval 1 "
       "--readiness-threshold 1");
  CHECK(eventually([&] { return status() == "running"; }, 30s));
  CHECK(eventually([&] { return answer().empty(); }, 20s));
  CHECK(d.vm("web-0").value("pid", 0) == pid);
  CHECK(d.vm("web-0").value("revision", 0) == 2);
  // No readiness check apart from the health check (and the plugin has none):
  // READY again as it runs.
  d.ok("deployments update web --no-readiness-check");
  CHECK(eventually([&] { return status() == "ready"; }, 30s));
  CHECK(eventually([&] { return answer() == std::set<std::string>{ip}; }, 20s));
  CHECK(d.vm("web-0").value("pid", 0) == pid);
  CHECK(d.vm("web-0").value("restarts", 0) == 0);
  CHECK(d.ok("deployments show web").find("Readiness check:  none: the health check decides READY")
        != std::string::npos);
}

} // namespace volant::e2e
