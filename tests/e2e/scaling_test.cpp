// The spec's Quick Start and "Scaling Operations" / "Replica Naming" against real
// workloads: names, IPs from the pool, scale-down releasing addresses, each replica
// reached on its own IP, delete stopping every process.

#include "e2e/e2e.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>

namespace volant::e2e {

namespace {

/// The VMs sorted by replica index.
json by_index(json vms) {
  std::vector<json> v(vms.begin(), vms.end());
  std::sort(v.begin(), v.end(), [](const json& a, const json& b) {
    return a.value("index", 0) < b.value("index", 0);
  });
  return json(v);
}

std::vector<std::string> names_of(const json& vms) {
  std::vector<std::string> out;
  for (const auto& vm : by_index(vms))
    out.push_back(vm.value("name", ""));
  return out;
}

std::vector<std::string> expected_names(const std::string& dep, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i)
    out.push_back(dep + "-" + std::to_string(i));
  return out;
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

std::set<std::string> ip_set(const json& vms) {
  std::set<std::string> out;
  for (const auto& vm : vms)
    out.insert(vm.value("ip", ""));
  return out;
}

std::set<std::string> pool_ips(const daemon& d, int first, int last) {
  std::set<std::string> out;
  for (int i = first; i <= last; ++i)
    out.insert(d.ip(i));
  return out;
}

/// Checks the `deployments list` table: the spec's header, one row per
/// deployment, values under their headers.
void check_list_table(const std::string& out,
                      const std::vector<std::vector<std::string>>& rows) {
  auto lines = lines_of(out);
  REQUIRE_MESSAGE(lines.size() == rows.size() + 1, out);
  CHECK(fields_of(lines[0])
        == std::vector<std::string>{"NAME", "PLUGIN", "DESIRED", "CURRENT", "READY", "AGE"});
  static const std::regex age(R"(\d+[smhdy])");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto f = fields_of(lines[i + 1]);
    REQUIRE_MESSAGE(f.size() == 6, lines[i + 1]);
    CHECK(f[0] == rows[i][0]);
    CHECK_MESSAGE(f[1].rfind(rows[i][1], 0) == 0, "PLUGIN column: " << f[1]);
    CHECK(f[2] == rows[i][2]);
    CHECK(f[3] == rows[i][3]);
    CHECK(f[4] == rows[i][4]);
    CHECK_MESSAGE(std::regex_match(f[5], age), "AGE column: " << f[5]);
    // Columns line up: each value starts under its header.
    for (const char* col : {"PLUGIN", "DESIRED", "CURRENT", "READY", "AGE"}) {
      auto at = lines[0].find(col);
      CHECK_MESSAGE((at < lines[i + 1].size() && lines[i + 1][at] != ' '
                     && (at == 0 || lines[i + 1][at - 1] == ' ')),
                    "column " << col << " misaligned:\n" << out);
    }
  }
}

void check_every_replica_answers(const daemon& d, const json& vms) {
  for (const auto& vm : vms) {
    auto name = vm.value("name", "");
    auto ip = vm.value("ip", "");
    CHECK_MESSAGE(http_body_eventually(ip) == name + "\n", name << " at " << ip);
    CHECK_MESSAGE(listeners_on(ip, 80) == 1, name << " at " << ip);
  }
  (void) d;
}

} // namespace

