// Resource management and troubleshooting: debug resources, plugins in use,
// --env reaching the workload, why a deployment is stuck, and the audit log
// read while the daemon runs.

#include "e2e/e2e.hpp"

#include <map>

namespace volant::e2e {

namespace {

/// "Key: value" lines of `debug resources`.
std::map<std::string, std::string> resource_lines(const std::string& out) {
  std::map<std::string, std::string> m;
  for (const auto& line : lines_of(out)) {
    auto colon = line.find(": ");
    if (colon != std::string::npos)
      m[line.substr(0, colon)] = line.substr(colon + 2);
  }
  return m;
}

} // namespace

TEST_CASE("debug resources shows totals, use and what is left, following the deployments") {
  daemon d({.pool_octet = 51, .memory_mib = 2048, .cpus = 8});
  d.install(httpd_manifest());
  auto empty = resource_lines(d.ok("debug resources"));
  CHECK(empty["Total CPU"] == "8 cores");
  CHECK(empty["Used CPU"] == "0 cores (0%)");
  CHECK(empty["Available CPU"] == "8 cores");
  CHECK(empty["Total Memory"] == "2 GiB");
  CHECK(empty["Used Memory"] == "0 MiB (0%)");
  CHECK(empty["Available Memory"] == "2 GiB");
  CHECK(empty["VMs"] == "0 / 100");

  REQUIRE(d.volar("deployments create web --plugin e2e-httpd --replicas 3 --cpu 2 --memory 200 "
                  "--wait --timeout 30")
              .exit_code == 0);
  auto used = resource_lines(d.ok("debug resources"));
  CHECK(used["Total CPU"] == "8 cores");
  CHECK(used["Used CPU"] == "6 cores (75%)");
  CHECK(used["Available CPU"] == "2 cores");
  CHECK(used["Total Memory"] == "2 GiB");
  CHECK(used["Used Memory"] == "600 MiB (29%)");
  CHECK(used["Available Memory"] == "1.4 GiB");
  CHECK(used["VMs"] == "3 / 100");
  auto j = d.get_json("debug resources");
  CHECK(j.value("cpu_total", -1) == 8);
  CHECK(j.value("cpu_used", -1) == 6);
  CHECK(j.value("memory_total_mib", -1) == 2048);
  CHECK(j.value("memory_used_mib", -1) == 600);
  CHECK(j.value("max_vms", -1) == 100);
  // The per-VM view agrees.
  for (const auto& vm : d.vms()) {
    CHECK(vm.value("cpu", -1) == 2);
    CHECK(vm.value("memory", -1) == 200);
  }

  // Scale down: the released capacity is available again.
  REQUIRE(d.volar("deployments scale web --replicas 1 --wait --timeout 30").exit_code == 0);
  CHECK(eventually([&] {
    auto r = d.get_json("debug resources");
    return r.value("memory_used_mib", -1) == 200 && r.value("cpu_used", -1) == 2;
  }));
  auto after = resource_lines(d.ok("debug resources"));
  CHECK(after["Used Memory"] == "200 MiB (10%)");
  CHECK(after["Available Memory"] == "1.8 GiB");
  CHECK(after["VMs"] == "1 / 100");

  REQUIRE(d.volar("deployments delete web --force").exit_code == 0);
  CHECK(eventually([&] {
    auto r = d.get_json("debug resources");
    return r.value("memory_used_mib", -1) == 0 && r.value("cpu_used", -1) == 0;
  }));
}

TEST_CASE("plugins remove is refused while a deployment uses the plugin, allowed after") {
  daemon d({.pool_octet = 52});
  d.install(httpd_manifest());
  REQUIRE(d.volar("deployments create web --plugin e2e-httpd --replicas 1 --wait --timeout 30")
              .exit_code == 0);
  auto r = d.volar("plugins remove e2e-httpd");
  CHECK(r.exit_code != 0);
  CHECK_MESSAGE(one_line(r.err), r.err);
  CHECK(r.err.find("in use by deployment") != std::string::npos);
  CHECK(r.err.find("web") != std::string::npos);
  CHECK(d.ok("plugins list").find("e2e-httpd") != std::string::npos);
  CHECK(d.settled("web", 1, 5s));

  REQUIRE(d.volar("deployments delete web --force").exit_code == 0);
  CHECK(eventually([&] { return d.vms().empty(); }, 15s));
  r = d.volar("plugins remove e2e-httpd");
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(d.ok("plugins list").find("e2e-httpd") == std::string::npos);
  // And a deployment of it is now refused.
  r = d.volar("deployments create web --plugin e2e-httpd --replicas 1");
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("not installed") != std::string::npos);
}

