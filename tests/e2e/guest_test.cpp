// Guest images end to end (suite "microvm"): plugins whose microVM guest volantd
// builds at install, from Debian packages of the local package cache or from an
// OCI archive made here, booted by real QEMU in a network namespace the test
// creates. Needs root and qemu-system-x86; fetches missing packages into the
// machine's package cache with `volar guest fetch` (guests are cached between
// runs). Fails, never skips.

#include "e2e/e2e.hpp"
#include "support/netns.hpp"
#include "support/oci_image.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace volant::e2e {

namespace {

namespace fs = std::filesystem;

void require_microvm_host() {
  REQUIRE_MESSAGE(::geteuid() == 0, "the guest test needs root (network namespace, TAPs)");
  REQUIRE_MESSAGE(test::run("command -v qemu-system-x86_64").exit_code == 0,
                  "qemu-system-x86_64 is missing: run scripts/setup.sh (qemu-system-x86)");
  // Outside the namespace: Debian's archive may be needed for what is missing.
  auto r = test::run(sh_quote(test::binary("VOLAR")) + " guest fetch nginx python3");
  REQUIRE_MESSAGE(r.exit_code == 0, "volar guest fetch failed: " << r.err);
}

std::string body(const std::string& ip, const std::string& path) {
  auto r = http_get(ip, 80, path, 5s);
  return r && r->status == 200 ? r->body : "<" + (r ? std::to_string(r->status) : "no answer") + ">";
}

/// The vm_exited events of `vm`, oldest first.
std::vector<json> exits_of(const daemon& d, const std::string& vm) {
  std::vector<json> out;
  for (const auto& j : d.journal())
    if (j.value("event", "") == "vm_exited" && j["fields"].value("name", "") == vm)
      out.push_back(j["fields"]);
  return out;
}

json manifest_file(const std::string& path) {
  return json::parse(std::ifstream(path));
}

} // namespace

TEST_CASE("a microVM plugin built from Debian packages: nginx in three guests, each serving "
          "/health and its name, its output in vms logs") {
  require_microvm_host();
  test::netns_scope ns("volant-guest-");
  daemon d({.pool_octet = 91, .stop_grace_ms = 8000, .pool_cidr = "192.168.127.0/24"});
  auto manifest = examples_dir() + "/plugins/nginx-qemu.manifest.json";
  auto r = d.volar("plugins install --manifest " + manifest);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  CHECK(r.out.find("plugin nginx-qemu 1.22.1 installed") != std::string::npos);
  CHECK_MESSAGE(r.out.find("guest: nginx + ") != std::string::npos, r.out);

  // What was built: a root disk in the shared cache, its summary and hash.
  auto shown = d.get_json("plugins show nginx-qemu");
  auto rootfs = shown.value("rootfs", "");
  CHECK(rootfs.find("/images/") != std::string::npos);
  CHECK(fs::exists(rootfs));
  CHECK(shown["image"].value("summary", "").find("Debian packages, ext4") != std::string::npos);
  CHECK(shown["image"].value("key", "").size() == 32);
  CHECK(d.ok("plugins show nginx-qemu").find("Guest:") != std::string::npos);

  // Installed again (another version): the same inputs come from the cache.
  auto again = manifest_file(manifest);
  again["version"] = "1.22.2";
  d.install(again);
  CHECK(d.get_json("plugins show nginx-qemu:1.22.2").value("rootfs", "") == rootfs);

  r = d.volar("deployments create web --plugin nginx-qemu:1.22.1 --replicas 3 --memory 128 "
              "--wait --timeout 300");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  for (int i = 0; i < 3; ++i) {
    auto vm = "web-" + std::to_string(i);
    auto ip = d.vm(vm).value("ip", "");
    CAPTURE(vm);
    CHECK(d.vm(vm).value("driver", "") == "qemu");
    CHECK(body(ip, "/health") == "ok\n");
    CHECK(body(ip, "/") == vm + " /\n");
  }
  // nginx's own output (its access log on stdout) reaches the VM's log.
  CHECK(eventually([&] { return d.ok("vms logs web-1").find("\"GET / HTTP/1.") != std::string::npos; },
                   20s));
  CHECK(d.ok("vms logs web-1").find("volant-init: started /usr/sbin/nginx") != std::string::npos);

  // Replaced by an update, a guest stops gracefully: the power button reaches
  // its init, which stops nginx (SIGTERM) and sees it end before powering off.
  // (The log of a replaced VM is kept; its new run is appended.)
  r = d.volar("deployments update web --env GEN=2 --wait --timeout 300");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  auto log0 = d.ok("vms logs web-0");
  CHECK_MESSAGE(log0.find("volant-init: stopping the workload (SIGTERM") != std::string::npos, log0);
  CHECK_MESSAGE(log0.find("volant-init: the workload exited with status 0") != std::string::npos,
                log0);
  CHECK(body(d.vm("web-0").value("ip", ""), "/health") == "ok\n");
  r = d.volar("deployments scale web --replicas 1 --wait --timeout 120");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  CHECK(d.settled("web", 1, 60s));

  // Paused and resumed in place, then adopted after a daemon crash: the same
  // QEMU serves on.
  auto ip0 = d.vm("web-0").value("ip", "");
  int pid0 = d.vm("web-0").value("pid", 0);
  REQUIRE(d.volar("deployments pause web").exit_code == 0);
  CHECK(eventually([&] { return d.vm("web-0").value("status", "") == "paused"; }, 60s));
  CHECK_FALSE(http_get(ip0, 80, "/health", 1s).has_value());
  REQUIRE(d.volar("deployments resume web").exit_code == 0);
  CHECK(eventually([&] { return body(ip0, "/health") == "ok\n"; }, 60s));
  d.kill9();
  d.start();
  CHECK(d.settled("web", 1, 60s));
  CHECK(d.vm("web-0").value("pid", 0) == pid0);
  CHECK(body(ip0, "/") == "web-0 /\n");
}