TEST_CASE("The spec's Quick Start creates 3 replicas, scales to 10 and to 2, and deletes them all") {
  daemon d({.pool_octet = 11});
  d.install(httpd_manifest());

  // volar deployments create web --plugin nginx --replicas 3 (a plugin without a
  // health check here, so READY follows RUNNING at once).
  auto r = d.volar("deployments create web --plugin e2e-httpd --replicas 3");
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  // The reply names the version that `--plugin e2e-httpd` picked.
  CHECK(r.out == "deployment web created (plugin e2e-httpd:1.0.0)\n");
  CHECK(d.deployment("web").value("plugin", "") == "e2e-httpd:1.0.0");
  REQUIRE_MESSAGE(d.settled("web", 3), d.ok("deployments list") << d.log_tail());
  auto vms3 = d.vms("--deployment web");
  CHECK(names_of(vms3) == expected_names("web", 3));
  CHECK(ip_set(vms3) == pool_ips(d, 1, 3));
  check_list_table(d.ok("deployments list"), {{"web", "e2e-httpd", "3", "3", "3"}});
  check_every_replica_answers(d, vms3);

  // Scale up: web-3 .. web-9 are added, the first three are untouched.
  r = d.volar("deployments scale web --replicas 10");
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out == "deployment web scaled to 10\n");
  REQUIRE_MESSAGE(d.settled("web", 10), d.ok("deployments list") << d.log_tail());
  auto vms10 = d.vms("--deployment web");
  CHECK(names_of(vms10) == expected_names("web", 10));
  CHECK(ip_set(vms10) == pool_ips(d, 1, 10));
  for (const auto& name : expected_names("web", 3)) {
    CHECK(ips_of(vms10)[name] == ips_of(vms3)[name]);
    CHECK(pids_of(vms10)[name] == pids_of(vms3)[name]);
  }
  check_list_table(d.ok("deployments list"), {{"web", "e2e-httpd", "10", "10", "10"}});
  check_every_replica_answers(d, vms10);

  // Scale down: web-2 .. web-9 are stopped, web-0 and web-1 kept.
  r = d.volar("deployments scale web --replicas 2");
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out == "deployment web scaled to 2\n");
  REQUIRE_MESSAGE(d.settled("web", 2), d.ok("deployments list") << d.log_tail());
  auto vms2 = d.vms("--deployment web");
  CHECK(names_of(vms2) == expected_names("web", 2));
  for (const auto& name : expected_names("web", 2)) {
    CHECK(ips_of(vms2)[name] == ips_of(vms10)[name]);
    CHECK(pids_of(vms2)[name] == pids_of(vms10)[name]);
  }
  auto p10 = pids_of(vms10);
  auto ip10 = ips_of(vms10);
  for (int i = 2; i < 10; ++i) {
    auto name = "web-" + std::to_string(i);
    CHECK_MESSAGE(eventually([&] { return !pid_alive(p10[name]); }, 10s),
                  name << " pid " << p10[name] << " still runs");
    CHECK_MESSAGE(listeners_on(ip10[name], 80) == 0, name << " still listens");
  }
  check_list_table(d.ok("deployments list"), {{"web", "e2e-httpd", "2", "2", "2"}});

  // The released addresses are the lowest free ones again.
  CHECK(d.volar("deployments scale web --replicas 4").exit_code == 0);
  REQUIRE(d.settled("web", 4));
  auto vms4 = d.vms("--deployment web");
  CHECK(names_of(vms4) == expected_names("web", 4));
  CHECK(ip_set(vms4) == pool_ips(d, 1, 4));

  // Delete: every VM stopped, every process gone, nothing listed.
  auto pids = pids_of(vms4);
  r = d.volar("deployments delete web");
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out == "deployment web deleted\n");
  CHECK_MESSAGE(eventually([&] { return d.deployments().empty() && d.vms().empty(); }, 15s),
                d.ok("vms list"));
  for (const auto& [name, pid] : pids)
    CHECK_MESSAGE(eventually([&] { return !pid_alive(pid); }, 5s), name << " pid " << pid);
  for (const auto& ip : pool_ips(d, 1, 10))
    CHECK_MESSAGE(listeners_on(ip, 80) == 0, ip);
  CHECK(d.workload_pids().empty());
  auto table = lines_of(d.ok("deployments list"));
  CHECK(table.size() <= 1); // at most the header
}

