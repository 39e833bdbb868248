// The cluster log on a real etcd 3.4 (Debian's etcd-server), started here on
// loopback ports of its own: appends ordered by etcd's transactions, a stale
// head refused, reads in order, a dead member skipped, a dead cluster a clear
// error (issue 16).

#include "cluster/etcd.hpp"
#include "store/codec.hpp"
#include "events_generated.h"
#include "tls/credentials.hpp"
#include "tls/pki.hpp"
#include "support/etcd.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

using namespace volant;
using namespace volant::cluster;
using namespace std::chrono_literals;

namespace {

etcd_options at(std::vector<std::string> endpoints, std::chrono::milliseconds timeout = 5000ms) {
  etcd_options o;
  o.endpoints = std::move(endpoints);
  o.timeout = timeout;
  return o;
}

/// Waits until etcd answers (it elects itself leader first).
bool answers(etcd_client& c) {
  for (int i = 0; i < 200; ++i) {
    if (c.get("/probe"))
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

} // namespace

TEST_CASE("the cluster log on a real etcd: appends at the head, a stale head refused, reads in "
          "order") {
  test::etcd_cluster etcd;
  etcd_client a(at({etcd.url()}));
  REQUIRE_MESSAGE(answers(a), etcd.log());
  etcd_log log_a(a, "/volant/test");
  CHECK(log_a.head().value() == 0);
  auto first = log_a.append(0, {"one", std::string("t\0wo", 4), "three"});
  REQUIRE_MESSAGE(first, (first ? "" : first.error_value().message));
  CHECK(*first == 3);
  CHECK(log_a.head().value() == 3);

  // A second host that still thinks the log ends at 0 (or 2) cannot fork it.
  etcd_client b(at({etcd.url()}));
  etcd_log log_b(b, "/volant/test");
  auto stale = log_b.append(0, {"forked"});
  REQUIRE_FALSE(stale);
  CHECK(stale.error_value().code == ec::conflict);
  CHECK(stale.error_value().message
        == "the cluster log moved on: appended after seq 0 but its head is 3");
  CHECK_FALSE(log_b.append(2, {"forked"}));
  // At the head it goes on.
  CHECK(log_b.append(3, {"four"}).value() == 4);

  auto all = log_a.read(1);
  REQUIRE(all);
  REQUIRE(all->size() == 4);
  CHECK((*all)[0] == std::pair<std::uint64_t, std::string>{1, "one"});
  CHECK((*all)[1].second == std::string("t\0wo", 4)); // bytes, not text
  CHECK((*all)[3] == std::pair<std::uint64_t, std::string>{4, "four"});
  auto tail = log_a.read(3, 1);
  REQUIRE(tail);
  REQUIRE(tail->size() == 1);
  CHECK(tail->front().first == 3);
  // etcd's own refusals come through with its words.
  auto refused = a.get("");
  REQUIRE_FALSE(refused);
  CHECK_MESSAGE(refused.error_value().message.find("key is not provided") != std::string::npos,
                refused.error_value().message);
  // Another prefix is another log.
  etcd_log other(a, "/volant/test2");
  CHECK(other.head().value() == 0);
  CHECK(other.read(1).value().empty());
}

TEST_CASE("a dead etcd member is skipped; no member answering is one clear error") {
  test::etcd_cluster etcd;
  // The first endpoint has nothing listening.
  auto dead = "http://127.0.0.1:" + std::to_string(test::free_port());
  etcd_client c(at({dead, etcd.url()}, 2000ms));
  REQUIRE_MESSAGE(answers(c), etcd.log());
  etcd_log log(c, "/volant/test");
  CHECK(log.append(0, {"x"}).value() == 1);

  etcd.stop();
  auto down = log.append(1, {"y"});
  REQUIRE_FALSE(down);
  CHECK(down.error_value().message.starts_with("no etcd member answered ("));
  CHECK(down.error_value().message.find(dead) != std::string::npos);
  CHECK(down.error_value().message.find('\n') == std::string::npos);

  etcd_client none(at({}));
  CHECK(none.get("/x").error_value().message == "no etcd endpoint given (--cluster)");
}

TEST_CASE("leader election on a lease: one leader; when it stops renewing its lease another "
          "takes over") {
  test::etcd_cluster etcd;
  etcd_client a(at({etcd.url()}));
  etcd_client b(at({etcd.url()}));
  REQUIRE_MESSAGE(answers(a), etcd.log());
  election host_a(a, "/volant/test/leader", "host-a");
  election host_b(b, "/volant/test/leader", "host-b");
  auto lease_a = a.grant(2);
  auto lease_b = b.grant(2);
  REQUIRE_MESSAGE(lease_a, (lease_a ? "" : lease_a.error_value().message));
  REQUIRE(lease_b);
  CHECK(host_a.campaign(*lease_a).value());
  CHECK_FALSE(host_b.campaign(*lease_b).value());
  CHECK(host_b.leader().value() == "host-a");
  CHECK(host_a.campaign(*lease_a).value()); // it still leads
  // host-a renews for a while: it keeps the lead past its TTL.
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(600ms);
    CHECK(a.keep_alive(*lease_a).value() > 0);
    CHECK(b.keep_alive(*lease_b).value() > 0);
  }
  CHECK(host_b.leader().value() == "host-a");
  // host-a stops (a crash): its lease expires and host-b takes over.
  bool took_over = false;
  for (int i = 0; i < 40 && !took_over; ++i) {
    std::this_thread::sleep_for(250ms);
    CHECK(b.keep_alive(*lease_b).value() > 0);
    took_over = host_b.campaign(*lease_b).value();
  }
  CHECK(took_over);
  CHECK(host_a.leader().value() == "host-b");
  CHECK(a.keep_alive(*lease_a).value() == 0); // expired
  // A resignation (lease revoked) leaves nobody leading.
  REQUIRE(b.revoke(*lease_b));
  CHECK(host_a.leader().value().empty());
}

TEST_CASE("a host follows the cluster log: what is there, then each append as etcd's watch "
          "delivers it, in seq order") {
  test::etcd_cluster etcd;
  etcd_client writer(at({etcd.url()}));
  REQUIRE_MESSAGE(answers(writer), etcd.log());
  etcd_log log(writer, "/volant/test");
  REQUIRE(log.append(0, {"r1", "r2"}));

  std::vector<std::pair<std::uint64_t, std::string>> seen;
  expected<std::uint64_t> next = std::uint64_t{0};
  std::thread follower([&] {
    etcd_client reader(at({etcd.url()}));
    etcd_log mine(reader, "/volant/test");
    next = mine.follow(
        1,
        [&](std::uint64_t seq, const std::string& bytes) {
          seen.emplace_back(seq, bytes);
          return seen.size() < 5;
        },
        20s);
  });
  std::this_thread::sleep_for(500ms);
  REQUIRE(log.append(2, {"r3"}));
  std::this_thread::sleep_for(200ms);
  REQUIRE(log.append(3, {"r4", "r5", "r6"}));
  follower.join();
  REQUIRE_MESSAGE(next, (next ? "" : next.error_value().message));
  CHECK(*next == 6);
  CHECK(seen == std::vector<std::pair<std::uint64_t, std::string>>{
                    {1, "r1"}, {2, "r2"}, {3, "r3"}, {4, "r4"}, {5, "r5"}});

  // From 6: r6 is there; then nothing comes for the idle time, which is not
  // an error: follow again from the seq it returns.
  seen.clear();
  auto again = log.follow(
      6,
      [&](std::uint64_t seq, const std::string& bytes) {
        seen.emplace_back(seq, bytes);
        return true;
      },
      1s);
  REQUIRE_MESSAGE(again, (again ? "" : again.error_value().message));
  CHECK(*again == 7);
  CHECK(seen == std::vector<std::pair<std::uint64_t, std::string>>{{6, "r6"}});
}

TEST_CASE("hosts announce themselves with a lease; a host that stops renewing drops out and "
          "its VMs are rescheduled on the others") {
  test::etcd_cluster etcd;
  etcd_client c(at({etcd.url()}));
  REQUIRE_MESSAGE(answers(c), etcd.log());
  host_registry registry(c, "/volant/test");
  auto announce = [&](const std::string& name, std::int64_t lease) {
    host_capacity h;
    h.name = name;
    h.cpu = 8;
    h.memory_mib = 8192;
    REQUIRE(registry.announce(h, lease));
  };
  auto lease_a = c.grant(2).value();
  auto lease_b = c.grant(2).value();
  announce("host-a", lease_a);
  announce("host-b", lease_b);
  auto hosts = registry.list();
  REQUIRE(hosts);
  REQUIRE(hosts->size() == 2);
  CHECK((*hosts)[0].name == "host-a");
  CHECK((*hosts)[1].memory_mib == 8192);

  // A world with VMs on both hosts.
  world w;
  deployment_state d;
  d.spec.name = "web";
  d.spec.multi_host = true;
  w.deployments["web"] = d;
  for (int i = 0; i < 4; ++i) {
    vm_record vm;
    vm.name = "web-" + std::to_string(i);
    vm.deployment = "web";
    vm.host = i % 2 == 0 ? "host-a" : "host-b";
    vm.cpu = 1;
    vm.memory_mib = 256;
    w.vms[vm.name] = vm;
  }
  CHECK(reschedule(w, *hosts).moves.empty());

  // host-b stops renewing (a lost machine): after its TTL it is gone, and
  // its two replicas go to host-a.
  bool gone = false;
  for (int i = 0; i < 40 && !gone; ++i) {
    std::this_thread::sleep_for(250ms);
    REQUIRE(c.keep_alive(lease_a).value() > 0);
    hosts = registry.list();
    REQUIRE(hosts);
    gone = hosts->size() == 1;
  }
  REQUIRE(gone);
  CHECK(hosts->front().name == "host-a");
  auto plan = reschedule(w, *hosts);
  REQUIRE(plan.moves.size() == 2);
  CHECK(plan.moves[0] == reschedule_plan::move{"web-1", "host-b", "host-a"});
  CHECK(plan.moves[1] == reschedule_plan::move{"web-3", "host-b", "host-a"});
}

TEST_CASE("etcd over TLS with client certificates: a certificate of the cluster CA gets in; "
          "another CA's, or none, does not") {
  test::temp_dir certs;
  auto ca = tls::make_ca("volant-cluster-test", 1, 30).value();
  auto server = tls::make_leaf(ca, tls::leaf_kind::peer, "127.0.0.1", 2, 30).value();
  auto client = tls::make_leaf(ca, tls::leaf_kind::client, "host-a", 3, 30).value();
  auto other_ca = tls::make_ca("someone-else", 1, 30).value();
  auto stranger = tls::make_leaf(other_ca, tls::leaf_kind::client, "host-x", 2, 30).value();
  auto write = [&](const std::string& name, const std::string& pem) {
    std::ofstream(certs / name) << pem;
    return certs / name;
  };
  auto ca_file = write("ca.pem", ca.cert_pem);
  test::etcd_cluster etcd(1, {write("server.pem", server.cert_pem), write("server.key", server.key_pem),
                    ca_file});
  REQUIRE(etcd.url().starts_with("https://"));

  auto with = [&](const std::string& cert, const std::string& key) {
    auto o = at({etcd.url()}, 3000ms);
    o.cacert = ca_file;
    o.cert = cert;
    o.key = key;
    return o;
  };
  etcd_client good(with(write("client.pem", client.cert_pem), write("client.key", client.key_pem)));
  REQUIRE_MESSAGE(answers(good), etcd.log());
  etcd_log log(good, "/volant/test");
  CHECK(log.append(0, {"secret"}).value() == 1);

  etcd_client bad(
      with(write("stranger.pem", stranger.cert_pem), write("stranger.key", stranger.key_pem)));
  auto refused = bad.get("/volant/test/head");
  REQUIRE_FALSE(refused);
  CHECK(refused.error_value().message.find(etcd.url()) != std::string::npos);

  auto o = at({etcd.url()});
  etcd_client bare(o);
  CHECK(bare.get("/x").error_value().message
        == "etcd endpoint " + etcd.url()
               + " is TLS: give --etcd-cacert, --etcd-cert and --etcd-key");
  // Plain HTTP to the TLS port gets nothing either.
  auto plain = "http://" + etcd.url().substr(8);
  etcd_client clear(at({plain}, 2000ms));
  CHECK_FALSE(clear.get("/volant/test/head"));
}

TEST_CASE("a cluster made by init_cluster: etcd runs on its certificates and a host gets in "
          "with the join bundle") {
  test::temp_dir dir;
  auto out = dir / "cluster";
  auto written = tls::init_cluster(out, {"127.0.0.1"}, 30);
  REQUIRE_MESSAGE(written, (written ? "" : written.error_value().message));
  CHECK(written->size() == 6);
  CHECK(tls::init_cluster(out, {"127.0.0.1"}, 30).error_value().code == ec::conflict);

  auto join = tls::read_join_bundle(out + "/join.bundle");
  REQUIRE_MESSAGE(join, (join ? "" : join.error_value().message));
  std::ofstream(dir / "member.pem") << join->cert_pem;
  std::ofstream(dir / "member.key") << join->key_pem;
  std::ofstream(dir / "ca.pem") << join->ca_pem;
  test::etcd_cluster etcd(1, {out + "/etcd/server.pem", out + "/etcd/server.key", out + "/etcd/ca.pem"});
  auto o = at({etcd.url()});
  o.cacert = dir / "ca.pem";
  o.cert = dir / "member.pem";
  o.key = dir / "member.key";
  etcd_client member(o);
  REQUIRE_MESSAGE(answers(member), etcd.log());
  CHECK(etcd_log(member, "/volant").append(0, {"joined"}).value() == 1);

  std::ofstream(dir / "junk.bundle") << "{}";
  auto junk = tls::read_join_bundle(dir / "junk.bundle");
  REQUIRE_FALSE(junk);
  CHECK(junk.error_value().message
        == dir / "junk.bundle" + " is not a cluster join bundle (from volar cluster init)");
}

TEST_CASE("a 3-member etcd: one member killed, the log goes on; two killed, appends fail with "
          "one clear error; back to quorum, every acknowledged record is there") {
  test::etcd_cluster etcd(3);
  etcd_client c(at(etcd.urls(), 3000ms));
  REQUIRE_MESSAGE(answers(c), etcd.log(0));
  etcd_log log(c, "/volant/test");
  std::uint64_t head = 0;
  auto append = [&](const std::string& record) {
    auto r = log.append(head, {record});
    if (r)
      head = *r;
    return r;
  };
  for (int i = 1; i <= 3; ++i)
    REQUIRE(append("r" + std::to_string(i)));

  // The member this client talks to (the first) dies: the others answer.
  etcd.stop(0);
  auto r4 = append("r4");
  REQUIRE_MESSAGE(r4, (r4 ? "" : r4.error_value().message));
  CHECK(*r4 == 4);

  // Two of three down: no quorum, so no append is acknowledged.
  etcd.stop(1);
  auto lost = append("r5");
  REQUIRE_FALSE(lost);
  CHECK(lost.error_value().message.find('\n') == std::string::npos);
  CHECK(lost.error_value().message.find("etcd") != std::string::npos);
  MESSAGE("without quorum: " << lost.error_value().message);

  // Quorum again: r1..r4 are all there, the refused r5 is not.
  etcd.start(1);
  bool back = false;
  for (int i = 0; i < 60 && !back; ++i) {
    std::this_thread::sleep_for(250ms);
    back = static_cast<bool>(log.head());
  }
  REQUIRE(back);
  auto all = log.read(1);
  REQUIRE(all);
  std::vector<std::string> records;
  for (const auto& [seq, bytes] : *all)
    records.push_back(bytes);
  // A refused append may still have been committed by etcd after the client
  // gave up (a timeout is not a no): then it is there whole, as r5 at seq 5.
  if (records.size() == 5)
    CHECK(records.back() == "r5");
  REQUIRE(records.size() >= 4);
  records.resize(4);
  CHECK(records == std::vector<std::string>{"r1", "r2", "r3", "r4"});
}

TEST_CASE("a host whose volantd does not know an event kind in the cluster log refuses to "
          "join, naming the record") {
  test::etcd_cluster etcd;
  etcd_client c(at({etcd.url()}));
  REQUIRE_MESSAGE(answers(c), etcd.log());
  etcd_log log(c, "/volant/test");
  auto known = [](std::uint64_t seq) {
    auto bytes = store::pack_event(recorded_event{seq, 1, vm_ready{"web-0", 1}});
    return std::string(bytes.begin(), bytes.end());
  };
  REQUIRE(log.append(0, {known(1), known(2)}));
  CHECK(check_joinable(log));

  // Seq 3 from a newer volantd: an event type tag this binary lacks.
  flatbuffers::FlatBufferBuilder b;
  auto body = fb::CreateVmReady(b, b.CreateString("web-1"), 1);
  fb::FinishEventEnvelopeBuffer(
      b, fb::CreateEventEnvelope(b, 1, 3, 42, fb::AggregateKind::vm, b.CreateString("web-1"),
                                 static_cast<fb::Event>(200), body.Union()));
  REQUIRE(log.append(2, {std::string(reinterpret_cast<const char*>(b.GetBufferPointer()),
                                     b.GetSize())}));
  auto refused = check_joinable(log);
  REQUIRE_FALSE(refused);
  CHECK(refused.error_value().code == ec::unsupported_version);
  CHECK(refused.error_value().message
        == "cannot join: seq 3 of the cluster log is from a newer volantd (unknown event type "
           "tag 200 (written by a newer volant?)); upgrade this host first");
  // Garbage is corrupt, not newer.
  REQUIRE(log.append(3, {"not an envelope"}));
  auto corrupt = check_joinable(log, 4);
  REQUIRE_FALSE(corrupt);
  CHECK(corrupt.error_value().message.starts_with("cannot join: seq 4 of the cluster log does "
                                                  "not decode ("));
}
