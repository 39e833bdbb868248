// The control endpoint as a security boundary (issue 11, items 1, 2 and 10):
// mutual TLS from the data directory's own CA, nothing internal reachable by
// name, exit messages to the api stop nothing, an oversized frame from a peer
// without a certificate costs nothing, and the credentials commands (export,
// import, rotate, revoke). The peers are the test's own CAF client
// (security_peer.cpp), run as a process under `timeout`.
// Pools: 127.78.120.0/24 .. 127.78.125.0/24.

#include "e2e/e2e.hpp"
#include "tls/credentials.hpp"
#include "tls/pki.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace volant::e2e {

namespace {

std::string peer_bin() {
  return test::binary("VOLANT_TEST_PEER");
}

/// The port volantd listens on (from <data-dir>/endpoint).
std::string port_of(const daemon& d) {
  std::ifstream in(d.dir() + "/endpoint");
  std::string line;
  std::getline(in, line);
  return line.substr(line.rfind(':') + 1);
}

/// Runs the test's CAF peer against `d`; its stdout. At most 20 s: a peer CAF
/// keeps waiting on counts as refused.
std::string peer(const daemon& d, const std::string& mode,
                 const std::string& rest = "") {
  auto r = test::run("timeout 20 " + sh_quote(peer_bin()) + " " + mode
                     + " 127.0.0.1 " + port_of(d) + " " + rest + " </dev/null");
  return r.out + (r.exit_code == 124 ? "timed out\n" : "");
}

/// "CERT KEY CA" of a data directory's volar credentials.
std::string creds(const std::string& data_dir) {
  tls::layout l(data_dir);
  return sh_quote(l.client_cert()) + " " + sh_quote(l.client_key()) + " "
         + sh_quote(l.ca_cert());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int mode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return -1;
  return static_cast<int>(st.st_mode & 07777);
}

/// VmRSS of a process in KiB.
long rss_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::atol(line.c_str() + 6);
  return -1;
}

/// Opens a TCP connection to 127.0.0.1:port, sends a 32-byte BASP header that
/// announces a 0xFFFFFFF0-byte payload and a few bytes of it; returns the fd.
int send_oversized_header(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (fd < 0
      || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return -1;
  unsigned char frame[32 + 64] = {};
  frame[0] = 0x01; // operation: client handshake
  frame[4] = 0xFF; // payload_len, big-endian: 0xFFFFFFF0
  frame[5] = 0xFF;
  frame[6] = 0xFF;
  frame[7] = 0xF0;
  ::send(fd, frame, sizeof frame, MSG_NOSIGNAL);
  return fd;
}

/// Whether the peer closed `fd` within `limit` (read returns 0 or an error).
bool closed_by_peer(int fd, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) == 1) {
      auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0)
        return true;
    }
  }
  return false;
}

} // namespace

TEST_CASE("peers without a certificate of volantd's CA never get past the TLS "
          "handshake, and volar keeps working") {
  daemon d({.pool_octet = 120});
  // Another CA and a client certificate from it.
  auto other_ca = tls::make_ca("Other CA", 1, 30);
  REQUIRE(other_ca);
  auto other_leaf
      = tls::make_leaf(*other_ca, tls::leaf_kind::client, "intruder", 2, 30);
  REQUIRE(other_leaf);
  auto cert = d.scratch("intruder.pem");
  auto key = d.scratch("intruder.key");
  REQUIRE(tls::write_private(cert, other_leaf->cert_pem));
  REQUIRE(tls::write_private(key, other_leaf->key_pem));

  // The control: volar's own certificate reaches the api (which refuses the
  // token the peer sends).
  auto good = peer(d, "tls", creds(d.dir()));
  CHECK_MESSAGE(good.find("answered") != std::string::npos, good);
  CHECK_MESSAGE(good.find("invalid token") != std::string::npos, good);

  auto plain = peer(d, "plain");
  CHECK_MESSAGE(plain.find("connected") == std::string::npos, plain);
  auto anon = peer(d, "anon");
  CHECK_MESSAGE(anon.rfind("refused", 0) == 0, anon);
  // Another CA's certificate, while trusting volantd's CA: the refusal is
  // volantd's.
  auto intruder = peer(d, "tls",
                       sh_quote(cert) + " " + sh_quote(key) + " "
                           + sh_quote(tls::layout(d.dir()).ca_cert()));
  CHECK_MESSAGE(intruder.rfind("refused", 0) == 0, intruder);
  CHECK(intruder.find("handshake") != std::string::npos);

  CHECK(d.running());
  d.ok("deployments list");
}

