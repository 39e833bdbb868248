// The qemu driver's parts that need neither root nor QEMU: names, the command
// line, accelerator detection, and the QMP client against a scripted fake QEMU.

#include "events/events.hpp"
#include "runtime/netdev.hpp"
#include "runtime/process_driver.hpp"
#include "runtime/qemu_driver.hpp"
#include "runtime/qmp.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <thread>

using namespace volant;
using namespace volant::runtime;

namespace {

/// The error message of `e`, or "" (doctest prints messages of passing
/// assertions too with -s).
template <class T> std::string why(const volant::expected<T>& e) {
  return e ? std::string() : e.error_value().message;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string after(const std::vector<std::string>& v, const std::string& flag) {
  auto it = std::find(v.begin(), v.end(), flag);
  return it == v.end() || it + 1 == v.end() ? std::string() : *(it + 1);
}

launch_spec sample_spec() {
  launch_spec spec;
  spec.vm_name = "web-0";
  spec.workdir = "/run/volant/vms/web-0";
  spec.log_path = "/var/log/volant/web-0,odd.log";
  spec.cpu = 2;
  spec.memory_mib = 256;
  spec.ip = *parse_ipv4("192.168.127.10");
  spec.kernel = "/guests/vmlinux";
  spec.initramfs = "/guests/initramfs.cpio.gz";
  spec.env = {{"GREETING", "hello world"}, {"VOLANT_VM_NAME", "web-0"}};
  return spec;
}

/// A one-connection fake QMP server on a unix socket: sends `script` lines in
/// order, each after reading one request line when it starts with "<".
class fake_qmp {
public:
  fake_qmp(std::string path, std::vector<std::string> script)
      : path_(std::move(path)), script_(std::move(script)) {
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    ::unlink(path_.c_str());
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr)
            == 0);
    REQUIRE(::listen(listen_fd_, 1) == 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~fake_qmp() {
    thread_.join();
    ::close(listen_fd_);
  }
  std::vector<std::string> requests; ///< lines received

private:
  void serve() {
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0)
      return;
    std::string buf;
    for (const auto& step : script_) {
      if (step == "<") {
        while (buf.find('\n') == std::string::npos) {
          char c[256];
          auto n = ::read(fd, c, sizeof c);
          if (n <= 0) {
            ::close(fd);
            return;
          }
          buf.append(c, static_cast<std::size_t>(n));
        }
        requests.push_back(buf.substr(0, buf.find('\n')));
        buf.erase(0, buf.find('\n') + 1);
      } else if (step.rfind("sleep ", 0) == 0) {
        std::this_thread::sleep_for(
            std::chrono::milliseconds(std::stoi(step.substr(6))));
      } else {
        auto line = step + "\r\n";
        (void)!::write(fd, line.data(), line.size());
      }
    }
    ::close(fd);
  }

  std::string path_;
  std::vector<std::string> script_;
  int listen_fd_ = -1;
  std::thread thread_;
};

const std::string greeting
    = R"({"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}})";

} // namespace

TEST_CASE("TAP names are stable, short and distinct per VM") {
  auto a = tap_name("web-0");
  CHECK(a == tap_name("web-0"));
  CHECK(a.size() == 15);
  CHECK(a.rfind("vlt", 0) == 0);
  CHECK(a != tap_name("web-1"));
  CHECK(tap_name(std::string(200, 'x')).size() == 15);
}

TEST_CASE("MAC addresses are stable, locally administered and unicast") {
  auto m = mac_address("web-0");
  CHECK(m == mac_address("web-0"));
  CHECK(m != mac_address("web-1"));
  CHECK(m.size() == 17);
  CHECK(m.rfind("02:", 0) == 0);
}

TEST_CASE("bridge CIDRs parse and bad ones are rejected") {
  auto c = parse_cidr("192.168.127.1/24");
  REQUIRE(c);
  CHECK(to_string_ip(c->address) == "192.168.127.1");
  CHECK(c->prefix == 24);
  CHECK_FALSE(parse_cidr("192.168.127.1"));
  CHECK_FALSE(parse_cidr("192.168.127.1/0"));
  CHECK_FALSE(parse_cidr("192.168.127.1/33"));
  CHECK_FALSE(parse_cidr("192.168.127/24"));
  CHECK_FALSE(parse_cidr("192.168.127.1/2x"));
}