TEST_CASE("Each replica answers an HTTP request on its own IP with its own name") {
  daemon d({.pool_octet = 12});
  d.install(httpd_manifest());
  auto r = d.volar("deployments create site --plugin e2e-httpd --replicas 5 --wait --timeout 30");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  auto vms = d.vms("--deployment site");
  REQUIRE(vms.size() == 5);
  std::set<std::string> ips;
  for (const auto& vm : vms) {
    auto name = vm.value("name", "");
    auto ip = vm.value("ip", "");
    ips.insert(ip);
    CHECK_MESSAGE(ip.rfind("127.78.12.", 0) == 0, name << " has " << ip);
    CHECK_MESSAGE(http_body_eventually(ip) == name + "\n", name << " at " << ip);
    // Only this replica's own process listens on its address.
    CHECK(listeners_on(ip, 80) == 1);
    auto pids = d.vm_pids(name);
    std::string procs;
    for (int pid : pids)
      procs += " " + std::to_string(pid) + ":" + test::read_file("/proc/" + std::to_string(pid) + "/comm");
    CHECK_MESSAGE(pids == std::vector<int>{vm.value("pid", 0)},
                  name << " pid " << vm.value("pid", 0) << ", processes:" << procs);
  }
  CHECK(ips.size() == 5);
  // An address of the pool no replica holds does not answer.
  CHECK_FALSE(http_get(d.ip(200), 80, "/", 500ms).has_value());
}

TEST_CASE("Scaling reuses the lowest free IPs across deployments and keeps the kept replicas") {
  daemon d({.pool_octet = 13});
  d.install(httpd_manifest());
  REQUIRE(d.volar("deployments create web --plugin e2e-httpd --replicas 3 --wait --timeout 30")
              .exit_code == 0);
  REQUIRE(d.volar("deployments create api --plugin e2e-httpd --replicas 2 --wait --timeout 30")
              .exit_code == 0);
  auto web = d.vms("--deployment web");
  auto api = d.vms("--deployment api");
  CHECK(ip_set(web) == pool_ips(d, 1, 3));
  CHECK(ip_set(api) == pool_ips(d, 4, 5));

  // Scaling to 5: web-3 and web-4 are new (and take the next free addresses).
  REQUIRE(d.volar("deployments scale web --replicas 5 --wait --timeout 30").exit_code == 0);
  auto web5 = d.vms("--deployment web");
  CHECK(names_of(web5) == expected_names("web", 5));
  CHECK(ip_set(web5) == std::set<std::string>{d.ip(1), d.ip(2), d.ip(3), d.ip(6), d.ip(7)});

  // Scaling to 1: the highest indices go first, their addresses are released...
  REQUIRE(d.volar("deployments scale web --replicas 1 --wait --timeout 30").exit_code == 0);
  auto web1 = d.vms("--deployment web");
  CHECK(names_of(web1) == expected_names("web", 1));
  CHECK(ips_of(web1)["web-0"] == ips_of(web5)["web-0"]);
  CHECK(pids_of(web1)["web-0"] == pids_of(web5)["web-0"]);

  // ... and handed out again, lowest first, to the next VMs of any deployment.
  REQUIRE(d.volar("deployments scale api --replicas 4 --wait --timeout 30").exit_code == 0);
  auto api4 = d.vms("--deployment api");
  CHECK(names_of(api4) == expected_names("api", 4));
  auto ips = ips_of(api4);
  CHECK(ips["api-0"] == d.ip(4));
  CHECK(ips["api-1"] == d.ip(5));
  CHECK(std::set<std::string>{ips["api-2"], ips["api-3"]} == std::set<std::string>{d.ip(2), d.ip(3)});
  check_every_replica_answers(d, d.vms());
  check_list_table(d.ok("deployments list"),
                   {{"api", "e2e-httpd", "4", "4", "4"}, {"web", "e2e-httpd", "1", "1", "1"}});
}

} // namespace volant::e2e

