// The VM lifecycle as a user sees it when commands come quickly one after
// another, when the daemon restarts under VMs with health checks, when a
// replica is recreated, and when a name is reused: regression tests for what
// the lifecycle issue reported. Each asserts on volar's output, the workload
// processes and HTTP, never on event names (a recreated VM may keep its
// record).
//
// Pools: 127.78.101.0/24 .. 127.78.106.0/24, one per test.

#include "e2e/e2e.hpp"

#include <algorithm>
#include <map>

namespace volant::e2e {

namespace {

std::string replica(const std::string& deployment, int index) {
  return deployment + "-" + std::to_string(index);
}

std::map<std::string, std::string> ips_of(const json& vms) {
  std::map<std::string, std::string> out;
  for (const auto& vm : vms)
    out[vm.value("name", "")] = vm.value("ip", "");
  return out;
}

std::map<std::string, int> pids_of(const json& vms) {
  std::map<std::string, int> out;
  for (const auto& vm : vms)
    out[vm.value("name", "")] = vm.value("pid", 0);
  return out;
}

/// One line per VM: name, status, pid (and whether it lives), restarts.
std::string describe(const json& vms) {
  std::string out;
  for (const auto& vm : vms) {
    int pid = vm.value("pid", 0);
    out += "  " + vm.value("name", "") + " " + vm.value("status", "") + " pid "
           + std::to_string(pid) + (pid > 0 && !pid_alive(pid) ? " (dead)" : "")
           + " restarts " + std::to_string(vm.value("restarts", -1))
           + " revision " + std::to_string(vm.value("revision", 0)) + "\n";
  }
  return out;
}

/// How a replica shows that it runs once: by its processes (found by their
/// environment), or, for nginx (which overwrites its environment for its
/// process titles), by the one socket listening on its IP.
enum class copies { by_process, by_listener };

/// What keeps `name` from having settled at `n` replicas of its current
/// revision ("" once it has): name-0 .. name-(n-1) all ready, each with a live
/// pid that is its only copy, serving its name on GET /, and (when given) with
/// `env` in its environment (GET /env.txt of the e2e httpd workloads).
std::string unsettled(const daemon& d, const std::string& name, int n,
                      const std::string& env = "",
                      copies one = copies::by_process) {
  auto dep = d.try_json("deployments list");
  if (!dep)
    return "deployments list failed";
  json row;
  for (const auto& r : *dep)
    if (r.value("name", "") == name)
      row = r;
  if (row.is_null())
    return name + " is not listed";
  auto vms = d.try_json("vms list --deployment " + name);
  if (!vms)
    return "vms list failed";
  if (row.value("desired", -1) != n || row.value("ready", -1) != n
      || row.value("updated", -1) != n || row.value("current", -1) != n)
    return "deployments list: " + row.dump() + "\n" + describe(*vms);
  std::set<std::string> names;
  for (const auto& vm : *vms) {
    auto vm_name = vm.value("name", "");
    names.insert(vm_name);
    int pid = vm.value("pid", 0);
    if (vm.value("status", "") != "ready" || !pid_alive(pid))
      return vm_name + " is not ready with a live pid\n" + describe(*vms);
    if (one == copies::by_process
        && d.vm_pids(vm_name) != std::vector<int>{pid})
      return vm_name + " has " + std::to_string(d.vm_pids(vm_name).size())
             + " processes, pid " + std::to_string(pid) + " listed";
    if (one == copies::by_listener && listeners_on(vm.value("ip", ""), 80) != 1)
      return vm_name + " has "
             + std::to_string(listeners_on(vm.value("ip", ""), 80))
             + " sockets listening on " + vm.value("ip", "") + ":80";
    auto body = http_get(vm.value("ip", ""), 80, "/", 1s);
    if (!body || body->body.rfind(vm_name, 0) != 0)
      return vm_name + " does not serve its name at " + vm.value("ip", "");
    if (!env.empty()) {
      auto envs = http_get(vm.value("ip", ""), 80, "/env.txt", 1s);
      if (!envs
          || ("\n" + envs->body).find("\n" + env + "\n") == std::string::npos)
        return vm_name + " does not run with " + env;
    }
  }
  std::set<std::string> want;
  for (int i = 0; i < n; ++i)
    want.insert(replica(name, i));
  if (names != want)
    return "the VMs are not " + name + "-0.." + std::to_string(n - 1) + "\n"
           + describe(*vms);
  return "";
}

/// Polls until unsettled() is empty or `timeout` passed; the last reason.
std::string settle(const daemon& d, const std::string& name, int n,
                   std::chrono::milliseconds timeout,
                   const std::string& env = "",
                   copies one = copies::by_process) {
  std::string why;
  eventually(
      [&] {
        why = unsettled(d, name, n, env, one);
        return why.empty();
      },
      timeout, 200ms);
  return why;
}

/// The journaled events whose fields mention `text` anywhere.
std::vector<std::string> events_mentioning(const daemon& d,
                                           const std::string& text) {
  std::vector<std::string> out;
  for (const auto& ev : d.journal())
    if (ev["fields"].dump().find(text) != std::string::npos)
      out.push_back(ev.dump());
  return out;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines)
    out += "  " + l + "\n";
  return out;
}

/// The httpd workload that first prints a line with $RUN_TOKEN to its log.
json hello_manifest() {
  auto m = httpd_manifest("e2e-hello");
  auto& cmd = m["workload"]["entrypoint"][2];
  cmd = "echo \"hello from run $RUN_TOKEN\" && " + cmd.get<std::string>();
  return m;
}

} // namespace