TEST_CASE("the credentials are created at first start, private to the daemon's "
          "user") {
  daemon d({.pool_octet = 121});
  tls::layout l(d.dir());
  CHECK(mode_of(l.dir) == 0700);
  for (auto path : {l.ca_cert(), l.ca_key(), l.server_cert(), l.server_key(),
                    l.client_cert(), l.client_key(), l.trust(), l.issued()}) {
    CAPTURE(path);
    CHECK(mode_of(path) == 0600);
  }
  auto shown = d.get_json("credentials show");
  auto issued = shown["volantd"]["issued"];
  REQUIRE(issued.size() == 3);
  CHECK(issued[0]["kind"] == "ca");
  CHECK(issued[1]["kind"] == "server");
  CHECK(issued[2]["kind"] == "client");
  CHECK(shown["this_volar"]["serial"] == issued[2]["serial"]);
  CHECK(shown["this_volar"]["days_left"].get<int>() >= 360);
  auto text = d.ok("credentials show");
  CHECK_MESSAGE(text.find("THIS VOLAR") != std::string::npos, text);
  CHECK(text.find("days left") != std::string::npos);

  // A restart keeps them: the same CA and certificates.
  auto ca_before = read_file(l.ca_cert());
  auto server_before = read_file(l.server_cert());
  d.stop();
  d.start();
  CHECK(read_file(l.ca_cert()) == ca_before);
  CHECK(read_file(l.server_cert()) == server_before);
  d.ok("deployments list");
}

TEST_CASE("volar refuses its token or client key once other users can read them") {
  daemon d({.pool_octet = 128});
  tls::layout l(d.dir());
  const std::string token = d.dir() + "/token";
  for (const auto& [path, what] : {std::pair{l.client_key(), std::string("the client key")},
                                   std::pair{token, std::string("the token")}}) {
    for (mode_t mode : {0640, 0604}) {
      CAPTURE(path);
      CAPTURE(mode);
      REQUIRE(::chmod(path.c_str(), mode) == 0);
      auto r = d.volar("deployments list");
      CHECK(r.exit_code == 1);
      CHECK_MESSAGE(one_line(r.err), r.err);
      char shown[8];
      std::snprintf(shown, sizeof shown, "%04o", static_cast<unsigned>(mode));
      CHECK(r.err == "volar: refusing " + what + " " + path + ": mode " + shown
                       + " lets other users read it (chmod 600 " + path + ")\n");
      CHECK(mode_of(path) == mode); // refused, not chmod'ed
    }
    REQUIRE(::chmod(path.c_str(), 0600) == 0);
    d.ok("deployments list");
  }
  // A token given in the environment is the caller's business.
  REQUIRE(::chmod(token.c_str(), 0644) == 0);
  auto value = test::read_file(token);
  value.erase(value.find_last_not_of("\n") + 1);
  auto r = d.volar("deployments list", "VOLANT_TOKEN=" + value);
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  ::chmod(token.c_str(), 0600);
}

TEST_CASE("nothing but the api is reachable, and exit messages to the api stop "
          "nothing") {
  daemon d({.pool_octet = 122});
  d.install(httpd_manifest());
  d.ok("deployments create web --plugin e2e-httpd --replicas 1 --wait");
  REQUIRE(d.settled("web", 1));
  auto pid_before = d.vm("web-0")["pid"].get<int>();

  auto lookup = peer(d, "lookup",
                     creds(d.dir())
                         + " controller journal root api daemon "
                           "deployment probe SpawnServ");
  CHECK_MESSAGE(lookup.find("connected") != std::string::npos, lookup);
  for (auto name : {"controller", "journal", "root", "api", "daemon",
                    "deployment", "probe"}) {
    CAPTURE(name);
    CHECK_MESSAGE(lookup.find(std::string(name) + " absent")
                      != std::string::npos,
                  lookup);
  }
  // The control: a lookup does reach CAF's registry (CAF's own spawn server).
  CHECK_MESSAGE(lookup.find("SpawnServ found") != std::string::npos, lookup);

  // Twelve kills: more than the supervision's escalation limit (ten in a
  // minute) if they counted as crashes.
  auto kills = peer(d, "kill", creds(d.dir()) + " 12");
  CHECK_MESSAGE(kills.find("answered") != std::string::npos,
                kills); // after other exits
  CHECK_MESSAGE(kills.find("kill 11 down") != std::string::npos, kills);
  CHECK(kills.find("refused") == std::string::npos);

  CHECK(d.running());
  CHECK(eventually([&] { return d.volar("deployments list").exit_code == 0; },
                   10s));
  CHECK(d.vm("web-0")["pid"].get<int>() == pid_before);
  CHECK(pid_alive(pid_before));
  CHECK_MESSAGE(d.log().find("the api was stopped from outside")
                    != std::string::npos,
                d.log_tail());
  d.ok("deployments scale web --replicas 2 --wait");
}