TEST_CASE(
    "the QEMU command line boots a microVM with its network, console and QMP") {
  qemu_options opts;
  auto argv = qemu_command(sample_spec(), opts, "tcg");
  REQUIRE(argv);
  auto& a = *argv;
  CHECK(a.front() == "qemu-system-x86_64");
  CHECK(after(a, "-name") == "volant:web-0");
  CHECK(after(a, "-M") == "microvm,acpi=on");
  CHECK(after(a, "-accel") == "tcg");
  CHECK(after(a, "-smp") == "2");
  CHECK(after(a, "-m") == "256");
  CHECK(after(a, "-kernel") == "/guests/vmlinux");
  CHECK(after(a, "-initrd") == "/guests/initramfs.cpio.gz");
  CHECK(has(a, "-nodefaults"));
  CHECK(has(a, "-no-reboot"));
  CHECK_FALSE(has(a, "-cpu"));
  // The console goes to the log descriptor volantd opened (fd 3, fd set 1);
  // the path is only its label, its comma doubled (QEMU's option escaping).
  CHECK(after(a, "-add-fd") == "fd=3,set=1,opaque=/var/log/volant/web-0,,odd.log");
  CHECK(after(a, "-chardev") == "file,id=console,append=on,path=/dev/fdset/1");
  CHECK(after(a, "-qmp") == "unix:qmp.sock,server=on,wait=off");
  // The TAP as the descriptor volantd opened (fd 4).
  CHECK(after(a, "-netdev") == "tap,id=n0,fd=4");
  CHECK(has(a, "virtio-net-device,netdev=n0,mac=" + mac_address("web-0")));
  // The guest's control port (the workload's exit status), apart from the
  // console: a file in the run directory.
  CHECK(has(a, "virtio-serial-device,max_ports=2"));
  CHECK(has(a, "file,id=ctl,path=ctl.out"));
  CHECK(has(a, "virtserialport,chardev=ctl,name=volant.ctl"));
  CHECK_FALSE(has(a, "-drive"));
  auto append = after(a, "-append");
  CHECK(append.find("volant.root") == std::string::npos);
  CHECK(append.find("console=ttyS0") != std::string::npos);
  CHECK(append.find("tsc_early_khz=2000000 tsc=reliable") != std::string::npos);
  CHECK(append.find("volant.ip=192.168.127.10/24") != std::string::npos);
  CHECK(append.find("volant.gw=192.168.127.1") != std::string::npos);
  CHECK(append.find("volant.name=web-0") != std::string::npos);
  CHECK(append.find("volant.env=GREETING=hello%20world") != std::string::npos);
}

TEST_CASE("a guest with a root disk boots it as a throw-away overlay and says where it is") {
  auto spec = sample_spec();
  spec.rootfs = "/cache/images/k,1/rootfs.ext4";
  auto argv = qemu_command(spec, qemu_options{}, "tcg");
  REQUIRE(argv);
  // The image is shared by every VM of the plugin: snapshot=on never writes it.
  CHECK(after(*argv, "-drive")
        == "file=/cache/images/k,,1/rootfs.ext4,format=raw,if=none,id=root,snapshot=on");
  CHECK(has(*argv, "virtio-blk-device,drive=root"));
  CHECK(after(*argv, "-append").find(" volant.root=/dev/vda") != std::string::npos);
}

TEST_CASE("the guests' resolver is volantd's DNS on the bridge when it listens there") {
  auto spec = sample_spec();
  qemu_options options;
  auto argv = qemu_command(spec, options, "tcg");
  REQUIRE(argv);
  CHECK(after(*argv, "-append").find("volant.dns=") == std::string::npos);
  options.dns = "192.168.127.1";
  argv = qemu_command(spec, options, "tcg");
  REQUIRE(argv);
  CHECK(after(*argv, "-append").find(" volant.dns=192.168.127.1") != std::string::npos);
  // No network, no resolver.
  options.network = false;
  argv = qemu_command(spec, options, "tcg");
  REQUIRE(argv);
  CHECK(after(*argv, "-append").find("volant.dns=") == std::string::npos);
}

