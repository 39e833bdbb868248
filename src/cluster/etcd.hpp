#pragma once

// etcd 3.4 through its JSON gateway (/v3/kv/range|put|txn; no gRPC code
// generation), and the cluster log on it (issue 16, docs/hosts.md): an
// append is one etcd transaction conditioned on the log's head, so etcd
// orders the events of every host, and a host that appended on a stale head
// learns it (`conflict`) instead of forking the log. Records are the same
// FlatBuffers envelopes the RocksDB journal holds; this layer only moves bytes.

#include "events/error.hpp"
#include "events/placement.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace volant::cluster {

struct etcd_options {
  /// "http://127.0.0.1:2379" or "https://...", tried in order (a member that
  /// does not answer is skipped).
  std::vector<std::string> endpoints;
  /// TLS with client certificates (etcd's --client-cert-auth), spelled like
  /// etcdctl's flags; empty: plain HTTP (tests on loopback only).
  std::string cacert, cert, key;
  std::chrono::milliseconds timeout{5000};
};

struct key_value {
  std::string key;
  std::string value;
  std::int64_t mod_revision = 0;
};

/// One client of an etcd cluster. Not thread-safe: one per thread.
class etcd_client {
public:
  explicit etcd_client(etcd_options options);
  ~etcd_client();
  etcd_client(const etcd_client&) = delete;
  etcd_client& operator=(const etcd_client&) = delete;

  /// The value of `key`, or empty when it does not exist.
  expected<std::optional<key_value>> get(const std::string& key);
  /// Keys in [from, end) in key order, at most `limit` (0: all).
  expected<std::vector<key_value>> range(const std::string& from, const std::string& end,
                                         std::int64_t limit = 0);
  /// Sets `key` (for as long as `lease` lives; 0: forever); the cluster's
  /// revision after it.
  expected<std::int64_t> put(const std::string& key, const std::string& value,
                             std::int64_t lease = 0);

  /// The cluster's current revision.
  expected<std::int64_t> revision();

  /// Watches keys in [from, end) from revision `start`: `on_put(kv)` for
  /// each put, in revision order, until it returns false or nothing came for
  /// `idle` (both ok); an error when the stream could not be opened.
  status watch(const std::string& from, const std::string& end, std::int64_t start,
               const std::function<bool(const key_value&)>& on_put,
               std::chrono::milliseconds idle);

  const etcd_options& options() const noexcept { return options_; }

  /// A transaction: if `key`'s value is `expected` (absent when empty), puts
  /// every pair. Whether it succeeded, and the revision.
  struct txn_result {
    bool succeeded = false;
    std::int64_t revision = 0;
  };
  /// `lease`: the puts live as long as that lease (0: forever).
  expected<txn_result> put_if(const std::string& key, const std::optional<std::string>& expected,
                              const std::vector<std::pair<std::string, std::string>>& puts,
                              std::int64_t lease = 0);

  /// A lease of `ttl_seconds`: its id. Keys put with it vanish when it is
  /// not kept alive.
  expected<std::int64_t> grant(std::int64_t ttl_seconds);
  /// Renews lease `id`: its TTL, 0 when it has expired already.
  expected<std::int64_t> keep_alive(std::int64_t id);
  /// Ends lease `id` now (its keys vanish).
  status revoke(std::int64_t id);

private:
  expected<std::string> post(const std::string& path, const std::string& body);

  etcd_options options_;
  std::size_t preferred_ = 0; ///< the endpoint that answered last
  struct connections;         ///< one kept-alive connection per endpoint
  std::unique_ptr<connections> connections_;
};

/// Leader election on one key (issue 16: the leader decides): a candidate
/// campaigns with a lease of its own; it leads while its key holds its name,
/// which lasts while it keeps its lease alive.
class election {
public:
  election(etcd_client& client, std::string key, std::string candidate);

  /// Takes the lead if nobody holds it: whether this candidate leads now.
  expected<bool> campaign(std::int64_t lease);
  /// Who leads (empty: nobody).
  expected<std::string> leader();

private:
  etcd_client& client_;
  std::string key_;
  std::string candidate_;
};

/// Hosts announce themselves under PREFIX/hosts/NAME (their capacity as
/// JSON), put with their lease: a host that stops renewing it drops out of
/// the list, and the leader sees it lost (events/placement.hpp).
class host_registry {
public:
  host_registry(etcd_client& client, std::string prefix);

  /// Announces (or updates) `host` for as long as `lease` lives, with the
  /// address other hosts route its VMs' /24 to (empty: none).
  status announce(const host_capacity& host, std::int64_t lease,
                  const std::string& address = {});
  /// The hosts whose lease lives, by name; `unschedulable` as announced
  /// ("draining"). `addresses`, if given, gets each one's address.
  expected<std::vector<host_capacity>> list(std::map<std::string, std::string>* addresses = nullptr);

private:
  etcd_client& client_;
  std::string prefix_;
};

/// The cluster log under `prefix`: records at PREFIX/log/<seq, 20 digits>,
/// the head's seq at PREFIX/head.
class etcd_log {
public:
  etcd_log(etcd_client& client, std::string prefix);

  /// The seq of the last record (0: empty log).
  expected<std::uint64_t> head();

  /// Appends `records` as seqs after+1.. when the head is still `after`;
  /// `ec::conflict` naming both heads when another host appended first.
  expected<std::uint64_t> append(std::uint64_t after, const std::vector<std::string>& records);

  /// Records from seq `from` on, at most `limit`, in order.
  expected<std::vector<std::pair<std::uint64_t, std::string>>> read(std::uint64_t from,
                                                                   std::int64_t limit = 0);

  /// Follows the log as every host does: `on_record(seq, bytes)` for each
  /// record from `from` on, first those there are, then each one as etcd's
  /// watch delivers it, in seq order, until `on_record` returns false or
  /// nothing came for `idle`. The seq to follow from next time.
  expected<std::uint64_t>
  follow(std::uint64_t from,
         const std::function<bool(std::uint64_t, const std::string&)>& on_record,
         std::chrono::milliseconds idle);

private:
  std::string record_key(std::uint64_t seq) const;

  etcd_client& client_;
  std::string prefix_;
};

/// Whether this volantd can follow the cluster log under `log`: every record
/// from `from` on must decode. A record of a newer volantd (an event kind or
/// an envelope version this binary does not know) refuses the join in one
/// line naming its seq, before the host folds anything (mixed versions).
status check_joinable(etcd_log& log, std::uint64_t from = 1);

} // namespace volant::cluster
