// Secret env end to end (README, "Security"; docs/protocol.md, "Secret env"):
// a real volantd on a real journal. The secret reaches the workload, and is
// found in no output of volar (text and --json), of the shell, of
// volant-replay, in the daemon's log (at debug) or in any byte of any file of
// the data dir; a changed secret rolls the VMs like a changed env value; a key
// file open to others is refused, and a lost key fails starts cleanly.

#include "e2e/e2e.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace volant::e2e {

namespace {

namespace fs = std::filesystem;

/// A value found nowhere by chance.
std::string unique(const std::string& what) {
  std::random_device rd;
  std::ostringstream out;
  out << what << "-" << std::hex << rd() << rd();
  return out.str();
}

/// A workload that writes $DB_PASSWORD to OUT/<vm>.secret (outside the data
/// dir, so that the data dir never holds it in clear) and sleeps; READY once
/// it runs.
json secret_manifest(const std::string& out_dir) {
  return {{"name", "e2e-secret"},
          {"version", "1.0.0"},
          {"workload",
           {{"entrypoint",
             {"/bin/sh", "-c",
              "printf %s \"$DB_PASSWORD\" > " + sh_quote(out_dir)
                  + "/\"$VOLANT_VM_NAME.$$\".tmp && mv " + sh_quote(out_dir)
                  + "/\"$VOLANT_VM_NAME.$$\".tmp " + sh_quote(out_dir)
                  + "/\"$VOLANT_VM_NAME\".secret && exec sleep 100000"}}}}};
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Every regular file under `dir` whose bytes contain `needle`.
std::vector<std::string> files_containing(const std::string& dir,
                                          const std::string& needle) {
  std::vector<std::string> hits;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec)
      break;
    if (!it->is_regular_file(ec))
      continue;
    if (read_file(it->path().string()).find(needle) != std::string::npos)
      hits.push_back(it->path().string());
  }
  return hits;
}

std::string joined(const std::vector<std::string>& xs) {
  std::string out;
  for (const auto& x : xs)
    out += x + "\n";
  return out;
}

/// The output of `volar ARGS` (which must succeed): stdout and stderr.
std::string output(const daemon& d, const std::string& args) {
  auto r = d.volar(args);
  CHECK_MESSAGE(r.exit_code == 0, args << ": " << r.err);
  return r.out + r.err;
}

std::string replay(const daemon& d, const std::string& args) {
  auto r = test::run(sh_quote(replay_bin()) + " " + args + " --data-dir "
                     + sh_quote(d.dir()));
  CHECK_MESSAGE(r.exit_code == 0, args << ": " << r.err);
  return r.out + r.err;
}

/// The secret file the workload of `vm` wrote, once it is there.
std::string secret_of(const std::string& out_dir, const std::string& vm) {
  std::string text;
  eventually(
      [&] {
        text = read_file(out_dir + "/" + vm + ".secret");
        return fs::exists(out_dir + "/" + vm + ".secret");
      },
      20s);
  return text;
}

} // namespace

