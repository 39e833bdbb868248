// Hardened requests and data directory (issue 11, items 3-7): every malformed
// request gets one error naming the problem and changes nothing; names are
// checked before any path is built; size limits; a data directory, token or
// key that others could read or change is refused as it is; when supervision
// gives up, volantd exits 1 and the workloads keep running. Raw requests come
// from the test's own CAF peer (security_peer.cpp, mode `requests`), which
// holds volar's certificate and the token like any authenticated client.
// Pools: 127.78.140.0/24 .. 127.78.146.0/24.

#include "e2e/e2e.hpp"
#include "tls/credentials.hpp"
#include "wire/request_check.hpp"

#include <sys/stat.h>
#include <csignal>
#include <unistd.h>

#include <fstream>
#include <set>

namespace volant::e2e {

namespace {

std::string peer_bin() {
  return test::binary("VOLANT_TEST_PEER");
}

std::string port_of(const daemon& d) {
  auto text = test::read_file(d.dir() + "/endpoint");
  return text.substr(text.rfind(':') + 1, text.find('\n') - text.rfind(':') - 1);
}

std::string token_of(const daemon& d) {
  auto text = test::read_file(d.dir() + "/token");
  return text.substr(0, text.find('\n'));
}

/// Sends each (verb, args) as one request over mutual TLS with the token; one
/// output line per request ("reply JSON", "error CODE MESSAGE", "no-reply").
std::vector<std::string> send_requests(const daemon& d,
                                       const std::vector<std::pair<std::string, std::string>>& reqs) {
  auto input = d.scratch("requests.txt");
  {
    std::ofstream out(input, std::ios::binary);
    for (const auto& [verb, args] : reqs)
      out << verb << " " << args << "\n";
  }
  tls::layout l(d.dir());
  auto r = test::run("timeout 300 " + sh_quote(peer_bin()) + " requests 127.0.0.1 " + port_of(d)
                     + " " + sh_quote(l.client_cert()) + " " + sh_quote(l.client_key()) + " "
                     + sh_quote(l.ca_cert()) + " " + token_of(d) + " < " + sh_quote(input));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto out = lines_of(r.out);
  REQUIRE_MESSAGE((!out.empty() && out.front() == "connected"), r.out);
  out.erase(out.begin());
  return out;
}

std::string send_one(const daemon& d, const std::string& verb, const std::string& args) {
  auto out = send_requests(d, {{verb, args}});
  REQUIRE(out.size() == 1);
  return out[0];
}

int mode_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
}

/// Runs volantd on `data_dir` in the foreground (it should refuse to start);
/// at most 20 s.
test::run_result volantd_on(const std::string& data_dir, int pool_octet) {
  return test::run("timeout 20 " + sh_quote(volantd_bin()) + " --data-dir " + sh_quote(data_dir)
                   + " --listen 127.0.0.1:0 --pool 127.78." + std::to_string(pool_octet)
                   + ".0/24 </dev/null");
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// The last seq of the journal, and how many events it holds.
std::pair<std::uint64_t, std::size_t> journal_mark(const daemon& d) {
  auto all = d.journal();
  return {all.empty() ? 0 : all.back().value("seq", std::uint64_t{0}), all.size()};
}

struct row {
  std::string verb;
  std::string args;
  std::string code; ///< the error code volar would show
  std::string says; ///< a part of the error message
};

std::string labels_json(int n) {
  json l = json::object();
  for (int i = 0; i < n; ++i)
    l["k" + std::to_string(i)] = "v";
  return l.dump();
}

} // namespace

TEST_CASE("every verb answers malformed arguments with one error naming the problem; the "
          "api survives and the journal does not change") {
  daemon d({.pool_octet = 140});
  d.install(httpd_manifest());
  d.ok("deployments create web --plugin e2e-httpd --replicas 1 --wait --timeout 60");
  // clang-format off
  std::vector<row> table = {
    {"ping", "[]", "invalid_argument", "not a JSON object"},
    {"plugins.install", "{}", "invalid_argument", "missing argument 'manifest'"},
    {"plugins.install", R"({"manifest":{"name":"x","version":"1","description":")" + std::string(5000, 'd') + R"(","workload":{"entrypoint":["/bin/true"]}}})", "invalid_manifest", "description is 5000 bytes: at most 4096 bytes (4 KiB)"},
    {"plugins.list", "5", "invalid_argument", "not a JSON object"},
    {"plugins.show", R"({"name":5})", "invalid_argument", "argument 'name' must be a string"},
    {"plugins.remove", R"({"name":"e2e-httpd","version":3})", "invalid_argument", "argument 'version' must be a string"},
    {"deployments.create", R"({"spec":{"name":"api","replicas":"3"}})", "invalid_argument", "spec.replicas: expected an integer"},
    {"deployments.create", R"({"spec":{"name":"../api"}})", "invalid_name", "argument 'spec.name'"},
    {"deployments.scale", R"({"name":"web","replicas":"many"})", "invalid_argument", "argument 'replicas' must be an integer"},
    {"deployments.scale", R"({"name":"web","replicas":0,"remove":[7]})", "invalid_argument", "argument 'remove[0]' must be a string"},
    {"vms.delete", R"({"name":"../../etc"})", "invalid_name", "argument 'name': VM name"},
    {"deployments.update", R"({"name":"web","env":[{"key":5}]})", "invalid_argument", "argument 'env[0].key' must be a string"},
    {"deployments.update", R"({"name":"web","labels":)" + labels_json(65) + "}", "invalid_label", "at most 64 per object"},
    {"deployments.pause", R"({"name":"Web!"})", "invalid_name", "argument 'name': deployment name 'Web!'"},
    {"deployments.resume", "{}", "invalid_argument", "missing argument 'name'"},
    {"deployments.delete", R"({"name":null})", "invalid_argument", "argument 'name' must be a string, got null"},
    {"deployments.list", "[1]", "invalid_argument", "not a JSON object"},
    {"deployments.show", R"({"name":"web","events":-1})", "invalid_argument", "argument 'events' must be an integer 0..10000, got -1"},
    {"vms.list", R"({"usage":"yes"})", "invalid_argument", "argument 'usage' must be true or false"},
    {"vms.show", R"({"name":"web-0/../../token"})", "invalid_name", "argument 'name': VM name"},
    {"vms.logs", R"({"name":"web-0","max":-5})", "invalid_argument", "argument 'max' must be an integer 0..1048576, got -5"},
    {"vms.logs", R"({"name":"../../../../etc/passwd\u0000"})", "invalid_name", R"(VM name "../../../../etc/passwd\u0000" contains a control character)"},
    {"debug.resources", R"("all")", "invalid_argument", "not a JSON object"},
    {"debug.crash", R"({"actor":7})", "invalid_argument", "argument 'actor' must be a string"},
    {"plugins.progress", "{}", "invalid_argument", "missing argument 'name'"},
    {"deployments.undo", R"({"name":"web","to_revision":"2"})", "invalid_argument", "argument 'to_revision' must be an integer"},
    {"debug.drop_reply", R"({"verb":["x"]})", "invalid_argument", "argument 'verb' must be a string, got an array"},
    {"events", R"({"from":"x"})", "invalid_argument", "argument 'from' must be an integer"},
    {"shell.ls", R"({"kind":"all"})", "invalid_argument", "is not one of deployments, vms, probes or system"},
    {"shell.inspect", R"({"name":["web-0"]})", "invalid_argument", "argument 'name' must be a string, got an array"},
    {"shell.state", R"({"at_time":"yesterday"})", "invalid_argument", "is not an RFC 3339 UTC time"},
    {"shell.explain", "{}", "invalid_argument", "missing argument 'name'"},
    {"credentials.show", "[]", "invalid_argument", "not a JSON object"},
    {"credentials.export", R"({"days":4294967297})", "invalid_argument", "argument 'days' must be an integer 1..3650"},
    {"credentials.revoke", R"({"serial":"1"})", "invalid_argument", "argument 'serial' must be an integer"},
    {"credentials.rotate", "null", "invalid_argument", "not a JSON object"},
    {"lb.create", R"({"name":"web-lb","deployment":"web","port":0})", "invalid_argument", "argument 'port' must be an integer 1..65535"},
    {"lb.switch", R"({"name":"web-lb"})", "invalid_argument", "missing argument 'to'"},
    {"lb.delete", R"({"name":"../x"})", "invalid_name", "argument 'name'"},
    {"lb.list", "7", "invalid_argument", "not a JSON object"},
    {"lb.show", R"({"name":null})", "invalid_argument", "argument 'name' must be a string, got null"},
    {"volumes.list", R"({"deployment":"No Such"})", "invalid_name", "argument 'deployment'"},
    {"volumes.delete", R"({"name":["web-0:/data"]})", "invalid_argument", "argument 'name' must be a string, got an array"},
    {"quotas.list", "7", "invalid_argument", "not a JSON object"},
    {"hosts.list", "[1]", "invalid_argument", "not a JSON object"},
    {"hosts.drain", R"({"name":7})", "invalid_argument", "argument 'name' must be a string"},
    {"hpa.apply", R"({"spec":{"name":"h","deployment":"web","max_replicas":"x"}})", "invalid_argument", "spec.max_replicas: expected an integer"},
    {"hpa.list", "[]", "invalid_argument", "not a JSON object"},
    {"hpa.show", R"({"name":[1]})", "invalid_argument", "argument 'name' must be a string"},
    {"hpa.delete", "{}", "invalid_argument", "missing argument 'name'"},
    {"quotas.show", R"({"name":5})", "invalid_argument", "argument 'name' must be a string"},
    {"quotas.apply", R"({"quotas":[{"name":"p","max_cpu":"lots"}]})", "invalid_argument", "quota.max_cpu: expected an integer"},
    {"deployments.update", R"({"name":"web","volumes":[{"path":"/a/../b","persistent":true}]})", "invalid_volume", "'.' and '..' are not allowed"},
    {"vms.destroy", "{}", "invalid_argument", "unknown request \"vms.destroy\""},
    {"deployments.show", R"({"name":"web","pad":")" + std::string(2 << 20, 'x') + "\"}", "invalid_argument", "at most 1048576 bytes (1 MiB)"},
    {"deployments.show", R"({"name":"web","x":)" + std::string(5000, '[') + std::string(5000, ']') + "}", "invalid_argument", "nest deeper than 32 levels"},
  };
  // clang-format on
  // Every verb the api dispatches has a row.
  std::set<std::string> covered;
  for (const auto& r : table)
    covered.insert(r.verb);
  for (const auto& v : wire::request_table()) {
    CAPTURE(v.verb);
    CHECK(covered.count(std::string(v.verb)) == 1);
  }
  auto before = journal_mark(d);
  auto crashes_before = test::count_lines_with(d.log(), "crashed");
  // Each malformed request, then a valid one: the api must still answer.
  std::vector<std::pair<std::string, std::string>> reqs;
  for (const auto& r : table) {
    reqs.push_back({r.verb, r.args});
    reqs.push_back({"deployments.show", R"({"name":"web","events":0})"});
  }
  auto out = send_requests(d, reqs);
  REQUIRE(out.size() == reqs.size());
  for (std::size_t i = 0; i < table.size(); ++i) {
    const auto& r = table[i];
    CAPTURE(r.verb);
    CAPTURE(r.args.substr(0, 200));
    const auto& got = out[2 * i];
    CHECK_MESSAGE(got.starts_with("error " + r.code + " "), got.substr(0, 300));
    CHECK_MESSAGE(contains(got, r.says), got.substr(0, 300));
    const auto& after = out[2 * i + 1];
    CHECK_MESSAGE(after.starts_with("reply {"), after.substr(0, 300));
    CHECK(contains(after, R"("name":"web")"));
  }
  // Nothing was changed, nothing crashed (a crash would be journaled too).
  CHECK(journal_mark(d) == before);
  CHECK(test::count_lines_with(d.log(), "crashed") == crashes_before);
  CHECK(d.settled("web", 1, 10s));
  CHECK(d.volar("vms logs web-0").exit_code == 0);
}

