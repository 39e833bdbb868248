#include "daemon/cluster_mode.hpp"

#include "actors/actors.hpp"
#include "actors/live.hpp"
#include "cluster/etcd.hpp"
#include "runtime/routes.hpp"
#include "store/codec.hpp"
#include "tls/credentials.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <filesystem>
#include <map>
#include <optional>
#include <sstream>

namespace volant {

namespace {

std::vector<std::string> split_urls(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string url; std::getline(in, url, ',');)
    if (!url.empty())
      out.push_back(url);
  return out;
}

std::string as_bytes(const std::vector<std::uint8_t>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size()};
}

/// Logs `text` when it differs from the last one logged (a dead etcd is one
/// line, not one a second).
struct once {
  std::string last;
  template <class F> void operator()(const std::string& text, F log) {
    if (text != last)
      log(text);
    last = text;
  }
};

} // namespace

struct cluster_link::clients {
  explicit clients(const cluster::etcd_options& o, const std::string& prefix)
    : client(o), log(client, prefix) {}
  cluster::etcd_client client;
  cluster::etcd_log log;
};

void add_cluster_options(CLI::App& app, cluster_options& opts) {
  app.add_option("--cluster", opts.endpoints,
                 "Run as a host of a cluster whose log is in etcd: its client URLs, "
                 "comma-separated (https://HOST:2379,...)")
    ->group("Cluster");
  app.add_option("--host-name", opts.host_name,
                 "This host's name in the cluster (default: the machine's hostname)")
    ->group("Cluster");
  app.add_option("--cluster-prefix", opts.prefix, "etcd key prefix of the cluster")
    ->capture_default_str()
    ->group("Cluster");
  app.add_option("--join", opts.join,
                 "The join.bundle of `volar cluster init`: the cluster CA and the "
                 "certificate this host reaches etcd with")
    ->group("Cluster");
  app.add_option("--etcd-cacert", opts.cacert, "CA of etcd's certificate (as etcdctl's --cacert)")
    ->group("Cluster");
  app.add_option("--etcd-cert", opts.cert, "Client certificate for etcd (as etcdctl's --cert)")
    ->group("Cluster");
  app.add_option("--etcd-key", opts.key, "Key of --etcd-cert (as etcdctl's --key)")
    ->group("Cluster");
  app.add_option("--vm-interface", opts.vm_interface,
                 "Put each VM's address on this interface and route the other hosts' "
                 "VMs via their address on theirs (hosts on separate machines; default "
                 "with a pool outside 127/8: the interface of the route to etcd)")
    ->group("Cluster");
  app.add_option("--lease-seconds", opts.lease_seconds,
                 "TTL of a host's lease: a host silent this long is lost")
    ->check(CLI::Range(2, 600))
    ->capture_default_str()
    ->group("Cluster");
}

cluster_link::cluster_link(cluster_options opts, store::journal& store)
  : opts_(std::move(opts)), store_(store) {}

cluster_link::~cluster_link() {
  stop();
}

namespace {

cluster::etcd_options etcd_options_of(const cluster_options& o) {
  cluster::etcd_options out;
  out.endpoints = split_urls(o.endpoints);
  out.cacert = o.cacert;
  out.cert = o.cert;
  out.key = o.key;
  return out;
}

} // namespace

expected<std::unique_ptr<cluster_link>> cluster_link::open(cluster_options opts,
                                                           store::journal& store,
                                                           const std::string& data_dir) {
  if (split_urls(opts.endpoints).empty())
    return make_error(ec::invalid_argument, "--cluster needs etcd's client URLs");
  if (opts.host_name.empty()) {
    char name[256] = {};
    ::gethostname(name, sizeof name - 1);
    opts.host_name = name;
  }
  if (!opts.join.empty()) {
    // The bundle's CA and member certificate reach etcd, unless given apart.
    auto bundle = tls::read_join_bundle(opts.join);
    if (!bundle)
      return make_error(bundle.error_value().code, "--join " + bundle.error_value().message);
    auto dir = data_dir + "/cluster";
    std::error_code ignored;
    std::filesystem::create_directories(dir, ignored);
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace, ignored);
    for (auto [file, text, flag] :
         {std::tuple{"/ca.pem", &bundle->ca_pem, &opts.cacert},
          std::tuple{"/member.pem", &bundle->cert_pem, &opts.cert},
          std::tuple{"/member.key", &bundle->key_pem, &opts.key}}) {
      if (auto st = tls::write_private(dir + file, *text); !st)
        return st.error_value();
      if (flag->empty())
        *flag = dir + file;
    }
  }
  std::unique_ptr<cluster_link> link(new cluster_link(opts, store));
  link->writer_ = std::make_unique<clients>(etcd_options_of(opts), opts.prefix);
  auto& log = link->writer_->log;
  auto head = log.head();
  if (!head)
    return make_error(head.error_value().code, "--cluster: " + head.error_value().message);
  auto mine = store.last_seq();
  if (mine > *head)
    return make_error(ec::conflict,
                      "the journal in " + data_dir + " has " + std::to_string(mine)
                          + " records but the cluster log only " + std::to_string(*head)
                          + ": it is not a copy of this cluster's log (use a new --data-dir)");
  if (mine > 0) { // the same record at the same seq, or another log
    auto theirs = log.read(mine, 1);
    std::string local;
    auto st = store.read(mine, mine, [&](const recorded_event& rec) {
      local = as_bytes(store::pack_event(rec));
      return false;
    });
    if (!theirs || !st)
      return make_error(ec::io_error, "cannot compare the local journal with the cluster log");
    if (theirs->empty() || theirs->front().second != local)
      return make_error(ec::conflict, "the journal in " + data_dir + " is not a copy of this "
                                          "cluster's log (record " + std::to_string(mine)
                                          + " differs): use a new --data-dir");
  }
  if (auto st = cluster::check_joinable(log, mine + 1); !st)
    return st.error_value();
  return link;
}