TEST_CASE(
    "After ten quick updates of a 10-replica deployment every replica settles "
    "ready on the last template, one live process each") {
  daemon d({.pool_octet = 101});
  d.install(httpd_manifest());
  auto r = d.volar(
      "deployments create web --plugin e2e-httpd --replicas 10 --strategy "
      "recreate --env ROUND=start --wait --timeout 30");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  // Three bursts: one burst leaves a replica stuck about every other time on
  // today's code, three nearly always.
  for (int burst = 0; burst < 3; ++burst) {
    CAPTURE(burst);
    std::string last;
    for (int round = 0; round < 10; ++round) {
      // The workload's environment changes every time, its CPU every third
      // time: each update is a new revision.
      last = "ROUND=" + std::to_string(burst) + "." + std::to_string(round);
      auto flags
          = "--env " + last
            + (round % 3 == 2 ? " --cpu " + std::to_string(1 + round % 2) : "");
      r = d.volar("deployments update web " + flags);
      REQUIRE_MESSAGE(r.exit_code == 0, "update " << round << ": " << r.err);
    }
    auto why = settle(d, "web", 10, 30s, last);
    REQUIRE_MESSAGE(why.empty(),
                    "30 s after the last update: " << why << "\n"
                                                   << d.log_tail(30));
    // Nothing but the ten replicas' processes is left of the earlier revisions
    // (busybox httpd forks no children while idle).
    std::vector<int> pids;
    CHECK_MESSAGE(eventually(
                      [&] {
                        pids = d.workload_pids();
                        return pids.size() == 10;
                      },
                      10s),
                  pids.size() << " workload processes");
  }
}