namespace volant::e2e {

namespace {

/// The state letter of /proc/PID/stat ('S' sleeping, 'T' stopped, ...).
char proc_state(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() ? '?' : line[close + 2];
}

} // namespace

TEST_CASE("pause freezes the replicas in place (same process, memory kept) and resume "
          "thaws them") {
  daemon d({.pool_octet = 57});
  d.install(httpd_manifest());
  REQUIRE(d.volar("deployments create web --plugin e2e-httpd --replicas 2 --wait --timeout 30")
            .exit_code
          == 0);
  auto before = d.vm("web-0");
  int pid = before.value("pid", 0);
  auto ip = before.value("ip", "");
  // READY without a health check means running: give it a moment to listen.
  REQUIRE_FALSE(http_body_eventually(ip).empty());

  auto r = d.volar("deployments pause web");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  bool frozen = eventually([&] {
    return d.vm("web-0").value("status", "") == "paused"
           && d.vm("web-1").value("status", "") == "paused";
  });
  REQUIRE_MESSAGE(frozen, d.vm("web-0").dump() << d.log_tail());
  CHECK(proc_state(pid) == 'T');
  CHECK(d.vm("web-0").value("pid", 0) == pid);
  CHECK_FALSE(http_get(ip, 80, "/", 500ms).has_value()); // frozen: no answer
  CHECK(json::parse(d.ok("deployments list --json"))[0].value("ready", -1) == 0);

  // A daemon crash while paused: the frozen workloads are adopted as they are.
  d.kill9();
  d.start();
  std::this_thread::sleep_for(1s); // a reconcile round: nothing may thaw or restart them
  CHECK(d.vm("web-0").value("status", "") == "paused");
  CHECK(d.vm("web-0").value("pid", 0) == pid);
  CHECK(proc_state(pid) == 'T');

  r = d.volar("deployments resume web");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(d.settled("web", 2, 20s));
  auto after = d.vm("web-0");
  CHECK(after.value("pid", 0) == pid); // the same process: thawed, not restarted
  CHECK(after.value("restarts", -1) == 0);
  CHECK(proc_state(pid) != 'T');
  CHECK(http_get(ip, 80, "/").value_or(http_reply{}).body.find("web-0") != std::string::npos);
}

TEST_CASE("rollout status follows an update until it has rolled out, in kubectl's words") {
  daemon d({.pool_octet = 98});
  d.install(httpd_manifest());
  d.ok("deployments create web --plugin e2e-httpd --replicas 3 --wait");
  d.ok("deployments update web --env GEN=2 --strategy rolling --max-unavailable 1");
  auto r = d.volar("deployments rollout status web --watch --timeout 120");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto lines = lines_of(r.out);
  REQUIRE_FALSE(lines.empty());
  CHECK(lines.back() == "deployment \"web\" successfully rolled out");
  for (const auto& line : lines)
    CHECK_MESSAGE((line.rfind("Waiting for deployment \"web\" rollout to finish: ", 0) == 0
                   || line == lines.back()),
                  line);
  // Once done, every VM runs the new revision.
  for (const auto& vm : d.vms("--deployment web"))
    CHECK(vm.value("revision", 0) == d.deployment("web").value("revision", -1));
  CHECK(d.ok("deployments rollout status web") == "deployment \"web\" successfully rolled out\n");
  CHECK(d.get_json("deployments rollout status web").value("rolled_out", false));
  // A paused deployment's rollout cannot finish: said, exit 1.
  d.ok("deployments pause web");
  d.ok("deployments update web --env GEN=3");
  auto paused = d.volar("deployments rollout status web --watch --timeout 30");
  CHECK(paused.exit_code == 1);
  CHECK_MESSAGE(paused.err.find("web is paused (resume it with: volar deployments resume web)")
                    != std::string::npos,
                paused.err);
  auto unknown = d.volar("deployments rollout status nope");
  CHECK(unknown.exit_code == 1);
  CHECK_MESSAGE(unknown.err.find("nope") != std::string::npos, unknown.err);

  // The history, from the journal: created, then the two env changes.
  auto history = lines_of(d.ok("deployments rollout history web"));
  REQUIRE(history.size() == 4);
  CHECK(history[0].find("REVISION") == 0);
  CHECK(history[1].find("created: plugin e2e-httpd") != std::string::npos);
  CHECK(history[2].find("env +GEN=2") != std::string::npos);
  CHECK(history[3].find("env GEN=2->3") != std::string::npos);
  auto h = d.get_json("deployments rollout history web");
  REQUIRE(h.size() == 3);
  CHECK(h[2].value("revision", 0) == d.deployment("web").value("revision", -1));
  CHECK(d.volar("deployments rollout history nope").exit_code == 1);

  // Undo: a new revision copied from the one before (GEN=2), then from revision 1.
  d.ok("deployments resume web");
  auto undone = d.volar("deployments rollout undo web");
  REQUIRE_MESSAGE(undone.exit_code == 0, undone.err);
  CHECK(undone.out == "deployment web rolled back (now revision 4)\n");
  auto spec = d.get_json("deployments show web")["spec"]["tmpl"];
  CHECK(spec["env"] == json::array({{{"key", "GEN"}, {"value", "2"}}}));
  r = d.volar("deployments rollout status web --watch --timeout 120");
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  undone = d.volar("deployments rollout undo web --to-revision 1");
  REQUIRE_MESSAGE(undone.exit_code == 0, undone.err);
  CHECK(undone.out == "deployment web rolled back to revision 1 (now revision 5)\n");
  CHECK(d.get_json("deployments show web")["spec"]["tmpl"]["env"] == json::array());
  history = lines_of(d.ok("deployments rollout history web"));
  REQUIRE(history.size() == 6);
  CHECK(history[4].find("env GEN=3->2") != std::string::npos);
  CHECK(history[5].find("env -GEN") != std::string::npos);
  // Bad undos: one line each, nothing changes.
  auto bad = d.volar("deployments rollout undo web --to-revision 9");
  CHECK(bad.exit_code == 1);
  CHECK_MESSAGE(bad.err == "volar: revision 9 is not in the history of 'web' (revisions 1 to 5)\n",
                bad.err);
  bad = d.volar("deployments rollout undo web --to-revision 5");
  CHECK_MESSAGE(bad.err.find("is at revision 5 already") != std::string::npos, bad.err);
  CHECK(d.deployment("web").value("revision", 0) == 5);
}

} // namespace volant::e2e

