#include "wire/json.hpp"

#include <cmath>
#include <charconv>
#include <limits>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <type_traits>
#include <variant>
#include <vector>

namespace volant::wire {

namespace {

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};

template <class T>
struct is_map : std::false_type {};
template <class K, class V>
struct is_map<std::map<K, V>> : std::true_type {};

bool is_time_field(std::string_view f) {
  return f == "at" || (f.size() > 3 && f.ends_with("_at"));
}

bool is_ip_field(std::string_view f) {
  return f == "ip" || f == "pool_first" || f == "pool_last" || f == "subnet";
}

std::string_view probe_name(const no_check&) { return "none"; }
std::string_view probe_name(const http_check&) { return "http"; }
std::string_view probe_name(const tcp_check&) { return "tcp"; }
std::string_view probe_name(const process_check&) { return "process"; }

template <class T>
nlohmann::json encode(const T& x, std::string_view field);

struct object_writer {
  nlohmann::json& out;
  template <class T>
  void operator()(std::string_view name, const T& value) {
    out[std::string(name)] = encode(value, name);
  }
};

template <class T>
nlohmann::json encode(const T& x, std::string_view field) {
  if constexpr (std::is_same_v<T, bool>) {
    return x;
  } else if constexpr (std::is_enum_v<T>) {
    return std::string(to_string(x));
  } else if constexpr (std::is_floating_point_v<T>) {
    return x;
  } else if constexpr (std::is_integral_v<T>) {
    if (is_time_field(field))
      return x == 0 ? nlohmann::json(nullptr) : nlohmann::json(format_time(x));
    if constexpr (std::is_same_v<T, ipv4>)
      if (is_ip_field(field))
        return to_string_ip(x);
    return x;
  } else if constexpr (std::is_same_v<T, std::string>) {
    return x;
  } else if constexpr (std::is_same_v<T, sealed_env_var>) {
    // Not even the sealed bytes: a secret is its key and a mask in every view.
    return {{"key", x.key}, {"value", std::string(secret_mask)}};
  } else if constexpr (is_optional<T>::value) {
    return x ? encode(*x, field) : nlohmann::json(nullptr);
  } else if constexpr (is_vector<T>::value) {
    auto arr = nlohmann::json::array();
    for (const auto& item : x)
      arr.push_back(encode(item, field));
    return arr;
  } else if constexpr (is_map<T>::value) {
    auto obj = nlohmann::json::object();
    for (const auto& [k, v] : x)
      obj[k] = encode(v, field);
    return obj;
  } else if constexpr (std::is_same_v<T, probe_kind>) {
    return std::visit(
      [](const auto& probe) {
        auto obj = encode(probe, "probe");
        obj["kind"] = std::string(probe_name(probe));
        return obj;
      },
      x);
  } else {
    auto obj = nlohmann::json::object();
    reflect(object_writer{obj}, x);
    return obj;
  }
}

// -- decoding -------------------------------------------------------------------------

template <class T>
status decode(const nlohmann::json& j, T& x, const std::string& field);

error bad_field(const std::string& field, const std::string& what) {
  return make_error(ec::invalid_argument,
                    (field.empty() ? std::string("request") : field) + ": " + what);
}

std::string sub(const std::string& field, std::string_view key) {
  return field.empty() ? std::string(key) : field + "." + std::string(key);
}

struct object_reader {
  const nlohmann::json& in;
  const std::string& field;
  status result = ok();
  template <class T>
  void operator()(std::string_view name, T& value) {
    if (!result)
      return;
    auto it = in.find(std::string(name));
    if (it == in.end())
      return; // absent: keep the default
    result = decode(*it, value, sub(field, name));
  }
};

template <class Variant, std::size_t I = 0>
status decode_probe(const nlohmann::json& j, Variant& x, const std::string& field,
                    std::string_view kind) {
  if constexpr (I == std::variant_size_v<Variant>) {
    return bad_field(sub(field, "kind"), "unknown probe kind '" + std::string(kind) + "'");
  } else {
    using alt = std::variant_alternative_t<I, Variant>;
    if (probe_name(alt{}) != kind)
      return decode_probe<Variant, I + 1>(j, x, field, kind);
    alt value;
    if (auto st = decode(j, value, field); !st)
      return st;
    x = std::move(value);
    return ok();
  }
}

template <class T>
status decode(const nlohmann::json& j, T& x, const std::string& field) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!j.is_boolean())
      return bad_field(field, "expected true or false");
    x = j.get<bool>();
  } else if constexpr (std::is_enum_v<T>) {
    if (!j.is_string())
      return bad_field(field, "expected a string");
    for (int i = 0; i < 64; ++i)
      if (to_string(static_cast<T>(i)) == j.get<std::string>()) {
        x = static_cast<T>(i);
        return ok();
      }
    return bad_field(field, "unknown value '" + j.get<std::string>() + "'");
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!j.is_number() || !std::isfinite(j.get<double>()))
      return bad_field(field, "expected a number");
    x = j.get<T>();
  } else if constexpr (std::is_integral_v<T>) {
    if constexpr (std::is_same_v<T, ipv4>)
      if (is_ip_field(field.substr(field.rfind('.') + 1)) && j.is_string()) {
        auto ip = parse_ipv4(j.get<std::string>());
        if (!ip)
          return bad_field(field, "expected an IPv4 address");
        x = *ip;
        return ok();
      }
    if (is_time_field(field.substr(field.rfind('.') + 1)) && j.is_string()) {
      auto t = parse_time(j.get<std::string>());
      if (!t)
        return bad_field(field, "expected an RFC 3339 UTC time");
      x = static_cast<T>(*t);
      return ok();
    }
    if (is_time_field(field.substr(field.rfind('.') + 1)) && j.is_null()) {
      x = 0;
      return ok();
    }
    if (!j.is_number_integer())
      return bad_field(field, "expected an integer");
    if (j.is_number_unsigned() ? j.get<std::uint64_t>() > std::numeric_limits<T>::max()
                               : (j.get<std::int64_t>() < std::numeric_limits<T>::min()
                                  || j.get<std::int64_t>() > static_cast<std::int64_t>(
                                       std::numeric_limits<T>::max())))
      return bad_field(field, "integer out of range");
    x = j.is_number_unsigned() ? static_cast<T>(j.get<std::uint64_t>())
                               : static_cast<T>(j.get<std::int64_t>());
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!j.is_string())
      return bad_field(field, "expected a string");
    x = j.get<std::string>();
  } else if constexpr (std::is_same_v<T, sealed_env_var>) {
    // A view's {"key", "value": "***"}: the key only. Values never come back
    // through a view; requests carry them apart (docs/protocol.md).
    if (!j.is_object() || !j.contains("key"))
      return bad_field(field, "expected an object with a key");
    if (auto st = decode(j["key"], x.key, sub(field, "key")); !st)
      return st;
    x.sealed.clear();
  } else if constexpr (is_optional<T>::value) {
    if (j.is_null()) {
      x.reset();
      return ok();
    }
    typename T::value_type value;
    if (auto st = decode(j, value, field); !st)
      return st;
    x = std::move(value);
  } else if constexpr (is_vector<T>::value) {
    if (!j.is_array())
      return bad_field(field, "expected an array");
    x.clear();
    for (std::size_t i = 0; i < j.size(); ++i) {
      typename T::value_type item;
      if (auto st = decode(j[i], item, field + "[" + std::to_string(i) + "]"); !st)
        return st;
      x.push_back(std::move(item));
    }
  } else if constexpr (is_map<T>::value) {
    if (!j.is_object())
      return bad_field(field, "expected an object");
    x.clear();
    for (const auto& [k, v] : j.items()) {
      typename T::mapped_type value;
      if (auto st = decode(v, value, sub(field, k)); !st)
        return st;
      x.emplace(k, std::move(value));
    }
  } else if constexpr (std::is_same_v<T, probe_kind>) {
    if (!j.is_object() || !j.contains("kind") || !j["kind"].is_string())
      return bad_field(sub(field, "kind"), "expected none, http, tcp or process");
    return decode_probe(j, x, field, j["kind"].get<std::string>());
  } else {
    if (!j.is_object())
      return bad_field(field, "expected an object");
    object_reader reader{j, field};
    reflect(reader, x);
    return reader.result;
  }
  return ok();
}

} // namespace

