// Many hosts (issue 16): three volantd hosts, each with its own data and run
// directory, on one real etcd that the test starts; the process driver, the
// same --pool on every host (loopback addresses, so every VM answers from
// every host here). What a user of the cluster sees: replicas spread 3/3/3,
// every host answers for the whole cluster, and a lost host's replicas run
// on the others while it is away, without duplicates when it comes back.

#include "e2e/e2e.hpp"
#include "e2e/wrk.hpp"
#include "support/etcd.hpp"
#include "support/tcp_proxy.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <ctime>
#include <map>
#include <set>
#include <memory>
#include <random>

namespace volant::e2e {
namespace {

int port_of(const std::string& url) {
  return std::stoi(url.substr(url.rfind(':') + 1));
}

struct cluster_fixture {
  /// Hosts h1..h3 with the cluster pool 127.78.OCTET.0/22 (a /24 each);
  /// host `proxied` reaches etcd through a proxy the test can cut.
  explicit cluster_fixture(int octet, int proxied = -1, int members = 1)
    : etcd(members), proxy(port_of(etcd.url())) {
    std::string urls;
    for (const auto& u : etcd.urls())
      urls += (urls.empty() ? "" : ",") + u;
    for (int i = 0; i < 3; ++i) {
      daemon::options o;
      o.pool_octet = octet;
      o.pool_cidr = "127.78." + std::to_string(octet) + ".0/22";
      o.cpus = 4;
      o.memory_mib = 4096;
      o.extra = {"--cluster", i == proxied ? proxy.url() : urls,
                 "--host-name", "h" + std::to_string(i + 1),
                 "--cluster-prefix", "/volant-e2e-" + std::to_string(octet)};
      hosts.push_back(std::make_unique<daemon>(o));
    }
  }
  ~cluster_fixture() {
    // The cluster's deployments go once (through the first host still up),
    // then every host stops; each cleans up what is left of its own.
    for (auto& h : hosts)
      if (h->running()) {
        auto list = h->try_json("deployments list");
        if (list && list->is_array())
          for (const auto& d : *list)
            h->volar("deployments delete " + d.value("name", std::string()) + " --force");
        eventually([&] {
          auto vms = h->try_json("vms list");
          return vms && vms->empty();
        }, 30s, 200ms);
        break;
      }
  }

  daemon& host(int i) { return *hosts.at(static_cast<std::size_t>(i)); }

  /// The VMs on each host, from `vms list` on host `via`.
  std::map<std::string, int> per_host(int via = 0, bool ready_only = true) {
    std::map<std::string, int> out;
    auto vms = host(via).try_json("vms list");
    if (!vms)
      return out;
    for (const auto& vm : *vms)
      if (!ready_only || vm.value("status", "") == "ready")
        ++out[vm.value("host", std::string())];
    return out;
  }

  /// Processes of VM `name` over all hosts: one, or it runs twice.
  std::size_t copies(const std::string& name) {
    std::size_t n = 0;
    for (auto& h : hosts)
      n += h->vm_pids(name).size();
    return n;
  }

  /// The name of the host that leads (per `hosts list` on host `via`).
  std::string leader(int via) {
    auto hosts = host(via).try_json("hosts list");
    if (hosts)
      for (const auto& h : *hosts)
        if (h.value("leader", false))
          return h.value("name", std::string());
    return {};
  }