TEST_CASE(
    "Update, pause and resume in quick succession leave every replica ready, "
    "none killed, restarted or reported lost by a daemon that never "
    "restarted") {
  daemon d({.pool_octet = 102});
  d.install(httpd_manifest());
  auto r = d.volar(
      "deployments create web --plugin e2e-httpd --replicas 3 --strategy "
      "recreate --wait --timeout 30");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  int daemon_pid = d.pid();
  // Thirty rounds. The three commands follow each other within well under a
  // second; the pause lands at a different moment of the update's recreate
  // (0, 40, ..., 360 ms after it was acknowledged), the resume 0 to 90 ms after
  // the pause. (Twenty rounds made today's code report a VM lost in 3 runs
  // of 5.)
  for (int round = 0; round < 30; ++round) {
    CAPTURE(round);
    r = d.volar("deployments update web --cpu "
                + std::to_string(2 - round % 2));
    REQUIRE_MESSAGE(r.exit_code == 0, "update: " << r.err);
    std::this_thread::sleep_for(std::chrono::milliseconds(40 * (round % 10)));
    r = d.volar("deployments pause web");
    REQUIRE_MESSAGE(r.exit_code == 0, "pause: " << r.err);
    std::this_thread::sleep_for(std::chrono::milliseconds(30 * (round % 4)));
    r = d.volar("deployments resume web");
    REQUIRE_MESSAGE(r.exit_code == 0, "resume: " << r.err);
  }
  auto why = settle(d, "web", 3, 30s);
  CHECK_MESSAGE(why.empty(), why << "\n" << d.log_tail(30));
  REQUIRE(d.pid() == daemon_pid); // the same daemon all along
  auto dep = d.deployment("web");
  CHECK(dep.value("paused", true) == false);
  for (const auto& vm : d.vms("--deployment web")) {
    CHECK_MESSAGE(vm.value("restarts", -1) == 0, vm.dump());
    CHECK_MESSAGE(vm.value("cpu", 0) == 1,
                  vm.dump()); // the last update: --cpu 1
  }
  auto lost = events_mentioning(d, "not running when the daemon came back");
  CHECK_MESSAGE(lost.empty(),
                "VMs reported lost though volantd never restarted:\n"
                    << join_lines(lost));
  auto killed = events_mentioning(d, "SIGKILL");
  CHECK_MESSAGE(killed.empty(), "replicas killed with SIGKILL:\n"
                                    << join_lines(killed));
  for (int i = 0; i < 3; ++i) {
    auto log = d.volar("vms logs " + replica("web", i)).out;
    CHECK_MESSAGE(log.find("SIGKILL") == std::string::npos,
                  replica("web", i) << " was killed with SIGKILL:\n"
                                    << log);
  }
}

/// The VM names of `volar shell -c 'ls probes'`, one per live probe actor.
std::multiset<std::string> live_probes(const daemon& d) {
  auto ls = d.volar("shell -c " + sh_quote("ls probes"));
  REQUIRE_MESSAGE(ls.exit_code == 0, ls.err);
  std::multiset<std::string> out;
  for (const auto& line : lines_of(ls.out))
    if (auto f = fields_of(line); f.size() > 1 && f[0] == "probe")
      out.insert(f[1].rfind("probe/", 0) == 0 ? f[1].substr(6) : f[1]);
  return out;
}