namespace {

/// `j` decoded as a T, errors naming `field`: every *_from_json below.
template <class T> expected<T> decoded(const nlohmann::json& j, const std::string& field) {
  T out;
  if (auto st = decode(j, out, field); !st)
    return st.error_value();
  return out;
}

} // namespace

expected<deployment_spec> spec_from_json(const nlohmann::json& j) {
  return decoded<deployment_spec>(j, "spec");
}

expected<update_strategy> strategy_from_json(const nlohmann::json& j) {
  return decoded<update_strategy>(j, "strategy");
}

expected<health_check> health_from_json(const nlohmann::json& j,
                                        const std::string& field) {
  return decoded<health_check>(j, field);
}

expected<std::vector<volume>> volumes_from_json(const nlohmann::json& j) {
  return decoded<std::vector<volume>>(j, "volumes");
}

expected<autoscaler_spec> autoscaler_from_json(const nlohmann::json& j) {
  return decoded<autoscaler_spec>(j, "spec");
}

expected<quota_spec> quota_from_json(const nlohmann::json& j) {
  return decoded<quota_spec>(j, "quota");
}

nlohmann::json encode_spec(const deployment_spec& spec) {
  return encode(spec, "");
}

std::string format_time(unix_nanos t) {
  auto secs = static_cast<std::time_t>(t / 1'000'000'000);
  auto frac = t % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<long long>(frac));
  return buf;
}

