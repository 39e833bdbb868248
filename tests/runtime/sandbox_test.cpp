// Who a workload runs as and what it starts with (runtime/sandbox.hpp), the
// cgroups' pids limit, and the process driver putting them together. The
// tests that switch users need root and the `volant-workload` user of
// scripts/setup.sh; without them they say so and check what they can.

#include "runtime/cgroup.hpp"
#include "runtime/process_driver.hpp"
#include "runtime/sandbox.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace volant;
using namespace volant::runtime;

namespace {

template <class T> std::string why(const T& x) {
  return x ? std::string() : x.error_value().message;
}

std::string wait_file(const std::string& path) {
  for (int i = 0; i < 200; ++i) {
    auto text = test::read_file(path);
    if (!text.empty() && text.back() == '\n')
      return text;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return {};
}

bool have_workload_user() {
  return ::geteuid() == 0 && ::getpwnam(default_workload_user) != nullptr;
}

} // namespace

TEST_CASE("a workload's environment is the fixed default with its own variables over "
          "it, and nothing else") {
  auto env = workload_environment({{"FOO", "bar"}, {"PATH", "/opt/bin"}, {"VOLANT_IP", "1"}},
                                  "/run/vm");
  CHECK(env
        == std::vector<std::string>{"PATH=/opt/bin", "HOME=/run/vm", "LANG=C.UTF-8",
                                    "FOO=bar", "VOLANT_IP=1"});
  CHECK(workload_environment({}, "/h")
        == std::vector<std::string>{
          "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/h",
          "LANG=C.UTF-8"});
}

TEST_CASE("an entrypoint is looked up in the workload's PATH, not the daemon's") {
  CHECK(resolve_command("sh", "/nonexistent:/bin") == "/bin/sh");
  CHECK(resolve_command("sh", "/nonexistent") == "sh");
  CHECK(resolve_command("./x", "/bin") == "./x");
  CHECK(resolve_command("/bin/sh", "") == "/bin/sh");
}

TEST_CASE("the workload user is resolved when volantd is root, and an unknown one is "
          "refused with what to do") {
  auto unknown = resolve_workload_user("volant-no-such-user");
  if (::geteuid() != 0) {
    // Not root: workloads run as volantd itself, whatever the flag says.
    REQUIRE(unknown);
    CHECK_FALSE(unknown->switch_user);
    CHECK(unknown->uid == ::geteuid());
    return;
  }
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error_value().message.find("useradd --system") != std::string::npos);
  auto root = resolve_workload_user("root");
  REQUIRE_FALSE(root);
  CHECK(root.error_value().message.find("never run as root") != std::string::npos);
  if (!have_workload_user()) {
    MESSAGE("no user volant-workload (scripts/setup.sh creates it)");
    return;
  }
  auto id = resolve_workload_user(default_workload_user);
  REQUIRE_MESSAGE(id, why(id));
  CHECK(id->switch_user);
  CHECK(id->uid != 0);
  CHECK(id->name == default_workload_user);
}

TEST_CASE("a cgroup pids limit is written, and a group that cannot be joined fails the "
          "start instead of running unlimited") {
  test::temp_dir tmp;
  // A fake cgroup v1 tree whose controllers are writable.
  for (const char* c : {"memory", "cpu", "pids"}) {
    std::filesystem::create_directories(tmp / std::string(c) + "/g");
    std::ofstream(tmp / std::string(c) + "/g/cgroup.procs");
  }
  cgroups groups(tmp.path(), "g", 20);
  CHECK(groups.pids());
  CHECK(groups.note().empty());
  REQUIRE(groups.prepare("web-0.1", 64, 1));
  CHECK(test::read_file(tmp / "pids/g/web-0.1/pids.max") == "20");
  // The fake groups have no cgroup.procs of their own: cannot be joined.
  auto fds = groups.open_procs("web-0.1");
  REQUIRE_FALSE(fds);
  CHECK(fds.error_value().message.find("web-0.1/cgroup.procs") != std::string::npos);

  process_driver d(cgroups(tmp.path(), "g", 20));
  launch_spec spec;
  spec.vm_name = "web-0";
  spec.incarnation = 1;
  spec.argv = {"/bin/true"};
  spec.workdir = tmp / "run/web-0";
  spec.log_path = tmp / "web-0.log";
  auto h = d.start(spec);
  REQUIRE_FALSE(h);
  CHECK(h.error_value().message.find("cgroup.procs") != std::string::npos);

  // Without a pids controller the note says its limit is not enforced.
  test::temp_dir bare;
  cgroups none(bare.path(), "g", 20);
  CHECK_FALSE(none.pids());
  CHECK(none.note().find("pids") != std::string::npos);
  CHECK(none.note().find("not enforced") != std::string::npos);
}