TEST_CASE("env and files from the manifest and the deployment are visible inside the guest; "
          "names resolve through volantd's DNS") {
  require_microvm_host();
  test::netns_scope ns("volant-guest-");
  daemon d({.pool_octet = 92, .stop_grace_ms = 8000, .pool_cidr = "192.168.127.0/24"});
  auto m = manifest_file(examples_dir() + "/plugins/python-http-qemu.manifest.json");
  m["guest"]["files"]["/srv/motd.txt"] = "a file from the manifest\n";
  // A script among the files is executable.
  m["guest"]["files"]["/usr/local/bin/greet"] =
      "#!/bin/sh\necho \"greetings from $VOLANT_VM_NAME\" > /srv/greet.txt\n";
  m["workload"]["env"] = {{"PLUGIN_GREETING", "from the manifest"}};
  m["workload"]["entrypoint"] = {
      "/bin/sh", "-c",
      "greet && echo \"$PLUGIN_GREETING|$TIER|$VOLANT_VM_NAME|$VOLANT_IP\" > /srv/env.txt && "
      "echo \"$VOLANT_VM_NAME\" > /srv/index.html && exec python3 /srv/serve.py"};
  // Names through the guest's resolver (glibc's getaddrinfo, /etc/resolv.conf
  // as its init wrote it): /resolve?NAME gives the addresses or the error.
  m["guest"]["files"]["/srv/serve.py"] =
      "import http.server, socket, urllib.parse\n"
      "class H(http.server.SimpleHTTPRequestHandler):\n"
      "    def do_GET(self):\n"
      "        u = urllib.parse.urlsplit(self.path)\n"
      "        if u.path != '/resolve':\n"
      "            return super().do_GET()\n"
      "        try:\n"
      "            out = ' '.join(sorted({a[4][0] for a in socket.getaddrinfo(\n"
      "                u.query, 80, socket.AF_INET, socket.SOCK_STREAM)}))\n"
      "        except OSError as e:\n"
      "            out = 'error: ' + str(e)\n"
      "        body = (out + '\\n').encode()\n"
      "        self.send_response(200)\n"
      "        self.send_header('Content-Length', str(len(body)))\n"
      "        self.end_headers()\n"
      "        self.wfile.write(body)\n"
      "http.server.ThreadingHTTPServer(('', 80), lambda *a: H(*a, directory='/srv'))"
      ".serve_forever()\n";
  // A file of this run only: the build is cold every time (and shows its
  // progress at a terminal: `script` gives volar one).
  m["guest"]["files"]["/srv/nonce.txt"] = std::to_string(::getpid()) + "-"
                                          + std::to_string(std::chrono::steady_clock::now()
                                                               .time_since_epoch()
                                                               .count());
  auto path = d.scratch("python.json");
  std::ofstream(path) << m.dump();
  auto tty = test::run("script -qec " + sh_quote(sh_quote(test::binary("VOLAR")) + " --data-dir "
                                                 + sh_quote(d.dir()) + " plugins install --manifest "
                                                 + sh_quote(path))
                       + " /dev/null");
  REQUIRE_MESSAGE(tty.exit_code == 0, tty.out << tty.err << d.log_tail());
  CHECK_MESSAGE(tty.out.find("volar: volantd builds the guest of python-http-qemu") != std::string::npos,
                tty.out);
  CHECK_MESSAGE(tty.out.find("volar: unpacking ") != std::string::npos, tty.out);
  CHECK(tty.out.find("plugin python-http-qemu 3.11.0 installed") != std::string::npos);
  auto r = d.volar("deployments create py --plugin python-http-qemu --replicas 1 --memory 128 "
                   "--env TIER=backend --wait --timeout 300");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  auto ip = d.vm("py-0").value("ip", "");
  CHECK(body(ip, "/motd.txt") == "a file from the manifest\n");
  CHECK(body(ip, "/health") == "ok\n");
  CHECK(body(ip, "/env.txt") == "from the manifest|backend|py-0|" + ip + "\n");
  CHECK(body(ip, "/greet.txt") == "greetings from py-0\n");

  // volantd's DNS is the guest's resolver (on the bridge's address, from the
  // kernel command line): a deployment's ready VMs by name, the short name
  // through the search domain, following a scale-up; unknown names fail.
  auto resolve = [&](const std::string& name) { return body(ip, "/resolve?" + name); };
  CHECK_MESSAGE(eventually([&] { return resolve("py.volant.local") == ip + "\n"; }, 30s),
                resolve("py.volant.local") << d.ok("vms logs py-0"));
  r = d.volar("deployments scale py --replicas 2 --wait --timeout 300");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  auto ip1 = d.vm("py-1").value("ip", "");
  auto both = ip < ip1 ? ip + " " + ip1 + "\n" : ip1 + " " + ip + "\n";
  CHECK_MESSAGE(eventually([&] { return resolve("py") == both; }, 30s), resolve("py"));
  CHECK(resolve("py-1.py.volant.local") == ip1 + "\n");
  CHECK(resolve("nothere.volant.local").rfind("error: ", 0) == 0);
}

