#include "cluster/etcd.hpp"

#include "store/codec.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <sodium.h>

#include <cstdio>

namespace volant::cluster {

namespace {

using json = nlohmann::json;

std::string b64(const std::string& bytes) {
  constexpr int variant = sodium_base64_VARIANT_ORIGINAL;
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), variant);
  out.resize(out.size() - 1); // its NUL
  return out;
}

expected<std::string> unb64(const std::string& text) {
  std::string out(text.size(), '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL)
      != 0)
    return make_error(ec::io_error, "etcd answered a value that is not base64");
  out.resize(len);
  return out;
}

/// etcd's gateway spells int64 as JSON strings.
std::int64_t int64_of(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end())
    return 0;
  if (it->is_string())
    return std::stoll(it->get<std::string>());
  return it->is_number() ? it->get<std::int64_t>() : 0;
}

/// The key right after every key that starts with `prefix` (etcd's range_end
/// for a prefix).
std::string prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    auto c = static_cast<unsigned char>(prefix.back());
    if (c < 0xff) {
      prefix.back() = static_cast<char>(c + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');
}

expected<json> parsed(const expected<std::string>& body) {
  if (!body)
    return body.error_value();
  auto j = json::parse(*body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return make_error(ec::io_error, "etcd answered something that is not JSON");
  return j;
}

expected<key_value> kv_of(const json& j) {
  key_value kv;
  auto key = unb64(j.value("key", std::string{}));
  if (!key)
    return key.error_value();
  auto value = unb64(j.value("value", std::string{}));
  if (!value)
    return value.error_value();
  kv.key = std::move(*key);
  kv.value = std::move(*value);
  kv.mod_revision = int64_of(j, "mod_revision");
  return kv;
}

/// A client of one member: over TLS with the client certificate and the CA
/// of `o` for https://, plain for http://; reads wait at most `read_timeout`.
expected<std::unique_ptr<httplib::Client>> client_for(const std::string& endpoint,
                                                      const etcd_options& o,
                                                      std::chrono::milliseconds read_timeout) {
  bool tls = endpoint.starts_with("https://");
  if (!tls && !endpoint.starts_with("http://"))
    return make_error(ec::invalid_argument, "etcd endpoint '" + endpoint
                                                + "' is not http://HOST:PORT or https://HOST:PORT");
  if (tls && (o.cacert.empty() || o.cert.empty() || o.key.empty()))
    return make_error(ec::invalid_argument,
                      "etcd endpoint " + endpoint
                          + " is TLS: give --etcd-cacert, --etcd-cert and --etcd-key");
  auto client = tls ? std::make_unique<httplib::Client>(endpoint, o.cert, o.key)
                    : std::make_unique<httplib::Client>(endpoint);
  if (tls) {
    client->set_ca_cert_path(o.cacert.c_str());
    client->enable_server_certificate_verification(true);
  }
  auto ms = [](std::chrono::milliseconds t) {
    return std::pair<time_t, time_t>{t.count() / 1000, (t.count() % 1000) * 1000};
  };
  auto [cs, cu] = ms(o.timeout);
  auto [rs, ru] = ms(read_timeout);
  client->set_connection_timeout(cs, cu);
  client->set_write_timeout(cs, cu);
  client->set_read_timeout(rs, ru);
  return client;
}

/// What went wrong with one member, in words.
std::string what(httplib::Error e, std::chrono::milliseconds timeout) {
  switch (e) {
  case httplib::Error::Connection:
    return "cannot connect";
  case httplib::Error::Read:
    return "no answer within " + std::to_string(timeout.count()) + " ms (no quorum?)";
  case httplib::Error::Write:
    return "the connection broke";
  case httplib::Error::SSLConnection:
    return "TLS handshake failed (is its CA --etcd-cacert, and ours in its trusted CA?)";
  case httplib::Error::SSLLoadingCerts:
    return "cannot load --etcd-cacert, --etcd-cert or --etcd-key";
  case httplib::Error::SSLServerVerification:
    return "its certificate is not from --etcd-cacert or does not name it";
  default:
    return httplib::to_string(e);
  }
}

} // namespace

struct etcd_client::connections {
  std::vector<std::unique_ptr<httplib::Client>> clients;
};

etcd_client::etcd_client(etcd_options options)
  : options_(std::move(options)), connections_(std::make_unique<connections>()) {
  connections_->clients.resize(options_.endpoints.size());
  if (sodium_init() < 0)
    return; // its base64 needs no initialisation; only the RNG would
}

etcd_client::~etcd_client() = default;

expected<std::string> etcd_client::post(const std::string& path, const std::string& body) {
  if (options_.endpoints.empty())
    return make_error(ec::invalid_argument, "no etcd endpoint given (--cluster)");
  std::string errors;
  for (std::size_t i = 0; i < options_.endpoints.size(); ++i) {
    auto index = (preferred_ + i) % options_.endpoints.size();
    const auto& endpoint = options_.endpoints[index];
    auto& kept = connections_->clients[index];
    if (!kept) {
      auto made = client_for(endpoint, options_, options_.timeout);
      if (!made)
        return made.error_value();
      kept = std::move(*made);
      kept->set_keep_alive(true);
      kept->set_tcp_nodelay(true); // else Nagle and delayed ACKs cost 40 ms a request
    }
    auto& client = *kept;
    // etcd's gateway sends its refusals chunked with an HTTP trailer, which
    // cpp-httplib 0.11 cannot read (a Read error after the whole body): the
    // body is collected as it comes, so etcd's own words still get through.
    httplib::Request req;
    req.method = "POST";
    req.path = path;
    req.body = body;
    req.set_header("Content-Type", "application/json");
    std::string answer;
    req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
      answer.append(data, n);
      return true;
    };
    httplib::Response res;
    auto err = httplib::Error::Success;
    bool sent = client.send(req, res, err);
    if (!sent && !(err == httplib::Error::Read && res.status >= 400)) {
      errors += (errors.empty() ? "" : "; ") + endpoint + ": " + what(err, options_.timeout);
      kept.reset(); // a new connection next time
      continue;
    }
    if (!sent)
      kept.reset(); // the trailer left the connection unusable
    if (res.status != 200) {
      auto j = json::parse(answer, nullptr, false);
      auto message = j.is_object() ? j.value("message", j.value("error", answer)) : answer;
      return make_error(ec::io_error, "etcd " + endpoint + path + " answered "
                                          + std::to_string(res.status) + ": " + message);
    }
    preferred_ = index;
    return answer;
  }
  return make_error(ec::io_error, "no etcd member answered (" + errors + ")");
}

