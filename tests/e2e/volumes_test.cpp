// Persistent volumes and quotas end to end (issue 14, docs/volumes.md): a
// database-like workload on the process driver keeps what it wrote in its
// volume across a crash restart, a recreate, an update to a new plugin
// version and scale 0 -> 1; replicas never see each other's data; the data is
// gone after `deployments delete --purge-volumes`. The guide's quota file
// refuses what does not fit, with the numbers.

#include "e2e/e2e.hpp"

#include <csignal>
#include <filesystem>
#include <fstream>

namespace volant::e2e {

namespace {

namespace fs = std::filesystem;

/// A database-like plugin: at each start its workload appends one line to
/// DATA/runs ("<vm> v<version>"), counts the lines of its scratch file after
/// adding one (DATA/scratch_lines), and serves DATA over HTTP: what a client
/// reads is what the workload sees at DATA.
json db_manifest(const std::string& version, const std::string& data,
                 const std::string& scratch) {
  return {{"name", "e2e-db"},
          {"version", version},
          {"description", "e2e: a workload that keeps state in a volume"},
          {"runtime", "process"},
          {"workload",
           {{"entrypoint",
             {"/bin/sh", "-c",
              "echo \"$VOLANT_VM_NAME v" + version + "\" >> " + data + "/runs && echo x >> "
                  + scratch + "/s && wc -l < " + scratch + "/s > " + data
                  + "/scratch_lines && exec busybox httpd -f -p \"$VOLANT_IP:80\" -h " + data}}}}};
}

std::vector<std::string> runs_of(const daemon& d, const std::string& vm) {
  auto j = d.vm(vm);
  if (!j.is_object())
    return {};
  auto body = http_get(j.value("ip", ""), 80, "/runs", std::chrono::seconds(2));
  if (!body || body->status != 200)
    return {};
  return lines_of(body->body);
}

/// Waits until `vm`'s /runs has `n` lines; returns them.
std::vector<std::string> runs_eventually(const daemon& d, const std::string& vm, std::size_t n) {
  std::vector<std::string> runs;
  eventually(
      [&] {
        runs = runs_of(d, vm);
        return runs.size() == n;
      },
      60s);
  return runs;
}

json volume_named(const daemon& d, const std::string& name) {
  for (const auto& v : d.get_json("volumes list"))
    if (v.value("name", "") == name)
      return v;
  return nullptr;
}

std::size_t entries(const std::string& dir) {
  std::error_code err;
  std::size_t n = 0;
  for (auto it = fs::directory_iterator(dir, err); !err && it != fs::directory_iterator(); ++it)
    ++n;
  return n;
}

} // namespace

TEST_CASE("a persistent volume keeps a replica's data across restart, recreate, update "
          "and scale 0 -> 1, and is purged on request") {
  daemon d({.pool_octet = 166});
  // The mount points: made on the host when missing (empty), never written.
  auto base = std::string("/var/lib/volant-e2e-166");
  fs::remove_all(base);
  auto data = base + "/data", scratch = base + "/scratch";
  auto v1 = d.scratch("db1.json"), v2 = d.scratch("db2.json");
  std::ofstream(v1) << db_manifest("1", data, scratch).dump();
  std::ofstream(v2) << db_manifest("2", data, scratch).dump();
  d.ok("plugins install --manifest " + v1);
  d.ok("plugins install --manifest " + v2);
  d.ok("deployments create db --plugin e2e-db:1 --replicas 2 --volume " + data
       + ":persistent --volume " + scratch + ":ephemeral --wait --timeout 60");

  // Each replica has its own volume, and sees only its own data.
  CHECK(runs_eventually(d, "db-0", 1) == std::vector<std::string>{"db-0 v1"});
  CHECK(runs_eventually(d, "db-1", 1) == std::vector<std::string>{"db-1 v1"});
  auto vols = d.get_json("volumes list --deployment db");
  REQUIRE(vols.size() == 2);
  CHECK(vols[0].value("name", "") == "db-0:" + data);
  CHECK(vols[0].value("vm", "") == "db-0");
  CHECK(vols[0].value("status", "") == "attached");
  CHECK(vols[0].value("kind", "") == "directory");
  CHECK(vols[1].value("name", "") == "db-1:" + data);
  auto table = d.ok("volumes list");
  CHECK(table.find("db-0:" + data) != std::string::npos);
  CHECK(table.find("attached") != std::string::npos);
  // Nothing reached the host's directory: the workload wrote into its volume.
  CHECK(fs::is_directory(data));
  CHECK(entries(data) == 0);

  // A crash: restarted in place, the data and the scratch space stay.
  auto pid = d.vm("db-0").value("pid", 0);
  REQUIRE(pid > 0);
  ::kill(pid, SIGKILL);
  auto runs = runs_eventually(d, "db-0", 2);
  CHECK(runs == std::vector<std::string>{"db-0 v1", "db-0 v1"});
  auto lines = http_get(d.vm("db-0").value("ip", ""), 80, "/scratch_lines", 2s);
  REQUIRE(lines);
  CHECK(lines->body == "2\n");

  // A recreate (vms delete): the data stays, the scratch space starts empty.
  d.ok("vms delete db-0");
  runs = runs_eventually(d, "db-0", 3);
  CHECK(runs.size() == 3);
  lines = http_get(d.vm("db-0").value("ip", ""), 80, "/scratch_lines", 2s);
  REQUIRE(lines);
  CHECK(lines->body == "1\n");

  // An update to a new plugin version recreates both VMs: no surge, same data.
  d.ok("deployments update db --plugin e2e-db:2 --wait --timeout 60");
  runs = runs_eventually(d, "db-0", 4);
  REQUIRE(runs.size() == 4);
  CHECK(runs.back() == "db-0 v2");
  CHECK(runs_eventually(d, "db-1", 2) == std::vector<std::string>{"db-1 v1", "db-1 v2"});

  // Scale 0 -> 1: the volumes are kept meanwhile, and replica 0 finds its own.
  d.ok("deployments scale db --replicas 0 --wait --timeout 60");
  CHECK(eventually([&] {
    auto v = volume_named(d, "db-1:" + data);
    return v.is_object() && v.value("status", "") == "kept: replica 1 scaled away";
  }));
  CHECK(volume_named(d, "db-0:" + data).value("vm", "x") == "");
  d.ok("deployments scale db --replicas 1 --wait --timeout 60");
  runs = runs_eventually(d, "db-0", 5);
  CHECK(runs.size() == 5);

  // volumes delete: refused while attached, allowed once detached.
  auto refused = d.volar("volumes delete db-0:" + data);
  CHECK(refused.exit_code != 0);
  CHECK(one_line(refused.err));
  CHECK(refused.err.find("is attached to VM 'db-0'") != std::string::npos);
  d.ok("volumes delete db-1:" + data);
  CHECK(volume_named(d, "db-1:" + data).is_null());
  CHECK(entries(d.dir() + "/volumes") == 1);
  auto unknown = d.volar("volumes delete db-9:/nope");
  CHECK(unknown.exit_code != 0);
  CHECK(unknown.err.find("not found") != std::string::npos);

  // Scale 1 -> 2: a new volume for replica 1, empty.
  d.ok("deployments scale db --replicas 2 --wait --timeout 60");
  CHECK(runs_eventually(d, "db-1", 1) == std::vector<std::string>{"db-1 v2"});

  // The journal has the volumes' history.
  std::map<std::string, int> kinds;
  for (const auto& e : d.journal())
    kinds[e.value("event", "")] += 1;
  CHECK(kinds["volume_created"] == 3);
  CHECK(kinds["volume_deleted"] == 1);
  CHECK(kinds["volume_attached"] >= 4);
  CHECK(kinds["volume_detached"] >= 2);
  // explain tells them: a VM's story its own volume, a deployment's every one.
  auto vm_story = d.ok("shell -c 'explain db-0'");
  CHECK_MESSAGE(vm_story.find("volume db-0:" + data + " attached to db-0") != std::string::npos,
                vm_story);
  CHECK(vm_story.find("volume db-1:") == std::string::npos);
  auto dep_story = d.ok("shell -c 'explain db'");
  CHECK(dep_story.find("volume db-1:" + data + " deleted") != std::string::npos);

  // Purged with the deployment: the data is gone from the disk.
  d.ok("deployments delete db --force --purge-volumes");
  CHECK(eventually([&] { return d.get_json("volumes list").empty(); }, 60s));
  CHECK(eventually([&] { return entries(d.dir() + "/volumes") == 0; }));
  fs::remove_all(base);
}

TEST_CASE("deleting a deployment keeps its volumes for a new one of the same name, also "
          "across a daemon crash") {
  daemon d({.pool_octet = 167});
  auto base = std::string("/var/lib/volant-e2e-167");
  fs::remove_all(base);
  auto data = base + "/data";
  auto m = d.scratch("db.json");
  std::ofstream(m) << db_manifest("1", data, base + "/scratch").dump();
  d.ok("plugins install --manifest " + m);
  auto create = "deployments create db --plugin e2e-db --volume " + data
                + ":persistent --volume " + base + "/scratch --wait --timeout 60";
  d.ok(create);
  CHECK(runs_eventually(d, "db-0", 1).size() == 1);
  d.ok("deployments delete db --force");
  CHECK(eventually([&] { return d.vms_of("db").empty(); }));
  CHECK(volume_named(d, "db-0:" + data).value("status", "") == "kept: deployment deleted");
  d.kill9();
  d.start();
  d.ok(create);
  CHECK(runs_eventually(d, "db-0", 2) == std::vector<std::string>{"db-0 v1", "db-0 v1"});
  fs::remove_all(base);
}

TEST_CASE("the guide's quota file: refused beyond max_vms, max_cpu, max_memory_gb with the "
          "numbers; the file is re-read when it changes; apply is refused meanwhile") {
  test::temp_dir quotas_dir;
  auto file = quotas_dir.path() + "/quotas.yaml";
  std::ofstream(file) << "quotas:\n"
                         "  - name: production\n"
                         "    max_vms: 100\n"
                         "    max_cpu: 64\n"
                         "    max_memory_gb: 128\n"
                         "\n"
                         "  - name: development\n"
                         "    max_vms: 20\n"
                         "    max_cpu: 16\n"
                         "    max_memory_gb: 32\n";
  daemon d({.pool_octet = 168, .memory_mib = 65536, .cpus = 16,
            .extra = {"--quotas", file}});
  d.install(httpd_manifest());
  CHECK(eventually([&] { return d.get_json("quotas list").size() == 2; }));
  auto dev = d.get_json("quotas show development");
  CHECK(dev.value("max_vms", 0) == 20);
  CHECK(dev.value("max_cpu", 0) == 16);
  CHECK(dev.value("max_memory_mib", 0) == 32 * 1024);

  d.ok("deployments create api --plugin e2e-httpd --replicas 3 --cpu 4 --quota development "
       "--wait");
  auto over = d.volar("deployments create api2 --plugin e2e-httpd --replicas 2 --cpu 4 "
                      "--quota development");
  CHECK(over.exit_code != 0);
  CHECK(one_line(over.err));
  CHECK(over.err.find("quota development: need 8 CPU, 4 of 16 free") != std::string::npos);
  auto scale = d.volar("deployments scale api --replicas 5");
  CHECK(scale.exit_code != 0);
  CHECK(scale.err.find("quota development: need 8 CPU, 4 of 16 free") != std::string::npos);
  auto mem = d.volar("deployments create big --plugin e2e-httpd --memory 40000 --quota "
                     "development");
  CHECK(mem.err.find("quota development: need 40000 MiB of memory, 32384 MiB of 32 GB free")
        != std::string::npos);
  auto unknown = d.volar("deployments create x --plugin e2e-httpd --quota staging");
  CHECK(unknown.err.find("quota 'staging' is not defined") != std::string::npos);
  auto shown = d.ok("quotas list");
  CHECK(shown.find("12 of 16") != std::string::npos); // development's CPU
  CHECK(shown.find("api") != std::string::npos);

  // volar apply of quotas is refused: the file is the source of truth.
  auto doc = d.scratch("q.yaml");
  std::ofstream(doc) << "quotas:\n  - name: development\n    max_cpu: 100\n";
  auto applied = d.volar("apply -f " + doc);
  CHECK(applied.exit_code != 0);
  CHECK(applied.err.find("edit that file") != std::string::npos);

  // An edit of the file is applied (and journaled) without a restart.
  std::ofstream(file) << "quotas:\n"
                         "  - name: development\n"
                         "    max_vms: 20\n"
                         "    max_cpu: 24\n"
                         "    max_memory_gb: 32\n";
  CHECK(eventually([&] {
    auto q = d.try_json("quotas show development");
    return q && q->value("max_cpu", 0) == 24;
  }));
  CHECK(eventually([&] { return d.get_json("quotas list").size() == 1; }));
  d.ok("deployments scale api --replicas 5");
  int sets = 0, deletes = 0;
  for (const auto& e : d.journal()) {
    sets += e.value("event", "") == "quota_set";
    deletes += e.value("event", "") == "quota_deleted";
  }
  CHECK(sets == 3);
  CHECK(deletes == 1);
  // A broken edit keeps the quotas in force.
  std::ofstream(file) << "quotas: [ {name: development, max_cpu: lots} ]\n";
  std::this_thread::sleep_for(2s);
  CHECK(d.get_json("quotas show development").value("max_cpu", 0) == 24);
}

TEST_CASE("without a quota file, volar apply -f of the guide's document defines the quotas; "
          "a bad quota file stops volantd at start with one line") {
  daemon d({.pool_octet = 169, .extra = {"--quotas", "none"}});
  auto doc = d.scratch("quotas.yaml");
  std::ofstream(doc) << "quotas:\n"
                        "  - name: production\n"
                        "    max_vms: 2\n"
                        "    max_cpu: 64\n"
                        "    max_memory_gb: 128\n";
  auto out = d.ok("apply -f " + doc);
  CHECK(out.find("quotas production applied") != std::string::npos);
  d.install(httpd_manifest());
  auto refused = d.volar("deployments create web --plugin e2e-httpd --replicas 3 --quota "
                         "production");
  CHECK(refused.err.find("quota production: need 3 VMs, 2 of 2 free") != std::string::npos);
  auto bad = d.scratch("bad.yaml");
  std::ofstream(bad) << "quotas:\n  - name: production\n    max_cpus: 4\n";
  auto err = d.volar("apply -f " + bad);
  CHECK(err.exit_code != 0);
  CHECK(err.err.find("max_cpus") != std::string::npos);
  CHECK(d.get_json("quotas show production").value("max_vms", 0) == 2);

  d.stop();
  d.opts().extra = {"--quotas", bad};
  d.launch();
  auto status = d.wait_exit(20s);
  REQUIRE(status);
  CHECK(*status != 0);
  auto log = d.log_tail(3);
  CHECK(log.find("--quotas") != std::string::npos);
  CHECK(log.find("max_cpus") != std::string::npos);
}

} // namespace volant::e2e