TEST_CASE("a run's CPU time and working set are read from its cpuacct and memory groups") {
  test::temp_dir tmp;
  for (const char* c : {"memory", "cpu", "cpuacct", "pids"}) {
    std::filesystem::create_directories(tmp / std::string(c) + "/g");
    std::ofstream(tmp / std::string(c) + "/g/cgroup.procs");
  }
  cgroups groups(tmp.path(), "g", 20);
  REQUIRE(groups.cpuacct());
  REQUIRE(groups.prepare("web-0.1", 64, 1));
  CHECK(std::filesystem::is_directory(tmp / "cpuacct/g/web-0.1"));
  // Nothing written yet: not accounted (the caller falls back to /proc).
  CHECK_FALSE(groups.cpu_seconds("web-0.1"));
  CHECK_FALSE(groups.working_set("web-0.1"));
  std::ofstream(tmp / "cpuacct/g/web-0.1/cpuacct.usage") << "2500000000\n";
  std::ofstream(tmp / "memory/g/web-0.1/memory.usage_in_bytes") << "10485760\n";
  std::ofstream(tmp / "memory/g/web-0.1/memory.stat")
      << "cache 4194304\nrss 6291456\ntotal_cache 4194304\ntotal_inactive_file 3145728\n";
  CHECK(groups.cpu_seconds("web-0.1") == doctest::Approx(2.5));
  CHECK(groups.working_set("web-0.1") == 10485760u - 3145728u);
  CHECK_FALSE(groups.cpu_seconds("web-1.1"));
}

TEST_CASE("the process driver counts the CPU time of a workload's short-lived children "
          "through its cgroup") {
  if (::geteuid() != 0) {
    MESSAGE("not root: the host's cgroups cannot be written; nothing to check");
    return;
  }
  test::temp_dir tmp;
  auto group = "volant-test-" + std::to_string(::getpid());
  process_driver d(cgroups("/sys/fs/cgroup", group, 64));
  if (!cgroups("/sys/fs/cgroup", group, 64).cpuacct()) {
    MESSAGE("this host has no writable cpuacct controller");
    return;
  }
  launch_spec spec;
  spec.vm_name = "burst-0";
  spec.incarnation = 1;
  // A child burns about a second of CPU and exits; the workload then idles.
  spec.argv = {"sh", "-c",
               "sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done'; echo done > done; "
               "exec sleep 60"};
  spec.workdir = tmp / "run/burst-0";
  spec.log_path = tmp / "burst-0.log";
  auto h = d.start(spec);
  REQUIRE_MESSAGE(h, why(h));
  CHECK(wait_file(spec.workdir + "/done") == "done\n");
  auto use = d.measure(*h, spec.run());
  // The shell that burned is gone; its group still counts what it used.
  CHECK(use.cpu_seconds > 0.2);
  CHECK(use.rss_bytes > 0);
  d.terminate(*h);
  d.release(spec.run());
  for (const char* c : {"memory", "cpu", "cpuacct", "pids"})
    ::rmdir(("/sys/fs/cgroup/" + std::string(c) + "/" + group).c_str());
}