TEST_CASE("the guest's control report gives the workload's own status; anything else is no "
          "report") {
  CHECK_FALSE(parse_control_report(""));
  CHECK_FALSE(parse_control_report("started 82\n"));
  auto exited = parse_control_report("started 82\nexited 3\n");
  REQUIRE(exited);
  CHECK(exited->first == 3);
  CHECK(exited->second == "the workload exited with status 3 (in the guest)");
  auto killed = parse_control_report("started 82\nkilled 9\n");
  REQUIRE(killed);
  CHECK(killed->first == -9);
  CHECK(killed->second.find("signal 9") != std::string::npos);
  // An unfinished line or a bad number is not a report.
  CHECK_FALSE(parse_control_report("started 82\nexited 3"));
  CHECK_FALSE(parse_control_report("exited 300\n"));
  CHECK_FALSE(parse_control_report("exited -1\nkilled 0\nexited x\n"));
  // The last report counts.
  CHECK(parse_control_report("exited 1\nexited 0\n")->first == 0);
}

TEST_CASE(
    "under KVM the command line uses the host CPU and no TSC workaround") {
  auto argv = qemu_command(sample_spec(), qemu_options{}, "kvm");
  REQUIRE(argv);
  CHECK(after(*argv, "-accel") == "kvm");
  CHECK(after(*argv, "-cpu") == "host");
  CHECK(after(*argv, "-append").find("tsc_early_khz") == std::string::npos);
}

TEST_CASE(
    "without networking there is no NIC and no address on the command line") {
  qemu_options opts;
  opts.network = false;
  auto spec = sample_spec();
  spec.ip = 0;
  auto argv = qemu_command(spec, opts, "tcg");
  REQUIRE(argv);
  CHECK_FALSE(has(*argv, "-netdev"));
  CHECK(after(*argv, "-append").find("volant.ip=") == std::string::npos);
}

TEST_CASE("a launch without kernel, run directory or address is rejected") {
  auto spec = sample_spec();
  spec.kernel.clear();
  CHECK(qemu_command(spec, qemu_options{}, "tcg").error_value().code
        == ec::invalid_argument);
  spec = sample_spec();
  spec.workdir.clear();
  CHECK_FALSE(qemu_command(spec, qemu_options{}, "tcg"));
  spec = sample_spec();
  spec.ip = 0;
  CHECK_FALSE(qemu_command(spec, qemu_options{}, "tcg"));
  spec = sample_spec();
  spec.env.push_back({"BIG", std::string(3000, 'x')});
  auto too_long = qemu_command(spec, qemu_options{}, "tcg");
  REQUIRE_FALSE(too_long);
  CHECK(too_long.error_value().message.find("too long") != std::string::npos);
  CHECK_FALSE(qemu_command(sample_spec(), qemu_options{}, "xen"));
}

TEST_CASE("secret env is refused, never put on the kernel command line") {
  auto spec = sample_spec();
  spec.secret_env.push_back({"DB_PASSWORD", "do-not-show-me"});
  auto argv = qemu_command(spec, qemu_options{}, "tcg");
  REQUIRE_FALSE(argv);
  CHECK(argv.error_value().message.find("cannot pass secret env") != std::string::npos);
  CHECK(argv.error_value().message.find("do-not-show-me") == std::string::npos);
}

TEST_CASE("KVM is chosen only when /dev/kvm opens and is not kvm_pvm") {
  volant::test::temp_dir tmp;
  auto kvm = tmp / "kvm";
  auto pvm = tmp / "kvm_pvm";
  CHECK(detect_accelerator(kvm, pvm).name == "tcg"); // no device
  std::ofstream(kvm) << "";
  CHECK(detect_accelerator(kvm, pvm).name == "kvm");
  std::filesystem::create_directory(pvm);
  auto choice = detect_accelerator(kvm, pvm);
  CHECK(choice.name == "tcg");
  CHECK(choice.reason.find("kvm_pvm") != std::string::npos);
}

