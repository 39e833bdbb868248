// The real volar binary, without a daemon: one-line errors, exit codes, and
// input validated before any connection.

#include "support/process.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <vector>

using volant::test::run;
using volant::test::temp_dir;

namespace {

std::string volar() {
  return volant::test::binary("VOLAR");
}

std::size_t lines(const std::string& text) {
  std::size_t n = 0;
  for (char c : text)
    n += c == '\n';
  return n;
}

/// volar with `args` against a port where nothing listens and an empty data
/// dir.
volant::test::run_result no_daemon(const temp_dir& dir,
                                   const std::string& args) {
  return run(volar() + " " + args + " --endpoint 127.0.0.1:1 --data-dir "
             + dir.path());
}

} // namespace

TEST_CASE("without a daemon volar says so in one line and exits 3") {
  temp_dir dir;
  for (auto args : {"deployments list", "vms list --json", "debug resources",
                    "deployments scale web --replicas 2", "plugins list"}) {
    CAPTURE(args);
    auto r = no_daemon(dir, args);
    CHECK(r.exit_code == 3);
    CHECK(lines(r.err) == 1);
    CHECK(r.err.starts_with("volar: cannot reach volantd at 127.0.0.1:1"));
    CHECK(r.err.find("volantd --data-dir " + dir.path()) != std::string::npos);
    CHECK(r.out.empty());
  }
}

TEST_CASE("negative replicas are refused before contacting anything") {
  auto r = run(volar()
               + " deployments create web --plugin nginx --replicas -3"
                 " --endpoint 127.0.0.1:1");
  CHECK(r.exit_code == 1);
  CHECK(r.err == "volar: replicas must be >= 0, got -3\n");
  CHECK(r.out.empty());
  r = run(volar()
          + " deployments scale web --replicas=-1 --endpoint 127.0.0.1:1");
  CHECK(r.exit_code == 1);
  CHECK(r.err == "volar: replicas must be >= 0, got -1\n");
}

TEST_CASE("malformed labels and env are refused before contacting anything") {
  auto r = run(
      volar()
      + " deployments create api --plugin flask-api --labels env=prod,tier"
        " --endpoint 127.0.0.1:1");
  CHECK(r.exit_code == 1);
  CHECK(r.err == "volar: invalid label 'tier': expected key=value\n");
  r = run(volar()
          + " deployments create worker --plugin celery-worker --env REDIS=x"
            " --env 1X=2 --endpoint 127.0.0.1:1");
  CHECK(r.exit_code == 1);
  CHECK(r.err
        == "volar: invalid env '1X=2': key '1X' must match "
           "[A-Za-z_][A-Za-z0-9_]*\n");
  r = run(volar() + " vms list --label env --endpoint 127.0.0.1:1");
  CHECK(r.exit_code == 1);
  CHECK(lines(r.err) == 1);
}

TEST_CASE("the spec's create commands pass validation and only then need the "
          "daemon") {
  temp_dir dir;
  auto r = no_daemon(
      dir, "deployments create postgres --plugin postgres:15 --replicas 1 "
           "--cpu 4 --memory 8192 --volume /var/lib/postgresql/data:persistent "
           "--labels tier=database");
  CHECK(r.exit_code == 3);
  r = no_daemon(
      dir, "deployments create worker --plugin celery-worker --replicas 10 "
           "--env REDIS_URL=redis://192.168.127.50:6379 --env QUEUE_NAME=tasks "
           "--env LOG_LEVEL=info");
  CHECK(r.exit_code == 3);
  r = no_daemon(dir,
                "deployments update web --plugin nginx:v2 --strategy rolling "
                "--max-surge 2 --max-unavailable 1");
  CHECK(r.exit_code == 3);
  r = no_daemon(dir, "deployments delete web --force");
  CHECK(r.exit_code == 3);
  CHECK(lines(r.err) == 1);
}