expected<std::optional<key_value>> etcd_client::get(const std::string& key) {
  auto j = parsed(post("/v3/kv/range", json{{"key", b64(key)}}.dump()));
  if (!j)
    return j.error_value();
  auto kvs = j->find("kvs");
  if (kvs == j->end() || !kvs->is_array() || kvs->empty())
    return std::optional<key_value>{};
  auto kv = kv_of(kvs->front());
  if (!kv)
    return kv.error_value();
  return std::optional<key_value>{std::move(*kv)};
}

expected<std::vector<key_value>> etcd_client::range(const std::string& from,
                                                    const std::string& end, std::int64_t limit) {
  json req = {{"key", b64(from)}, {"range_end", b64(end)}};
  if (limit > 0)
    req["limit"] = std::to_string(limit);
  auto j = parsed(post("/v3/kv/range", req.dump()));
  if (!j)
    return j.error_value();
  std::vector<key_value> out;
  if (auto kvs = j->find("kvs"); kvs != j->end() && kvs->is_array())
    for (const auto& item : *kvs) {
      auto kv = kv_of(item);
      if (!kv)
        return kv.error_value();
      out.push_back(std::move(*kv));
    }
  return out;
}

expected<std::int64_t> etcd_client::put(const std::string& key, const std::string& value,
                                        std::int64_t lease) {
  json req = {{"key", b64(key)}, {"value", b64(value)}};
  if (lease != 0)
    req["lease"] = std::to_string(lease);
  auto j = parsed(post("/v3/kv/put", req.dump()));
  if (!j)
    return j.error_value();
  return int64_of(j->value("header", json::object()), "revision");
}

