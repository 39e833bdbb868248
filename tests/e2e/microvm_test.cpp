// volantd with real QEMU microVMs (suite "microvm"), end to end: the test moves
// itself into a network namespace it creates, so volantd, the bridge
// (192.168.127.1/24), the TAPs and every packet stay inside it. Guests are built by
// tools/mkguest. Under TCG each boot takes seconds: one deployment, few boots, all
// assertions real. Needs root and qemu-system-x86 (scripts/setup.sh installs it);
// fails, never skips, without them.

#include "e2e/e2e.hpp"
#include "support/netns.hpp"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

namespace volant::e2e {

namespace {

/// The guest image (built or found up to date by tools/mkguest); its manifest.
std::string build_guest() {
  auto mkguest = test::binary("VOLANT_MKGUEST");
  auto out = test::binary("VOLANT_GUEST_DIR");
  auto r = test::run(mkguest + " --out " + sh_quote(out));
  REQUIRE_MESSAGE(r.exit_code == 0, "mkguest failed (" << r.exit_code << "): " << r.err);
  REQUIRE(std::filesystem::exists(out + "/manifest.json"));
  return out + "/manifest.json";
}

/// QEMU processes of `vm` (by the `-name volant:<vm>.<run>` marker on their command line).
std::vector<int> qemu_pids(const std::string& vm) {
  std::vector<int> pids;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline;
    std::getline(in, cmdline, '\x01'); // no iterator over the filebuf: a process may end mid-read
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find("qemu-system") != std::string::npos
        && cmdline.find("volant:") != std::string::npos // -name volant:<daemon tag>:<run>
        && cmdline.find(":" + vm + ".") != std::string::npos && pid_alive(std::stoi(name)))
      pids.push_back(std::stoi(name));
  }
  return pids;
}

/// TAP devices volantd made in this namespace (names "vlt" + hash).
int tap_count() {
  auto r = test::run("ip -o link show | grep -c ': vlt' || true");
  return std::atoi(r.out.c_str());
}

/// The guest's own uptime in seconds (its /proc/uptime over HTTP), -1 if silent.
double guest_uptime(const std::string& ip) {
  auto r = http_get(ip, 80, "/cgi-bin/uptime", 5s);
  return r && r->status == 200 ? std::atof(r->body.c_str()) : -1;
}

bool serves(const std::string& ip, const std::string& vm) {
  auto health = http_get(ip, 80, "/health", 5s);
  auto root = http_get(ip, 80, "/", 5s);
  return health && health->status == 200 && health->body.find("ok") != std::string::npos
         && root && root->body.find(vm) != std::string::npos;
}

} // namespace