std::optional<unix_nanos> parse_time(std::string_view text) {
  std::tm tm{};
  int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0, used = 0;
  std::string s(text);
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &mon, &day, &hour,
                  &min, &sec, &used)
        != 6
      || used != 19)
    return std::nullopt;
  std::int64_t frac = 0;
  auto rest = text.substr(19);
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    int digits = 0;
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') {
      if (digits < 9) {
        frac = frac * 10 + (rest.front() - '0');
        ++digits;
      }
      rest.remove_prefix(1);
    }
    if (digits == 0)
      return std::nullopt;
    for (; digits < 9; ++digits)
      frac *= 10;
  }
  if (rest != "Z" && rest != "+00:00")
    return std::nullopt;
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59
      || sec > 60)
    return std::nullopt;
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  return static_cast<unix_nanos>(timegm(&tm)) * 1'000'000'000 + frac;
}

nlohmann::json to_json(const event& ev) {
  return std::visit([](const auto& e) { return encode(e, ""); }, ev);
}

nlohmann::json to_json(const recorded_event& rec) {
  auto agg = aggregate_of(rec.ev);
  auto fields = to_json(rec.ev);
  fields.erase("at");
  return {{"seq", rec.seq},
          {"at", format_time(rec.at)},
          {"aggregate", std::string(to_string(agg.kind))},
          {"id", agg.id},
          {"event", std::string(kind_name(rec.ev))},
          {"fields", std::move(fields)}};
}

nlohmann::json to_json(const vm_record& vm) {
  return encode(vm, "");
}

nlohmann::json to_json(const deployment_state& d) {
  auto obj = encode(d.spec, "");
  obj["revision"] = d.revision;
  obj["created_at"] = encode(d.created_at, "created_at");
  obj["updated_at"] = encode(d.updated_at, "updated_at");
  return obj;
}

nlohmann::json to_json(const plugin_manifest& m) {
  return encode(m, "");
}

nlohmann::json to_json(const health_check& h) {
  return encode(h, "");
}

nlohmann::json to_json(const update_strategy& s) {
  return encode(s, "");
}

nlohmann::json to_json(const autoscaler_spec& a) {
  return encode(a, "");
}

nlohmann::json to_json(const quota_spec& q) {
  return encode(q, "");
}

nlohmann::json to_json(const volume_record& v) {
  return encode(v, "");
}

nlohmann::json to_json(const host_state& h) {
  auto obj = encode(h.config, "");
  obj["configured"] = h.configured;
  obj["memory_used_mib"] = h.memory_used_mib;
  obj["cpu_used"] = h.cpu_used;
  auto leases = nlohmann::json::object();
  for (const auto& [ip, vm] : h.leases)
    leases[to_string_ip(ip)] = vm;
  obj["leases"] = std::move(leases);
  return obj;
}

nlohmann::json to_json(const world& w) {
  auto plugins = nlohmann::json::array();
  for (const auto& [name, versions] : w.plugins.by_name)
    for (const auto& [version, manifest] : versions)
      plugins.push_back(to_json(manifest));
  auto deployments = nlohmann::json::array();
  for (const auto& [name, d] : w.deployments)
    deployments.push_back(to_json(d));
  auto vms = nlohmann::json::array();
  for (const auto& [name, vm] : w.vms)
    vms.push_back(to_json(vm));
  auto volumes = nlohmann::json::array();
  for (const auto& [id, vol] : w.volumes)
    volumes.push_back(to_json(vol));
  auto quotas = nlohmann::json::array();
  for (const auto& [name, q] : w.quotas)
    quotas.push_back(to_json(q));
  return {{"last_seq", w.last_seq},
          {"last_at", encode(w.last_at, "last_at")},
          {"host", to_json(w.host)},
          {"plugins", std::move(plugins)},
          {"deployments", std::move(deployments)},
          {"vms", std::move(vms)},
          {"volumes", std::move(volumes)},
          {"quotas", std::move(quotas)}};
}

std::string to_fields_line(const nlohmann::json& object) {
  std::string out;
  for (const auto& [key, value] : object.items()) {
    if (value.is_array() && value.empty())
      continue; // "removed=[]" on every scale says nothing
    if ((key == "cause" || key == "detail") && value.is_string() && value.get<std::string>().empty())
      continue; // nor "cause=" on every scale by the user
    if (!out.empty())
      out += ' ';
    out += key;
    out += '=';
    out += value.is_string() ? value.get<std::string>() : value.dump();
  }
  return out;
}

} // namespace volant::wire