TEST_CASE(
    "After kill -9 and a restart of volantd, VMs with an HTTP health check are "
    "ready again within 30 s, each with one live probe") {
  daemon d({.pool_octet = 103});
  d.install_file(examples_dir() + "/plugins/nginx.manifest.json");
  d.install_file(examples_dir() + "/plugins/busybox-httpd.manifest.json");
  auto r = d.volar(
      "deployments create web --plugin nginx --replicas 3 --wait --timeout 30");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  r = d.volar("deployments create api --plugin busybox-httpd --replicas 6 "
              "--wait --timeout 30");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());

  // True when everything came back; a failed round is reported, not repeated.
  // Both deployments get 30 s from the moment volantd is up again.
  auto restarted = [&](int web_n, int api_n) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    auto web = settle(d, "web", web_n, 30s, "", copies::by_listener);
    CHECK_MESSAGE(web.empty(), "web: " << web << "\n" << d.log_tail(30));
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto api = settle(d, "api", api_n, std::max(left, 0ms));
    CHECK_MESSAGE(api.empty(), "api: " << api << "\n" << d.log_tail(30));
    std::multiset<std::string> want;
    for (const auto& vm : d.vms())
      want.insert(vm.value("name", ""));
    std::multiset<std::string> probes;
    bool one_each
        = eventually([&] { return (probes = live_probes(d)) == want; }, 5s);
    std::string seen;
    for (const auto& p : probes)
      seen += " " + p;
    CHECK_MESSAGE(one_each, "probes:" << seen << "\n" << d.ok("shell -c 'ls'"));
    return web.empty() && api.empty() && one_each;
  };

  SUBCASE("while every VM is ready: the workloads are adopted") {
    auto pids = pids_of(d.vms());
    d.kill9();
    d.start();
    restarted(3, 6);
    CHECK(pids_of(d.vms()) == pids);
  }
  SUBCASE("right after a scale-up was acknowledged") {
    REQUIRE(d.volar("deployments scale web --replicas 5").exit_code == 0);
    REQUIRE(d.volar("deployments scale api --replicas 8").exit_code == 0);
    d.kill9();
    d.start();
    restarted(5, 8);
  }
  SUBCASE("while an update recreates the VMs") {
    // The kill lands 0, 30, ... 210 ms into the recreate. (On today's code a
    // round now and then leaves a VM `running` without a probe.)
    for (int round = 0; round < 8; ++round) {
      CAPTURE(round);
      auto env = " --env ROUND=" + std::to_string(round);
      REQUIRE(d.volar("deployments update web" + env).exit_code == 0);
      REQUIRE(d.volar("deployments update api" + env).exit_code == 0);
      std::this_thread::sleep_for(std::chrono::milliseconds(30 * round));
      d.kill9();
      d.start();
      if (!restarted(3, 6))
        break;
    }
  }
  SUBCASE("twice in a row, the second time while it adopts") {
    REQUIRE(d.volar("deployments update api --env ROUND=2").exit_code == 0);
    d.kill9();
    d.start();
    d.kill9();
    d.start();
    restarted(3, 6);
  }
}

TEST_CASE("A recreate update keeps each replica's IP") {
  daemon d({.pool_octet = 104});
  d.install(httpd_manifest());
  // web-3 and web-4 get addresses above a hole (the two of the deleted `api`),
  // so that handing out the lowest free addresses again would move them.
  auto r = d.volar(
      "deployments create web --plugin e2e-httpd --replicas 3 --strategy "
      "recreate --wait --timeout 30");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  r = d.volar("deployments create api --plugin e2e-httpd --replicas 2 --wait "
              "--timeout 30");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  r = d.volar("deployments scale web --replicas 5 --wait --timeout 30");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  REQUIRE(d.volar("deployments delete api --force").exit_code == 0);
  REQUIRE(eventually([&] { return d.vms_of("api").empty(); }));
  auto ips = ips_of(d.vms("--deployment web"));
  REQUIRE(ips.size() == 5);
  for (int round = 1; round <= 3; ++round) {
    CAPTURE(round);
    auto pids = pids_of(d.vms("--deployment web"));
    int cpu = 1 + round % 2;
    r = d.volar("deployments update web --cpu " + std::to_string(cpu));
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    // Wait for the recreate to finish; the IPs are compared even if it does
    // not (a stuck replica is the first test's business).
    auto why = settle(d, "web", 5, 30s);
    CHECK_MESSAGE(why.empty(), why << "\n" << d.log_tail(30));
    auto vms = d.vms("--deployment web");
    CHECK(vms.size() == 5);
    for (const auto& vm : vms) {
      auto name = vm.value("name", "");
      CHECK_MESSAGE(vm.value("cpu", 0) == cpu, vm.dump());
      CHECK_MESSAGE(vm.value("pid", 0) != pids[name],
                    name << " was not recreated");
      CHECK_MESSAGE(vm.value("ip", "") == ips[name],
                    name << " had " << ips[name] << ", now "
                         << vm.value("ip", ""));
    }
  }
}