TEST_CASE("usage errors are one line and exit 2") {
  auto r = run(volar() + " deployments create web");
  CHECK(r.exit_code == 2);
  CHECK(r.err
        == "volar: --plugin is required (see: volar deployments create "
           "--help)\n");
  r = run(volar() + " deployments scale web --replicas three");
  CHECK(r.exit_code == 2);
  CHECK(lines(r.err) == 1);
  r = run(volar() + " deployments frobnicate");
  CHECK(r.exit_code == 2);
  CHECK(lines(r.err) == 1);
  r = run(volar() + " deployments update web --auto-restart --no-auto-restart");
  CHECK(r.exit_code == 2);
  CHECK(lines(r.err) == 1);
}

TEST_CASE("an unknown command is named, with the commands there are") {
  // Before: "The following arguments were not expected: round-robin
  // --health-check /health ...", the arguments in reverse order.
  auto r = run(volar() + " lbx create web --health-check /health --strategy round-robin");
  CHECK(r.exit_code == 2);
  CHECK(lines(r.err) == 1);
  CHECK_MESSAGE(r.err.rfind("volar: unknown command 'lbx' for 'volar' (commands: "
                            "deployments, ",
                            0)
                    == 0,
                r.err);
  CHECK_MESSAGE(r.err.find("plugins") != std::string::npos, r.err);
  CHECK_MESSAGE(r.err.find("see: volar --help") != std::string::npos, r.err);
  // A global option's value is not taken for the command.
  r = run(volar() + " --data-dir /nonexistent frobnicate");
  CHECK_MESSAGE(r.err.find("unknown command 'frobnicate' for 'volar'") != std::string::npos,
                r.err);
  r = run(volar() + " deployments --json frobnicate web");
  CHECK(r.exit_code == 2);
  CHECK_MESSAGE(r.err.rfind("volar: unknown command 'frobnicate' for 'volar deployments' "
                            "(commands: ",
                            0)
                    == 0,
                r.err);
  CHECK_MESSAGE(r.err.find("scale") != std::string::npos, r.err);
  // Extra arguments of a command are still reported as such.
  r = run(volar() + " deployments scale web extra --replicas 2");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("unknown command") == std::string::npos);
}

TEST_CASE("help is printed on --help and for a bare command group") {
  auto r = run(volar() + " --help");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("deployments") != std::string::npos);
  r = run(volar() + " deployments");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("scale") != std::string::npos);
  r = run(volar() + " vms list --help");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("--show-resources") != std::string::npos);
}

TEST_CASE("apply reads and checks the manifest before contacting anything") {
  temp_dir dir;
  {
    std::ofstream(dir / "web-hpa.yaml") << "apiVersion: volant.io/v1\n"
                                           "kind: HorizontalPodAutoscaler\n"
                                           "metadata:\n  name: web-hpa\n"
                                           "spec:\n  deploymentRef: web\n";
    std::ofstream(dir / "good-hpa.yaml")
        << "apiVersion: volant.io/v1\nkind: HorizontalPodAutoscaler\n"
           "metadata:\n  name: web-hpa\nspec:\n  deploymentRef: web\n  maxReplicas: 5\n"
           "  metrics: [{type: cpu, target: {averageUtilization: 70}}]\n";
    std::ofstream(dir / "bad.yaml")
        << "apiVersion: volant.io/v1\nkind: Deployment\n"
           "metadata:\n  name: web\nspec:\n  plugin: nginx\n"
           "  replicaz: 3\n";
    std::ofstream(dir / "web.yaml")
        << "apiVersion: volant.io/v1\nkind: Deployment\n"
           "metadata:\n  name: web\nspec:\n  plugin: nginx\n";
  }
  auto r = no_daemon(dir, "apply -f " + (dir / "web-hpa.yaml"));
  CHECK(r.exit_code == 1);
  CHECK(r.err == "volar: spec.maxReplicas: required field is missing (line 6)\n");
  // A valid one needs volantd, like a Deployment.
  r = no_daemon(dir, "apply -f " + (dir / "good-hpa.yaml"));
  CHECK(r.exit_code == 3);
  CHECK(r.err.starts_with("volar: cannot reach volantd"));
  r = no_daemon(dir, "apply -f " + (dir / "bad.yaml"));
  CHECK(r.exit_code == 1);
  CHECK(r.err == "volar: spec.replicaz: unknown field (line 7)\n");
  r = no_daemon(dir, "apply -f " + (dir / "missing.yaml"));
  CHECK(r.exit_code == 1);
  CHECK(r.err.starts_with("volar: cannot read "));
  r = no_daemon(dir, "apply -f " + (dir / "web.yaml"));
  CHECK(r.exit_code == 3);
  CHECK(lines(r.err) == 1);
}

