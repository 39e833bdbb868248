// The qemu driver against real QEMU microVMs (suite "microvm"): guests built by
// tools/mkguest, booted inside a network namespace this test creates and enters
// (the bridge 192.168.127.0/24 and the TAPs never touch the host's namespace).
// Needs root, qemu-system-x86_64 and the packages of tools/mkguest/README.md;
// fails with a clear message when any is missing. Slow under TCG: a few boots
// only. Volumes: a guest of the guest builder (volant-guest-init as PID 1,
// busybox-static from the package cache), no network, booted three times on
// one image.

#include "events/events.hpp"
#include "guest/build.hpp"
#include "runtime/netdev.hpp"
#include "runtime/qemu_driver.hpp"
#include "runtime/qmp.hpp"
#include "support/netns.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <thread>

using namespace volant;
using namespace volant::runtime;
using namespace std::chrono_literals;

namespace {

/// The error message of `e`, or "" (doctest prints messages of passing
/// assertions too with -s).
template <class T> std::string why(const volant::expected<T>& e) {
  return e ? std::string() : e.error_value().message;
}

using steady = std::chrono::steady_clock;

struct http_reply {
  int status = 0; ///< 0: no HTTP reply
  std::string body;
  std::string error; ///< why there is no reply
};

/// GET http://ip:port/path with one deadline for connect, send and receive.
http_reply http_get(const std::string& ip, int port, const std::string& path,
                    std::chrono::milliseconds timeout) {
  http_reply r;
  auto deadline = steady::now() + timeout;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  auto wait_for = [&](short events) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - steady::now());
    pollfd p{fd, events, 0};
    return left.count() > 0 && poll(&p, 1, static_cast<int>(left.count())) == 1;
  };
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0
      && errno != EINPROGRESS) {
    r.error = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return r;
  }
  int err = 0;
  socklen_t len = sizeof err;
  if (!wait_for(POLLOUT)
      || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
    r.error = err ? std::string("connect: ") + std::strerror(err)
                  : "connect timed out";
    ::close(fd);
    return r;
  }
  auto request = "GET " + path + " HTTP/1.0\r\nHost: " + ip + "\r\n\r\n";
  (void)!::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string raw;
  for (;;) {
    if (!wait_for(POLLIN)) {
      r.error = "read timed out";
      ::close(fd);
      return r;
    }
    char buf[4096];
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      break;
    raw.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (raw.rfind("HTTP/", 0) != 0 || raw.size() < 12) {
    r.error = "not an HTTP reply: " + raw.substr(0, 40);
    return r;
  }
  r.status = std::atoi(raw.c_str() + 9);
  auto body = raw.find("\r\n\r\n");
  r.body = body == std::string::npos ? "" : raw.substr(body + 4);
  return r;
}

/// Polls `done` every 100 ms until it holds or `limit` passed; returns the
/// wait.
std::optional<double> wait_until(std::chrono::milliseconds limit,
                                 const std::function<bool()>& done) {
  auto t0 = steady::now();
  while (!done()) {
    if (steady::now() - t0 > limit)
      return std::nullopt;
    std::this_thread::sleep_for(100ms);
  }
  return std::chrono::duration<double>(steady::now() - t0).count();
}

/// Builds (or finds up to date) the guest with tools/mkguest; returns its dir.
std::string build_guest() {
  auto mkguest = volant::test::binary("VOLANT_MKGUEST");
  auto out = volant::test::binary("VOLANT_GUEST_DIR");
  auto r = volant::test::run(mkguest + " --out " + out);
  REQUIRE_MESSAGE(r.exit_code == 0,
                  "mkguest failed (" << r.exit_code << "): " << r.err);
  REQUIRE(std::filesystem::exists(out + "/vmlinux"));
  REQUIRE(std::filesystem::exists(out + "/initramfs.cpio.gz"));
  return out;
}

launch_spec spec_for(const std::string& vm, const std::string& ip,
                     const std::string& guest,
                     const volant::test::temp_dir& tmp) {
  launch_spec spec;
  spec.vm_name = vm;
  spec.workdir = tmp / vm;
  spec.log_path = tmp / (vm + ".log");
  spec.cpu = 1;
  spec.memory_mib = 128;
  spec.ip = *parse_ipv4(ip);
  spec.kernel = guest + "/vmlinux";
  spec.initramfs = guest + "/initramfs.cpio.gz";
  spec.env = {{"VOLANT_VM_NAME", vm}, {"GREETING", "hello microvm"}};
  return spec;
}

