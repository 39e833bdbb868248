// Replica management and crash recovery: a workload that dies is replaced in
// place; `kill -9` of volantd leaves the workloads serving and a restarted daemon
// adopts them (never two copies of one VM) with every acknowledged command in
// effect.

#include "e2e/e2e.hpp"

#include <signal.h>

#include <algorithm>
#include <map>

namespace volant::e2e {

namespace {

std::map<std::string, int> pids_of(const json& vms) {
  std::map<std::string, int> out;
  for (const auto& vm : vms)
    out[vm.value("name", "")] = vm.value("pid", 0);
  return out;
}

/// The RESTARTS column of `vms list` for one VM.
std::string restarts_column(const daemon& d, const std::string& vm) {
  auto lines = lines_of(d.ok("vms list"));
  if (lines.empty())
    return "";
  auto header = fields_of(lines[0]);
  auto col = std::find(header.begin(), header.end(), "RESTARTS") - header.begin();
  for (const auto& line : lines) {
    auto f = fields_of(line);
    if (!f.empty() && f[0] == vm && static_cast<std::size_t>(col) < f.size())
      return f[static_cast<std::size_t>(col)];
  }
  return "";
}

/// desired/current/ready/created_at of every deployment.
std::map<std::string, std::string> list_summary(const daemon& d) {
  std::map<std::string, std::string> out;
  for (const auto& dep : d.deployments())
    out[dep.value("name", "")] = std::to_string(dep.value("desired", -1)) + "/"
                                 + std::to_string(dep.value("current", -1)) + "/"
                                 + std::to_string(dep.value("ready", -1)) + " "
                                 + dep.value("created_at", "");
  return out;
}

void check_one_process_per_vm(const daemon& d) {
  for (const auto& vm : d.vms()) {
    auto name = vm.value("name", "");
    auto pids = d.vm_pids(name);
    CHECK_MESSAGE(pids == std::vector<int>{vm.value("pid", 0)},
                  name << ": " << pids.size() << " processes, daemon says pid "
                       << vm.value("pid", 0));
    CHECK_MESSAGE(listeners_on(vm.value("ip", ""), 80) == 1, name);
  }
}

} // namespace

TEST_CASE("A workload killed with kill -9 is replaced: new pid, same name and IP, RESTARTS + 1") {
  daemon d({.pool_octet = 21});
  d.install(httpd_manifest());
  REQUIRE(d.volar("deployments create web --plugin e2e-httpd --replicas 3 --wait --timeout 30")
              .exit_code == 0);
  auto before = d.vms("--deployment web");
  auto victim = d.vm("web-1");
  REQUIRE(victim.is_object());
  int old_pid = victim.value("pid", 0);
  auto ip = victim.value("ip", "");
  REQUIRE(old_pid > 0);
  CHECK(victim.value("restarts", -1) == 0);
  CHECK(restarts_column(d, "web-1") == "0");
  REQUIRE(http_body_eventually(ip) == "web-1\n");

  REQUIRE(::kill(old_pid, SIGKILL) == 0);
  json after;
  bool replaced = eventually(
      [&] {
        after = d.vm("web-1");
        return after.is_object() && after.value("pid", 0) > 0 && after.value("pid", 0) != old_pid
               && after.value("status", "") == "ready";
      },
      30s, 100ms);
  REQUIRE_MESSAGE(replaced, "web-1 not replaced: " << after.dump() << "\n" << d.log_tail());
  CHECK(after.value("name", "") == "web-1");
  CHECK(after.value("ip", "") == ip);
  CHECK(after.value("restarts", -1) == 1);
  CHECK(restarts_column(d, "web-1") == "1");
  CHECK_FALSE(pid_alive(old_pid));
  CHECK(http_body_eventually(ip) == "web-1\n");
  CHECK(d.vm_pids("web-1") == std::vector<int>{after.value("pid", 0)});
  // The other replicas were left alone.
  for (const auto& vm : before) {
    if (vm.value("name", "") == "web-1")
      continue;
    auto now = d.vm(vm.value("name", ""));
    CHECK(now.value("pid", 0) == vm.value("pid", 0));
    CHECK(now.value("restarts", -1) == 0);
  }
  CHECK(d.settled("web", 3, 5s));
}

TEST_CASE("With --no-auto-restart a killed workload is left exited and not replaced") {
  daemon d({.pool_octet = 22});
  d.install(httpd_manifest());
  REQUIRE(d.volar("deployments create once --plugin e2e-httpd --replicas 2 --no-auto-restart "
                  "--wait --timeout 30")
              .exit_code == 0);
  auto victim = d.vm("once-0");
  int old_pid = victim.value("pid", 0);
  REQUIRE(old_pid > 0);
  REQUIRE(::kill(old_pid, SIGKILL) == 0);
  json after;
  CHECK_MESSAGE(eventually(
                    [&] {
                      after = d.vm("once-0");
                      return after.value("status", "") == "exited";
                    },
                    15s),
                after.dump());
  // Several reconcile periods (500 ms) later it is still not restarted.
  std::this_thread::sleep_for(2s);
  after = d.vm("once-0");
  CHECK(after.value("status", "") == "exited");
  CHECK(after.value("restarts", -1) == 0);
  CHECK(d.vm_pids("once-0").empty());
  CHECK_FALSE(http_get(victim.value("ip", ""), 80, "/", 500ms).has_value());
  auto dep = d.deployment("once");
  CHECK(dep.value("desired", -1) == 2);
  CHECK(dep.value("ready", -1) == 1);
}

TEST_CASE("After kill -9 of volantd the workloads keep serving and a restarted daemon adopts them") {
  daemon d({.pool_octet = 23});
  d.install(httpd_manifest());
  REQUIRE(d.volar("deployments create web --plugin e2e-httpd --replicas 3 --wait --timeout 30")
              .exit_code == 0);
  REQUIRE(d.volar("deployments create api --plugin e2e-httpd --replicas 2 --wait --timeout 30")
              .exit_code == 0);
  auto vms = d.vms();
  REQUIRE(vms.size() == 5);
  auto pids = pids_of(vms);
  auto summary = list_summary(d);

  // A command acknowledged right before the crash.
  auto r = d.volar("deployments scale api --replicas 4");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out == "deployment api scaled to 4\n");
  d.kill9();

