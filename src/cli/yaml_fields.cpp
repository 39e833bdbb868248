#include "cli/yaml_fields.hpp"

#include "events/validate.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <set>

namespace volant::cli::yaml_fields {

namespace {

void read_scaling_rules(const YAML::Node& node, const std::string& path, scaling_rules& r) {
  only(node, path, {"stabilizationWindowSeconds", "policies"});
  if (auto n = node["stabilizationWindowSeconds"])
    r.stabilization_seconds = integer(n, join(path, "stabilizationWindowSeconds"), 0, 3600);
  if (auto list = node["policies"]) {
    if (!list.IsSequence())
      fail(list, join(path, "policies"), "expected a list, got " + describe(list));
    r.max_percent = -1;
    r.max_vms = -1;
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto p = list[i];
      auto field = join(path, "policies") + "[" + std::to_string(i) + "]";
      only(p, field, {"type", "value", "periodSeconds"});
      for (auto key : {"type", "value"})
        if (!p[key])
          fail(p, join(field, key), "required field is missing");
      auto type = text(p["type"], join(field, "type"));
      auto value = static_cast<std::int32_t>(integer(p["value"], join(field, "value"), 0, 1 << 20));
      if (type == "Percent")
        r.max_percent = value;
      else if (type == "Pods")
        r.max_vms = value;
      else
        fail(p["type"], join(field, "type"), "expected Percent or Pods, got '" + type + "'");
      if (auto n = p["periodSeconds"])
        r.period_seconds = integer(n, join(field, "periodSeconds"), 1, 1800);
    }
  }
}

} // namespace

[[noreturn]] void fail(const YAML::Node& node, const std::string& field,
                       const std::string& what) {
  std::string where;
  if (node.IsDefined() && node.Mark().line >= 0)
    where = " (line " + std::to_string(node.Mark().line + 1) + ")";
  throw field_error{
      make_error(ec::invalid_argument, field + ": " + what + where)};
}

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string describe(const YAML::Node& node) {
  if (node.IsScalar())
    return "'" + node.Scalar() + "'";
  if (node.IsSequence())
    return "a list";
  if (node.IsMap())
    return "a mapping";
  return "nothing";
}

/// A mapping whose keys are all in `known`.
void only(const YAML::Node& node, const std::string& path,
          std::initializer_list<std::string_view> known) {
  if (!node.IsMap())
    fail(node, path, "expected a mapping, got " + describe(node));
  std::set<std::string> seen;
  for (const auto& item : node) {
    if (!item.first.IsScalar())
      fail(item.first, path, "keys must be plain names");
    auto key = item.first.Scalar();
    if (!seen.insert(key).second)
      fail(item.first, join(path, key), "given twice");
    bool found = false;
    for (auto k : known)
      found = found || k == key;
    if (!found)
      fail(item.first, join(path, key), "unknown field");
  }
}

std::string text(const YAML::Node& node, const std::string& field) {
  if (!node.IsScalar())
    fail(node, field, "expected a string, got " + describe(node));
  return node.Scalar();
}

/// A plain (unquoted) decimal integer in [min, max].
std::int64_t integer(const YAML::Node& node, const std::string& field,
                     std::int64_t min, std::int64_t max) {
  std::int64_t value = 0;
  bool parsed = false;
  if (node.IsScalar() && node.Tag() != "!") {
    const auto& s = node.Scalar();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    parsed = !s.empty() && ec == std::errc{} && end == s.data() + s.size();
  }
  if (!parsed)
    fail(node, field, "expected an integer, got " + describe(node));
  if (value < min || value > max)
    fail(node, field,
         "expected an integer " + std::to_string(min) + "-"
             + std::to_string(max) + ", got " + std::to_string(value));
  return value;
}

bool boolean(const YAML::Node& node, const std::string& field) {
  bool value = false;
  if (!node.IsScalar() || node.Tag() == "!"
      || !YAML::convert<bool>::decode(node, value))
    fail(node, field, "expected true or false, got " + describe(node));
  return value;
}