/// A guest of the guest builder (what `plugins install` makes): busybox on an
/// ext4 root disk, volant-guest-init as PID 1, `script` run by /bin/sh as its
/// workload. Cached in the build tree.
plugin_manifest build_init_guest(const std::string& script) {
  plugin_manifest m;
  m.name = "volume-test";
  m.version = "1.0.0";
  m.runtime = "qemu";
  m.workload.entrypoint = {"/bin/sh", "-c", script};
  m.guest.debian_packages = {"busybox-static"};
  guest::paths p;
  p.cache = volant::test::binary("VOLANT_GUEST_CACHE");
  p.packages = guest::default_package_dir();
  p.init = volant::test::binary("VOLANT_GUEST_INIT");
  auto built = guest::build(m, p);
  REQUIRE_MESSAGE(built, "building the guest (package cache "
                             << p.packages << "): " << why(built));
  REQUIRE_FALSE(built->rootfs.empty());
  return *built;
}

/// `debugfs -R 'cat PATH' image`: a file of an ext4 image read on the host,
/// without mounting it.
std::string debugfs_cat(const std::string& image, const std::string& path) {
  auto r = volant::test::run("PATH=$PATH:/usr/sbin:/sbin debugfs -R 'cat "
                             + path + "' '" + image + "'");
  REQUIRE_MESSAGE(r.exit_code == 0, "debugfs " << image << ": " << r.err);
  return r.out;
}

double uptime_of(const std::string& ip) {
  auto r = http_get(ip, 80, "/cgi-bin/uptime", 5s);
  return r.status == 200 ? std::atof(r.body.c_str()) : -1;
}

} // namespace