TEST_CASE("a workload that exits inside the guest is journaled with its own status and "
          "restarted; exit lines it prints on its console fool nobody") {
  require_microvm_host();
  test::netns_scope ns("volant-guest-");
  daemon d({.pool_octet = 93, .stop_grace_ms = 8000, .pool_cidr = "192.168.127.0/24"});
  json m = {{"name", "quitter"},
            {"version", "1.0.0"},
            {"runtime", "qemu"},
            {"guest", {{"debian_packages", {"busybox-static"}}}},
            {"workload",
             {{"entrypoint",
               {"/bin/sh", "-c",
                // What the guest's control port would say, and what the old
                // guest printed, forged on the console.
                "echo 'exited 0'; echo 'killed 9'; echo 'VOLANT-STOPPED quitter-0'; "
                "sleep 2; exit 3"}}}}};
  d.install(m);
  auto r = d.volar("deployments create quitter --plugin quitter --replicas 1 --memory 128");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::vector<json> exits;
  REQUIRE_MESSAGE(eventually([&] { return (exits = exits_of(d, "quitter-0")).size() >= 2; },
                             300s, 500ms),
                  "quitter-0 exited " << exits.size() << " times: " << d.log_tail());
  for (const auto& e : exits) {
    CHECK(e.value("exit_code", -100) == 3);
    CHECK(e.value("reason", "") == "the workload exited with status 3 (in the guest)");
  }
  // Restarted with the usual back-off, and counted.
  CHECK(eventually([&] { return d.vm("quitter-0").value("restarts", 0) >= 2; }, 60s));
  // The forged lines were printed: they are in the log, not in the journal.
  CHECK(d.ok("vms logs quitter-0").find("exited 0") != std::string::npos);
}