TEST_CASE("a name that would leave the data directory is refused before any path is built") {
  daemon d({.pool_octet = 141});
  // Files a traversal would reach from <data-dir>/logs/ (which exists once a
  // VM has run).
  std::filesystem::create_directories(d.dir() + "/logs");
  std::ofstream(d.dir() + "/secret.log") << "not for peers\n";
  auto token = token_of(d);
  for (std::string name : {"../secret", "../../../../etc/passwd", "..", "web-0/x", ".",
                           "../token"}) {
    CAPTURE(name);
    auto got = send_one(d, "vms.logs", json{{"name", name}}.dump());
    CHECK_MESSAGE(got.starts_with("error invalid_name "), got);
    CHECK_FALSE(contains(got, "not for peers"));
    CHECK_FALSE(contains(got, "root:"));
  }
  for (std::string args : {R"({"name":"../../../../etc/passwd\u0000"})",
                           R"({"name":"../token\u0000","max":100})"}) {
    CAPTURE(args);
    auto nul = send_one(d, "vms.logs", args);
    CHECK(nul.starts_with("error invalid_name "));
    CHECK_FALSE(contains(nul, "root:"));
    CHECK_FALSE(contains(nul, token));
  }
  for (auto [verb, key] : {std::pair{"vms.show", "name"}, {"deployments.show", "name"},
                           {"deployments.delete", "name"}, {"plugins.show", "name"},
                           {"shell.explain", "name"}, {"shell.state", "name"},
                           {"shell.inspect", "name"}, {"vms.list", "deployment"}}) {
    CAPTURE(verb);
    auto got = send_one(d, verb, json{{key, "../web"}}.dump());
    CHECK_MESSAGE(got.starts_with("error invalid_name "), got);
  }
  // volar refuses such a name itself, in one line.
  auto r = d.volar("vms logs ../secret");
  CHECK(r.exit_code == 1);
  CHECK(one_line(r.err));
}