TEST_CASE("--env variables reach every replica's workload along with VOLANT_IP and VOLANT_VM_NAME") {
  daemon d({.pool_octet = 53});
  d.install(httpd_manifest());
  auto r = d.volar("deployments create worker --plugin e2e-httpd --replicas 2 "
                   "--env REDIS_URL=redis://127.0.0.1:6379 --env QUEUE_NAME=tasks "
                   "--env LOG_LEVEL=info --wait --timeout 30");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  for (const auto& vm : d.vms("--deployment worker")) {
    auto name = vm.value("name", "");
    auto env = http_body_eventually(vm.value("ip", ""), "/env.txt");
    CAPTURE(name);
    CAPTURE(env);
    CHECK(env.find("\nREDIS_URL=redis://127.0.0.1:6379\n") != std::string::npos);
    CHECK(env.find("\nQUEUE_NAME=tasks\n") != std::string::npos);
    CHECK(env.find("\nLOG_LEVEL=info\n") != std::string::npos);
    CHECK(env.find("\nVOLANT_IP=" + vm.value("ip", "") + "\n") != std::string::npos);
    CHECK(env.find("\nVOLANT_VM_NAME=" + name + "\n") != std::string::npos);
    CHECK(env.find("\nVOLANT_INDEX=" + std::to_string(vm.value("index", -1)) + "\n")
          != std::string::npos);
  }
  // deployments show lists them.
  auto show = d.ok("deployments show worker");
  CHECK(show.find("QUEUE_NAME=tasks") != std::string::npos);
}

TEST_CASE("deployments show says why a deployment is stuck on memory") {
  // A paused deployment reserves only the VMs it keeps: scale it up while paused,
  // let another deployment take the memory, resume it: its new replicas cannot
  // fit and `deployments show` says so with the numbers.
  daemon d({.pool_octet = 54, .memory_mib = 1024});
  d.install(httpd_manifest());
  REQUIRE(d.volar("deployments create web --plugin e2e-httpd --replicas 1 --memory 256 --wait "
                  "--timeout 30")
              .exit_code == 0);
  auto r = d.volar("deployments pause web");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  r = d.volar("deployments scale web --replicas 3");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  r = d.volar("deployments create api --plugin e2e-httpd --replicas 3 --memory 256 --wait "
              "--timeout 30");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  r = d.volar("deployments resume web");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);

  std::string show;
  CHECK_MESSAGE(eventually(
                    [&] {
                      show = d.ok("deployments show web");
                      return show.find("insufficient memory") != std::string::npos;
                    },
                    15s),
                show << d.log_tail());
  CHECK_MESSAGE(show.find("Blocked:") != std::string::npos, show);
  CHECK_MESSAGE(show.find("insufficient memory: need 256 MiB, 0 MiB free") != std::string::npos,
                show);
  auto j = d.get_json("deployments show web");
  CHECK(j.value("blocked", "").find("insufficient memory") != std::string::npos);
  CHECK(j.value("desired", -1) == 3);
  CHECK(j.value("current", -1) == 1);
  // --wait gives up with the reason instead of hanging.
  r = d.volar("deployments scale web --replicas 3 --wait --timeout 20");
  CHECK(r.exit_code != 0);
  CHECK_MESSAGE(r.err.find("insufficient memory") != std::string::npos, r.err);

  // Freeing the memory unblocks it.
  REQUIRE(d.volar("deployments delete api --force").exit_code == 0);
  CHECK_MESSAGE(d.settled("web", 3, 30s), d.ok("deployments show web"));
  CHECK(d.ok("deployments show web").find("Blocked:") == std::string::npos);
}

TEST_CASE("After a restart with less host memory, deployments show says what no longer fits") {
  daemon d({.pool_octet = 56, .memory_mib = 1024});
  d.install(httpd_manifest());
  REQUIRE(d.volar("deployments create web --plugin e2e-httpd --replicas 2 --memory 256 --wait "
                  "--timeout 30")
              .exit_code == 0);
  // Admitted while paused (reserving nothing yet): 2 more replicas.
  REQUIRE(d.volar("deployments pause web").exit_code == 0);
  REQUIRE(d.volar("deployments scale web --replicas 4").exit_code == 0);
  d.stop();

  // Less memory than the VMs hold: volantd refuses to start, saying why.
  auto refused = test::run("timeout 20 " + sh_quote(volantd_bin()) + " --data-dir "
                           + sh_quote(d.dir()) + " --listen 127.0.0.1:0 --pool " + d.pool()
                           + " --memory-mib 256 --cpus 16 --run-dir " + sh_quote(d.run_dir())
                           + " </dev/null");
  CHECK(refused.exit_code == 1);
  CHECK_MESSAGE(refused.err.find("512 MiB that VMs hold") != std::string::npos, refused.err);

  // Enough for one more replica, not two.
  d.opts().memory_mib = 768;
  d.start();
  REQUIRE(d.volar("deployments resume web").exit_code == 0);
  std::string show;
  CHECK_MESSAGE(eventually(
                    [&] {
                      show = d.ok("deployments show web");
                      return show.find("insufficient memory: need 256 MiB, 0 MiB free")
                             != std::string::npos;
                    },
                    15s),
                show << d.log_tail());
  CHECK(eventually([&] {
    auto dep = d.deployment("web");
    return dep.value("current", -1) == 3 && dep.value("ready", -1) == 3;
  }));
  auto dep = d.deployment("web");
  CHECK(dep.value("desired", -1) == 4);
  auto res = d.get_json("debug resources");
  CHECK(res.value("memory_total_mib", -1) == 768);
  CHECK(res.value("memory_used_mib", -1) == 768);
  // Scaling to what fits clears it.
  REQUIRE(d.volar("deployments scale web --replicas 3 --wait --timeout 30").exit_code == 0);
  CHECK(d.ok("deployments show web").find("Blocked:") == std::string::npos);
}