TEST_CASE("an OCI archive made here boots and runs its Entrypoint with its config's Env; "
          "whiteouts hide what a lower layer had") {
  require_microvm_host();
  // Two layers: busybox and a page that the second layer deletes; then the
  // app, its health page and the whiteout.
  test::temp_dir work;
  auto l1 = work / "l1", l2 = work / "l2";
  auto busybox_deb = test::run("ls /var/cache/volant/packages/busybox-static_*_amd64.deb | head -n1");
  REQUIRE(busybox_deb.exit_code == 0);
  auto deb = busybox_deb.out.substr(0, busybox_deb.out.find('\n'));
  REQUIRE(test::run("mkdir -p " + work / "bb" + " && dpkg-deb -x " + deb + " " + work / "bb")
              .exit_code == 0);
  fs::create_directories(l1 + "/bin");
  fs::create_directories(l1 + "/www");
  fs::copy_file(work / "bb/bin/busybox", l1 + "/bin/busybox");
  fs::create_symlink("busybox", l1 + "/bin/sh");
  std::ofstream(l1 + "/www/old.html") << "from the lower layer\n";
  fs::create_directories(l2 + "/www");
  fs::create_directories(l2 + "/app");
  std::ofstream(l2 + "/www/.wh.old.html");
  std::ofstream(l2 + "/www/health") << "ok\n";
  std::ofstream(l2 + "/app/run.sh")
      << "echo \"$GREETING\" > /www/index.html\nexec /bin/busybox httpd -f -p 80 -h /www\n";
  json config = {{"architecture", "amd64"},
                 {"os", "linux"},
                 {"config",
                  {{"Entrypoint", {"/bin/sh", "/app/run.sh"}},
                   {"Env", {"PATH=/bin", "GREETING=hello from an OCI image"}},
                   {"WorkingDir", "/www"}}}};
  auto archive = work / "app-image.tar";
  test::make_oci_image(work.path(), {l1, l2}, config, archive);

  test::netns_scope ns("volant-guest-");
  daemon d({.pool_octet = 94, .stop_grace_ms = 8000, .pool_cidr = "192.168.127.0/24"});
  json m = {{"name", "oci-app"},
            {"version", "1.0.0"},
            {"runtime", "qemu"},
            {"guest", {{"oci_archive", archive}}},
            {"workload",
             {{"health_check",
               {{"enabled", true},
                {"http",
                 {{"port", 80}, {"path", "/health"}, {"interval_seconds", 2},
                  {"timeout_seconds", 2}}}}}}}};
  d.install(m);
  // The image's defaults became the plugin's workload.
  auto shown = d.get_json("plugins show oci-app");
  CHECK(shown["workload"]["entrypoint"] == json({"/bin/sh", "/app/run.sh"}));
  CHECK(shown["image"].value("summary", "").find("OCI archive app-image.tar") != std::string::npos);
  auto r = d.volar("deployments create app --plugin oci-app --replicas 1 --memory 128 --wait "
                   "--timeout 300");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  auto ip = d.vm("app-0").value("ip", "");
  CHECK(body(ip, "/") == "hello from an OCI image\n");
  CHECK(body(ip, "/old.html") == "<404>");
}

