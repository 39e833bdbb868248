// Health checks, auto-restart with back-off and the supervisor tree, with real
// workloads: HTTP, TCP and process checks that are made to fail for real, a
// crash-looping workload, and actors crashed through the test hook.

#include "e2e/e2e.hpp"

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace volant::e2e {

namespace {

/// The VM's events (kinds, in order) from the log, read while the daemon runs.
std::vector<std::string> vm_events(const daemon& d, const std::string& vm) {
  auto r = test::run(replay_bin() + " events --json --aggregate vm/" + vm + " --data-dir "
                     + sh_quote(d.dir()));
  std::vector<std::string> kinds;
  for (const auto& line : lines_of(r.out))
    kinds.push_back(json::parse(line).value("event", ""));
  return kinds;
}

/// The actors of every actor_crashed event in the log, in order.
std::vector<std::string> crashed_actors(const daemon& d) {
  std::vector<std::string> actors;
  for (const auto& j : d.journal()) {
    if (j.value("event", "") == "actor_crashed")
      actors.push_back(j["fields"].value("actor", ""));
  }
  return actors;
}

/// Whether `want` occurs in `have` in this order (not necessarily adjacent).
bool in_order(const std::vector<std::string>& have, const std::vector<std::string>& want) {
  std::size_t i = 0;
  for (const auto& k : have)
    if (i < want.size() && k == want[i])
      ++i;
  return i == want.size();
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v)
    out += s + " ";
  return out;
}

/// A workload whose main process is `tail -f /dev/null` with busybox httpd as its
/// child, so the server can die while the workload lives on; checked by `kind`:
/// http (GET /health), tcp (port 80) or process ("busybox").
json checked_manifest(const std::string& name, const std::string& kind,
                      int interval = 1, int threshold = 2) {
  json check = {{"enabled", true}};
  json timing = {{"interval_seconds", interval},
                 {"timeout_seconds", 1},
                 {"unhealthy_threshold", threshold}};
  if (kind == "http") {
    timing["port"] = 80;
    timing["path"] = "/health";
    check["http"] = timing;
  } else if (kind == "tcp") {
    timing["port"] = 80;
    check["tcp"] = timing;
  } else {
    timing["name"] = "busybox";
    check["process"] = timing;
  }
  return {{"name", name},
          {"version", "1.0.0"},
          {"workload",
           {{"entrypoint",
             {"/bin/sh", "-c",
              "mkdir -p \"$VOLANT_VM_DIR/www\" "
              "&& { [ -e \"$VOLANT_VM_DIR/broken\" ] || echo ok > \"$VOLANT_VM_DIR/www/health\"; } "
              "&& echo \"$VOLANT_VM_NAME\" > \"$VOLANT_VM_DIR/www/index.html\" "
              "&& { busybox httpd -f -p \"$VOLANT_IP:80\" -h \"$VOLANT_VM_DIR/www\" & } "
              "&& exec tail -f /dev/null"}},
            {"health_check", check}}}};
}

/// A workload of `checked_manifest` that a restart in place does not heal: it
/// serves no /health while its VM directory holds `broken` (a recreate starts
/// with a fresh directory).
void break_for_good(const daemon& d, const std::string& vm) {
  std::ofstream(d.run_dir() + "/" + vm + "/broken") << "x\n";
  std::filesystem::remove(d.run_dir() + "/" + vm + "/www/health");
}

/// Installs a `kind`-checked plugin `plugin` and creates deployment `name` with
/// `replicas` (plus `flags`), waiting until it is ready.
void deploy_checked(daemon& d, const std::string& plugin, const std::string& kind,
                    const std::string& name, int replicas, const std::string& flags = "") {
  d.install(checked_manifest(plugin, kind));
  auto r = d.volar("deployments create " + name + " --plugin " + plugin + " --replicas "
                   + std::to_string(replicas) + " " + flags + " --wait --timeout 30");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
}

/// Waits until `vm` was restarted `restarts` times and is ready again.
json ready_after_restarts(const daemon& d, const std::string& vm, int restarts,
                          std::chrono::milliseconds timeout = 30s) {
  json now;
  bool ok = eventually(
    [&] {
      now = d.vm(vm);
      return now.is_object() && now.value("restarts", 0) >= restarts
             && now.value("status", "") == "ready";
    },
    timeout, 100ms);
  CHECK_MESSAGE(ok, vm << " not ready after " << restarts << " restart(s): " << now.dump()
                       << "\n" << d.log_tail());
  return now;
}

/// Kills the child of `parent` whose command is `comm`.
bool kill_child_named(int parent, const std::string& comm) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    auto close = line.rfind(')');
    if (close == std::string::npos)
      continue;
    auto open = line.find('(');
    auto fields = fields_of(line.substr(close + 2));
    if (fields.size() > 1 && std::stoi(fields[1]) == parent
        && line.substr(open + 1, close - open - 1) == comm)
      return ::kill(std::stoi(name), SIGKILL) == 0;
  }
  return false;
}

} // namespace