/// MiB as an integer, or a string with a Mi / Gi suffix ("512Mi", "2Gi").
std::int64_t memory_mib(const YAML::Node& node, const std::string& field) {
  constexpr auto max = std::numeric_limits<std::int64_t>::max() / 1024;
  if (node.IsScalar()) {
    auto s = node.Scalar();
    std::int64_t factor = 0;
    if (s.ends_with("Mi"))
      factor = 1;
    else if (s.ends_with("Gi"))
      factor = 1024;
    if (factor != 0) {
      std::int64_t value = 0;
      auto digits = std::string_view(s).substr(0, s.size() - 2);
      auto [end, ec] = std::from_chars(digits.data(),
                                       digits.data() + digits.size(), value);
      if (digits.empty() || ec != std::errc{}
          || end != digits.data() + digits.size() || value > max)
        fail(node, field,
             "expected MiB or a quantity such as 512Mi or 2Gi, got "
                 + describe(node));
      return value * factor;
    }
  }
  std::int64_t ignored = 0;
  if (!node.IsScalar() || node.Tag() == "!"
      || std::from_chars(node.Scalar().data(),
                         node.Scalar().data() + node.Scalar().size(), ignored)
                 .ptr
             != node.Scalar().data() + node.Scalar().size())
    fail(node, field,
         "expected MiB or a quantity such as 512Mi or 2Gi, got "
             + describe(node));
  return integer(node, field, std::numeric_limits<std::int64_t>::min(), max);
}

double decimal(const YAML::Node& node, const std::string& field) {
  double v = 0;
  try {
    v = node.as<double>();
  } catch (const YAML::Exception&) {
    fail(node, field, "expected a number, got " + describe(node));
  }
  if (!std::isfinite(v))
    fail(node, field, "expected a number, got " + describe(node));
  return v;
}

std::vector<quota_spec> read_quotas(const YAML::Node& doc) {
  only(doc, "", {"quotas"});
  auto list = doc["quotas"];
  if (!list.IsSequence())
    fail(list, "quotas", "expected a list, got " + describe(list));
  std::vector<quota_spec> out;
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto item = list[i];
    auto field = "quotas[" + std::to_string(i) + "]";
    if (!item.IsMap())
      fail(item, field, "expected a mapping {name, max_vms, max_cpu, max_memory_gb}, got "
                            + describe(item));
    only(item, field, {"name", "max_vms", "max_cpu", "max_memory_gb"});
    quota_spec q;
    if (!item["name"])
      fail(item, join(field, "name"), "required field is missing");
    q.name = text(item["name"], join(field, "name"));
    if (auto st = validate_name(q.name, "quota"); !st)
      fail(item["name"], join(field, "name"), st.error_value().message);
    constexpr auto max = std::int64_t{1} << 40;
    if (auto n = item["max_vms"])
      q.max_vms = integer(n, join(field, "max_vms"), 0, max);
    if (auto n = item["max_cpu"])
      q.max_cpu = integer(n, join(field, "max_cpu"), 0, max);
    if (auto n = item["max_memory_gb"]) {
      double gb = 0;
      try {
        gb = n.as<double>();
      } catch (const YAML::Exception&) {
        fail(n, join(field, "max_memory_gb"), "expected a number, got " + describe(n));
      }
      if (!(gb >= 0) || gb > 1e9)
        fail(n, join(field, "max_memory_gb"), "must be >= 0, got " + describe(n));
      q.max_memory_mib = static_cast<std::int64_t>(gb * 1024 + 0.5);
    }
    for (const auto& before : out)
      if (before.name == q.name)
        fail(item["name"], join(field, "name"), "quota '" + q.name + "' is defined twice");
    out.push_back(std::move(q));
  }
  return out;
}