TEST_CASE("requests are limited to --max-request-bytes, manifests and descriptions to "
          "their sizes, and volar reads a manifest from stdin but never from a device") {
  daemon d({.pool_octet = 142, .extra = {"--max-request-bytes", "65536"}});
  auto padded = [](std::size_t bytes) {
    return R"({"pad":")" + std::string(bytes, 'x') + "\"}";
  };
  auto refused = send_one(d, "deployments.list", padded(100000));
  CHECK(refused.starts_with("error invalid_argument "));
  CHECK(contains(refused, "at most 65536 bytes (64 KiB) (volantd --max-request-bytes)"));
  CHECK(send_one(d, "deployments.list", padded(30000)) == "reply []");

  // A manifest from stdin works; from /dev/zero it is refused in one line.
  auto manifest = d.scratch("stdin.manifest.json");
  std::ofstream(manifest) << httpd_manifest("from-stdin").dump();
  auto base = sh_quote(volar_bin()) + " --data-dir " + sh_quote(d.dir());
  auto r = test::run(base + " plugins install --manifest - < " + sh_quote(manifest));
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(contains(d.ok("plugins list"), "from-stdin"));
  r = test::run("timeout 20 " + base + " plugins install --manifest /dev/zero");
  CHECK(r.exit_code == 1);
  CHECK(one_line(r.err));
  CHECK(contains(r.err, "/dev/zero: it is a character device, not a file"));
  r = test::run("timeout 20 " + base + " apply -f /dev/zero");
  CHECK(r.exit_code == 1);
  CHECK(one_line(r.err));
  // A YAML Deployment from stdin.
  auto yaml = d.scratch("web.yaml");
  std::ofstream(yaml) << "apiVersion: volant.io/v1\nkind: Deployment\nmetadata:\n  name: "
                         "web\nspec:\n  replicas: 1\n  plugin: from-stdin\n";
  r = test::run(base + " apply -f - < " + sh_quote(yaml));
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(d.settled("web", 1, 30s));

  // A description over 4 KiB: refused by volar, and by volantd when sent raw.
  auto big = httpd_manifest("wordy");
  big["description"] = std::string(10 << 20, 'd');
  std::ofstream(d.scratch("wordy.json")) << big.dump();
  r = d.volar("plugins install --manifest " + sh_quote(d.scratch("wordy.json")));
  CHECK(r.exit_code == 1);
  CHECK(one_line(r.err));
  CHECK(contains(r.err, "the limit of a plugin manifest"));
  big["description"] = std::string(5000, 'd');
  auto got = send_one(d, "plugins.install", json{{"manifest", big}}.dump());
  CHECK(got.starts_with("error invalid_manifest "));
  CHECK(contains(got, "description is 5000 bytes: at most 4096 bytes (4 KiB)"));
  CHECK_FALSE(contains(d.ok("plugins list"), "wordy"));
  // 64 labels are fine, 65 are not.
  CHECK(send_one(d, "deployments.update", R"({"name":"web","labels":)" + labels_json(64) + "}")
          .starts_with("reply {"));
  got = send_one(d, "deployments.update", R"({"name":"web","labels":)" + labels_json(65) + "}");
  CHECK(got.starts_with("error invalid_label "));
}