TEST_CASE("microVM deployments: ready, serving on pool IPs, replaced, scaled, paused "
          "and resumed in place, adopted after a daemon crash") {
  REQUIRE_MESSAGE(::geteuid() == 0, "the microVM test needs root (network namespace, TAPs)");
  REQUIRE_MESSAGE(test::run("command -v qemu-system-x86_64").exit_code == 0,
                  "qemu-system-x86_64 is missing: run scripts/setup.sh (qemu-system-x86)");
  auto manifest = build_guest();
  test::netns_scope ns("volant-e2e-");
  daemon d({.pool_octet = 90,
            .stop_grace_ms = 8000,
            .pool_cidr = "192.168.127.0/24"});
  d.install_file(manifest);
  auto plugin = json::parse(std::ifstream(manifest)).value("name", "");
  auto r = d.volar("deployments create web --plugin " + plugin
                   + " --replicas 2 --memory 128 --wait --timeout 240");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());

  // Two microVMs on the bridge, IPs from the pool (the bridge keeps .1).
  auto vm0 = d.vm("web-0");
  auto vm1 = d.vm("web-1");
  CHECK(vm0.value("ip", "") == "192.168.127.2");
  CHECK(vm1.value("ip", "") == "192.168.127.3");
  CHECK(vm0.value("driver", "") == "qemu");
  CHECK(d.ok("vms list").find("qemu") != std::string::npos);
  CHECK(serves("192.168.127.2", "web-0"));
  CHECK(serves("192.168.127.3", "web-1"));
  CHECK(qemu_pids("web-0").size() == 1);
  CHECK(tap_count() == 2);
  CHECK(d.ok("vms logs web-0").find("VOLANT-READY web-0") != std::string::npos);
  CHECK(d.ok("debug resources").find("accelerator") != std::string::npos);

  SUBCASE("a killed QEMU is replaced; scale 2 -> 3 -> 1 names and addresses as the spec") {
    int pid1 = vm1.value("pid", 0);
    REQUIRE(pid1 > 0);
    REQUIRE(::kill(pid1, SIGKILL) == 0);
    json now;
    bool replaced = eventually(
      [&] {
        now = d.vm("web-1");
        return now.value("status", "") == "ready" && now.value("pid", 0) != pid1;
      },
      180s, 250ms);
    CHECK_MESSAGE(replaced, now.dump() << d.log_tail());
    CHECK(now.value("ip", "") == "192.168.127.3");
    CHECK(serves("192.168.127.3", "web-1"));

    REQUIRE(d.volar("deployments scale web --replicas 3 --wait --timeout 240").exit_code == 0);
    CHECK(d.vm("web-2").value("ip", "") == "192.168.127.4");
    CHECK(serves("192.168.127.4", "web-2"));

    // A load balancer in front of the 3 microVMs (issue 13): by default on the
    // bridge's address, HAProxy in this namespace with volantd; it serves all.
    auto created = d.volar("lb create web-lb --deployment web --port 80");
    REQUIRE_MESSAGE(created.exit_code == 0, created.err);
    CHECK(created.out == "load balancer web-lb created: http://192.168.127.1:80/ -> web\n");
    auto answered = [&] {
      std::set<std::string> names;
      for (int i = 0; i < 12; ++i)
        if (auto r = http_get("192.168.127.1", 80, "/", 5s); r && r->status == 200)
          for (const auto* vm : {"web-0", "web-1", "web-2"})
            if (r->body.find(vm) != std::string::npos)
              names.insert(vm);
      return names;
    };
    std::set<std::string> all3{"web-0", "web-1", "web-2"};
    CHECK_MESSAGE(eventually([&] { return answered() == all3; }, 60s, 500ms),
                  d.get_json("lb show web-lb").dump() << d.log_tail());
    // `lb show` lists them with HAProxy's state: checked and UP.
    json shown;
    CHECK_MESSAGE(eventually([&] {
      shown = d.get_json("lb show web-lb");
      int up = 0;
      for (const auto& server : shown["servers"])
        up += server.value("state", "").rfind("UP", 0) == 0 ? 1 : 0;
      return shown["servers"].size() == 3 && up == 3;
    }, 30s), shown.dump());

    REQUIRE(d.volar("deployments scale web --replicas 1 --wait --timeout 120").exit_code == 0);
    CHECK(d.settled("web", 1, 60s));
    CHECK(d.vm("web-1").is_null());
    CHECK(d.vm("web-2").is_null());
    CHECK(eventually([] { return qemu_pids("web-1").empty() && qemu_pids("web-2").empty(); },
                     30s));
    // Their TAPs went with them: one TAP (vlt...) left on the bridge, web-0's.
    CHECK(eventually([] { return tap_count() == 1; }, 30s));
    CHECK(serves("192.168.127.2", "web-0"));
    // The LB follows: the VMs that left were drained from it; web-0 serves alone.
    CHECK(eventually([&] { return answered() == std::set<std::string>{"web-0"}; }, 30s));
    d.ok("lb delete web-lb");
  }

  SUBCASE("pause freezes the guest (QMP stop) and resume thaws it: uptime kept") {
    int pid0 = vm0.value("pid", 0);
    auto before = guest_uptime("192.168.127.2");
    REQUIRE(before > 0);
    REQUIRE(d.volar("deployments pause web").exit_code == 0);
    REQUIRE_MESSAGE(eventually([&] { return d.vm("web-0").value("status", "") == "paused"; },
                               60s),
                    d.log_tail());
    CHECK_FALSE(http_get("192.168.127.2", 80, "/health", 1s).has_value());
    std::this_thread::sleep_for(2s);
    REQUIRE(d.volar("deployments resume web").exit_code == 0);
    CHECK(d.settled("web", 2, 120s));
    auto after = guest_uptime("192.168.127.2");
    CHECK(after >= before); // a reboot would start again near 0
    CHECK(d.vm("web-0").value("pid", 0) == pid0);
    CHECK(d.vm("web-0").value("restarts", -1) == 0);
  }

  SUBCASE("kill -9 of volantd: the microVMs keep serving and are adopted, not duplicated") {
    int pid0 = vm0.value("pid", 0);
    d.kill9();
    CHECK(serves("192.168.127.2", "web-0"));
    CHECK(serves("192.168.127.3", "web-1"));
    d.start();
    CHECK(d.settled("web", 2, 120s));
    CHECK(d.vm("web-0").value("pid", 0) == pid0);
    CHECK(qemu_pids("web-0").size() == 1);
    CHECK(qemu_pids("web-1").size() == 1);
    CHECK(d.log().find("adopted") != std::string::npos);
  }
}

} // namespace volant::e2e