  // No daemon: every workload still answers on its own IP.
  for (const auto& vm : vms) {
    auto name = vm.value("name", "");
    CHECK_MESSAGE(pid_alive(pids[name]), name);
    CHECK_MESSAGE(http_body_eventually(vm.value("ip", ""), "/", 3s) == name + "\n", name);
  }
  // volar says the daemon is not there.
  auto down = d.volar("deployments list");
  CHECK(down.exit_code == 3);
  CHECK_MESSAGE(one_line(down.err), down.err);

  d.start();
  // The acknowledged scale is in effect and carried out; the old workloads adopted.
  CHECK_MESSAGE(d.settled("api", 4), d.ok("vms list") << d.log_tail());
  CHECK_MESSAGE(d.settled("web", 3), d.ok("vms list") << d.log_tail());
  auto after = pids_of(d.vms());
  for (const auto& [name, pid] : pids) {
    CHECK_MESSAGE(after[name] == pid, name << " was " << pid << ", now " << after[name]);
    CHECK(d.vm(name).value("restarts", -1) == 0);
  }
  check_one_process_per_vm(d);
  auto now = list_summary(d);
  CHECK(now["web"] == summary["web"]);
  CHECK(now["api"].substr(0, 5) == "4/4/4");
  CHECK(now["api"].substr(6) == summary["api"].substr(6)); // same created_at

  // A second crash with everything steady: the same pids, the same list.
  auto steady = pids_of(d.vms());
  auto steady_summary = list_summary(d);
  d.kill9();
  d.start();
  CHECK(d.settled("web", 3));
  CHECK(d.settled("api", 4));
  CHECK(pids_of(d.vms()) == steady);
  CHECK(list_summary(d) == steady_summary);
  check_one_process_per_vm(d);
  for (const auto& vm : d.vms())
    CHECK(http_body_eventually(vm.value("ip", "")) == vm.value("name", "") + "\n");
}

