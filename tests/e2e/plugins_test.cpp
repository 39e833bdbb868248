// The plugins shipped in examples/plugins/, with their HTTP health checks: the
// replicas become READY only once volantd's probes see GET /health answer.

#include "e2e/e2e.hpp"

#include <filesystem>

namespace volant::e2e {

namespace {

void check_serves(const daemon& d, const std::string& dep, int n, const std::string& root_body_prefix) {
  auto vms = d.vms("--deployment " + dep);
  CHECK(vms.size() == static_cast<std::size_t>(n));
  for (const auto& vm : vms) {
    auto name = vm.value("name", "");
    auto ip = vm.value("ip", "");
    CAPTURE(name);
    CHECK(vm.value("status", "") == "ready");
    auto health = http_get(ip, 80, "/health");
    REQUIRE(health.has_value());
    CHECK(health->status == 200);
    CHECK(health->body == "ok\n");
    auto root = http_body_eventually(ip, "/");
    CHECK_MESSAGE(root.rfind(name + root_body_prefix, 0) == 0, root);
  }
}

} // namespace

TEST_CASE("The shipped nginx plugin runs the spec's Quick Start with every replica READY") {
  daemon d({.pool_octet = 71});
  d.install_file(examples_dir() + "/plugins/nginx.manifest.json");
  auto r = d.volar("deployments create web --plugin nginx --replicas 3 --wait --timeout 60");
  CHECK_MESSAGE(r.exit_code == 0, r.err << d.ok("vms list") << d.log_tail());
  REQUIRE_MESSAGE(d.settled("web", 3, 5s), d.ok("deployments list") << d.ok("vms list"));
  check_serves(d, "web", 3, " /");

  r = d.volar("deployments scale web --replicas 10 --wait --timeout 60");
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  REQUIRE(d.settled("web", 10, 5s));
  check_serves(d, "web", 10, " /");

  r = d.volar("deployments scale web --replicas 2 --wait --timeout 60");
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  REQUIRE(d.settled("web", 2, 10s));
  check_serves(d, "web", 2, " /");
  // nginx runs a master and a worker: the whole process group is stopped.
  for (int i = 3; i <= 10; ++i)
    CHECK(eventually([&] { return listeners_on(d.ip(i), 80) == 0; }, 10s));

  auto pids = d.workload_pids();
  CHECK(pids.size() >= 2);
  r = d.volar("deployments delete web");
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(eventually([&] { return d.vms().empty(); }, 20s));
  CHECK_MESSAGE(eventually([&] { return d.workload_pids().empty(); }, 10s),
                d.workload_pids().size() << " processes left");
  for (int pid : pids)
    CHECK_FALSE(pid_alive(pid));
}

TEST_CASE("The shipped busybox-httpd plugin becomes READY and serves its name and /health") {
  daemon d({.pool_octet = 72});
  d.install_file(examples_dir() + "/plugins/busybox-httpd.manifest.json");
  auto r = d.volar("deployments create tiny --plugin busybox-httpd --replicas 3 --wait --timeout 60");
  CHECK_MESSAGE(r.exit_code == 0, r.err << d.ok("vms list") << d.log_tail());
  REQUIRE_MESSAGE(d.settled("tiny", 3, 5s), d.ok("deployments list") << d.ok("vms list"));
  check_serves(d, "tiny", 3, "\n");
}

TEST_CASE("A busybox-httpd replica whose /health fails is marked unhealthy and restarted") {
  daemon d({.pool_octet = 73});
  d.install_file(examples_dir() + "/plugins/busybox-httpd.manifest.json");
  auto r = d.volar("deployments create tiny --plugin busybox-httpd --replicas 2 --wait --timeout 60");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.ok("vms list") << d.log_tail());
  auto victim = d.vm("tiny-0");
  int old_pid = victim.value("pid", 0);
  // The manifest says: delete www/health to make the check fail.
  std::filesystem::remove(d.run_dir() + "/tiny-0/www/health");
  json now;
  CHECK_MESSAGE(eventually(
                    [&] {
                      now = d.vm("tiny-0");
                      return now.value("restarts", 0) >= 1 && now.value("pid", 0) != old_pid
                             && now.value("status", "") == "ready";
                    },
                    45s, 250ms),
                now.dump() << d.log_tail());
  // The restarted workload recreated its health file and serves again.
  CHECK(http_body_eventually(now.value("ip", ""), "/health") == "ok\n");
  CHECK(d.vm("tiny-1").value("restarts", -1) == 0);
}

} // namespace volant::e2e