expected<etcd_client::txn_result>
etcd_client::put_if(const std::string& key, const std::optional<std::string>& expected_value,
                    const std::vector<std::pair<std::string, std::string>>& puts,
                    std::int64_t lease) {
  json compare = expected_value
                     ? json{{"key", b64(key)},
                            {"result", "EQUAL"},
                            {"target", "VALUE"},
                            {"value", b64(*expected_value)}}
                     : json{{"key", b64(key)},
                            {"result", "EQUAL"},
                            {"target", "CREATE"},
                            {"create_revision", "0"}};
  auto success = json::array();
  for (const auto& [k, v] : puts) {
    json put = {{"key", b64(k)}, {"value", b64(v)}};
    if (lease != 0)
      put["lease"] = std::to_string(lease);
    success.push_back({{"request_put", put}});
  }
  auto j = parsed(post("/v3/kv/txn",
                       json{{"compare", json::array({compare})}, {"success", success}}.dump()));
  if (!j)
    return j.error_value();
  return txn_result{j->value("succeeded", false),
                    int64_of(j->value("header", json::object()), "revision")};
}

expected<std::int64_t> etcd_client::revision() {
  // A range of one key that need not exist: its header carries the revision.
  auto j = parsed(post("/v3/kv/range", json{{"key", b64(std::string(1, '\0'))}, {"count_only", true}}.dump()));
  if (!j)
    return j.error_value();
  return int64_of(j->value("header", json::object()), "revision");
}

status etcd_client::watch(const std::string& from, const std::string& end, std::int64_t start,
                          const std::function<bool(const key_value&)>& on_put,
                          std::chrono::milliseconds idle) {
  if (options_.endpoints.empty())
    return make_error(ec::invalid_argument, "no etcd endpoint given (--cluster)");
  const auto& endpoint = options_.endpoints[preferred_ % options_.endpoints.size()];
  auto made = client_for(endpoint, options_, idle);
  if (!made)
    return made.error_value();
  auto& client = **made;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v3/watch";
  req.set_header("Content-Type", "application/json");
  req.body = json{{"create_request",
                   {{"key", b64(from)},
                    {"range_end", b64(end)},
                    {"start_revision", std::to_string(start)}}}}
                 .dump();
  // The gateway streams one JSON object per line: {"result": {"events": [...]}}.
  std::string pending;
  std::optional<error> failed;
  bool stopped = false;
  req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
    pending.append(data, n);
    for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
      auto line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      auto j = json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) {
        failed = make_error(ec::io_error, "etcd's watch stream sent something that is not JSON");
        return false;
      }
      const auto& result = j.value("result", json::object());
      if (result.value("canceled", false)) {
        failed = make_error(ec::io_error, "etcd canceled the watch: "
                                              + result.value("cancel_reason", std::string("?")));
        return false;
      }
      if (auto events = result.find("events"); events != result.end() && events->is_array())
        for (const auto& e : *events) {
          if (e.value("type", std::string("PUT")) != "PUT")
            continue;
          auto kv = kv_of(e.value("kv", json::object()));
          if (!kv) {
            failed = kv.error_value();
            return false;
          }
          if (!on_put(*kv)) {
            stopped = true;
            return false;
          }
        }
    }
    return true;
  };
  auto res = client.send(req);
  if (failed)
    return *failed;
  if (stopped)
    return ok();
  if (!res) {
    // Nothing for `idle`: the read timed out, which is not an error here.
    if (res.error() == httplib::Error::Read)
      return ok();
    return make_error(ec::io_error,
                      "etcd " + endpoint + " watch: " + what(res.error(), options_.timeout));
  }
  if (res->status != 200)
    return make_error(ec::io_error, "etcd " + endpoint + " watch answered "
                                        + std::to_string(res->status));
  return ok();
}