TEST_CASE(
    "Scaling down and up again gives the new replicas the lowest free IPs and "
    "keeps the kept ones") {
  daemon d({.pool_octet = 105});
  d.install(httpd_manifest());
  auto r = d.volar("deployments create web --plugin e2e-httpd --replicas 5 "
                   "--wait --timeout 30");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  auto before = ips_of(d.vms("--deployment web"));
  REQUIRE(d.volar("deployments scale web --replicas 2").exit_code == 0);
  auto why = settle(d, "web", 2, 30s);
  REQUIRE_MESSAGE(why.empty(), why);
  REQUIRE(d.volar("deployments scale web --replicas 5").exit_code == 0);
  why = settle(d, "web", 5, 30s);
  REQUIRE_MESSAGE(why.empty(), why);
  auto after = ips_of(d.vms("--deployment web"));
  CHECK(after["web-0"] == before["web-0"]);
  CHECK(after["web-1"] == before["web-1"]);
  // The three lowest addresses of the pool that web-0 and web-1 do not hold.
  std::set<std::string> free_lowest;
  for (int host = 1; free_lowest.size() < 3; ++host)
    if (d.ip(host) != after["web-0"] && d.ip(host) != after["web-1"])
      free_lowest.insert(d.ip(host));
  CHECK(std::set<std::string>{after["web-2"], after["web-3"], after["web-4"]}
        == free_lowest);
}

/// What keeps deployment web's VMs from being exactly `names`, each ready with
/// a live pid and serving its own name ("" once they are).
std::string not_exactly(const daemon& d, const std::set<std::string>& names) {
  auto vms = d.try_json("vms list --deployment web");
  if (!vms)
    return "vms list failed";
  std::set<std::string> seen;
  for (const auto& vm : *vms) {
    auto name = vm.value("name", "");
    seen.insert(name);
    if (vm.value("status", "") != "ready" || !pid_alive(vm.value("pid", 0)))
      return name + " is not ready with a live pid\n" + describe(*vms);
    auto body = http_get(vm.value("ip", ""), 80, "/", 1s);
    if (!body || body->body.rfind(name, 0) != 0)
      return name + " does not serve its name";
  }
  return seen == names ? "" : "the VMs are not the ones wanted\n" + describe(*vms);
}

TEST_CASE("scale --remove removes exactly the named replica; the others keep "
          "their names and IPs; a scale-up reuses the freed index first") {
  daemon d({.pool_octet = 125});
  d.install(httpd_manifest());
  d.ok("deployments create web --plugin e2e-httpd --replicas 5 --wait --timeout 30");
  auto before = ips_of(d.vms("--deployment web"));
  auto pid3 = d.vms("--deployment web")[3].value("pid", 0);

  auto out = d.ok("deployments scale web --replicas 4 --remove web-1 --wait --timeout 30");
  CHECK_MESSAGE(out.find("scaled to 4 (removed web-1)") != std::string::npos, out);
  std::string why;
  CHECK_MESSAGE(eventually([&] {
                  why = not_exactly(d, {"web-0", "web-2", "web-3", "web-4"});
                  return why.empty();
                }, 30s),
                why);
  auto after = ips_of(d.vms("--deployment web"));
  for (auto n : {"web-0", "web-2", "web-3", "web-4"})
    CHECK(after[n] == before[n]);
  // The others were not touched: web-3 still runs its first process.
  CHECK(d.vms("--deployment web")[2].value("pid", 0) == pid3);
  CHECK(d.vm_pids("web-1").empty());
  auto explained = d.ok("shell -c 'explain web'");
  CHECK_MESSAGE(explained.find("scaled web 5 → 4 (removed web-1)") != std::string::npos,
                explained);

  // A name that is not a replica: one line, exit 1, nothing changes.
  auto bad = d.volar("deployments scale web --replicas 3 --remove web-1");
  CHECK(bad.exit_code == 1);
  CHECK_MESSAGE(bad.err.find("VM 'web-1' is not a replica of deployment 'web'")
                  != std::string::npos,
                bad.err);
  CHECK(not_exactly(d, {"web-0", "web-2", "web-3", "web-4"}).empty());

  // The freed index is reused first, at the lowest free address.
  d.ok("deployments scale web --replicas 5 --wait --timeout 30");
  CHECK_MESSAGE(eventually([&] {
                  why = not_exactly(d, {"web-0", "web-1", "web-2", "web-3", "web-4"});
                  return why.empty();
                }, 30s),
                why);

  // The choice survives a restart of volantd: replayed, not re-planned.
  d.ok("deployments scale web --replicas 4 --remove web-2");
  CHECK(eventually([&] { return not_exactly(d, {"web-0", "web-1", "web-3", "web-4"}).empty(); },
                   30s));
  d.kill9();
  d.start();
  CHECK_MESSAGE(eventually([&] {
                  why = not_exactly(d, {"web-0", "web-1", "web-3", "web-4"});
                  return why.empty();
                }, 30s),
                why);
}

