// The qemu driver against real QEMU microVMs (suite "microvm"): guests built by
// tools/mkguest, booted inside a network namespace this test creates and enters
// (the bridge 192.168.127.0/24 and the TAPs never touch the host's namespace).
// Needs root, qemu-system-x86_64 and the packages of tools/mkguest/README.md;
// fails with a clear message when any is missing. Slow under TCG: a few boots
// only.

#include "events/events.hpp"
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

    auto use = d1.measure(*ha);
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
    CHECK(d2.measure(*ha).rss_bytes > 0);
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

} // TEST_SUITE