expected<std::int64_t> etcd_client::grant(std::int64_t ttl_seconds) {
  auto j = parsed(post("/v3/lease/grant", json{{"TTL", std::to_string(ttl_seconds)}}.dump()));
  if (!j)
    return j.error_value();
  auto id = int64_of(*j, "ID");
  if (id == 0)
    return make_error(ec::io_error, "etcd granted no lease: " + j->value("error", j->dump()));
  return id;
}

expected<std::int64_t> etcd_client::keep_alive(std::int64_t id) {
  auto j = parsed(post("/v3/lease/keepalive", json{{"ID", std::to_string(id)}}.dump()));
  if (!j)
    return j.error_value();
  // The gateway streams: one {"result": {...}} per request.
  return int64_of(j->value("result", json::object()), "TTL");
}

status etcd_client::revoke(std::int64_t id) {
  auto j = parsed(post("/v3/lease/revoke", json{{"ID", std::to_string(id)}}.dump()));
  if (!j)
    return j.error_value();
  return ok();
}

election::election(etcd_client& client, std::string key, std::string candidate)
  : client_(client), key_(std::move(key)), candidate_(std::move(candidate)) {}

expected<bool> election::campaign(std::int64_t lease) {
  auto r = client_.put_if(key_, std::nullopt, {{key_, candidate_}}, lease);
  if (!r)
    return r.error_value();
  if (r->succeeded)
    return true;
  auto now = leader();
  if (!now)
    return now.error_value();
  return *now == candidate_;
}

expected<std::string> election::leader() {
  auto kv = client_.get(key_);
  if (!kv)
    return kv.error_value();
  return *kv ? (*kv)->value : std::string();
}

host_registry::host_registry(etcd_client& client, std::string prefix)
  : client_(client), prefix_(std::move(prefix)) {}

status host_registry::announce(const host_capacity& host, std::int64_t lease,
                               const std::string& address) {
  json value = {{"name", host.name},
                {"address", address},
                {"cpu", host.cpu},
                {"cpu_limit", host.cpu_limit},
                {"memory_mib", host.memory_mib},
                {"unschedulable", host.unschedulable}};
  auto r = client_.put(prefix_ + "/hosts/" + host.name, value.dump(), lease);
  if (!r)
    return r.error_value();
  return ok();
}