TEST_CASE("a data directory others can write or own is refused as it is, and so is a token "
          "or key others can read") {
  // World-writable: refused, nothing created, the mode left alone.
  test::temp_dir open_dir;
  REQUIRE(::chmod(open_dir.path().c_str(), 0777) == 0);
  auto r = volantd_on(open_dir.path(), 143);
  CHECK(r.exit_code == 1);
  CHECK(one_line(r.err));
  CHECK(contains(r.err, "volantd: data directory " + open_dir.path()
                          + " is writable by group or others (mode 0777)"));
  CHECK(mode_of(open_dir.path()) == 0777);
  CHECK(std::filesystem::is_empty(open_dir.path()));
  // One like /tmp (sticky, 1777), as `--data-dir /tmp` would be; not /tmp
  // itself, which a volantd that still chmod'ed would break for everybody.
  test::temp_dir sticky;
  REQUIRE(::chmod(sticky.path().c_str(), 01777) == 0);
  r = volantd_on(sticky.path(), 143);
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "is writable by group or others (mode 1777)"));
  CHECK(mode_of(sticky.path()) == 01777);
  CHECK(std::filesystem::is_empty(sticky.path()));
  // Owned by another user (nobody).
  test::temp_dir theirs;
  REQUIRE(::chown(theirs.path().c_str(), 65534, 65534) == 0);
  r = volantd_on(theirs.path(), 143);
  CHECK(r.exit_code == 1);
  CHECK(one_line(r.err));
  CHECK(contains(r.err, "is owned by uid 65534"));
  CHECK(std::filesystem::is_empty(theirs.path()));

  // A token, then a key, readable by others.
  daemon d({.pool_octet = 144});
  d.stop();
  tls::layout l(d.dir());
  for (auto [path, mode] : {std::pair{d.dir() + "/token", 0644}, {l.server_key(), 0640},
                            {l.ca_key(), 0604}}) {
    CAPTURE(path);
    REQUIRE(::chmod(path.c_str(), static_cast<mode_t>(mode)) == 0);
    auto before = test::read_file(path);
    r = volantd_on(d.dir(), 144);
    CHECK(r.exit_code == 1);
    CHECK(one_line(r.err));
    CHECK(contains(r.err, path + " is readable or writable by group or others"));
    CHECK(mode_of(path) == mode);
    CHECK(test::read_file(path) == before);
    REQUIRE(::chmod(path.c_str(), 0600) == 0);
  }
  // Private again: it starts.
  d.start();
  CHECK(d.volar("deployments list").exit_code == 0);
}