TEST_CASE("the process driver runs a workload as the workload user with only "
          "CAP_NET_BIND_SERVICE, in a run directory of its own, without the daemon's "
          "environment") {
  test::temp_dir tmp;
  ::chmod(tmp.path().c_str(), 0711);
  workload_identity id;
  if (have_workload_user()) {
    auto resolved = resolve_workload_user(default_workload_user);
    REQUIRE_MESSAGE(resolved, why(resolved));
    id = *resolved;
  } else {
    MESSAGE("not root or no user volant-workload: the workload runs as this process");
    id.uid = ::geteuid();
    id.name = "self";
  }
  ::setenv("VOLANT_TEST_SECRET_ENV", "xyz", 1);
  process_driver d(cgroups(tmp / "no-cgroups"), id);
  launch_spec spec;
  spec.vm_name = "spy-0";
  spec.argv = {"sh", "-c",
               "id -u > uid.tmp; env > env; grep -E '^(CapEff|CapAmb|NoNewPrivs)' "
               "/proc/self/status > caps; mv uid.tmp uid"};
  spec.env = {{"FOO", "bar"}};
  spec.workdir = tmp / "run/spy-0";
  spec.log_path = tmp / "spy-0.log";
  auto h = d.start(spec);
  ::unsetenv("VOLANT_TEST_SECRET_ENV");
  REQUIRE_MESSAGE(h, why(h));
  auto uid = wait_file(spec.workdir + "/uid");
  CHECK(uid == std::to_string(id.uid) + "\n");
  auto env = test::read_file(spec.workdir + "/env");
  CHECK(env.find("VOLANT_TEST_SECRET_ENV") == std::string::npos);
  CHECK(env.find("FOO=bar\n") != std::string::npos);
  CHECK(env.find("HOME=" + spec.workdir + "\n") != std::string::npos);
  struct stat st{};
  REQUIRE(::stat(spec.workdir.c_str(), &st) == 0);
  CHECK(st.st_uid == id.uid);
  CHECK((st.st_mode & 07777) == 0700);
  if (id.switch_user) {
    auto caps = test::read_file(spec.workdir + "/caps");
    CHECK(caps.find("CapEff:\t0000000000000400\n") != std::string::npos);
    CHECK(caps.find("CapAmb:\t0000000000000400\n") != std::string::npos);
    CHECK(caps.find("NoNewPrivs:\t1\n") != std::string::npos);
  }
}

TEST_CASE("a run directory that is a symlink is refused, not followed") {
  test::temp_dir tmp;
  std::filesystem::create_directories(tmp / "elsewhere");
  std::filesystem::create_directory_symlink(tmp / "elsewhere", tmp / "vm");
  workload_identity id;
  id.uid = ::geteuid();
  auto st = prepare_run_dir(tmp / "vm", id);
  REQUIRE_FALSE(st);
  CHECK(st.error_value().message.find(tmp / "vm") != std::string::npos);
}

TEST_CASE("a run directory is removed without following the symlinks in it") {
  test::temp_dir tmp;
  std::filesystem::create_directories(tmp / "outside");
  std::ofstream(tmp / "outside/keep") << "x\n";
  std::filesystem::create_directories(tmp / "run/web-0/sub/deeper");
  std::ofstream(tmp / "run/web-0/sub/deeper/file") << "x\n";
  std::filesystem::create_directory_symlink(tmp / "outside", tmp / "run/web-0/sub/link");
  std::filesystem::create_symlink(tmp / "outside/keep", tmp / "run/web-0/file-link");
  remove_run_dir(tmp / "run/web-0");
  CHECK_FALSE(std::filesystem::exists(tmp / "run/web-0"));
  CHECK(std::filesystem::exists(tmp / "run"));
  CHECK(test::read_file(tmp / "outside/keep") == "x\n");
}