TEST_CASE("plugins install checks the manifest before contacting anything") {
  temp_dir dir;
  std::ofstream(dir / "bad.json") << R"({"name": "nginx", "version": "1.0.0",
    "workload": {"entrypoint": ["/usr/sbin/nginx"],
                 "health_check": {"enabled": true, "http": {"port": 0}}}})";
  auto r = no_daemon(dir, "plugins install --manifest " + (dir / "bad.json"));
  CHECK(r.exit_code == 1);
  CHECK(lines(r.err) == 1);
  CHECK(r.err.starts_with("volar: workload.health_check.http.port: "));
}

TEST_CASE("version works without a daemon") {
  temp_dir dir;
  auto r = no_daemon(dir, "version");
  CHECK(r.exit_code == 0);
  CHECK(r.out.starts_with("volar "));
  CHECK(r.out.find("volantd: not reachable at 127.0.0.1:1")
        != std::string::npos);
}

TEST_CASE("health-check flags are checked before contacting anything") {
  temp_dir dir;
  auto r = no_daemon(dir, "deployments create web --plugin nginx "
                          "--health-http 0:/health");
  CHECK(r.exit_code == 1);
  CHECK(r.err == "volar: health_check.http.port must be 1..65535, got 0\n");
  r = no_daemon(dir, "deployments update web --health-tcp 80 "
                     "--health-interval 0");
  CHECK(r.exit_code == 1);
  CHECK(r.err == "volar: health_check.interval_seconds must be >= 1, got 0\n");
  r = no_daemon(dir, "deployments create web --plugin nginx --health-tcp 80 "
                     "--health-process nginx");
  CHECK(r.exit_code == 2);
  CHECK(lines(r.err) == 1);
  r = no_daemon(dir, "deployments update web --no-health-check --health-tcp 1");
  CHECK(r.exit_code == 2);
  CHECK(lines(r.err) == 1);
  r = no_daemon(dir, "deployments create web --plugin nginx --health-http "
                     "8080:/ready --health-interval 5 --health-timeout 2 "
                     "--health-threshold 4");
  CHECK(r.exit_code == 3);
  r = no_daemon(dir, "deployments update web --no-health-check");
  CHECK(r.exit_code == 3);
}

TEST_CASE("readiness-check flags are checked before contacting anything") {
  temp_dir dir;
  auto r = no_daemon(dir, "deployments create web --plugin nginx "
                          "--readiness-http 0:/ready");
  CHECK(r.exit_code == 1);
  CHECK(r.err == "volar: readiness_check.http.port must be 1..65535, got 0\n");
  r = no_daemon(dir, "deployments update web --readiness-tcp 80 "
                     "--readiness-timeout 0");
  CHECK(r.exit_code == 1);
  CHECK(r.err == "volar: readiness_check.timeout_seconds must be >= 1, got 0\n");
  r = no_daemon(dir, "deployments create web --plugin nginx --readiness-tcp 80 "
                     "--readiness-http 80");
  CHECK(r.exit_code == 2);
  CHECK(lines(r.err) == 1);
  r = no_daemon(dir, "deployments update web --no-readiness-check "
                     "--readiness-interval 1");
  CHECK(r.exit_code == 2);
  CHECK(lines(r.err) == 1);
  // Well-formed: only the missing daemon stops them (exit 3).
  r = no_daemon(dir, "deployments create web --plugin nginx --health-tcp 80 "
                     "--readiness-http 8080:/ready --readiness-interval 1 "
                     "--readiness-timeout 2 --readiness-threshold 1");
  CHECK(r.exit_code == 3);
  r = no_daemon(dir, "deployments update web --no-readiness-check");
  CHECK(r.exit_code == 3);
}