TEST_CASE(
    "A secret env value reaches the workload and no output, log or data file") {
  const auto secret = unique("e2e-secret-db-pass");
  const auto yaml_secret = unique("e2e-secret-yaml");
  const auto plain = unique("e2e-plain-env");
  // Debug: even the request log lines must not carry it.
  daemon d({.pool_octet = 131,
            .extra = {"--log-level", "debug", "--snapshot-every", "5"}});
  auto out_dir = d.workload_scratch("out");
  d.install(secret_manifest(out_dir));

  auto created = d.volar(
      "deployments create sec --plugin e2e-secret --replicas 2 --env PLAIN="
      + plain + " --secret-env DB_PASSWORD=" + secret
      + " --wait --timeout 60 --json");
  REQUIRE_MESSAGE(created.exit_code == 0, created.err << d.log_tail());
  REQUIRE(d.settled("sec", 2));
  for (const char* vm : {"sec-0", "sec-1"})
    CHECK(secret_of(out_dir, vm) == secret);
  // As plain env of the workload process (readable by its own user only).
  CHECK(pids_with_env("DB_PASSWORD", secret).size() == 2);
  CHECK(pids_with_env("PLAIN", plain).size() == 2);

  // The same value from volar's own environment, and YAML secretEnv.
  auto yaml_path = d.scratch("sec2.yaml");
  std::ofstream(yaml_path)
      << "apiVersion: volant.io/v1\nkind: Deployment\nmetadata:\n"
         "  name: sec2\nspec:\n  replicas: 1\n  plugin: e2e-secret\n"
         "  secretEnv:\n    DB_PASSWORD: \""
      << yaml_secret << "\"\n";
  auto applied = d.volar("apply -f " + sh_quote(yaml_path)
                         + " --wait --timeout 60 --json");
  REQUIRE_MESSAGE(applied.exit_code == 0, applied.err);
  CHECK(secret_of(out_dir, "sec2-0") == yaml_secret);
  auto again = d.volar("apply -f " + sh_quote(yaml_path));
  CHECK_MESSAGE(again.out == "deployment sec2 unchanged\n",
                again.out << again.err);
  auto from_env
      = d.volar("deployments update sec2 --secret-env DB_PASSWORD --json",
                "DB_PASSWORD=" + sh_quote(yaml_secret));
  CHECK_MESSAGE(from_env.exit_code == 0, from_env.err);
  CHECK(json::parse(from_env.out).value("revision", 0)
        == 1); // same value: no change

  std::vector<std::pair<std::string, std::string>> outputs = {
      {"create --json", created.out + created.err},
      {"apply --json", applied.out + applied.err},
      {"update --json", from_env.out + from_env.err},
  };
  for (const char* args :
       {"deployments show sec", "deployments show sec --json",
        "deployments show sec2", "deployments show sec2 --json",
        "deployments list", "deployments list --json", "vms list",
        "vms list --json", "vms show sec-0", "vms show sec-0 --json",
        "vms show sec2-0 --json", "vms logs sec-0", "plugins show e2e-secret"})
    outputs.emplace_back(args, output(d, args));
  for (const char* cmd :
       {"ls; inspect sec-0; inspect deployment/sec; inspect sec; inspect "
        "sec2-0; "
        "state sec; state; events --limit 500; explain sec; explain sec-0; "
        "explain sec2",
        "inspect sec-0 --json; inspect deployment/sec --json; state sec "
        "--json; "
        "state --json; events --limit 500 --json; explain sec --json"})
    outputs.emplace_back(std::string("shell -c ") + cmd,
                         output(d, "shell -c " + sh_quote(cmd)));
  for (const char* args :
       {"events", "events --json", "state", "state --json", "verify"})
    outputs.emplace_back(std::string("volant-replay ") + args, replay(d, args));

  auto show = output(d, "deployments show sec");
  CHECK_MESSAGE(show.find("DB_PASSWORD=***") != std::string::npos, show);
  CHECK_MESSAGE(show.find("PLAIN=" + plain) != std::string::npos, show);
  auto show_json = d.get_json("deployments show sec");
  CHECK(show_json["spec"]["tmpl"]["secret_env"]
        == json::array({{{"key", "DB_PASSWORD"}, {"value", "***"}}}));
  auto audit = replay(d, "events --json");
  CHECK(
      audit.find("\"secret_env\":[{\"key\":\"DB_PASSWORD\",\"value\":\"***\"}]")
      != std::string::npos);
  for (const auto& [what, text] : outputs) {
    CAPTURE(what);
    CHECK(text.find(secret) == std::string::npos);
    CHECK(text.find(yaml_secret) == std::string::npos);
    CHECK(text.find("vs1.") == std::string::npos); // not even the sealed bytes
  }
  // The daemon's log (debug: every request line) never has it.
  CHECK(d.log().find(secret) == std::string::npos);
  CHECK(d.log().find(yaml_secret) == std::string::npos);
  CHECK(d.log().find("DB_PASSWORD")
        != std::string::npos); // the request was logged

  // Every byte of every file of the data dir: the journal's write-ahead log,
  // SSTs, snapshots, MANIFEST, the VM logs and run dirs, the key, the token.
  auto grep_data_dir = [&](bool in_wal) {
    CAPTURE(in_wal);
    CHECK_MESSAGE(files_containing(d.dir(), secret).empty(),
                  joined(files_containing(d.dir(), secret)));
    CHECK_MESSAGE(files_containing(d.dir(), yaml_secret).empty(),
                  joined(files_containing(d.dir(), yaml_secret)));
    // The control: the plain env value of the same events is found, so the
    // grep reads what the journal holds. Only while those events are in the
    // write-ahead log: RocksDB's SST files are Snappy-compressed, where a
    // value may be split by a back-reference (the decoded events are checked
    // by volant-replay above).
    auto control = files_containing(d.dir() + "/journal", plain);
    if (in_wal)
      CHECK_MESSAGE(!control.empty(),
                    "the plain env value is in no journal file");
  // Sealed values are there (a key id, base64).
    CHECK(!files_containing(d.dir() + "/journal", "vs1.").empty());
  };
  grep_data_dir(true);
  d.stop(); // a clean shutdown flushes the journal into SST files
  grep_data_dir(false);
  d.start(); // a fresh write-ahead log, without those events
  REQUIRE(d.settled("sec", 2));
  grep_data_dir(false);
}