namespace volant::e2e {

TEST_CASE("the guide's --multi-host on a single-host volantd: accepted, the reply says where "
          "the replicas run; hosts list shows the one host and a drain is refused") {
  daemon d({.pool_octet = 173});
  d.install(httpd_manifest());
  auto created = d.ok("deployments create web --plugin e2e-httpd --replicas 3 --multi-host "
                      "--wait");
  CHECK_MESSAGE(created.find("deployment web created (plugin e2e-httpd:1.0.0); --multi-host: "
                             "all 3 replicas run on its one host 'local' (volantd runs "
                             "without --cluster)")
                    != std::string::npos,
                created);
  CHECK(d.get_json("deployments show web")["spec"].value("multi_host", false));
  CHECK(d.ok("deployments show web").find("Placement:") != std::string::npos);
  // Without the flag: packed, and nothing said.
  auto packed = d.ok("deployments create api --plugin e2e-httpd --replicas 1");
  CHECK(packed.find("--multi-host") == std::string::npos);
  CHECK(d.ok("deployments show api").find("Placement:") == std::string::npos);

  auto hosts = d.get_json("hosts list");
  REQUIRE(hosts.size() == 1);
  CHECK(hosts[0].value("name", "") == "local");
  CHECK(hosts[0].value("state", "") == "ready");
  CHECK(eventually([&] { return d.get_json("hosts list")[0].value("vms", 0) == 4; }));
  auto table = d.ok("hosts list");
  CHECK(table.find("NAME") != std::string::npos);
  CHECK(table.find("local") != std::string::npos);

  auto drain = d.volar("hosts drain local");
  CHECK(drain.exit_code != 0);
  CHECK(one_line(drain.err));
  CHECK(drain.err.find("host 'local' is the only host: its replicas have nowhere to go")
        != std::string::npos);
  auto unknown = d.volar("hosts drain node-9");
  CHECK(unknown.exit_code != 0);
  CHECK(unknown.err.find("host 'node-9' not found") != std::string::npos);
  // Nothing moved or stopped.
  CHECK(d.vms_of("web").size() == 3);
}

} // namespace volant::e2e