TEST_CASE("volar refuses devices, FIFOs and directories as input files, in one line") {
  temp_dir dir;
  ::mkfifo((dir / "fifo").c_str(), 0600);
  struct input {
    std::string args, kind;
  };
  for (const auto& [args, kind] :
       {input{"plugins install --manifest /dev/zero", "a character device"},
        input{"apply -f /dev/zero", "a character device"},
        input{"apply -f " + (dir / "fifo"), "a FIFO"},
        input{"credentials import " + dir.path(), "a directory"}}) {
    CAPTURE(args);
    // `timeout`: a volar that reads /dev/zero to its end never returns.
    auto r = run("timeout 20 " + volar() + " " + args + " --endpoint 127.0.0.1:1 --data-dir "
                 + (dir / "data"));
    CHECK(r.exit_code == 1);
    CHECK(lines(r.err) == 1);
    CHECK_MESSAGE(r.err.find("it is " + kind + ", not a file (give a file, or - for stdin)")
                    != std::string::npos,
                  r.err);
  }
}

TEST_CASE("volar reads at most the limit: a manifest over 256 KiB and YAML over 1 MiB are "
          "refused, also from stdin") {
  temp_dir dir;
  std::ofstream(dir / "big.json") << R"({"name": "big", "version": "1", "description": ")"
                                  << std::string(300 << 10, 'd') << R"("})";
  std::ofstream(dir / "big.yaml") << "apiVersion: volant.io/v1\nkind: Deployment\n# "
                                  << std::string(2 << 20, 'x') << "\n";
  auto r = no_daemon(dir, "plugins install --manifest " + (dir / "big.json"));
  CHECK(r.exit_code == 1);
  CHECK(r.err == "volar: " + (dir / "big.json")
                   + " is larger than 262144 bytes (256 KiB), the limit of a plugin "
                     "manifest\n");
  r = run("timeout 20 " + volar() + " apply -f - --endpoint 127.0.0.1:1 --data-dir "
          + dir.path() + " < " + (dir / "big.yaml"));
  CHECK(r.exit_code == 1);
  CHECK(r.err == "volar: stdin is larger than 1048576 bytes (1 MiB), the limit of a YAML "
                 "manifest\n");
  // Endless stdin ends at the limit too.
  r = run("timeout 20 " + volar() + " plugins install --manifest - --endpoint 127.0.0.1:1 "
          "--data-dir " + dir.path() + " < /dev/zero");
  CHECK(r.exit_code == 1);
  CHECK(r.err.starts_with("volar: stdin is larger than 262144 bytes (256 KiB)"));
}

TEST_CASE("a manifest from stdin is read and checked like a file") {
  temp_dir dir;
  std::ofstream(dir / "ok.json")
      << R"({"name": "ok", "version": "1", "workload": {"entrypoint": ["/bin/true"]}})";
  std::ofstream(dir / "web.yaml") << "apiVersion: volant.io/v1\nkind: Deployment\n"
                                     "metadata:\n  name: web\nspec:\n  plugin: nginx\n";
  // Valid: read, checked, and only then is volantd needed (exit 3 here).
  auto r = run(volar() + " plugins install --manifest - --endpoint 127.0.0.1:1 --data-dir "
               + dir.path() + " < " + (dir / "ok.json"));
  CHECK(r.exit_code == 3);
  r = run(volar() + " apply -f - --endpoint 127.0.0.1:1 --data-dir " + dir.path() + " < "
          + (dir / "web.yaml"));
  CHECK(r.exit_code == 3);
}

namespace {

/// The subcommand names listed under "SUBCOMMANDS:" / "Subcommands:" of a help
/// text.
std::vector<std::string> subcommands_in(const std::string& help) {
  std::vector<std::string> names;
  std::istringstream in(help);
  std::string line;
  bool in_list = false;
  while (std::getline(in, line)) {
    if (line == "SUBCOMMANDS:" || line == "Subcommands:") {
      in_list = true;
      continue;
    }
    if (!in_list)
      continue;
    if (line.empty() || line[0] != ' ')
      break;
    std::istringstream words(line);
    std::string name;
    words >> name;
    names.push_back(name);
  }
  return names;
}

} // namespace