status cluster_link::catch_up() {
  auto records = writer_->log.read(store_.last_seq() + 1);
  if (!records)
    return records.error_value();
  if (auto r = store_.import(*records); !r)
    return r.error_value();
  return ok();
}

expected<std::vector<recorded_event>> cluster_link::append(std::uint64_t after,
                                                           std::vector<event> events) {
  // Times never go backwards in this host's view of the log.
  unix_nanos at = now_nanos();
  (void) store_.read(after, after, [&](const recorded_event& rec) {
    at = std::max(at, rec.at);
    return false;
  });
  std::vector<recorded_event> recs;
  std::vector<std::string> bytes;
  std::vector<std::pair<std::uint64_t, std::string>> stored;
  auto seq = after;
  for (auto& ev : events) {
    recs.push_back({++seq, at, std::move(ev)});
    bytes.push_back(as_bytes(store::pack_event(recs.back())));
    stored.emplace_back(seq, bytes.back());
  }
  auto head = writer_->log.append(after, bytes);
  if (!head) {
    if (head.error_value().code == ec::conflict)
      (void) catch_up(); // the controller folds what came first, then decides again
    return head.error_value();
  }
  if (auto r = store_.import(stored); !r)
    spdlog::warn("[cluster] committed seqs {}..{} but cannot copy them here yet: {}", after + 1,
                 seq, r.error_value().message);
  return recs;
}

status cluster_link::commit(world& w, const command& cmd) {
  for (int tries = 0; tries < 1000; ++tries) {
    auto evs = decide(w, cmd, now_nanos());
    if (!evs)
      return evs.error_value();
    if (evs->empty())
      return ok();
    auto recs = append(w.last_seq, std::move(*evs));
    if (recs) {
      for (const auto& rec : *recs)
        apply(w, rec);
      return ok();
    }
    if (recs.error_value().code != ec::conflict)
      return recs.error_value();
    auto st = store_.read(w.last_seq + 1, store::max_seq, [&](const recorded_event& rec) {
      apply(w, rec);
      return true;
    });
    if (!st)
      return st.error_value();
  }
  return make_error(ec::conflict, "the cluster log kept moving: gave up after 1000 tries");
}

void cluster_link::start(live_actors& live, cluster_host me, std::string address) {
  follower_ = std::thread([this, &live] { follow_loop(live); });
  heartbeat_ = std::thread(
      [this, &live, me, address = std::move(address)] { heartbeat_loop(live, me, address); });
}

void cluster_link::stop() {
  stop_ = true;
  if (follower_.joinable())
    follower_.join();
  if (heartbeat_.joinable())
    heartbeat_.join();
}

void cluster_link::follow_loop(live_actors& live) {
  clients mine(etcd_options_of(opts_), opts_.prefix);
  once warn;
  while (!stop_) {
    auto r = mine.log.follow(
        store_.last_seq() + 1,
        [&](std::uint64_t seq, const std::string& bytes) {
          if (seq > store_.last_seq()) {
            auto stored = store_.import({{seq, bytes}});
            if (!stored) {
              warn("cannot copy seq " + std::to_string(seq) + ": "
                       + stored.error_value().message,
                   [](const std::string& t) { spdlog::error("[cluster] {}", t); });
              return false;
            }
          }
          if (auto c = live.controller())
            caf::anon_send(c, follow_atom::value);
          return !stop_;
        },
        std::chrono::milliseconds(500));
    if (!r) {
      warn("following the cluster log: " + r.error_value().message,
           [](const std::string& t) { spdlog::warn("[cluster] {}", t); });
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    } else {
      warn.last.clear();
    }
  }
}