TEST_CASE("vms delete: the deployment replaces the VM in its slot, with the same "
          "name and IP and a fresh process") {
  daemon d({.pool_octet = 126});
  d.install(httpd_manifest());
  d.ok("deployments create web --plugin e2e-httpd --replicas 2 --wait --timeout 30");
  auto vms = d.vms("--deployment web");
  auto old_pid = vms[1].value("pid", 0);
  auto other_pid = vms[0].value("pid", 0);
  auto ip = vms[1].value("ip", "");
  auto out = d.ok("vms delete web-1");
  CHECK_MESSAGE(out.find("vm web-1 deleted: deployment web replaces it") != std::string::npos,
                out);
  std::string why;
  CHECK_MESSAGE(eventually([&] {
                  auto now = d.vms("--deployment web");
                  why = not_exactly(d, {"web-0", "web-1"});
                  return why.empty() && now[1].value("pid", 0) != old_pid;
                }, 30s),
                why);
  auto now = d.vms("--deployment web");
  CHECK(now[1].value("ip", "") == ip);
  CHECK(now[1].value("restarts", -1) == 0);
  CHECK(now[0].value("pid", 0) == other_pid);
  CHECK_FALSE(pid_alive(old_pid));
  int requested = 0;
  for (const auto& j : d.journal())
    requested += j.value("event", "") == "vm_replace_requested" ? 1 : 0;
  CHECK(requested == 1);

  auto bad = d.volar("vms delete web-7");
  CHECK(bad.exit_code == 1);
  CHECK_MESSAGE(bad.err.find("VM 'web-7' not found") != std::string::npos, bad.err);
}

TEST_CASE("A new VM with a reused name does not show the old VM's log") {
  daemon d({.pool_octet = 106});
  d.install(hello_manifest());
  auto token = [](const std::string& run) {
    return run + "-" + std::to_string(::getpid()) + "-"
           + std::to_string(
               std::chrono::steady_clock::now().time_since_epoch().count());
  };
  auto first = token("first");
  auto r = d.volar(
      "deployments create web --plugin e2e-hello --replicas 1 --env RUN_TOKEN="
      + first + " --wait --timeout 30");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  std::string old_log;
  REQUIRE_MESSAGE(eventually([&] {
                    old_log = d.volar("vms logs web-0").out;
                    return old_log.find("hello from run " + first)
                           != std::string::npos;
                  }),
                  old_log);
  REQUIRE(d.volar("deployments delete web --force").exit_code == 0);
  REQUIRE_MESSAGE(eventually([&] {
                    return d.deployment("web").is_null() && d.vms().empty()
                           && d.vm_pids("web-0").empty();
                  }),
                  d.ok("vms list"));

  auto second = token("second");
  r = d.volar(
      "deployments create web --plugin e2e-hello --replicas 1 --env RUN_TOKEN="
      + second + " --wait --timeout 30");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  std::string new_log;
  REQUIRE_MESSAGE(eventually([&] {
                    new_log = d.volar("vms logs web-0").out;
                    return new_log.find("hello from run " + second)
                           != std::string::npos;
                  }),
                  new_log);
  CHECK_MESSAGE(new_log.find(first) == std::string::npos,
                "the new web-0 shows the old run's output:\n"
                    << new_log);
  for (const auto& line : lines_of(old_log))
    CHECK_MESSAGE(new_log.find(line) == std::string::npos,
                  "old line in the new web-0's log: " << line << "\nnew log:\n"
                                                      << new_log);
}

} // namespace volant::e2e