TEST_CASE("when supervision gives up, volantd exits 1 within 10 s and the workloads keep "
          "running for the next start to adopt") {
  daemon d({.pool_octet = 145, .extra = {"--enable-crash-hook"}});
  d.install(httpd_manifest());
  d.ok("deployments create web --plugin e2e-httpd --replicas 1 --wait --timeout 60");
  auto pid = d.vm("web-0").value("pid", 0);
  auto ip = d.vm("web-0").value("ip", "");
  REQUIRE(pid > 0);
  // The controller crashes until the root gives up (the tenth crash in a
  // minute); volantd's log says when.
  auto gave_up = [&] { return contains(d.log(), "controller keeps crashing"); };
  for (int i = 0; i < 40 && !gave_up() && d.running(); ++i)
    test::run("timeout 10 " + sh_quote(volar_bin()) + " --data-dir " + sh_quote(d.dir())
              + " debug crash controller </dev/null");
  REQUIRE_MESSAGE(eventually(gave_up, 5s), d.log_tail());
  auto status = d.wait_exit(10s);
  REQUIRE_MESSAGE(status.has_value(), "volantd still runs 10 s after giving up\n"
                                          << d.log_tail());
  CHECK(*status == 1);
  CHECK(pid_alive(pid));
  CHECK(http_body_eventually(ip) == "web-0\n");
  // The next start adopts it.
  d.start();
  CHECK(d.settled("web", 1, 30s));
  CHECK(d.vm("web-0").value("pid", 0) == pid);
}

} // namespace volant::e2e

namespace volant::e2e {

TEST_CASE("SIGTERM shuts volantd down cleanly with status 0, also right after it started") {
  // Every thread of volantd must leave SIGTERM to main: one that does not
  // (the journal's threads started before the signals were blocked) ends the
  // process by the signal (status 143), skipping the clean shutdown.
  daemon d({.pool_octet = 146});
  for (int i = 0; i < 8; ++i) {
    CAPTURE(i);
    if (i > 0)
      d.start();
    REQUIRE(::kill(d.pid(), SIGTERM) == 0);
    auto status = d.wait_exit(10s);
    REQUIRE_MESSAGE(status.has_value(), d.log_tail());
    CHECK(*status == 0);
  }
  d.start();
}

} // namespace volant::e2e
