// The remote actor shell (`volar shell -c ...`) attached to a real volantd running a
// deployment: ls, inspect against `vms list`, events --follow seeing another
// volar's scale, state --at an earlier seq, explain naming the health failures
// behind a restart, and the refusals (wrong token, dead daemon, unknown command).

#include "e2e/e2e.hpp"

#include <signal.h>

#include <filesystem>
#include <fstream>

namespace volant::e2e {

namespace {

/// busybox httpd serving /health from the VM directory, checked every second,
/// unhealthy after two failures.
json checked_manifest(const std::string& name) {
  return {{"name", name},
          {"version", "1.0.0"},
          {"workload",
           {{"entrypoint",
             {"/bin/sh", "-c",
              "mkdir -p \"$VOLANT_VM_DIR/www\" && echo ok > \"$VOLANT_VM_DIR/www/health\" "
              "&& exec busybox httpd -f -p \"$VOLANT_IP:80\" -h \"$VOLANT_VM_DIR/www\""}},
            {"health_check",
             {{"enabled", true},
              {"http",
               {{"port", 80},
                {"path", "/health"},
                {"interval_seconds", 1},
                {"timeout_seconds", 1},
                {"unhealthy_threshold", 2}}}}}}}};
}

/// `volar shell -c COMMAND` (quoted for sh).
run_result shell(const daemon& d, const std::string& command, const std::string& env = "") {
  return d.volar("shell -c " + sh_quote(command), env);
}

/// `volar shell --json -c COMMAND`, which must succeed, parsed.
json shell_json(const daemon& d, const std::string& command) {
  auto r = d.volar("shell --json -c " + sh_quote(command));
  REQUIRE_MESSAGE(r.exit_code == 0, command << ": " << r.err << d.log_tail());
  auto j = json::parse(r.out, nullptr, false);
  REQUIRE_MESSAGE(!j.is_discarded(), r.out);
  return j;
}

/// The rows of a table whose first column is `kind`.
std::vector<std::vector<std::string>> rows_of_kind(const std::string& table,
                                                   const std::string& kind) {
  std::vector<std::vector<std::string>> out;
  for (const auto& line : lines_of(table))
    if (auto f = fields_of(line); !f.empty() && f[0] == kind)
      out.push_back(f);
  return out;
}

/// A `volar shell -c COMMAND` left running in the background, its output in a
/// file; killed on destruction.
class background_shell {
public:
  background_shell(const daemon& d, const std::string& command, const std::string& out)
    : out_(out) {
    auto r = test::run("sh -c " + sh_quote(sh_quote(volar_bin()) + " --data-dir "
                                           + sh_quote(d.dir()) + " shell -c "
                                           + sh_quote(command) + " >" + sh_quote(out)
                                           + " 2>&1 </dev/null & echo $!"));
    pid_ = std::atoi(r.out.c_str());
    REQUIRE_MESSAGE(pid_ > 0, r.out << r.err);
  }
  ~background_shell() {
    if (pid_ > 0)
      ::kill(pid_, SIGKILL);
  }
  background_shell(const background_shell&) = delete;
  background_shell& operator=(const background_shell&) = delete;