TEST_CASE("a guest from a directory, as an initramfs, and a prepared root disk boot too") {
  require_microvm_host();
  test::temp_dir work;
  // A directory holding a page and a start script; busybox is added by the
  // build (a shell and httpd for it).
  auto root = work / "root";
  fs::create_directories(root + "/www");
  std::ofstream(root + "/www/health") << "ok\n";
  std::ofstream(root + "/start.sh")
      << "echo \"dir guest $VOLANT_VM_NAME\" > /www/index.html\nexec httpd -f -p 80 -h /www\n";
  test::netns_scope ns("volant-guest-");
  daemon d({.pool_octet = 96, .stop_grace_ms = 8000, .pool_cidr = "192.168.127.0/24"});
  json health = {{"enabled", true},
                 {"http", {{"port", 80}, {"path", "/health"}, {"interval_seconds", 2},
                           {"timeout_seconds", 2}}}};
  // A kernel of the plugin's own (here a copy of the default one, with the
  // modules the guest needs next to it), where QEMU's user can read it.
  d.install_file(examples_dir() + "/plugins/nginx-qemu.manifest.json");
  auto default_kernel = d.get_json("plugins show nginx-qemu").value("kernel", "");
  auto own = d.workload_scratch("kernel");
  REQUIRE(test::run("cp -r " + sh_quote(fs::path(default_kernel).parent_path().string()) + "/. "
                    + sh_quote(own) + " && chmod -R a+rX " + sh_quote(own))
              .exit_code == 0);
  json dir_plugin = {{"name", "dir-app"},
                     {"version", "1.0.0"},
                     {"runtime", "qemu"},
                     {"kernel", own + "/vmlinux"},
                     {"guest", {{"directory", root}, {"format", "initramfs"}}},
                     {"workload", {{"entrypoint", {"/bin/sh", "/start.sh"}}, {"health_check", health}}}};
  d.install(dir_plugin);
  auto shown = d.get_json("plugins show dir-app");
  CHECK(shown.value("kernel", "") == own + "/vmlinux");
  CHECK_FALSE(shown.contains("rootfs")); // the root is in the initramfs
  CHECK(shown.value("initramfs", "").find("/images/") != std::string::npos);
  CHECK(shown["image"].value("summary", "").find(", initramfs") != std::string::npos);

  // The nginx image of the cache, as a prepared root disk of another plugin.
  auto disk = d.get_json("plugins show nginx-qemu").value("rootfs", "");
  REQUIRE(fs::exists(disk));
  json prepared = {{"name", "prepared"},
                   {"version", "1.0.0"},
                   {"runtime", "qemu"},
                   {"guest", {{"rootfs", disk}}},
                   {"workload", {{"health_check", health}}}};
  d.install(prepared);
  CHECK(d.get_json("plugins show prepared").value("rootfs", "") == disk);

  auto r = d.volar("deployments create dir --plugin dir-app --replicas 1 --memory 128 --wait "
                   "--timeout 300");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  CHECK(body(d.vm("dir-0").value("ip", ""), "/") == "dir guest dir-0\n");
  // A prepared disk runs what its image says (its /etc/volant/argv: nginx).
  r = d.volar("deployments create pre --plugin prepared --replicas 1 --memory 128 --wait "
              "--timeout 300");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  CHECK(body(d.vm("pre-0").value("ip", ""), "/") == "pre-0 /\n");
}