TEST_CASE("A failing HTTP check makes the VM unhealthy, restarts it in place and it is ready "
          "again") {
  daemon d({.pool_octet = 61});
  deploy_checked(d, "hc-http", "http", "web", 2);
  auto before = d.vm("web-1");
  auto ip = before.value("ip", "");
  REQUIRE(http_get(ip, 80, "/health").value_or(http_reply{}).status == 200);

  std::filesystem::remove(d.run_dir() + "/web-1/www/health");
  bool went_unhealthy = eventually([&] {
    auto kinds = vm_events(d, "web-1");
    return std::find(kinds.begin(), kinds.end(), "vm_unhealthy") != kinds.end();
  });
  REQUIRE_MESSAGE(went_unhealthy, d.log_tail());
  auto after = ready_after_restarts(d, "web-1", 1);
  CHECK(after.value("ip", "") == ip);
  CHECK(after.value("name", "") == "web-1");
  CHECK(after.value("pid", 0) != before.value("pid", 0));
  CHECK(http_get(ip, 80, "/health").value_or(http_reply{}).status == 200);
  auto kinds = vm_events(d, "web-1");
  CHECK_MESSAGE(in_order(kinds, {"vm_created", "vm_started", "vm_ready", "vm_unhealthy",
                                 "vm_restart_scheduled", "vm_started", "vm_ready"}),
                join(kinds));
  // The healthy replica was never touched.
  CHECK(d.vm("web-0").value("restarts", -1) == 0);
  // `deployments show` names the failure that caused the restart.
  auto show = d.ok("deployments show web");
  CHECK(show.find("HTTP 404") != std::string::npos);
}

TEST_CASE("Changing only the health check is applied in place: a new revision, the "
          "same VMs, and the new check in effect") {
  daemon d({.pool_octet = 127});
  deploy_checked(d, "hc-inplace", "http", "web", 2);
  auto before = d.vms("--deployment web");
  REQUIRE(before.size() == 2);
  auto revision = d.deployment("web").value("revision", 0);

  auto out = d.ok("deployments update web --health-http 80:/nosuch --health-interval 1 "
                  "--health-threshold 2");
  CHECK_MESSAGE(out.find("deployment web updated") != std::string::npos, out);
  // Right after the update: the same processes, already at the new revision.
  auto after = d.vms("--deployment web");
  REQUIRE(after.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(after[i].value("pid", 0) == before[i].value("pid", 0));
    CHECK(after[i].value("revision", 0) == revision + 1);
  }
  CHECK(d.deployment("web").value("revision", 0) == revision + 1);
  auto explained = d.ok("shell -c 'explain web'");
  CHECK_MESSAGE(explained.find("health or readiness check only: in place") != std::string::npos, explained);
  // The new check is the one probing: /nosuch answers 404, so web-0 turns
  // unhealthy, and it was not recreated or restarted before that.
  std::vector<std::string> kinds;
  CHECK_MESSAGE(eventually([&] {
                  kinds = vm_events(d, "web-0");
                  return std::find(kinds.begin(), kinds.end(), "vm_unhealthy") != kinds.end();
                }),
                join(kinds) << "\n" << d.log_tail());
  auto first_unhealthy = std::find(kinds.begin(), kinds.end(), "vm_unhealthy");
  CHECK_MESSAGE(std::find(kinds.begin(), first_unhealthy, "vm_recreated") == first_unhealthy,
                join(kinds));
  CHECK_MESSAGE(std::count(kinds.begin(), first_unhealthy, "vm_started") == 1, join(kinds));
}

