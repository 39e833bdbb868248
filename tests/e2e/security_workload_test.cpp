// Unprivileged workloads (issue 11, item 8): a process-driver workload runs as
// the workload user (not root) with CAP_NET_BIND_SERVICE as its only capability,
// cannot read the token, inherits none of volantd's environment, lives in a run
// directory of its own outside the data directory, and cannot fork beyond
// --max-pids. The workloads report what they see into their run directory.
// Pools: 127.78.140.0/24 .. 127.78.142.0/24.

#include "e2e/e2e.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <map>

namespace volant::e2e {

namespace {

/// The file's text, waited for (a workload writes it just after its start).
std::string wait_file(const std::string& path, std::chrono::milliseconds limit = 20s) {
  std::string text;
  eventually(
    [&] {
      text = test::read_file(path);
      return !text.empty() && text.back() == '\n';
    },
    limit, 50ms);
  return text;
}

/// "KEY=VALUE" lines as a map (later lines win).
std::map<std::string, std::string> env_map(const std::string& text) {
  std::map<std::string, std::string> out;
  for (const auto& line : lines_of(text)) {
    auto eq = line.find('=');
    if (eq != std::string::npos)
      out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

/// Sets a variable in this process (so in the volantd it forks) for a scope.
struct scoped_env {
  std::string key;
  scoped_env(std::string k, const std::string& value) : key(std::move(k)) {
    ::setenv(key.c_str(), value.c_str(), 1);
  }
  ~scoped_env() { ::unsetenv(key.c_str()); }
};

bool is_root() {
  return ::geteuid() == 0;
}

/// The uid of the default workload user, or -1.
long workload_uid() {
  auto* pw = ::getpwnam("volant-workload");
  return pw ? static_cast<long>(pw->pw_uid) : -1;
}

} // namespace

TEST_CASE("a workload runs unprivileged: not root, only CAP_NET_BIND_SERVICE, the token "
          "unreadable, none of volantd's environment") {
  scoped_env secret("VOLANT_TEST_SECRET_ENV", "xyz");
  daemon d({.pool_octet = 140});
  auto token = d.dir() + "/token";
  json manifest = {
    {"name", "spy"},
    {"version", "1.0.0"},
    {"description", "e2e: reports who it is and what it can reach"},
    {"runtime", "process"},
    {"workload",
     {{"env", {{"PLUGIN_VAR", "from-plugin"}}},
      {"entrypoint",
       {"/bin/sh", "-c",
        "d=\"$VOLANT_VM_DIR\"; id -u > \"$d/uid.tmp\"; "
        "if cat " + sh_quote(token) + " > \"$d/token.copy\" 2> \"$d/token.err\"; "
        "then echo readable > \"$d/token.status\"; else echo refused > \"$d/token.status\"; fi; "
        "grep -E '^(Cap|NoNewPrivs)' /proc/self/status > \"$d/caps\"; "
        "env | sort > \"$d/env\"; mv \"$d/uid.tmp\" \"$d/uid\"; "
        "exec busybox httpd -f -p \"$VOLANT_IP:80\" -h \"$d\""}}}},
  };
  d.install(manifest);
  d.ok("deployments create spy --plugin spy --replicas 1 --env DEPLOY_VAR=from-deployment "
       "--wait --timeout 30");
  auto vm_dir = d.vm_dir("spy-0");
  auto uid = wait_file(vm_dir + "/uid");
  REQUIRE_MESSAGE(!uid.empty(), "the workload wrote no uid\n" << d.log_tail());

  // Not root; as root, the workload user of scripts/setup.sh.
  CHECK(uid != "0\n");
  if (is_root()) {
    REQUIRE_MESSAGE(workload_uid() > 0, "no user volant-workload: run scripts/setup.sh");
    CHECK(uid == std::to_string(workload_uid()) + "\n");
  }

  // It still binds port 80 on its own IP.
  CHECK(http_body_eventually(d.vm("spy-0").value("ip", ""), "/uid") == uid);

  // The environment: the fixed default, the plugin's and the deployment's env,
  // VOLANT_*, and what the shell adds itself; nothing of volantd's.
  auto env = env_map(test::read_file(vm_dir + "/env"));
  CHECK(env.count("VOLANT_TEST_SECRET_ENV") == 0);
  CHECK(env["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  CHECK(env["HOME"] == vm_dir);
  CHECK(env["LANG"] == "C.UTF-8");
  CHECK(env["PLUGIN_VAR"] == "from-plugin");
  CHECK(env["DEPLOY_VAR"] == "from-deployment");
  CHECK(env["VOLANT_VM_NAME"] == "spy-0");
  CHECK(env["VOLANT_VM_DIR"] == vm_dir);
  for (const auto& [key, value] : env) {
    bool expected = key.rfind("VOLANT_", 0) == 0 || key == "PATH" || key == "HOME"
                    || key == "LANG" || key == "PLUGIN_VAR" || key == "DEPLOY_VAR"
                    || key == "PWD" || key == "OLDPWD" || key == "SHLVL" || key == "_";
    CHECK_MESSAGE(expected, "the workload has " << key << "=" << value);
  }

  // The run directory is the workload's own, outside the private data directory.
  struct stat st{};
  REQUIRE(::stat(vm_dir.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);
  CHECK(st.st_uid == (is_root() ? static_cast<uid_t>(workload_uid()) : ::geteuid()));
  CHECK(vm_dir.rfind(d.dir() + "/", 0) != 0);

  if (!is_root()) {
    MESSAGE("volantd is not root: the workload runs as the same user and can read the "
            "token; its capabilities are not checked");
    return;
  }
  // The token: refused, nothing copied.
  CHECK(test::read_file(vm_dir + "/token.status") == "refused\n");
  CHECK(test::read_file(vm_dir + "/token.copy").empty());
  CHECK_MESSAGE(test::read_file(vm_dir + "/token.err").find("Permission denied")
                  != std::string::npos,
                test::read_file(vm_dir + "/token.err"));
  // The data directory and the token stay root's and private.
  REQUIRE(::stat(d.dir().c_str(), &st) == 0);
  CHECK((st.st_mode & 0077) == 0);
  CHECK(st.st_uid == 0);
  REQUIRE(::stat(token.c_str(), &st) == 0);
  CHECK((st.st_mode & 0077) == 0);

  // Capabilities of a program it runs (grep): CAP_NET_BIND_SERVICE (bit 10) and
  // nothing else, not even in the bounding set; no_new_privs.
  auto caps = env_map([&] {
    std::string text;
    for (auto line : lines_of(test::read_file(vm_dir + "/caps"))) {
      auto colon = line.find(':');
      auto value = fields_of(line.substr(colon + 1));
      text += line.substr(0, colon) + "=" + (value.empty() ? "" : value[0]) + "\n";
    }
    return text;
  }());
  for (const char* set : {"CapPrm", "CapEff", "CapBnd", "CapAmb", "CapInh"}) {
    CAPTURE(set);
    CHECK(caps[set] == "0000000000000400");
  }
  CHECK(caps["NoNewPrivs"] == "1");

  // What volantd says about it.
  auto resources = d.get_json("debug resources");
  CHECK(resources["limits"]["user"] == "volant-workload");
  CHECK(resources["limits"]["run_dir"] == d.run_dir());
  CHECK(d.log().find("workloads run as volant-workload") != std::string::npos);
}

TEST_CASE("a workload that forks beyond --max-pids is refused the fork past the limit") {
  daemon d({.pool_octet = 141, .extra = {"--max-pids", "20"}});
  auto resources = d.get_json("debug resources");
  if (resources["limits"].value("pids", 0) == 0) {
    MESSAGE("no writable cgroup pids controller here: "
            << resources["limits"].value("note", ""));
    return;
  }
  CHECK(resources["limits"]["pids"] == 20);
  // Forks sleeping children until a fork fails, writes "N ERRNO", then stays up.
  std::string script = "import errno, os, time\n"
                       "d = os.environ['VOLANT_VM_DIR']\n"
                       "n, err = 0, 'none'\n"
                       "try:\n"
                       "    while n < 100:\n"
                       "        if os.fork() == 0:\n"
                       "            time.sleep(600)\n"
                       "            os._exit(0)\n"
                       "        n += 1\n"
                       "except OSError as e:\n"
                       "    err = errno.errorcode.get(e.errno, str(e.errno))\n"
                       "open(d + '/forks.tmp', 'w').write('%d %s\\n' % (n, err))\n"
                       "os.rename(d + '/forks.tmp', d + '/forks')\n"
                       "time.sleep(600)\n";
  d.install({{"name", "forker"},
             {"version", "1.0.0"},
             {"description", "e2e: forks until it cannot"},
             {"runtime", "process"},
             {"workload", {{"entrypoint", {"python3", "-c", script}}}}});
  d.ok("deployments create forker --plugin forker --replicas 1 --wait --timeout 30");
  auto report = wait_file(d.vm_dir("forker-0") + "/forks");
  REQUIRE_MESSAGE(!report.empty(), "the workload wrote no report\n" << d.log_tail());
  auto f = fields_of(report);
  REQUIRE(f.size() == 2);
  CAPTURE(report);
  // python3 itself is one of the 20.
  CHECK(f[1] == "EAGAIN");
  CHECK(std::stoi(f[0]) < 20);
  CHECK(std::stoi(f[0]) >= 10);
  // The VM still runs: only its forks were refused.
  CHECK(d.settled("forker", 1, 5s));
}

TEST_CASE("volantd refuses a run directory the workload user cannot reach or others "
          "can write, and one another volantd uses") {
  if (!is_root()) {
    MESSAGE("not root: workloads run as volantd itself, any run directory is reachable");
    return;
  }
  daemon d({.pool_octet = 142});
  test::temp_dir other; // a second data directory
  test::temp_dir closed; // mode 0700: the workload user cannot traverse it
  auto run = [&](const std::string& run_dir) {
    return test::run("timeout 20 " + sh_quote(volantd_bin()) + " --data-dir " + sh_quote(other.path())
                     + " --listen 127.0.0.1:0 --pool 127.78.143.0/24 --run-dir "
                     + sh_quote(run_dir) + " </dev/null");
  };
  auto r = run(closed / "run");
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(r.err.find("the workload user volant-workload cannot reach it: "
                           + closed.path() + " is mode 0700")
                  != std::string::npos,
                r.err);

  test::temp_dir open_dir;
  ::chmod(open_dir.path().c_str(), 0777);
  r = run(open_dir.path());
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(r.err.find("writable by others") != std::string::npos, r.err);

  r = run(d.run_dir());
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(r.err.find("is in use by another volantd (data dir " + d.dir() + ")")
                  != std::string::npos,
                r.err);
}

} // namespace volant::e2e