  test::etcd_cluster etcd;
  test::tcp_proxy proxy;
  std::vector<std::unique_ptr<daemon>> hosts; // after etcd: stopped before it
};

/// `t` as the journal writes times: 2026-12-03T18:41:46.123456789Z.
std::string utc(std::chrono::system_clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  auto secs = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(ns % 1'000'000'000));
  return buf;
}

std::string text_of(const std::map<std::string, int>& m) {
  std::string out;
  for (const auto& [host, n] : m)
    out += host + "=" + std::to_string(n) + " ";
  return out;
}

TEST_CASE("cluster: 9 replicas with --multi-host run 3/3/3, and every host answers for all") {
  cluster_fixture c(176);
  auto& h1 = c.host(0);
  h1.install(httpd_manifest());
  auto created = h1.ok("deployments create web --plugin e2e-httpd --replicas 9 --multi-host");
  CHECK(created.find("--multi-host") == std::string::npos); // no single-host note
  bool spread = eventually([&] {
    auto m = c.per_host();
    return m.size() == 3 && m["h1"] == 3 && m["h2"] == 3 && m["h3"] == 3;
  }, 60s, 250ms);
  REQUIRE_MESSAGE(spread, "per host: " << text_of(c.per_host(0, false)) << "\n"
                                       << h1.log_tail() << c.host(2).log_tail());
  // Every host sees the same cluster: the hosts, the VMs and who leads.
  for (int i = 0; i < 3; ++i) {
    auto hosts = c.host(i).get_json("hosts list");
    REQUIRE(hosts.size() == 3);
    for (const auto& h : hosts) {
      CHECK(h["state"] == "ready");
      CHECK(h["vms"] == 3);
    }
    CHECK(c.per_host(i) == c.per_host(0));
    CHECK(!c.leader(i).empty());
    CHECK(c.leader(i) == c.leader(0));
  }
  // Each VM answers HTTP, and runs on the host `vms list` names: its process
  // belongs to that host's volantd.
  auto vms = h1.get_json("vms list");
  REQUIRE(vms.size() == 9);
  for (const auto& vm : vms) {
    auto name = vm["name"].get<std::string>();
    CHECK_MESSAGE(http_body_eventually(vm["ip"].get<std::string>()) == name + "\n", name);
    int owner = vm["host"].get<std::string>()[1] - '1';
    // Each host's VMs have addresses of its own /24 of the cluster pool.
    auto ip = vm["ip"].get<std::string>();
    CHECK_MESSAGE(ip.rfind("127.78." + std::to_string(176 + owner) + ".", 0) == 0, ip);
    CHECK_MESSAGE(c.host(owner).vm_pids(name).size() == 1, name);
    for (int other = 0; other < 3; ++other)
      if (other != owner)
        CHECK_MESSAGE(c.host(other).vm_pids(name).empty(), name);
  }
  // The table shows the host of each VM.
  auto table = c.host(1).ok("vms list");
  CHECK(table.find("HOST") != std::string::npos);
  // A command on any host changes the cluster.
  c.host(2).ok("deployments scale web --replicas 6");
  CHECK(eventually([&] {
    auto m = c.per_host(1, false);
    return m["h1"] == 2 && m["h2"] == 2 && m["h3"] == 2;
  }, 40s, 250ms));
}

TEST_CASE("cluster: the leader's host lost with its workloads; its replicas run on the others, "
          "a new leader takes over, and the host rejoins without duplicates") {
  cluster_fixture c(180);
  auto& h1 = c.host(0);
  h1.install(httpd_manifest());
  h1.ok("deployments create web --plugin e2e-httpd --replicas 6 --multi-host");
  REQUIRE_MESSAGE(eventually([&] {
    auto m = c.per_host();
    return m["h1"] == 2 && m["h2"] == 2 && m["h3"] == 2;
  }, 60s, 250ms), text_of(c.per_host(0, false)));
  auto old_leader = c.leader(0);
  REQUIRE(!old_leader.empty());
  int lost = old_leader[1] - '1';
  int other = (lost + 1) % 3;
  auto& gone = c.host(lost);
  // The machine dies: its volantd and its workloads at once.
  auto pids = gone.workload_pids();
  REQUIRE(pids.size() == 2);
  gone.kill9();
  for (int pid : pids)
    ::kill(pid, SIGKILL);
  // Another host leads, journals the host as lost, and its replicas become
  // ready on the two others (a lease of 5 s, then the new leader's grace).
  CHECK(eventually([&] {
    auto l = c.leader(other);
    return !l.empty() && l != old_leader;
  }, 30s, 250ms));
  bool moved = eventually([&] {
    auto m = c.per_host(other);
    return m.count(old_leader) == 0 && m.size() == 2 && m.begin()->second == 3
           && m.rbegin()->second == 3;
  }, 30s, 250ms); // the bound; bench/cluster has the times
  REQUIRE_MESSAGE(moved, text_of(c.per_host(other, false)) << c.host(other).log_tail());
  auto hosts = c.host(other).get_json("hosts list");
  bool marked = false;
  for (const auto& h : hosts)
    marked = marked || (h["name"] == old_leader && h["state"] == "lost");
  CHECK(marked);
  bool journaled = false;
  for (const auto& ev : c.host(other).journal())
    journaled = journaled || (ev.value("event", "") == "host_lost");
  CHECK(journaled);
  // It comes back: it rejoins, takes no replica from the others, and runs
  // nothing of its own from before.
  gone.start();
  CHECK(eventually([&] {
    auto list = c.host(other).try_json("hosts list");
    if (!list)
      return false;
    for (const auto& h : *list)
      if (h["name"] == old_leader)
        return h["state"] == "ready";
    return false;
  }, 30s, 250ms));
  std::this_thread::sleep_for(3s);
  auto vms = c.host(other).get_json("vms list");
  CHECK(vms.size() == 6);
  CHECK(gone.workload_pids().empty());
  for (const auto& vm : vms) {
    auto name = vm["name"].get<std::string>();
    CHECK_MESSAGE(c.copies(name) == 1, name);
  }
  // Commands work through the host that came back.
  gone.ok("deployments scale web --replicas 9");
  CHECK(eventually([&] {
    auto m = c.per_host(lost);
    int n = 0;
    for (const auto& [h, k] : m)
      n += k;
    return n == 9;
  }, 60s, 250ms));
}

TEST_CASE("cluster: a host cut off from etcd stops its workloads before the leader starts "
          "them elsewhere (fencing), and nothing runs twice when the link returns") {
  cluster_fixture c(184, 2); // h3 reaches etcd through the proxy
  auto& h1 = c.host(0);
  auto& h3 = c.host(2);
  h1.install(httpd_manifest());
  h1.ok("deployments create web --plugin e2e-httpd --replicas 6 --multi-host");
  REQUIRE_MESSAGE(eventually([&] {
    auto m = c.per_host();
    return m["h1"] == 2 && m["h2"] == 2 && m["h3"] == 2;
  }, 60s, 250ms), text_of(c.per_host(0, false)));
  REQUIRE(h3.workload_pids().size() == 2);
  auto cut_at = std::chrono::system_clock::now();
  c.proxy.cut();
  // h3's daemon and workloads run on; its lease goes unrenewed: it fences.
  std::optional<std::chrono::system_clock::time_point> fenced_at;
  bool fenced = eventually([&] {
    if (h3.workload_pids().empty() && !fenced_at)
      fenced_at = std::chrono::system_clock::now();
    return fenced_at.has_value();
  }, 30s, 50ms);
  REQUIRE_MESSAGE(fenced, h3.log_tail());
  CHECK(h3.running());
  // The leader journals h3 lost and its two replicas run on h1 and h2.
  bool moved = eventually([&] {
    auto m = c.per_host(0);
    return m.count("h3") == 0 && m["h1"] == 3 && m["h2"] == 3;
  }, 60s, 250ms);
  REQUIRE_MESSAGE(moved, text_of(c.per_host(0, false)) << h1.log_tail());
  // Journal order and times: the fence came before the host was declared
  // lost, and so before any replacement started.
  // (Times as the journal writes them: fixed-width UTC, so they compare as text.)
  std::string lost_at;
  std::string first_start_after;
  for (const auto& ev : h1.journal()) {
    auto kind = ev.value("event", "");
    auto at = ev.value("at", "");
    if (kind == "host_lost")
      lost_at = at;
    if (!lost_at.empty() && kind == "vm_started" && first_start_after.empty())
      first_start_after = at;
  }
  REQUIRE(!lost_at.empty());
  REQUIRE(!first_start_after.empty());
  CHECK(utc(*fenced_at) < lost_at);
  CHECK(lost_at < first_start_after);
  CHECK(cut_at < *fenced_at);
  // The link returns: h3 rejoins and runs nothing twice.
  c.proxy.restore();
  CHECK_MESSAGE(eventually([&] {
    auto list = h1.try_json("hosts list");
    if (!list)
      return false;
    for (const auto& h : *list)
      if (h["name"] == "h3")
        return h["state"] == "ready";
    return false;
  }, 30s, 250ms), h3.log_tail(60));
  std::this_thread::sleep_for(3s);
  CHECK(h3.workload_pids().empty());
  auto vms = h1.get_json("vms list");
  CHECK(vms.size() == 6);
  for (const auto& vm : vms) {
    auto name = vm["name"].get<std::string>();
    CHECK_MESSAGE(c.copies(name) == 1, name);
  }
}

TEST_CASE("cluster: one etcd member of three killed, the cluster works on; two killed, "
          "commands fail in one line and nothing acknowledged is lost") {
  cluster_fixture c(188, -1, 3);
  auto& h1 = c.host(0);
  h1.install(httpd_manifest());
  h1.ok("deployments create web --plugin e2e-httpd --replicas 3 --multi-host");
  REQUIRE(eventually([&] { return c.per_host().size() == 3; }, 60s, 250ms));
  c.etcd.stop(0);
  c.host(1).ok("deployments scale web --replicas 6");
  CHECK_MESSAGE(eventually([&] {
    auto m = c.per_host(2);
    return m["h1"] == 2 && m["h2"] == 2 && m["h3"] == 2;
  }, 60s, 250ms), text_of(c.per_host(2, false)));
  c.etcd.stop(1);
  auto r = c.host(2).volar("deployments scale web --replicas 9");
  CHECK(r.exit_code != 0);
  CHECK_MESSAGE(one_line(r.err), r.err);
  CHECK_MESSAGE(r.err.find("etcd") != std::string::npos, r.err);
  // Quorum back: the acknowledged six come back ready (the hosts fenced
  // themselves while they could not renew their leases).
  c.etcd.start(0);
  c.etcd.start(1);
  bool back = eventually([&] {
    auto d = c.host(0).try_json("deployments list");
    if (!d || d->size() != 1)
      return false;
    auto desired = (*d)[0].value("desired", 0);
    return (desired == 6 || desired == 9) && (*d)[0].value("ready", 0) == desired;
  }, 120s, 500ms);
  CHECK_MESSAGE(back, c.host(0).log_tail());
}

TEST_CASE("cluster chaos: the leader's volantd killed again and again while commands go to "
          "any host; every acknowledged command is in the log, in order, and nothing runs "
          "twice") {
  cluster_fixture c(196);
  auto& h1 = c.host(0);
  h1.install(httpd_manifest());
  h1.ok("deployments create web --plugin e2e-httpd --replicas 3 --multi-host");
  REQUIRE(eventually([&] { return c.per_host().size() == 3; }, 60s, 250ms));
  std::vector<int> acknowledged;
  std::mt19937 rng(1603);
  int kills = 0;
  int failed = 0;
  int last_tried = 3;
  auto live_host = [&]() -> daemon& {
    for (;;) {
      auto& h = c.host(static_cast<int>(rng() % 3));
      if (h.running())
        return h;
    }
  };
  for (int round = 0; round < 6; ++round) {
    // Kill the leader's volantd (its workloads run on), and command the
    // cluster through the others meanwhile.
    auto leader = c.leader(round % 3 == 0 ? 1 : 0);
    if (leader.empty())
      leader = c.leader(2);
    REQUIRE(!leader.empty());
    int victim_index = leader[1] - '1';
    auto& victim = c.host(victim_index);
    victim.kill9();
    ++kills;
    int other = (victim_index + 1) % 3;
    // Each command changes the count (never a no-op, which the log would not
    // show), also against one that failed and may have landed.
    auto command = [&] {
      int n = 1;
      do
        n = 1 + static_cast<int>(rng() % 9);
      while (n == last_tried || n == (acknowledged.empty() ? 3 : acknowledged.back()));
      last_tried = n;
      auto r = live_host().volar("deployments scale web --replicas " + std::to_string(n));
      if (r.exit_code == 0)
        acknowledged.push_back(n);
      else
        ++failed;
    };
    command();
    // Another host takes the lead once the dead leader's lease expires (5 s),
    // within the test's 30 s; commands go on meanwhile.
    CHECK(eventually([&] {
      command();
      auto now = c.leader(other);
      return !now.empty() && now != leader;
    }, 30s, 500ms));
    command();
    victim.start(); // back before the new leader may count it lost: it adopts its workloads
  }
  // The last word, acknowledged for sure.
  int last = acknowledged.empty() || acknowledged.back() != 6 ? 6 : 5;
  c.host(1).ok("deployments scale web --replicas " + std::to_string(last));
  acknowledged.push_back(last);
  CHECK(kills == 6);
  CHECK(acknowledged.size() >= 13);
  MESSAGE(acknowledged.size() << " scales acknowledged, " << failed << " failed");
  // Every acknowledged scale is in the log, in order (as a subsequence of
  // the journal's scales), on every host's copy.
  // (Each host's copy follows etcd's watch: it may lag the acknowledgement by
  // a moment.)
  for (int i = 0; i < 3; ++i) {
    std::size_t k = 0;
    bool all = eventually([&] {
      std::vector<int> logged;
      for (const auto& ev : c.host(i).journal())
        if (ev.value("event", "") == "deployment_scaled")
          logged.push_back(ev["fields"].value("to", -1));
      k = 0;
      for (int to : logged)
        if (k < acknowledged.size() && to == acknowledged[k])
          ++k;
      return k == acknowledged.size();
    }, 10s, 200ms);
    CHECK_MESSAGE(all, "host h" << i + 1 << ": " << k << " of " << acknowledged.size()
                                << " acknowledged scales in order");
  }
  // It settles at the last one, and no replica runs twice.
  bool settled = eventually([&] {
    auto d = c.host(2).try_json("deployments list");
    return d && d->size() == 1 && (*d)[0].value("desired", 0) == last
           && (*d)[0].value("ready", 0) == last && (*d)[0].value("current", 0) == last;
  }, 60s, 250ms);
  CHECK_MESSAGE(settled, c.host(2).log_tail());
  for (const auto& vm : h1.get_json("vms list")) {
    auto name = vm["name"].get<std::string>();
    CHECK_MESSAGE(c.copies(name) == 1, name);
  }
}

TEST_CASE("cluster over TLS: volar cluster init, etcd on its certificates, hosts joining with "
          "the bundle; a host without it or with another cluster's is refused in one line") {
  test::temp_dir pki;
  auto init = test::run(sh_quote(volar_bin()) + " cluster init --out " + sh_quote(pki / "c")
                        + " --etcd-host 127.0.0.1");
  REQUIRE_MESSAGE(init.exit_code == 0, init.err);
  auto other = test::run(sh_quote(volar_bin()) + " cluster init --out " + sh_quote(pki / "other")
                         + " --etcd-host 127.0.0.1");
  REQUIRE_MESSAGE(other.exit_code == 0, other.err);
  test::etcd_cluster etcd(1, {pki / "c/etcd/server.pem", pki / "c/etcd/server.key",
                              pki / "c/etcd/ca.pem"});
  REQUIRE(etcd.url().rfind("https://", 0) == 0);
  std::vector<std::unique_ptr<daemon>> hosts;
  for (int i = 1; i <= 3; ++i) {
    daemon::options o;
    o.pool_octet = 200;
    o.pool_cidr = "127.78.200.0/22";
    o.cpus = 4;
    o.memory_mib = 4096;
    o.extra = {"--cluster", etcd.url(), "--host-name", "h" + std::to_string(i), "--join",
               pki / "c/join.bundle"};
    hosts.push_back(std::make_unique<daemon>(o));
  }
  auto& h1 = *hosts[0];
  h1.install(httpd_manifest());
  h1.ok("deployments create web --plugin e2e-httpd --replicas 3 --multi-host");
  CHECK(eventually([&] {
    auto vms = hosts[2]->try_json("vms list");
    if (!vms || vms->size() != 3)
      return false;
    std::set<std::string> on;
    for (const auto& vm : *vms)
      if (vm.value("status", "") == "ready")
        on.insert(vm.value("host", std::string()));
    return on.size() == 3;
  }, 60s, 250ms));
  // Never in clear: without certificates, or with another cluster's, no start.
  auto start_fails = [&](std::vector<std::string> extra) {
    test::temp_dir data;
    std::string cmd = sh_quote(volantd_bin()) + " --data-dir " + sh_quote(data.path())
                      + " --listen 127.0.0.1:0 --pool 127.78.200.0/22 --dns-listen off";
    for (const auto& a : extra)
      cmd += " " + sh_quote(a);
    return test::run("timeout 30 " + cmd);
  };
  auto bare = start_fails({"--cluster", etcd.url(), "--host-name", "h9"});
  CHECK(bare.exit_code == 1);
  CHECK_MESSAGE(one_line(bare.err.substr(bare.err.rfind("volantd:"))), bare.err);
  CHECK_MESSAGE(bare.err.find("volantd: ") != std::string::npos, bare.err);
  auto stranger = start_fails(
      {"--cluster", etcd.url(), "--host-name", "h9", "--join", pki / "other/join.bundle"});
  CHECK(stranger.exit_code == 1);
  CHECK_MESSAGE(stranger.err.find("volantd: ") != std::string::npos, stranger.err);
  // The cluster did not notice.
  CHECK(h1.get_json("hosts list").size() == 3);
}

/// Hosts on separate machines, as far as the network goes: a namespace per
/// host (its "machine"), each linked by a veth pair to a bridge in a
/// namespace of its own, where etcd listens. Host N is 10.199.0.N/24 on its
/// eth0, etcd 10.199.0.100. Every namespace is the test's own and deleted at
/// the end (with whatever still runs in it).
struct machines {
  machines() : tag(std::to_string(::getpid() % 100000)) {
    auto sh = [](const std::string& cmd) {
      auto r = test::run(cmd);
      REQUIRE_MESSAGE(r.exit_code == 0, cmd << ": " << r.err);
    };
    sh("ip netns add " + bridge() + " && ip -n " + bridge() + " link set lo up && ip -n "
       + bridge() + " link add br0 type bridge && ip -n " + bridge()
       + " addr add 10.199.0.100/24 dev br0 && ip -n " + bridge() + " link set br0 up");
    for (int i = 1; i <= 3; ++i) {
      auto ns = host(i);
      auto peer = "vp" + std::to_string(i);
      sh("ip netns add " + ns + " && ip -n " + ns + " link set lo up");
      sh("ip -n " + bridge() + " link add " + peer + " type veth peer name eth0 netns " + ns);
      sh("ip -n " + bridge() + " link set " + peer + " master br0 up");
      sh("ip -n " + ns + " addr add 10.199.0." + std::to_string(i) + "/24 dev eth0 && ip -n "
         + ns + " link set eth0 up");
    }
    // etcd in the bridge's namespace.
    std::fflush(nullptr); // the child must not print our buffers again
    etcd_pid = ::fork();
    REQUIRE(etcd_pid >= 0);
    if (etcd_pid == 0) {
      auto log = dir / "etcd.log";
      std::freopen(log.c_str(), "a", stdout);
      std::freopen(log.c_str(), "a", stderr);
      std::string data = dir / "etcd";
      ::execlp("ip", "ip", "netns", "exec", bridge().c_str(), "etcd", "--name", "m0",
               "--data-dir", data.c_str(), "--listen-client-urls", "http://10.199.0.100:2379",
               "--advertise-client-urls", "http://10.199.0.100:2379", "--listen-peer-urls",
               "http://127.0.0.1:2380", "--initial-advertise-peer-urls",
               "http://127.0.0.1:2380", "--initial-cluster", "m0=http://127.0.0.1:2380",
               static_cast<char*>(nullptr));
      ::_exit(127);
    }
    bool up = eventually([&] {
      return test::run("ip netns exec " + host(1)
                       + " curl -s -m 1 -X POST -d '{}' http://10.199.0.100:2379/v3/maintenance/status")
                 .exit_code
             == 0;
    }, 20s, 200ms);
    REQUIRE_MESSAGE(up, "etcd did not answer in " << bridge());
  }
  ~machines() {
    if (etcd_pid > 0) {
      ::kill(etcd_pid, SIGKILL);
      ::waitpid(etcd_pid, nullptr, 0);
    }
    for (int i = 1; i <= 3; ++i)
      test::run("ip netns pids " + host(i) + " | xargs -r kill -9; ip netns del " + host(i));
    test::run("ip netns pids " + bridge() + " | xargs -r kill -9; ip netns del " + bridge());
  }
  std::string bridge() const { return "vlb" + tag; }
  std::string host(int i) const { return "vh" + std::to_string(i) + "-" + tag; }
  /// `curl` of http://IP/ from host i's namespace: the body, or "".
  std::string get_from(int i, const std::string& ip) const {
    auto r = test::run("ip netns exec " + host(i) + " curl -s -m 3 http://" + ip + "/");
    return r.exit_code == 0 ? r.out : "";
  }

  std::string tag;
  test::temp_dir dir;
  pid_t etcd_pid = -1;
};

TEST_CASE("cluster: hosts in network namespaces of their own, VM addresses on their "
          "interface, routed: every VM answers from every host") {
  machines net;
  std::vector<std::unique_ptr<daemon>> hosts;
  for (int i = 1; i <= 3; ++i) {
    daemon::options o;
    o.pool_octet = 192; // names only: the pool is the cluster's below
    o.pool_cidr = "10.199.16.0/22";
    o.netns = net.host(i);
    o.cpus = 4;
    o.memory_mib = 4096;
    o.extra = {"--cluster", "http://10.199.0.100:2379", "--host-name", "h" + std::to_string(i),
               "--dns-listen", "off"};
    if (i != 3) // h3: the default, the interface of its route to etcd (eth0)
      o.extra.insert(o.extra.end(), {"--vm-interface", "eth0"});
    hosts.push_back(std::make_unique<daemon>(o));
  }
  auto& h1 = *hosts[0];
  h1.install(httpd_manifest());
  h1.ok("deployments create web --plugin e2e-httpd --replicas 9 --multi-host");
  bool ready = eventually([&] {
    auto vms = h1.try_json("vms list");
    if (!vms || vms->size() != 9)
      return false;
    for (const auto& vm : *vms)
      if (vm.value("status", "") != "ready")
        return false;
    return true;
  }, 60s, 250ms);
  REQUIRE_MESSAGE(ready, h1.log_tail() << hosts[2]->log_tail());
  auto vms = h1.get_json("vms list");
  // Each host's VMs in a /24 of its own.
  std::map<std::string, std::set<std::string>> nets; // host -> its VMs' /24s
  for (const auto& vm : vms) {
    auto ip = vm["ip"].get<std::string>();
    nets[vm["host"].get<std::string>()].insert(ip.substr(0, ip.rfind('.')));
  }
  REQUIRE(nets.size() == 3);
  std::set<std::string> all;
  for (const auto& [host, n] : nets) {
    CHECK_MESSAGE(n.size() == 1, host);
    all.insert(n.begin(), n.end());
  }
  CHECK(all.size() == 3);
  // Every VM answers HTTP from every host's namespace (through the routes
  // volantd set to the other hosts' /24s, and its own eth0).
  for (const auto& vm : vms) {
    auto name = vm["name"].get<std::string>();
    auto ip = vm["ip"].get<std::string>();
    for (int i = 1; i <= 3; ++i) // routes follow the hosts' joins within a heartbeat
      CHECK_MESSAGE(eventually([&] { return net.get_from(i, ip) == name + "\n"; }, 10s, 200ms),
                    name << " (" << ip << ") from h" << i);
  }
  auto routes = test::run("ip -n " + net.host(1) + " route").out;
  CHECK_MESSAGE(routes.find("via 10.199.0.2") != std::string::npos, routes);
  CHECK_MESSAGE(routes.find("via 10.199.0.3") != std::string::npos, routes);

  // `hosts drain h2` under load through a load balancer (h1's HAProxy, whose
  // servers are the VMs on all three hosts): its replicas move to h1 and h3
  // one at a time, and not one request fails.
  h1.ok("lb create web-lb --deployment web --port 80 --listen 127.0.0.1 --drain-timeout 5s");
  REQUIRE(eventually([&] { return !net.get_from(1, "127.0.0.1").empty(); }, 30s, 200ms));
  wrk_options load_opts;
  load_opts.netns = net.host(1);
  load_opts.threads = 1;
  load_opts.connections = 4;
  wrk_load load("http://127.0.0.1:80/", load_opts);
  auto drained = hosts[2]->ok("hosts drain h2");
  CHECK(drained.find("host h2 draining") != std::string::npos);
  bool moved = eventually([&] {
    auto list = h1.try_json("vms list");
    if (!list || list->size() != 9)
      return false;
    for (const auto& vm : *list)
      if (vm.value("host", "") == "h2" || vm.value("status", "") != "ready")
        return false;
    return true;
  }, 180s, 500ms);
  auto result = load.finish();
  REQUIRE_MESSAGE(moved, h1.log_tail() << hosts[1]->log_tail());
  MESSAGE("through the drain: " << result.requests << " requests, " << result.per_second
                                << "/s, " << result.socket_errors << " socket errors, "
                                << result.bad_status << " bad status");
  CHECK(result.requests > 100);
  CHECK(result.socket_errors == 0);
  CHECK(result.bad_status == 0);
  bool shown = false;
  for (const auto& h : h1.get_json("hosts list"))
    shown = shown || (h["name"] == "h2" && h["state"] == "draining" && h["vms"] == 0);
  CHECK(shown);
  // A drained host takes nothing new: a scale-up goes to the others.
  h1.ok("deployments scale web --replicas 12");
  CHECK(eventually([&] {
    auto m = std::map<std::string, int>{};
    auto list = h1.try_json("vms list");
    if (!list)
      return false;
    for (const auto& vm : *list)
      if (vm.value("status", "") == "ready")
        ++m[vm.value("host", std::string())];
    return m.count("h2") == 0 && m["h1"] + m["h3"] == 12;
  }, 60s, 250ms));
}

} // namespace
} // namespace volant::e2e