TEST_SUITE("microvm") {

  TEST_CASE("two microVMs boot, serve, pause, resume, stop, and a new driver "
            "finds them") {
    REQUIRE_MESSAGE(geteuid() == 0,
                    "the microVM test needs root (network namespace, TAPs)");
    auto which = volant::test::run("command -v qemu-system-x86_64");
    REQUIRE_MESSAGE(
        which.exit_code == 0,
        "qemu-system-x86_64 not found: apt-get install qemu-system-x86 "
        "(see tools/mkguest/README.md)");
    auto guest = build_guest();
    volant::test::temp_dir tmp;
    auto tag = std::to_string(getpid());
    std::string a = "qa" + tag + "-0", b = "qa" + tag + "-1",
                c = "qa" + tag + "-2";
    std::string ip_a = "192.168.127.10", ip_b = "192.168.127.11";
    volant::test::netns_scope ns("volant-t-");

    qemu_driver d1;
    MESSAGE("accelerator: " << d1.limits().note);
    if (std::filesystem::exists("/sys/module/kvm_pvm"))
      CHECK(d1.accelerator() == "tcg");

    auto ha = d1.start(spec_for(a, ip_a, guest, tmp));
    REQUIRE_MESSAGE(ha, why(ha));
    auto hb = d1.start(spec_for(b, ip_b, guest, tmp));
    REQUIRE_MESSAGE(hb, why(hb));
    CHECK(ha->driver == "qemu");
    CHECK(ha->control == tmp / a + "/qmp.sock");
    CHECK(d1.alive(*ha));
    CHECK(link_exists("vbr0"));
    CHECK(link_exists(tap_name(a)));
    CHECK(link_exists(tap_name(b)));

    // Both boot to the ready marker and answer HTTP.
    for (auto [vm, ip] : {std::pair{a, ip_a}, {b, ip_b}}) {
      auto log = tmp / (vm + ".log");
      auto marker = "VOLANT-READY " + vm + " " + ip;
      auto ready = wait_until(180s, [&] {
        return volant::test::read_file(log).find(marker) != std::string::npos;
      });
      REQUIRE_MESSAGE(ready, vm << " printed no ready marker; log:\n"
                                << volant::test::read_file(log));
      http_reply health;
      auto serving = wait_until(60s, [&] {
        health = http_get(ip, 80, "/health", 2s);
        return health.status == 200;
      });
      REQUIRE_MESSAGE(serving, vm << " /health: " << health.error);
      CHECK(health.body == "ok\n");
      CHECK(http_get(ip, 80, "/", 5s).body == vm + "\n");
      MESSAGE(vm << ": ready marker after " << *ready << " s of waiting");
    }

    // Pause: QEMU says paused and the guest does not answer; resume: the same
    // boot (uptime did not reset) serves again.
    auto before = uptime_of(ip_a);
    REQUIRE(before > 0);
    REQUIRE(d1.pause(*ha));
    auto st = qmp_query_status(ha->control);
    REQUIRE_MESSAGE(st, why(st));
    CHECK(*st == "paused");
    auto paused = http_get(ip_a, 80, "/health", 1500ms);
    CHECK_MESSAGE(paused.status == 0, "a paused VM answered: " << paused.body);
    CHECK(http_get(ip_b, 80, "/health", 5s).status
          == 200); // the other one serves
    REQUIRE(d1.resume(*ha));
    st = qmp_query_status(ha->control);
    REQUIRE(st);
    CHECK(*st == "running");
    auto after = uptime_of(ip_a);
    CHECK_MESSAGE(after >= before,
                  "uptime went from " << before << " to " << after);

    auto use = d1.measure(*ha, {});
    CHECK(use.rss_bytes > 16u << 20);
    CHECK(use.cpu_seconds > 0);
    MESSAGE(a << ": rss " << (use.rss_bytes >> 20) << " MiB, cpu "
              << use.cpu_seconds << " s");
    auto names = d1.processes(*ha);
    REQUIRE(names.size() == 1);
    CHECK(names[0].rfind("qemu", 0) == 0);

    // kill -9 of one QEMU: no longer alive.
    REQUIRE(::kill(static_cast<pid_t>(hb->pid), SIGKILL) == 0);
    CHECK(wait_until(5s, [&] { return !d1.alive(*hb); }));

    // A new driver (a restarted daemon) finds the survivor from its handle
    // alone and stops it gracefully, even paused: the guest powers off, QEMU
    // exits 0.
    qemu_driver d2;
    CHECK(d2.alive(*ha));
    CHECK_FALSE(d2.alive(*hb));
    CHECK(d2.measure(*ha, {}).rss_bytes > 0);
    REQUIRE(d2.pause(*ha)); // terminate continues a paused guest first
    REQUIRE(d2.terminate(*ha));
    auto stopped = wait_until(60s, [&] { return !d2.alive(*ha); });
    REQUIRE_MESSAGE(stopped, a << " still runs 60 s after system_powerdown");
    MESSAGE(a << ": stopped " << *stopped << " s after system_powerdown");
    int ws = 0;
    REQUIRE(waitpid(static_cast<pid_t>(ha->pid), &ws, 0) == ha->pid);
    CHECK(WIFEXITED(ws));
    CHECK(WEXITSTATUS(ws) == 0);
    CHECK(
        volant::test::read_file(tmp / (a + ".log")).find("VOLANT-STOPPED " + a)
        != std::string::npos);
    waitpid(static_cast<pid_t>(hb->pid), nullptr, 0);
    CHECK(d2.terminate(*ha)); // already gone: fine
    CHECK_FALSE(d2.pause(*ha));

    // Start-up reaping: a QEMU of a VM the daemon does not know goes, with its
    // TAP; the TAPs of known VMs stay.
    auto hc = d2.start(spec_for(c, "192.168.127.12", guest, tmp));
    REQUIRE_MESSAGE(hc, why(hc));
    CHECK(link_exists(tap_name(c)));
    auto reaped = d2.reap_unknown({a, b});
    CHECK(reaped == std::vector<std::string>{c});
    CHECK_FALSE(d2.alive(*hc));
    CHECK_FALSE(link_exists(tap_name(c)));
    CHECK(link_exists(tap_name(b)));
    waitpid(static_cast<pid_t>(hc->pid), nullptr, 0);

    // Forgetting a removed VM removes its TAP.
    d2.forget(a);
    d2.forget(b);
    CHECK_FALSE(link_exists(tap_name(a)));
    CHECK_FALSE(link_exists(tap_name(b)));
  }

  TEST_CASE(
      "a volume keeps what the guest wrote across runs, and one that does "
      "not mount keeps the workload from running") {
    auto which = volant::test::run("command -v qemu-system-x86_64");
    REQUIRE_MESSAGE(
        which.exit_code == 0,
        "qemu-system-x86_64 not found: apt-get install qemu-system-x86");
    // What it saw of the volume and wrote to it, on the console. The first
    // run stays up until stopped and never syncs: its write reaches the image
    // only through the init's unmount at power-off.
    auto m = build_init_guest(
        "d='/srv/my data'; "
        "grep -q 'srv/my.* ext4 ' /proc/mounts && echo VOLUME-MOUNTED; "
        "sed 's/^/VOLUME-SAW /' \"$d/f\" 2>/dev/null; "
        "echo \"$RUN\" >>\"$d/f\" && echo \"VOLUME-WROTE $RUN\"; "
        "[ \"$RUN\" = first ] && exec sleep 600; exit 0");
    volant::test::temp_dir tmp;
    auto vm = "vol" + std::to_string(getpid());
    auto image = tmp / "volumes/data.img";
    qemu_options options;
    options.network = false;
    auto spec_of = [&](std::uint64_t run, const std::string& value) {
      launch_spec spec;
      spec.vm_name = vm;
      spec.incarnation = run;
      spec.workdir = tmp / spec.run();
      spec.log_path = tmp / (spec.run() + ".log");
      spec.memory_mib = 128;
      spec.kernel = m.kernel;
      spec.initramfs = m.initramfs;
      spec.rootfs = m.rootfs;
      spec.env = {{"RUN", value}};
      spec.volumes = {{image, "/srv/my data", 64, true}};
      return spec;
    };
    auto boot = [&](qemu_driver& d, const launch_spec& spec) {
      auto h = d.start(spec);
      REQUIRE_MESSAGE(h, why(h));
      return *h;
    };
    auto log_of = [&](const launch_spec& spec) {
      return volant::test::read_file(spec.log_path);
    };
    auto wait_gone
        = [&](qemu_driver& d, const driver_handle& h, const launch_spec& spec) {
            auto gone = wait_until(180s, [&] { return !d.alive(h); });
            REQUIRE_MESSAGE(gone, spec.run() << " still runs; log:\n"
                                             << log_of(spec));
            int ws = 0;
            REQUIRE(waitpid(static_cast<pid_t>(h.pid), &ws, 0) == h.pid);
            CHECK_MESSAGE((WIFEXITED(ws) && WEXITSTATUS(ws) == 0),
                          "QEMU ended with " << ws);
          };
    qemu_driver d(options);

    // Run 1: the image is made, mounted at a path with a space, written;
    // then the VM is stopped (the power button).
    auto first = spec_of(1, "first");
    auto h1 = boot(d, first);
    CHECK(std::filesystem::file_size(image) == 64u << 20);
    auto wrote = wait_until(180s, [&] {
      return log_of(first).find("VOLUME-WROTE first") != std::string::npos;
    });
    REQUIRE_MESSAGE(wrote, "run 1 wrote nothing; log:\n" << log_of(first));
    CHECK(log_of(first).find("VOLUME-MOUNTED") != std::string::npos);
    CHECK(log_of(first).find("VOLUME-SAW") == std::string::npos);
    REQUIRE(d.terminate(h1));
    wait_gone(d, h1, first);
    // Unmounted, not detached: nothing held it.
    CHECK(log_of(first).find("unmounting volume") == std::string::npos);
    // On the host, the guest's write is in the image, whose filesystem was
    // unmounted cleanly (nothing left in the journal to replay).
    CHECK(debugfs_cat(image, "/f") == "first\n");
    auto state = volant::test::run("PATH=$PATH:/usr/sbin:/sbin dumpe2fs -h '"
                                   + image + "'");
    CHECK(state.out.find("needs_recovery") == std::string::npos);

    // Run 2, a new boot: the guest sees run 1's file and appends to it; its
    // workload ends by itself, and so does the guest.
    auto second = spec_of(2, "second");
    auto h2 = boot(d, second);
    wait_gone(d, h2, second);
    auto log2 = log_of(second);
    CHECK_MESSAGE(log2.find("VOLUME-SAW first") != std::string::npos, log2);
    CHECK(log2.find("VOLUME-WROTE second") != std::string::npos);
    auto end2 = d.workload_exit(second.workdir);
    REQUIRE(end2);
    CHECK(end2->first == 0);
    CHECK(debugfs_cat(image, "/f") == "first\nsecond\n");

    // Run 3: a second volume whose disk is not there. The guest says which
    // and why, the run ends with that reason, and the workload never runs:
    // nothing lands anywhere.
    auto broken_options = options;
    broken_options.extra_append = "volant.vol=/dev/vdz:/srv/missing";
    qemu_driver broken(broken_options);
    auto third = spec_of(3, "third");
    auto h3 = boot(broken, third);
    wait_gone(broken, h3, third);
    auto log3 = log_of(third);
    CHECK_MESSAGE(
        log3.find(
            "volant-init: mounting volume /dev/vdz at /srv/missing: No such "
            "file or directory")
            != std::string::npos,
        log3);
    CHECK(log3.find("VOLUME-WROTE") == std::string::npos);
    auto end3 = broken.workload_exit(third.workdir);
    REQUIRE(end3);
    CHECK(end3->first == 127);
    CHECK(end3->second
          == "the workload did not run: mounting volume /dev/vdz at "
             "/srv/missing: No "
             "such file or directory (in the guest)");
    CHECK(debugfs_cat(image, "/f") == "first\nsecond\n");
  }

} // TEST_SUITE