TEST_CASE("A changed secret rolls the VMs like env; the same value and apply "
          "change nothing") {
  const auto v1 = unique("e2e-secret-v1");
  const auto v2 = unique("e2e-secret-v2");
  daemon d({.pool_octet = 132});
  auto out_dir = d.workload_scratch("out");
  d.install(secret_manifest(out_dir));
  auto r = d.volar(
      "deployments create roll --plugin e2e-secret --replicas 2 --secret-env "
      "DB_PASSWORD="
      + v1 + " --secret-env OTHER=o --wait --timeout 60");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  REQUIRE(d.settled("roll", 2));
  CHECK(secret_of(out_dir, "roll-0") == v1);
  int pid0 = d.vm("roll-0").value("pid", 0);
  auto updates = [&] {
    int n = 0;
    for (const auto& e : d.journal())
      n += e.value("event", "") == "deployment_updated";
    return n;
  };

  // The same value: no event, no restart.
  r = d.volar("deployments update roll --secret-env DB_PASSWORD=" + v1);
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(updates() == 0);
  CHECK(d.deployment("roll").value("revision", 0) == 1);

  // A new value: a new revision, and the VMs are made again with it.
  fs::remove(out_dir + "/roll-0.secret");
  fs::remove(out_dir + "/roll-1.secret");
  r = d.volar("deployments update roll --secret-env DB_PASSWORD=" + v2
              + " --wait --timeout 60");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  CHECK(updates() == 1);
  CHECK(d.deployment("roll").value("revision", 0) == 2);
  REQUIRE(d.settled("roll", 2));
  CHECK(secret_of(out_dir, "roll-0") == v2);
  CHECK(secret_of(out_dir, "roll-1") == v2);
  CHECK(d.vm("roll-0").value("pid", 0) != pid0);
  // The other secret is kept.
  CHECK(d.get_json("deployments show roll")["spec"]["tmpl"]["secret_env"].size()
        == 2);

  // Removal: gone from the workload's env.
  fs::remove(out_dir + "/roll-0.secret");
  r = d.volar("deployments update roll --secret-env-remove DB_PASSWORD --wait "
              "--timeout 60");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(d.deployment("roll").value("revision", 0) == 3);
  REQUIRE(d.settled("roll", 2));
  CHECK(secret_of(out_dir, "roll-0").empty());
  auto keys = d.get_json("deployments show roll")["spec"]["tmpl"]["secret_env"];
  CHECK(keys == json::array({{{"key", "OTHER"}, {"value", "***"}}}));
  r = d.volar("deployments update roll --secret-env-remove DB_PASSWORD");
  CHECK(r.exit_code == 1);
  CHECK(r.err
        == "volar: secret env key 'DB_PASSWORD' is not set on deployment "
           "'roll'\n");
  // A key may not be both plain and secret.
  r = d.volar("deployments update roll --env OTHER=plain");
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("in both env and secret_env") != std::string::npos);
}

TEST_CASE("A key file open to others is refused; secrets of a lost key fail "
          "their starts cleanly") {
  const auto secret = unique("e2e-secret-lost");
  daemon d({.pool_octet = 133, .extra = {"--restart-backoff-max-ms", "2000"}});
  auto out_dir = d.workload_scratch("out");
  d.install(secret_manifest(out_dir));
  auto key = d.dir() + "/secret.key";
  struct stat st {};
  REQUIRE(::stat(key.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  auto r = d.volar(
      "deployments create lost --plugin e2e-secret --secret-env DB_PASSWORD="
      + secret + " --wait --timeout 60");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  d.stop();

  for (mode_t mode : {0644, 0640, 0604}) {
    ::chmod(key.c_str(), mode);
    auto refused
        = test::run("timeout 20 " + sh_quote(volantd_bin()) + " --data-dir "
                    + sh_quote(d.dir()) + " --listen 127.0.0.1:0 --pool "
                    + d.pool() + " </dev/null");
    CHECK(refused.exit_code == 1);
    CHECK_MESSAGE(one_line(refused.err), refused.err);
    CHECK(refused.err.find("refusing the secret key " + key)
          != std::string::npos);
    REQUIRE(::stat(key.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == mode); // refused, not chmod'ed
  }
  ::chmod(key.c_str(), 0600);

  // A new key: the old sealed value does not open. The daemon says so at
  // start, the VM's start fails with one error naming the key, no crash.
  fs::remove(key);
  fs::remove(out_dir + "/lost-0.secret");
  d.start();
  CHECK(eventually(
      [&] {
        return d.log().find(
                   "secret env DB_PASSWORD was sealed with another key")
               != std::string::npos;
      },
      5s));
  // Kill the running workload so that a new start needs the secret.
  for (int pid : pids_with_env("DB_PASSWORD", secret))
    ::kill(pid, SIGKILL);
  CHECK_MESSAGE(eventually(
                    [&] {
                      return d.vm("lost-0")
                                 .value("last_error", "")
                                 .find("sealed with another key")
                             != std::string::npos;
                    },
                    30s),
                d.ok("vms show lost-0") << d.log_tail());
  CHECK(d.vm("lost-0").value("last_error", "").find(secret)
        == std::string::npos);
  CHECK(d.running());
  // Setting it again heals it.
  r = d.volar("deployments update lost --secret-env DB_PASSWORD=" + secret
              + " --wait --timeout 60");
  CHECK_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  CHECK(secret_of(out_dir, "lost-0") == secret);
}

} // namespace volant::e2e