TEST_CASE("the --help of every command ends with an example in the guide's spelling") {
  // Walks the commands as a user would, from `volar --help` down.
  std::vector<std::string> todo = subcommands_in(run(volar() + " --help").out);
  REQUIRE(todo.size() >= 7);
  std::size_t seen = 0;
  while (!todo.empty()) {
    auto path = todo.back();
    todo.pop_back();
    CAPTURE(path);
    auto r = run(volar() + " " + path + " --help");
    CHECK(r.exit_code == 0);
    auto at = r.out.find("Example:\n  volar " + path);
    CHECK(at != std::string::npos);
    ++seen;
    for (const auto& sub : subcommands_in(r.out))
      todo.push_back(path + " " + sub);
  }
  CHECK(seen >= 25); // deployments (8), vms (4), plugins (4), credentials (5), ...
}

TEST_CASE("apply checks every document of a multi-document file before contacting anything") {
  temp_dir dir;
  auto deployment = [](const std::string& name, const std::string& extra = "") {
    return "apiVersion: volant.io/v1\nkind: Deployment\nmetadata:\n  name: " + name
           + "\nspec:\n  plugin: nginx\n" + extra;
  };
  std::ofstream(dir / "two.yaml") << deployment("web") << "---\n" << deployment("api");
  std::ofstream(dir / "bad-second.yaml")
      << deployment("web") << "---\n" << deployment("api", "  replicaz: 3\n");
  std::ofstream(dir / "twice.yaml") << deployment("web") << "---\n" << deployment("web");
  // A valid stream needs volantd (exit 3 here), whole or from stdin.
  auto r = no_daemon(dir, "apply -f " + (dir / "two.yaml"));
  CHECK(r.exit_code == 3);
  r = run(volar() + " apply -f - --endpoint 127.0.0.1:1 --data-dir " + dir.path() + " < "
          + (dir / "two.yaml"));
  CHECK(r.exit_code == 3);
  // A bad document is named, and nothing is sent.
  r = no_daemon(dir, "apply -f " + (dir / "bad-second.yaml"));
  CHECK(r.exit_code == 1);
  CHECK(r.err == "volar: document 2 (line 8): spec.replicaz: unknown field (line 14)\n");
  r = no_daemon(dir, "apply -f " + (dir / "twice.yaml"));
  CHECK(r.exit_code == 1);
  CHECK(r.err == "volar: document 2 (line 8): deployment 'web' is also document 1\n");
}

TEST_CASE("volar cluster init writes a cluster CA, etcd's certificates and the join bundle, "
          "all private, and refuses to overwrite a cluster") {
  temp_dir dir;
  auto out = dir / "cluster";
  auto r = run(volar() + " cluster init --out " + out + " --etcd-host 127.0.0.1 --etcd-host etcd-1");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  for (auto file : {"ca.pem", "ca.key", "etcd/ca.pem", "etcd/server.pem", "etcd/server.key",
                    "join.bundle"}) {
    CAPTURE(file);
    struct stat st {};
    REQUIRE(::stat((out + "/" + file).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(r.out.find("wrote " + out + "/" + file + "\n") != std::string::npos);
  }
  struct stat st {};
  REQUIRE(::stat(out.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  CHECK(r.out.find("--client-cert-auth") != std::string::npos);
  // etcd's certificate names both addresses.
  auto san = run("openssl x509 -noout -ext subjectAltName -in " + out + "/etcd/server.pem");
  CHECK(san.out.find("IP Address:127.0.0.1") != std::string::npos);
  CHECK(san.out.find("DNS:etcd-1") != std::string::npos);

  auto again = run(volar() + " cluster init --out " + out + " --etcd-host 127.0.0.1");
  CHECK(again.exit_code != 0);
  CHECK(lines(again.err) == 1);
  CHECK(again.err.find("holds a cluster CA already") != std::string::npos);
  auto none = run(volar() + " cluster init --out " + (dir / "other"));
  CHECK(none.exit_code != 0);
  CHECK(none.err.find("--etcd-host") != std::string::npos);
}