TEST_CASE("A VM that a restart in place does not heal is recreated, its restarts and "
          "back-off carried over") {
  daemon d({.pool_octet = 69});
  deploy_checked(d, "hc-recreate", "http", "web", 1);
  auto before = d.vm("web-0");
  break_for_good(d, "web-0");
  auto after = ready_after_restarts(d, "web-0", 2, 60s);
  CHECK(after.value("name", "") == "web-0");
  CHECK(after.value("pid", 0) != before.value("pid", 0));
  CHECK(after.value("last_error", "").find("recreated: HTTP 404 (again after a restart)")
        != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(d.run_dir() + "/web-0/broken"));
  // Recreated in place: a fresh VM under the same name, index and IP.
  CHECK(after.value("ip", "") == before.value("ip", ""));
  auto kinds = vm_events(d, "web-0");
  CHECK_MESSAGE(in_order(kinds, {"vm_ready", "vm_unhealthy", "vm_restart_scheduled",
                                 "vm_started", "vm_unhealthy", "vm_recreated", "vm_started",
                                 "vm_ready"}),
                join(kinds));
  // `vms show` tells the story.
  auto show = d.ok("vms show web-0");
  CHECK(show.find("recreated") != std::string::npos);
}

TEST_CASE("A VM restarted in place that is not ready within --ready-deadline-ms is "
          "recreated") {
  daemon d({.pool_octet = 70, .extra = {"--ready-deadline-ms", "1000"}});
  d.install(checked_manifest("hc-deadline", "http", 1, 3));
  REQUIRE(d.volar("deployments create web --plugin hc-deadline --replicas 1 --wait "
                  "--timeout 30")
            .exit_code
          == 0);
  break_for_good(d, "web-0");
  // Unhealthy after 3 failures -> restarted; the restarted VM does not pass its
  // check within 1 s (its start-up failures are not even counted yet) -> recreated.
  auto after = ready_after_restarts(d, "web-0", 2, 60s);
  CHECK(after.value("last_error", "").find("not ready within 1 s of its restart")
        != std::string::npos);
  auto kinds = vm_events(d, "web-0");
  CHECK_MESSAGE(in_order(kinds, {"vm_unhealthy", "vm_restart_scheduled", "vm_started",
                                 "vm_recreated", "vm_started", "vm_ready"}),
                join(kinds));
}

TEST_CASE("A VM whose workload cannot be started is recreated with a growing back-off, "
          "the reason in vms show") {
  daemon d({.pool_octet = 74});
  d.install({{"name", "missing-binary"},
             {"version", "1.0.0"},
             {"workload", {{"entrypoint", {"/nonexistent/volant-e2e-binary"}}}}});
  REQUIRE(d.volar("deployments create broken --plugin missing-binary --replicas 1").exit_code
          == 0);
  json vm;
  bool backing_off = eventually(
    [&] {
      vm = d.vm("broken-0");
      return vm.is_object() && vm.value("restarts", 0) >= 3 && vm.value("backoff_ms", 0) >= 2000;
    },
    30s, 100ms);
  REQUIRE_MESSAGE(backing_off, vm.dump() << "\n" << d.log_tail());
  CHECK(vm.value("last_error", "").find(
          "cannot run /nonexistent/volant-e2e-binary: No such file or directory")
        != std::string::npos);
  auto kinds = vm_events(d, "broken-0");
  CHECK_MESSAGE(in_order(kinds, {"vm_created", "vm_start_failed", "vm_recreated",
                                 "vm_start_failed", "vm_recreated"}),
                join(kinds));
  // Not a tight loop: the back-off holds the next attempt.
  auto restarts = vm.value("restarts", 0);
  std::this_thread::sleep_for(1s);
  CHECK(d.vm("broken-0").value("restarts", 0) <= restarts + 1);
  CHECK(d.ok("vms show broken-0").find("No such file or directory") != std::string::npos);
}