TEST_CASE("a configured accelerator overrides detection and shows in the "
          "limits note") {
  qemu_options opts;
  opts.accelerator = "tcg";
  qemu_driver d(opts);
  CHECK(d.accelerator() == "tcg");
  CHECK(d.limits().note.find("tcg") != std::string::npos);
  CHECK(d.limits().memory_limit);
}

TEST_CASE("the QMP client negotiates, skips events and returns the reply") {
  volant::test::temp_dir tmp;
  auto path = tmp / "qmp.sock";
  fake_qmp server(
      path,
      {greeting, "<", R"({"return": {}})", "<",
       R"({"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"})",
       R"({"return": {"status": "paused", "running": false}})"});
  auto status = qmp_query_status(path, std::chrono::milliseconds(2000));
  REQUIRE_MESSAGE(status, why(status));
  CHECK(*status == "paused");
  REQUIRE(server.requests.size() == 2);
  CHECK(server.requests[0] == R"({"execute":"qmp_capabilities"})");
  CHECK(server.requests[1] == R"({"execute":"query-status"})");
}

TEST_CASE("a QMP error reply becomes an error with QEMU's description") {
  volant::test::temp_dir tmp;
  auto path = tmp / "qmp.sock";
  fake_qmp server(
      path,
      {greeting, "<", R"({"return": {}})", "<",
       R"({"error": {"class": "GenericError", "desc": "no such thing"}})"});
  auto r = qmp_execute(path, "frobnicate", R"({"x": 1})",
                       std::chrono::milliseconds(2000));
  REQUIRE_FALSE(r);
  CHECK(r.error_value().message.find("no such thing") != std::string::npos);
  CHECK(server.requests.back()
        == R"({"arguments":{"x":1},"execute":"frobnicate"})");
}

TEST_CASE("a silent QEMU makes the QMP client give up at its deadline") {
  volant::test::temp_dir tmp;
  auto path = tmp / "qmp.sock";
  fake_qmp server(path, {greeting, "<", R"({"return": {}})", "<", "sleep 700"});
  auto t0 = std::chrono::steady_clock::now();
  auto r = qmp_execute(path, "stop", {}, std::chrono::milliseconds(300));
  auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE_FALSE(r);
  CHECK(r.error_value().message.find("no reply") != std::string::npos);
  CHECK(took < std::chrono::milliseconds(650));
}

TEST_CASE("QMP sockets with paths longer than sun_path are reachable") {
  volant::test::temp_dir tmp;
  auto dir = tmp / std::string(120, 'd');
  std::filesystem::create_directories(dir);
  // Bind through a relative path, as QEMU does from the run directory.
  auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir);
  fake_qmp server("qmp.sock", {greeting, "<", R"({"return": {}})", "<",
                               R"({"return": {"status": "running"}})"});
  std::filesystem::current_path(cwd);
  auto status
      = qmp_query_status(dir + "/qmp.sock", std::chrono::milliseconds(2000));
  REQUIRE_MESSAGE(status, why(status));
  CHECK(*status == "running");
}

TEST_CASE("the process driver pauses and resumes a workload's process group") {
  volant::test::temp_dir tmp;
  process_driver d(cgroups(tmp.path())); // no writable controllers: no limits
  launch_spec spec;
  spec.vm_name = "pause-0";
  spec.argv = {"/bin/sh", "-c", "sleep 30 & wait"};
  spec.workdir = tmp / "run";
  spec.log_path = tmp / "pause-0.log";
  auto h = d.start(spec);
  REQUIRE_MESSAGE(h, why(h));
  auto state = [&](std::int64_t pid) {
    auto stat
        = volant::test::read_file("/proc/" + std::to_string(pid) + "/stat");
    return stat.empty() ? '?' : stat[stat.rfind(')') + 2];
  };
  auto wait_state = [&](bool stopped) {
    for (int i = 0; i < 100; ++i) {
      if ((state(h->pid) == 'T') == stopped)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  REQUIRE(d.pause(*h));
  CHECK(wait_state(true));
  REQUIRE(d.resume(*h));
  CHECK(wait_state(false));
  REQUIRE(d.kill(*h));
  int ws = 0;
  CHECK(waitpid(static_cast<pid_t>(h->pid), &ws, 0) == h->pid);
  CHECK(WIFSIGNALED(ws));
}