autoscaler_spec read_autoscaler(const YAML::Node& doc) {
  only(doc, "", {"apiVersion", "kind", "metadata", "spec"});
  if (!doc["apiVersion"])
    fail(doc, "apiVersion", "required field is missing");
  if (auto v = text(doc["apiVersion"], "apiVersion"); v != "volant.io/v1")
    fail(doc["apiVersion"], "apiVersion", "expected volant.io/v1, got '" + v + "'");
  autoscaler_spec a;
  auto meta = doc["metadata"];
  if (!meta || !meta["name"])
    fail(doc, "metadata.name", "required field is missing");
  only(meta, "metadata", {"name", "labels"});
  a.name = text(meta["name"], "metadata.name");
  if (auto st = validate_name(a.name, "autoscaler"); !st)
    fail(meta["name"], "metadata.name", st.error_value().message);
  auto spec = doc["spec"];
  if (!spec)
    fail(doc, "spec", "required field is missing");
  only(spec, "spec",
       {"deploymentRef", "minReplicas", "maxReplicas", "metrics", "tolerance", "behavior"});
  for (auto key : {"deploymentRef", "maxReplicas", "metrics"})
    if (!spec[key])
      fail(spec, join("spec", key), "required field is missing");
  a.deployment = text(spec["deploymentRef"], "spec.deploymentRef");
  if (auto st = validate_deployment_name(a.deployment); !st)
    fail(spec["deploymentRef"], "spec.deploymentRef", st.error_value().message);
  if (auto n = spec["minReplicas"])
    a.min_replicas = static_cast<std::int32_t>(integer(n, "spec.minReplicas", 1, 1 << 20));
  a.max_replicas = static_cast<std::int32_t>(integer(spec["maxReplicas"], "spec.maxReplicas", 1, 1 << 20));
  if (a.max_replicas < a.min_replicas)
    fail(spec["maxReplicas"], "spec.maxReplicas",
         "must be >= minReplicas (" + std::to_string(a.min_replicas) + "), got "
             + std::to_string(a.max_replicas));
  auto metrics = spec["metrics"];
  if (!metrics.IsSequence() || metrics.size() == 0)
    fail(metrics, "spec.metrics", "expected a list of at least one metric, got " + describe(metrics));
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    auto m = metrics[i];
    auto field = "spec.metrics[" + std::to_string(i) + "]";
    only(m, field, {"type", "target"});
    if (!m["type"] || !m["target"])
      fail(m, join(field, m["type"] ? "target" : "type"), "required field is missing");
    auto type = text(m["type"], join(field, "type"));
    metric_target t;
    if (type == "cpu")
      t.kind = metric_kind::cpu;
    else if (type == "memory")
      t.kind = metric_kind::memory;
    else if (type == "requests")
      t.kind = metric_kind::requests;
    else
      fail(m["type"], join(field, "type"), "expected cpu, memory or requests, got '" + type + "'");
    auto target = m["target"];
    auto key = t.kind == metric_kind::requests ? "averageValue" : "averageUtilization";
    only(target, join(field, "target"), {key});
    if (!target[key])
      fail(target, join(join(field, "target"), key), "required field is missing");
    t.target = decimal(target[key], join(join(field, "target"), key));
    if (t.target <= 0)
      fail(target[key], join(join(field, "target"), key), "must be > 0");
    for (const auto& before : a.metrics)
      if (before.kind == t.kind)
        fail(m["type"], join(field, "type"), "metric '" + type + "' is given twice");
    a.metrics.push_back(t);
  }
  if (auto n = spec["tolerance"]) {
    a.tolerance = decimal(n, "spec.tolerance");
    if (a.tolerance < 0 || a.tolerance >= 1)
      fail(n, "spec.tolerance", "must be 0 .. 1 (exclusive), got " + describe(n));
  }
  if (auto b = spec["behavior"]) {
    only(b, "spec.behavior", {"scaleUp", "scaleDown"});
    if (auto n = b["scaleUp"])
      read_scaling_rules(n, "spec.behavior.scaleUp", a.up);
    if (auto n = b["scaleDown"])
      read_scaling_rules(n, "spec.behavior.scaleDown", a.down);
  }
  return a;
}

} // namespace volant::cli::yaml_fields