TEST_CASE(
    "an oversized frame from a peer without a certificate leaves volantd's "
    "memory flat") {
  daemon d({.pool_octet = 123});
  auto before = rss_kib(d.pid());
  REQUIRE(before > 0);
  std::vector<int> fds;
  for (int i = 0; i < 4; ++i) {
    auto fd = send_oversized_header(std::stoi(port_of(d)));
    REQUIRE(fd >= 0);
    fds.push_back(fd);
  }
  // TLS stops it: volantd closes each connection without parsing a frame.
  for (auto fd : fds) {
    CHECK(closed_by_peer(fd, 5s));
    ::close(fd);
  }
  auto after = rss_kib(d.pid());
  INFO("VmRSS before " << before << " KiB, after " << after << " KiB");
  CHECK(after - before < 64 * 1024); // 4 GiB per connection without TLS
  d.ok("deployments list");
}

TEST_CASE("an exported bundle lets volar on another data directory in, until "
          "it is revoked; rotation keeps volar working") {
  daemon d({.pool_octet = 124});
  auto bundle = d.scratch("laptop.json");
  auto out = d.ok("credentials export " + sh_quote(bundle) + " --name laptop");
  CHECK_MESSAGE(out.find("exported credentials 'laptop'") != std::string::npos,
                out);
  CHECK(mode_of(bundle) == 0600);
  auto j = json::parse(read_file(bundle));
  auto serial = j["serial"].get<std::uint64_t>();

  test::temp_dir other;
  auto remote = [&](const std::string& args) {
    return test::run(sh_quote(volar_bin()) + " --data-dir "
                     + sh_quote(other.path()) + " " + args + " </dev/null");
  };
  // Before the import that data directory has nothing to present.
  auto before
      = remote("--endpoint 127.0.0.1:" + port_of(d) + " deployments list");
  CHECK(before.exit_code != 0);
  CHECK_MESSAGE(one_line(before.err), before.err);
  CHECK_MESSAGE(before.err.find("client.pem") != std::string::npos, before.err);

  auto imported = remote("credentials import " + sh_quote(bundle));
  CHECK_MESSAGE(imported.exit_code == 0, imported.err);
  CHECK(mode_of(other.path() + "/tls/client.key") == 0600);
  CHECK(mode_of(other.path() + "/token") == 0600);
  auto listed = remote("deployments list");
  CHECK_MESSAGE(listed.exit_code == 0, listed.err);
  // Importing into volantd's own data directory is refused.
  auto own = d.volar("credentials import " + sh_quote(bundle));
  CHECK(own.exit_code != 0);
  CHECK_MESSAGE(own.err.find("volantd's own data directory")
                    != std::string::npos,
                own.err);

  // Rotation: new server and local client certificates, the same CA; the
  // local volar and the exported bundle keep working.
  auto shown = d.get_json("credentials show");
  auto server_serial = shown["volantd"]["server"]["serial"];
  auto client_serial = shown["this_volar"]["serial"];
  d.ok("credentials rotate");
  auto rotated = d.get_json("credentials show");
  CHECK(rotated["volantd"]["server"]["serial"] != server_serial);
  CHECK(rotated["this_volar"]["serial"] != client_serial);
  CHECK(rotated["volantd"]["ca"] == shown["volantd"]["ca"]);
  CHECK(remote("deployments list").exit_code == 0);
  // The replaced local client certificate is revoked.
  bool old_revoked = false;
  for (const auto& c : rotated["volantd"]["issued"])
    if (c["serial"] == client_serial)
      old_revoked = !c["revoked_at"].is_null();
  CHECK(old_revoked);

  // Revoking the bundle: refused at the handshake from then on.
  d.ok("credentials revoke " + std::to_string(serial));
  auto refused = remote("deployments list");
  CHECK(refused.exit_code != 0);
  CHECK_MESSAGE(one_line(refused.err), refused.err);
  CHECK_MESSAGE(refused.err.find("refused the TLS handshake")
                    != std::string::npos,
                refused.err);
  // The daemon's alert is named (it tells a refusal from a daemon that died);
  // when the alert was lost on the way (a reset, seen under ASan), the daemon
  // still accepting connections tells it.
  CHECK_MESSAGE((refused.err.find("(certificate revoked)") != std::string::npos
                 || refused.err.find("alert") != std::string::npos),
                refused.err);
  auto again = d.volar("credentials revoke " + std::to_string(serial));
  CHECK(again.exit_code == 1);
  CHECK_MESSAGE(again.err.find("revoked already") != std::string::npos,
                again.err);
  auto unknown = d.volar("credentials revoke 999");
  CHECK(unknown.exit_code == 1);
  CHECK_MESSAGE(unknown.err.find("no certificate with serial 999")
                    != std::string::npos,
                unknown.err);
  d.ok("deployments list");
}

} // namespace volant::e2e