void cluster_link::heartbeat_loop(live_actors& live, cluster_host me,
                                  const std::string& address) {
  // Each request gives up after a fifth of the TTL, so that a host cut off
  // from etcd notices in time to fence itself.
  auto o = etcd_options_of(opts_);
  auto ttl = std::chrono::milliseconds(opts_.lease_seconds * 1000);
  o.timeout = std::max(std::chrono::milliseconds(500), ttl / 5);
  clients mine(o, opts_.prefix);
  cluster::election election(mine.client, opts_.prefix + "/leader", me.name);
  cluster::host_registry registry(mine.client, opts_.prefix);
  host_capacity announced;
  announced.name = me.name;
  announced.cpu = me.cpu_total;
  announced.memory_mib = me.memory_total_mib;
  std::int64_t lease = 0;
  bool leads = false;
  // Fencing: the lease counts from when etcd got the last renewal, at the
  // latest when it was sent. Past 60 % of the TTL without one, this host's
  // workloads stop: the leader can declare it lost only at 100 %.
  std::optional<std::chrono::steady_clock::time_point> renewed;
  bool fenced = false;
  auto fence = [&](bool on) {
    if (on == fenced)
      return;
    fenced = on;
    if (auto c = live.controller())
      caf::anon_send(c, fence_atom::value, on);
  };
  once warn;
  auto tell = [&](bool now_leads, const std::string& who) {
    leads = now_leads;
    if (auto c = live.controller())
      caf::anon_send(c, leader_atom::value, now_leads, who);
  };
  while (!stop_) {
    auto round = std::chrono::steady_clock::now();
    auto step = [&]() -> status {
      if (lease != 0) {
        auto sent = std::chrono::steady_clock::now();
        auto left = mine.client.keep_alive(lease);
        if (!left)
          return left.error_value();
        if (*left == 0) { // expired: the leader may have rescheduled this host's VMs
          spdlog::warn("[cluster] the lease of host {} expired", me.name);
          lease = 0;
          if (leads)
            tell(false, {});
        } else {
          renewed = sent;
          fence(false);
        }
      }
      if (lease == 0) {
        auto sent = std::chrono::steady_clock::now();
        auto granted = mine.client.grant(opts_.lease_seconds);
        if (!granted)
          return granted.error_value();
        lease = *granted;
        renewed = sent;
        fence(false);
        if (auto st = registry.announce(announced, lease, address); !st)
          return st;
        // Joins (or comes back): journaled by the controller, at once.
        if (auto c = live.controller())
          caf::anon_send(c, command_atom::value, command{join_host{me}});
        spdlog::info("[cluster] host {} holds lease {:x} ({} s)", me.name, lease,
                     opts_.lease_seconds);
      }
      auto won = election.campaign(lease);
      if (!won)
        return won.error_value();
      auto who = *won ? me.name : election.leader();
      if (!who)
        return who.error_value();
      tell(*won, *who);
      // Every host: the live hosts and their addresses (routes; the leader
      // also finds the lost ones).
      std::map<std::string, std::string> addresses;
      auto hosts = registry.list(&addresses);
      if (!hosts)
        return hosts.error_value();
      std::vector<std::string> names;
      std::vector<std::string> where;
      for (const auto& h : *hosts) {
        names.push_back(h.name);
        where.push_back(addresses[h.name]);
      }
      if (auto c = live.controller())
        caf::anon_send(c, hosts_atom::value, std::move(names), std::move(where));
      return ok();
    };
    if (auto st = step(); !st) {
      warn("heartbeat: " + st.error_value().message,
           [](const std::string& t) { spdlog::warn("[cluster] {}", t); });
      if (leads) // without etcd, no lead: another host may hold it by now
        tell(false, {});
    } else {
      warn.last.clear();
    }
    if (renewed && std::chrono::steady_clock::now() - *renewed > ttl * 6 / 10 && !fenced) {
      spdlog::warn("[cluster] host {}: lease not renewed for {} ms: fencing", me.name,
                   std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - *renewed)
                       .count());
      fence(true);
    }
    auto next = round + std::chrono::milliseconds(opts_.lease_seconds * 1000 / 5);
    while (!stop_ && std::chrono::steady_clock::now() < next)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (lease != 0) // a clean stop hands the lead on at once
    (void) mine.client.revoke(lease);
}

} // namespace volant