TEST_CASE("A TCP check fails when the port closes and the VM is restarted") {
  daemon d({.pool_octet = 62});
  deploy_checked(d, "hc-tcp", "tcp", "db", 1);
  auto before = d.vm("db-0");
  auto ip = before.value("ip", "");
  REQUIRE(listeners_on(ip, 80) == 1);
  // The server dies, the workload (its parent) lives on: only the check can tell.
  REQUIRE(kill_child_named(before.value("pid", 0), "busybox"));
  bool unhealthy = eventually([&] {
    auto kinds = vm_events(d, "db-0");
    return std::find(kinds.begin(), kinds.end(), "vm_unhealthy") != kinds.end();
  });
  REQUIRE_MESSAGE(unhealthy, d.log_tail());
  auto after = ready_after_restarts(d, "db-0", 1);
  CHECK(after.value("pid", 0) != before.value("pid", 0));
  CHECK(listeners_on(ip, 80) == 1);
  CHECK(after.value("last_error", "").find("refused") != std::string::npos);
}

TEST_CASE("A process check fails when the named process is gone and the VM is restarted") {
  daemon d({.pool_octet = 63});
  deploy_checked(d, "hc-proc", "process", "worker", 1);
  auto before = d.vm("worker-0");
  int pid = before.value("pid", 0);
  REQUIRE(kill_child_named(pid, "busybox"));
  bool unhealthy = eventually([&] {
    auto kinds = vm_events(d, "worker-0");
    return std::find(kinds.begin(), kinds.end(), "vm_unhealthy") != kinds.end();
  });
  REQUIRE_MESSAGE(unhealthy, d.log_tail());
  auto after = ready_after_restarts(d, "worker-0", 1);
  CHECK(after.value("pid", 0) != pid);
  CHECK_FALSE(pid_alive(pid));
}

TEST_CASE("A workload that crashes at once is restarted with a growing, visible back-off") {
  daemon d({.pool_octet = 64});
  d.install({{"name", "crasher"},
             {"version", "1.0.0"},
             {"workload", {{"entrypoint", {"/bin/sh", "-c", "echo boom; exit 3"}}}}});
  REQUIRE(d.volar("deployments create loop --plugin crasher --replicas 1").exit_code == 0);
  json vm;
  bool backing_off = eventually(
    [&] {
      vm = d.vm("loop-0");
      return vm.value("restarts", 0) >= 3 && vm.value("backoff_ms", 0) >= 2000;
    },
    30s, 100ms);
  REQUIRE_MESSAGE(backing_off, vm.dump() << "\n" << d.log_tail());
  CHECK(vm.value("last_error", "").find("exited with status 3") != std::string::npos);
  auto restarts = vm.value("restarts", 0);
  // While backing off it does not restart faster than the back-off says.
  std::this_thread::sleep_for(1s);
  CHECK(d.vm("loop-0").value("restarts", 0) <= restarts + 1);
  // The human views show it too.
  auto list = d.ok("vms list --deployment loop");
  CHECK(list.find("RESTARTS") != std::string::npos);
  CHECK(d.ok("vms logs loop-0").find("boom") != std::string::npos);
}