  std::string output() const { return test::read_file(out_); }
  bool alive() const { return pid_alive(pid_); }

private:
  std::string out_;
  int pid_ = -1;
};

} // namespace

TEST_CASE("The shell lists the live actors of a running deployment") {
  daemon d({.pool_octet = 81});
  d.install(httpd_manifest("sh-httpd"));
  d.ok("deployments create web --plugin sh-httpd --replicas 2 --wait --timeout 30");

  auto r = shell(d, "ls");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  auto lines = lines_of(r.out);
  REQUIRE(!lines.empty());
  CHECK(fields_of(lines[0])
        == std::vector<std::string>{"KIND", "NAME", "STATUS", "MAILBOX", "UPTIME",
                                    "RESTARTS"});
  auto vms = rows_of_kind(r.out, "vm");
  REQUIRE_MESSAGE(vms.size() == 2, r.out);
  for (const auto& row : vms) {
    CHECK(row.size() == 6);
    CHECK(row[1].find("web-") != std::string::npos);
  }
  CHECK_MESSAGE(rows_of_kind(r.out, "deployment").size() == 1, r.out);
  CHECK_MESSAGE(rows_of_kind(r.out, "journal").size() == 1, r.out);

  auto only_vms = shell(d, "ls vms");
  REQUIRE(only_vms.exit_code == 0);
  CHECK(lines_of(only_vms.out).size() == 3);
  CHECK(rows_of_kind(only_vms.out, "vm").size() == 2);

  auto listed = shell_json(d, "ls");
  REQUIRE(listed.is_array());
  for (const auto& row : listed)
    for (const char* key : {"kind", "name", "status", "mailbox", "uptime_s", "restarts"})
      CHECK_MESSAGE(row.contains(key), std::string(key) << " missing in " << row.dump());
}

TEST_CASE("inspect shows what a VM actor holds, matching `vms list`") {
  daemon d({.pool_octet = 82});
  d.install(httpd_manifest("sh-httpd"));
  d.ok("deployments create web --plugin sh-httpd --replicas 2 --wait --timeout 30");

  auto listed = d.vm("web-1");
  REQUIRE(listed.is_object());
  for (const auto& name : {std::string("web-1"), std::string("vm/web-1")}) {
    auto live = shell_json(d, "inspect " + name);
    CHECK(live.value("actor", "") == "vm");
    CHECK(live.value("name", "") == "web-1");
    for (const char* key : {"ip", "pid", "status", "restarts"}) {
      REQUIRE_MESSAGE(live.contains(key), std::string(key) << " missing in " << live.dump());
      CHECK_MESSAGE(live[key] == listed[key], std::string(key) << ": " << live[key] << " vs " << listed[key]);
    }
  }
  auto text = shell(d, "inspect web-1");
  REQUIRE(text.exit_code == 0);
  CHECK(text.out.find("actor:") == 0);
  CHECK(text.out.find(listed.value("ip", "?")) != std::string::npos);

  auto journal = shell_json(d, "inspect journal");
  CHECK(journal.value("actor", "") == "journal");
  CHECK(journal.contains("last_seq"));
  CHECK(shell_json(d, "inspect daemon").value("actor", "") == "daemon");
}

TEST_CASE("events --follow sees a scale issued from another volar; state --at an "
          "earlier seq shows the earlier replica count") {
  daemon d({.pool_octet = 83});
  d.install(httpd_manifest("sh-httpd"));
  d.ok("deployments create web --plugin sh-httpd --replicas 2 --wait --timeout 30");
  auto before = shell_json(d, "events --limit 1");
  auto seq_at_two = before.value("last_seq", std::uint64_t{0});
  REQUIRE(seq_at_two > 0);

  background_shell follow(d, "events --follow --aggregate deployment/web",
                          d.scratch("follow.out"));
  // The backlog (deployment_created) shows first: the follow is running.
  REQUIRE_MESSAGE(eventually([&] {
                    return follow.output().find("deployment_created") != std::string::npos;
                  }),
                  follow.output());
  d.ok("deployments scale web --replicas 3");
  bool seen = eventually([&] {
    return follow.output().find("deployment_scaled") != std::string::npos;
  });
  CHECK_MESSAGE(seen, follow.output());
  bool line_ok = false;
  for (const auto& line : lines_of(follow.output()))
    if (line.find("deployment_scaled") != std::string::npos)
      line_ok = line.find("deployment/web") != std::string::npos
                && line.find("from=2") != std::string::npos
                && line.find("to=3") != std::string::npos;
  CHECK_MESSAGE(line_ok, follow.output());
  CHECK(follow.alive()); // -c --follow runs until killed
  REQUIRE(d.settled("web", 3));

  auto then = shell_json(d, "state web --at " + std::to_string(seq_at_two));
  CHECK(then.value("seq", std::uint64_t{0}) == seq_at_two);
  CHECK(then["deployment"].value("desired", -1) == 2);
  auto now = shell_json(d, "state web");
  CHECK(now["deployment"].value("desired", -1) == 3);
  auto all_then = shell_json(d, "state --at " + std::to_string(seq_at_two));
  REQUIRE(all_then["deployments"].is_array());
  REQUIRE(all_then["deployments"].size() == 1);
  CHECK(all_then["deployments"][0].value("desired", -1) == 2);

  auto table = shell(d, "state --at " + std::to_string(seq_at_two));
  REQUIRE(table.exit_code == 0);
  auto rows = rows_of_kind(table.out, "web");
  REQUIRE_MESSAGE(rows.size() == 1, table.out);
  CHECK(rows[0][2] == "2"); // DESIRED
}

TEST_CASE("explain names the health failures that caused a restart") {
  daemon d({.pool_octet = 84});
  d.install(checked_manifest("sh-checked"));
  d.ok("deployments create web --plugin sh-checked --replicas 2 --wait --timeout 30");
  std::filesystem::remove(d.run_dir() + "/web-1/www/health");
  bool restarted = eventually(
    [&] {
      auto vm = d.vm("web-1");
      return vm.is_object() && vm.value("restarts", 0) >= 1
             && vm.value("status", "") == "ready";
    },
    40s);
  REQUIRE_MESSAGE(restarted, d.vm("web-1").dump() << d.log_tail());

  auto r = shell(d, "explain web-1");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto lines = lines_of(r.out);
  REQUIRE(!lines.empty());
  CHECK_MESSAGE(lines[0].find("web-1 restarted") == 0, r.out);
  CHECK_MESSAGE(lines[0].find("health check failed") != std::string::npos, r.out);
  CHECK_MESSAGE(lines[0].find("404") != std::string::npos, r.out);
  bool step = false;
  for (const auto& line : lines)
    step = step || (line.find("  #") == 0 && line.find("health check failed") != std::string::npos);
  CHECK_MESSAGE(step, r.out);

  auto j = shell_json(d, "explain web-1");
  CHECK(j.value("subject", "") == "vm/web-1");
  REQUIRE(j["chain"].is_array());
  bool unhealthy = false, restart = false;
  for (const auto& s : j["chain"]) {
    unhealthy = unhealthy || s.value("kind", "") == "vm_unhealthy";
    restart = restart || (unhealthy && s.value("kind", "") == "vm_restart_scheduled");
  }
  CHECK(unhealthy);
  CHECK(restart);

  auto dep = shell(d, "explain web");
  REQUIRE(dep.exit_code == 0);
  CHECK_MESSAGE(dep.out.find("web-1 restarted") != std::string::npos, dep.out);
}

TEST_CASE("The shell refuses a wrong token, an unknown command and a dead daemon") {
  daemon d({.pool_octet = 85});
  auto wrong = shell(d, "ls", "VOLANT_TOKEN=wrong");
  CHECK(wrong.exit_code == 1);
  CHECK(one_line(wrong.err));
  CHECK_MESSAGE(wrong.err.find("token") != std::string::npos, wrong.err);
  CHECK(wrong.out.empty());
  auto attach = d.volar("shell", "VOLANT_TOKEN=wrong");
  CHECK(attach.exit_code == 1);
  CHECK_MESSAGE(attach.err.find("token") != std::string::npos, attach.err);

  auto unknown = shell(d, "frobnicate");
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err == "volar: unknown command 'frobnicate' (try help)\n");
  CHECK(shell(d, "help").exit_code == 0);

  d.stop();
  auto dead = shell(d, "ls");
  CHECK(dead.exit_code == 3);
  CHECK(one_line(dead.err));
  CHECK_MESSAGE(dead.err.find("cannot reach volantd") != std::string::npos, dead.err);
  auto dead_attach = d.volar("shell");
  CHECK(dead_attach.exit_code == 3);
  CHECK_MESSAGE(dead_attach.err.find("cannot reach volantd") != std::string::npos,
                dead_attach.err);
}

} // namespace volant::e2e