expected<std::vector<host_capacity>>
host_registry::list(std::map<std::string, std::string>* addresses) {
  auto kvs = client_.range(prefix_ + "/hosts/", prefix_end(prefix_ + "/hosts/"));
  if (!kvs)
    return kvs.error_value();
  std::vector<host_capacity> out;
  for (const auto& kv : *kvs) {
    auto j = json::parse(kv.value, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return make_error(ec::io_error, "host entry " + kv.key + " is not JSON");
    host_capacity h;
    h.name = j.value("name", std::string{});
    h.cpu = j.value("cpu", std::int64_t{0});
    h.cpu_limit = j.value("cpu_limit", std::int64_t{0});
    h.memory_mib = j.value("memory_mib", std::int64_t{0});
    h.unschedulable = j.value("unschedulable", std::string{});
    if (addresses != nullptr)
      (*addresses)[h.name] = j.value("address", std::string{});
    out.push_back(std::move(h));
  }
  return out;
}

etcd_log::etcd_log(etcd_client& client, std::string prefix)
  : client_(client), prefix_(std::move(prefix)) {}

std::string etcd_log::record_key(std::uint64_t seq) const {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%020llu", static_cast<unsigned long long>(seq));
  return prefix_ + "/log/" + digits;
}

expected<std::uint64_t> etcd_log::head() {
  auto kv = client_.get(prefix_ + "/head");
  if (!kv)
    return kv.error_value();
  if (!*kv)
    return std::uint64_t{0};
  try {
    return static_cast<std::uint64_t>(std::stoull((*kv)->value));
  } catch (const std::exception&) {
    return make_error(ec::io_error, "the cluster log's head " + prefix_ + "/head is not a number: '"
                                        + (*kv)->value + "'");
  }
}

expected<std::uint64_t> etcd_log::append(std::uint64_t after,
                                         const std::vector<std::string>& records) {
  std::vector<std::pair<std::string, std::string>> puts;
  auto seq = after;
  for (const auto& r : records)
    puts.emplace_back(record_key(++seq), r);
  puts.emplace_back(prefix_ + "/head", std::to_string(seq));
  auto expected_head = after == 0 ? std::optional<std::string>{} : std::to_string(after);
  auto r = client_.put_if(prefix_ + "/head", expected_head, puts);
  if (!r)
    return r.error_value();
  if (!r->succeeded) {
    auto now = head();
    return make_error(ec::conflict, "the cluster log moved on: appended after seq "
                                        + std::to_string(after) + " but its head is "
                                        + (now ? std::to_string(*now) : std::string("unknown")));
  }
  return seq;
}

expected<std::vector<std::pair<std::uint64_t, std::string>>>
etcd_log::read(std::uint64_t from, std::int64_t limit) {
  auto kvs = client_.range(record_key(from), prefix_end(prefix_ + "/log/"), limit);
  if (!kvs)
    return kvs.error_value();
  std::vector<std::pair<std::uint64_t, std::string>> out;
  auto at = prefix_.size() + 5; // after "/log/"
  for (auto& kv : *kvs)
    out.emplace_back(std::stoull(kv.key.substr(at)), std::move(kv.value));
  return out;
}

expected<std::uint64_t>
etcd_log::follow(std::uint64_t from,
                 const std::function<bool(std::uint64_t, const std::string&)>& on_record,
                 std::chrono::milliseconds idle) {
  // What is there, then what comes after the revision it was read at.
  auto start = client_.revision();
  if (!start)
    return start.error_value();
  auto next = from;
  auto have = read(from);
  if (!have)
    return have.error_value();
  for (const auto& [seq, bytes] : *have) {
    if (seq != next)
      return make_error(ec::io_error, "the cluster log has a gap: seq " + std::to_string(next)
                                          + " is missing before " + std::to_string(seq));
    ++next;
    if (!on_record(seq, bytes))
      return next;
  }
  std::optional<error> gap;
  auto at = prefix_.size() + 5; // after "/log/"
  auto st = client_.watch(
      prefix_ + "/log/", prefix_end(prefix_ + "/log/"), *start + 1,
      [&](const key_value& kv) {
        auto seq = std::stoull(kv.key.substr(at));
        if (seq < next)
          return true; // read above already
        if (seq != next) {
          gap = make_error(ec::io_error, "the cluster log has a gap: seq " + std::to_string(next)
                                             + " is missing before " + std::to_string(seq));
          return false;
        }
        ++next;
        return on_record(seq, kv.value);
      },
      idle);
  if (gap)
    return *gap;
  if (!st)
    return st.error_value();
  return next;
}

status check_joinable(etcd_log& log, std::uint64_t from) {
  constexpr std::int64_t page = 1000;
  for (auto next = from;;) {
    auto records = log.read(next, page);
    if (!records)
      return records.error_value();
    for (const auto& [seq, bytes] : *records) {
      auto rec = store::unpack_event(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                               bytes.size()));
      if (!rec && rec.error_value().code == ec::unsupported_version)
        return make_error(ec::unsupported_version,
                          "cannot join: seq " + std::to_string(seq) + " of the cluster log is from a "
                              "newer volantd (" + rec.error_value().message
                              + "); upgrade this host first");
      if (!rec)
        return make_error(ec::corrupt_record, "cannot join: seq " + std::to_string(seq)
                                                  + " of the cluster log does not decode ("
                                                  + rec.error_value().message + ")");
      next = seq + 1;
    }
    if (static_cast<std::int64_t>(records->size()) < page)
      return ok();
  }
}

} // namespace volant::cluster