TEST_CASE("volant-replay reads the events while the daemon runs") {
  daemon d({.pool_octet = 55});
  d.install(httpd_manifest());
  REQUIRE(d.volar("deployments create web --plugin e2e-httpd --replicas 2 --wait --timeout 30")
              .exit_code == 0);
  auto r = test::run(sh_quote(replay_bin()) + " events --data-dir " + sh_quote(d.dir()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("deployment_created") != std::string::npos);
  CHECK(r.out.find("vm_created") != std::string::npos);
  CHECK(r.out.find("web-0") != std::string::npos);
  CHECK(r.out.find("web-1") != std::string::npos);

  auto js = test::run(sh_quote(replay_bin()) + " events --json --data-dir " + sh_quote(d.dir()));
  REQUIRE(js.exit_code == 0);
  int created = 0, vms = 0;
  for (const auto& line : lines_of(js.out)) {
    auto ev = json::parse(line, nullptr, false);
    REQUIRE_FALSE(ev.is_discarded());
    auto text = ev.dump();
    created += text.find("deployment_created") != std::string::npos;
    vms += text.find("vm_created") != std::string::npos;
  }
  CHECK(created == 1);
  CHECK(vms == 2);
  // The daemon still works after the concurrent read, and sees new events.
  REQUIRE(d.volar("deployments scale web --replicas 3 --wait --timeout 30").exit_code == 0);
  auto again = test::run(sh_quote(replay_bin()) + " events --data-dir " + sh_quote(d.dir()));
  CHECK(again.out.find("web-2") != std::string::npos);
  auto verify = test::run(sh_quote(replay_bin()) + " verify --data-dir " + sh_quote(d.dir()));
  CHECK_MESSAGE(verify.exit_code == 0, verify.out << verify.err);
}

TEST_CASE("vCPUs beyond the cores: admitted with a warning and shown honestly; with "
          "--cpu-overcommit, refused with the numbers") {
  daemon d({.pool_octet = 165, .cpus = 2});
  d.install(httpd_manifest());
  auto r = d.volar("deployments create web --plugin e2e-httpd --replicas 2 --cpu 1 --wait");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.err.find("warning") == std::string::npos); // 2 vCPUs on 2 cores
  auto fits = resource_lines(d.ok("debug resources"));
  CHECK(fits["Used CPU"] == "2 cores (100%)");
  CHECK(fits["Available CPU"] == "0 cores");

  // The scale-up that crosses the cores is admitted and says so, once.
  r = d.volar("deployments scale web --replicas 3 --wait");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.err
        == "volar: warning: vCPUs overcommitted: 3 committed on 2 cores (150 %); volantd "
           "--cpu-overcommit RATIO refuses beyond cores x RATIO\n");
  auto over = resource_lines(d.ok("debug resources"));
  CHECK(over["Used CPU"] == "3 vCPUs of 2 cores (150%, overcommitted)");
  CHECK(over["Available CPU"]
        == "0 cores (more vCPUs are admitted with a warning: volantd --cpu-overcommit RATIO "
           "sets a limit)");
  CHECK(d.volar("deployments scale web --replicas 2 --wait").err.empty()); // shrinking
  CHECK(d.settled("web", 2, 30s));

  // A limit: 2 cores x 2 = 4 vCPUs; 2 held, so 3 more are refused with the
  // numbers, and nothing changes.
  d.stop();
  d.opts().extra = {"--cpu-overcommit", "2"};
  d.start();
  auto limited = resource_lines(d.ok("debug resources"));
  CHECK(limited["Available CPU"] == "0 cores (2 of 4 vCPUs admissible under --cpu-overcommit 2)");
  r = d.volar("deployments create api --plugin e2e-httpd --replicas 3 --cpu 1");
  CHECK(r.exit_code != 0);
  CHECK(one_line(r.err));
  CHECK(r.err
        == "volar: insufficient CPU: need 3 vCPUs, 2 of 4 free (2 cores x --cpu-overcommit 2)\n");
  CHECK(d.volar("deployments show api").exit_code != 0);
  CHECK(d.get_json("debug resources").value("cpu_committed", -1) == 2);
  r = d.volar("deployments create api --plugin e2e-httpd --replicas 2 --cpu 1 --wait");
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(d.settled("api", 2, 30s));
}

} // namespace volant::e2e