TEST_CASE("bad guests are refused at install with one line, and nothing is installed") {
  require_microvm_host();
  daemon d({.pool_octet = 95});
  auto install = [&](const json& m) {
    auto path = d.scratch("bad.json");
    std::ofstream(path) << m.dump();
    return d.volar("plugins install --manifest " + path);
  };
  json m = {{"name", "nope"},
            {"version", "1.0.0"},
            {"runtime", "qemu"},
            {"guest", {{"debian_packages", {"no-such-package-in-the-cache"}}}},
            {"workload", {{"entrypoint", {"/bin/true"}}}}};
  auto r = install(m);
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(one_line(r.err), r.err);
  CHECK_MESSAGE(r.err.find("the package cache lacks no-such-package-in-the-cache (fetch them "
                           "with: volar guest fetch no-such-package-in-the-cache)")
                    != std::string::npos,
                r.err);
  m["guest"] = {{"oci_archive", d.scratch("missing.tar")}};
  r = install(m);
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(r.err.find("guest.oci_archive " + d.scratch("missing.tar")) != std::string::npos,
                r.err);
  m["guest"] = {{"debian_packages", {"nginx"}}, {"oci_archive", "/x.tar"}};
  r = install(m);
  CHECK(r.exit_code != 0);
  CHECK_MESSAGE(r.err.find("give one of debian_packages, oci_archive") != std::string::npos, r.err);
  CHECK(d.get_json("plugins list").empty());

  // A daemon told to use a kernel that is not there says so at install.
  daemon k({.pool_octet = 97, .extra = {"--guest-kernel", "/nonexistent/vmlinux"}});
  m["guest"] = {{"debian_packages", {"nginx"}}};
  auto path = k.scratch("kernel.json");
  std::ofstream(path) << m.dump();
  r = k.volar("plugins install --manifest " + path);
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(r.err.find("the guest kernel /nonexistent/vmlinux cannot be read") != std::string::npos,
                r.err);
}


TEST_CASE("a microVM's persistent volume: data written by the guest survives a recreate, "
          "on an ext4 image under the data directory") {
  require_microvm_host();
  test::netns_scope ns("volant-guest-");
  daemon d({.pool_octet = 170, .stop_grace_ms = 8000, .pool_cidr = "192.168.127.0/24"});
  json m = {{"name", "vdb"},
            {"version", "1.0.0"},
            {"runtime", "qemu"},
            {"guest", {{"debian_packages", {"busybox-static"}}}},
            {"workload",
             {{"entrypoint",
               {"/bin/sh", "-c",
                "echo \"$VOLANT_VM_NAME run\" >> /data/runs && exec busybox httpd -f -p 80 "
                "-h /data"}}}}};
  d.install(m);
  auto r = d.volar("deployments create vdb --plugin vdb --memory 128 --volume "
                   "/data:persistent:64M --wait --timeout 300");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  auto ip = d.vm("vdb-0").value("ip", "");
  CHECK_MESSAGE(eventually([&] { return body(ip, "/runs") == "vdb-0 run\n"; }, 60s),
                body(ip, "/runs") << d.log_tail());
  auto vols = d.get_json("volumes list");
  REQUIRE(vols.size() == 1);
  CHECK(vols[0].value("name", "") == "vdb-0:/data");
  CHECK(vols[0].value("kind", "") == "ext4 image");
  CHECK(vols[0].value("size_mib", 0) == 64);
  auto image = d.dir() + "/volumes/" + std::to_string(vols[0].value("id", 0)) + ".ext4";
  CHECK(fs::file_size(image) == 64u << 20);

  // A recreate: a new QEMU on the same image; the guest finds what it wrote.
  auto pid = d.vm("vdb-0").value("pid", 0);
  d.ok("vms delete vdb-0");
  CHECK_MESSAGE(eventually(
                    [&] {
                      auto vm = d.vm("vdb-0");
                      return vm.value("pid", 0) != pid && vm.value("status", "") == "ready"
                             && body(ip, "/runs") == "vdb-0 run\nvdb-0 run\n";
                    },
                    300s, 500ms),
                body(ip, "/runs") << d.log_tail());
  // Read on the host too, without mounting (the guest's unmount flushed it).
  d.ok("deployments scale vdb --replicas 0 --wait --timeout 120");
  auto host = test::run("debugfs -R 'cat /runs' " + sh_quote(image) + " 2>/dev/null");
  CHECK(host.out == "vdb-0 run\nvdb-0 run\n");
}

} // namespace volant::e2e