TEST_CASE("With auto-restart off an unhealthy VM stays for inspection until it is turned on") {
  daemon d({.pool_octet = 65});
  deploy_checked(d, "hc-keep", "http", "web", 1, "--no-auto-restart");
  auto before = d.vm("web-0");
  std::filesystem::remove(d.run_dir() + "/web-0/www/health");
  json vm;
  REQUIRE_MESSAGE(eventually([&] {
                    vm = d.vm("web-0");
                    return vm.value("status", "") == "unhealthy";
                  }),
                  vm.dump());
  std::this_thread::sleep_for(3s); // several intervals: it must stay as it is
  vm = d.vm("web-0");
  CHECK(vm.value("status", "") == "unhealthy");
  CHECK(vm.value("restarts", -1) == 0);
  CHECK(vm.value("pid", 0) == before.value("pid", 0));
  CHECK(pid_alive(before.value("pid", 0)));
  // The probe keeps checking, and its latest samples are visible live (they are
  // never journaled one by one).
  auto shown = d.ok("vms show web-0");
  CHECK_MESSAGE(shown.find("Recent checks") != std::string::npos, shown);
  CHECK_MESSAGE(shown.find("FAIL") != std::string::npos, shown);
  CHECK_MESSAGE(shown.find("HTTP 404") != std::string::npos, shown);
  auto live = json::parse(d.ok("vms show web-0 --json"));
  REQUIRE(live.contains("probe"));
  CHECK(live["probe"]["samples"].size() >= 1);
  CHECK(live["probe"]["verdict"] == "unhealthy");

  // The spec's troubleshooting sequence: fix, re-enable.
  REQUIRE(d.volar("deployments update web --auto-restart").exit_code == 0);
  auto after = ready_after_restarts(d, "web-0", 1);
  CHECK(after.value("pid", 0) != before.value("pid", 0));
  CHECK(d.volar("deployments update web --no-auto-restart").exit_code == 0);
}

TEST_CASE("Crashed VM, probe, deployment and controller actors are restarted without "
          "touching the workload") {
  daemon d({.pool_octet = 66, .extra = {"--enable-crash-hook"}});
  deploy_checked(d, "hc-crash", "http", "web", 2);
  auto pid0 = d.vm("web-0").value("pid", 0);
  auto pid1 = d.vm("web-1").value("pid", 0);
  auto crashes = [&] { return crashed_actors(d); };
  for (std::string target : {"vm/web-0", "probe/web-1", "deployment/web", "controller"}) {
    CAPTURE(target);
    REQUIRE(d.volar("debug crash " + target).exit_code == 0);
    REQUIRE_MESSAGE(eventually([&] {
                      auto c = crashes();
                      return std::find(c.begin(), c.end(), target) != c.end();
                    }),
                    d.log_tail());
    CHECK(d.settled("web", 2, 10s));
    CHECK(d.vm("web-0").value("pid", 0) == pid0);
    CHECK(d.vm("web-1").value("pid", 0) == pid1);
    CHECK(d.vm("web-0").value("restarts", -1) == 0);
  }
  // The restarted probe of web-1 still works: a failure is noticed and healed.
  std::filesystem::remove(d.run_dir() + "/web-1/www/health");
  auto healed = ready_after_restarts(d, "web-1", 1);
  CHECK(healed.value("pid", 0) != pid1);
  // Without the hook the request is refused.
  daemon plain({.pool_octet = 67});
  auto refused = plain.volar("debug crash controller");
  CHECK(refused.exit_code != 0);
  CHECK(one_line(refused.err));
}

TEST_CASE("A VM actor that keeps crashing escalates to its deployment; the workload lives "
          "on") {
  daemon d({.pool_octet = 68, .extra = {"--enable-crash-hook"}});
  deploy_checked(d, "hc-escalate", "http", "web", 1);
  auto pid = d.vm("web-0").value("pid", 0);
  auto crashes_of = [&](const std::string& actor) {
    auto all = crashed_actors(d);
    return std::count(all.begin(), all.end(), actor);
  };
  // Crash the VM actor again each time it is back (its restarts back off).
  bool escalated = eventually(
    [&] {
      if (crashes_of("deployment/web") > 0)
        return true;
      d.volar("debug crash vm/web-0");
      return false;
    },
    60s, 200ms);
  REQUIRE_MESSAGE(escalated, d.log_tail());
  CHECK(crashes_of("vm/web-0") >= 10);
  CHECK(d.settled("web", 1, 20s));
  CHECK(d.vm("web-0").value("pid", 0) == pid);
  CHECK(d.log().find("keeps crashing") != std::string::npos);
}

} // namespace volant::e2e