TEST_CASE("A workload that died while volantd was down is replaced after the restart") {
  daemon d({.pool_octet = 24});
  d.install(httpd_manifest());
  REQUIRE(d.volar("deployments create web --plugin e2e-httpd --replicas 3 --wait --timeout 30")
              .exit_code == 0);
  auto pids = pids_of(d.vms());
  d.kill9();
  REQUIRE(::kill(pids["web-2"], SIGKILL) == 0);
  CHECK(eventually([&] { return !pid_alive(pids["web-2"]); }, 5s));
  d.start();
  REQUIRE_MESSAGE(d.settled("web", 3), d.ok("vms list") << d.log_tail());
  auto after = pids_of(d.vms());
  CHECK(after["web-0"] == pids["web-0"]);
  CHECK(after["web-1"] == pids["web-1"]);
  CHECK(after["web-2"] != pids["web-2"]);
  check_one_process_per_vm(d);
  CHECK(http_body_eventually(d.vm("web-2").value("ip", "")) == "web-2\n");
}

TEST_CASE("Commands acknowledged just before kill -9 are in effect after the restart") {
  daemon d({.pool_octet = 25});
  d.install(httpd_manifest());
  REQUIRE(d.volar("deployments create web --plugin e2e-httpd --replicas 2 --wait --timeout 30")
              .exit_code == 0);
  // create, scale down, delete: each acknowledged, then the crash straight away.
  REQUIRE(d.volar("deployments create extra --plugin e2e-httpd --replicas 2").exit_code == 0);
  REQUIRE(d.volar("deployments scale web --replicas 1").exit_code == 0);
  REQUIRE(d.volar("deployments create gone --plugin e2e-httpd --replicas 1").exit_code == 0);
  REQUIRE(d.volar("deployments delete gone --force").exit_code == 0);
  d.kill9();
  d.start();
  CHECK_MESSAGE(d.settled("web", 1), d.ok("vms list") << d.log_tail());
  CHECK_MESSAGE(d.settled("extra", 2), d.ok("vms list") << d.log_tail());
  CHECK(d.deployment("gone").is_null());
  CHECK(eventually([&] { return d.vms_of("gone").empty(); }, 15s));
  CHECK(eventually([&] { return d.vms().size() == 3; }, 15s));
  check_one_process_per_vm(d);
  // Nothing of the deleted or scaled-away replicas still runs.
  CHECK_MESSAGE(
      eventually([&] { return d.vm_pids("gone-0").empty() && d.vm_pids("web-1").empty(); },
                 15s),
      "gone-0: " << d.vm_pids("gone-0").size() << " processes, web-1: "
                 << d.vm_pids("web-1").size() << " processes\n"
                 << d.ok("vms list") << d.log_tail(60));
}

TEST_CASE("A deployment deleted right before kill -9 leaves no workload running after the restart") {
  // The delete is acknowledged while its replicas are still being started; the
  // crash follows at once. After the restart none of them may still run (they
  // would hold addresses the pool has handed back).
  daemon d({.pool_octet = 26});
  d.install(httpd_manifest());
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    auto name = "gone" + std::to_string(round);
    REQUIRE(d.volar("deployments create " + name + " --plugin e2e-httpd --replicas 20")
                .exit_code == 0);
    REQUIRE(d.volar("deployments delete " + name + " --force").exit_code == 0);
    d.kill9();
    d.start();
    CHECK(d.deployment(name).is_null());
    CHECK(eventually([&] { return d.vms().empty(); }, 20s));
    std::vector<int> left;
    bool clean = eventually(
        [&] {
          left = d.workload_pids();
          return left.empty();
        },
        10s, 200ms);
    std::string who;
    for (int pid : left)
    {
      auto cmdline = test::read_file("/proc/" + std::to_string(pid) + "/cmdline");
      std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
      who += "\n  " + std::to_string(pid) + ": " + cmdline;
    }
    CHECK_MESSAGE(clean, left.size() << " workload processes of the deleted deployment still run:"
                                     << who);
    // Clean up for the next round, so that rounds are independent.
    for (int pid : left)
      ::kill(pid, SIGKILL);
    if (!clean)
      break;
  }
}

} // namespace volant::e2e
