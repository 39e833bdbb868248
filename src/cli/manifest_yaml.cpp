#include "cli/manifest_yaml.hpp"

#include "cli/args.hpp"
#include "cli/yaml_fields.hpp"

#include "events/limits.hpp"
#include "events/validate.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <charconv>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace volant::cli {

namespace {

using namespace yaml_fields;

void read_labels(const YAML::Node& node, const std::string& path, labels& out) {
  if (!node.IsMap())
    fail(node, path, "expected a mapping of key: value, got " + describe(node));
  for (const auto& item : node) {
    auto key = text(item.first, path);
    auto field = join(path, key);
    auto value
        = item.second.IsNull() ? std::string() : text(item.second, field);
    if (key.find_first_of(",=") != std::string::npos
        || value.find(',') != std::string::npos)
      fail(item.first, field, "invalid label '" + key + "=" + value + "'");
    auto parsed = parse_labels(key + "=" + value);
    if (!parsed)
      fail(item.first, field, parsed.error_value().message);
    out[key] = value;
  }
}

/// `secret`: spec.secretEnv, whose errors name keys, never values.
void add_env(std::vector<env_var>& out, const YAML::Node& at,
             const std::string& field, const std::string& key,
             const std::string& value, bool secret) {
  env_var var{key, value};
  if (secret) {
    if (auto st = validate_env_key(key, "secret env"); !st)
      fail(at, field, st.error_value().message);
  } else {
    auto parsed = parse_env(key + "=" + value);
    if (!parsed)
      fail(at, field, parsed.error_value().message);
    var = std::move(*parsed);
  }
  for (const auto& existing : out)
    if (existing.key == key)
      fail(at, field, (secret ? "secret env key '" : "env key '") + key
                          + "' is given twice");
  out.push_back(std::move(var));
}

void read_env(const YAML::Node& node, const std::string& path,
              std::vector<env_var>& out, bool secret = false) {
  if (node.IsMap()) {
    for (const auto& item : node) {
      auto key = text(item.first, path);
      auto field = join(path, key);
      auto value
          = item.second.IsNull() ? std::string() : text(item.second, field);
      add_env(out, item.first, field, key, value, secret);
    }
    return;
  }
  if (!node.IsSequence())
    fail(node, path,
         "expected a mapping KEY: value or a list, got " + describe(node));
  for (std::size_t i = 0; i < node.size(); ++i) {
    auto item = node[i];
    auto field = path + "[" + std::to_string(i) + "]";
    if (item.IsScalar()) {
      const auto& scalar = item.Scalar();
      auto eq = scalar.find('=');
      if (secret && eq == std::string::npos)
        fail(item, field, "expected KEY=VALUE or {name, value}");
      if (secret) {
        add_env(out, item, field, scalar.substr(0, eq), scalar.substr(eq + 1), true);
        continue;
      }
      auto var = parse_env(scalar);
      if (!var)
        fail(item, field, var.error_value().message);
      add_env(out, item, field, var->key, var->value, false);
      continue;
    }
    only(item, field, {"name", "value"});
    if (!item["name"])
      fail(item, join(field, "name"), "required field is missing");
    auto value = item["value"] && !item["value"].IsNull()
                     ? text(item["value"], join(field, "value"))
                     : std::string();
    add_env(out, item, field, text(item["name"], join(field, "name")), value,
            secret);
  }
}

void read_volumes(const YAML::Node& node, const std::string& path,
                  std::vector<volume>& out) {
  if (!node.IsSequence())
    fail(node, path, "expected a list, got " + describe(node));
  for (std::size_t i = 0; i < node.size(); ++i) {
    auto item = node[i];
    auto field = path + "[" + std::to_string(i) + "]";
    volume vol;
    if (item.IsScalar()) {
      auto parsed = parse_volume(item.Scalar());
      if (!parsed)
        fail(item, field, parsed.error_value().message);
      vol = *parsed;
    } else {
      // `path` (where the workload sees it); `hostPath` is its older name.
      only(item, field, {"path", "hostPath", "persistent", "size"});
      auto key = item["path"] ? "path" : "hostPath";
      if (!item[key])
        fail(item, join(field, "path"), "required field is missing");
      vol.path = text(item[key], join(field, key));
      if (item["persistent"])
        vol.persistent = boolean(item["persistent"], join(field, "persistent"));
      if (auto n = item["size"]) {
        auto mib = parse_size_mib(text(n, join(field, "size")));
        if (!mib)
          fail(n, join(field, "size"), mib.error_value().message);
        vol.size_mib = *mib;
      }
    }
    if (auto st = validate_volumes({vol}); !st)
      fail(item, field, st.error_value().message);
    out.push_back(std::move(vol));
  }
}

void read_timing(const YAML::Node& node, const std::string& path,
                 health_check& hc) {
  if (auto n = node["intervalSeconds"])
    hc.interval_seconds = static_cast<std::uint32_t>(
        integer(n, join(path, "intervalSeconds"), 1, 86400));
  if (auto n = node["timeoutSeconds"])
    hc.timeout_seconds = static_cast<std::uint32_t>(
        integer(n, join(path, "timeoutSeconds"), 1, 86400));
  if (auto n = node["unhealthyThreshold"])
    hc.unhealthy_threshold = static_cast<std::uint32_t>(
        integer(n, join(path, "unhealthyThreshold"), 1, 1000));
}

health_check read_health(const YAML::Node& node, const std::string& path) {
  only(node, path, {"enabled", "http", "tcp", "process"});
  health_check hc;
  hc.enabled = node["enabled"] ? boolean(node["enabled"], join(path, "enabled"))
                               : true;
  int kinds = 0;
  if (auto n = node["http"]) {
    ++kinds;
    auto f = join(path, "http");
    only(n, f,
         {"port", "path", "intervalSeconds", "timeoutSeconds",
          "unhealthyThreshold"});
    http_check http;
    if (n["port"])
      http.port = static_cast<std::uint16_t>(
          integer(n["port"], join(f, "port"), 1, 65535));
    if (n["path"]) {
      http.path = text(n["path"], join(f, "path"));
      if (http.path.empty() || http.path.front() != '/')
        fail(n["path"], join(f, "path"), "must start with '/'");
    }
    read_timing(n, f, hc);
    hc.probe = http;
  }
  if (auto n = node["tcp"]) {
    ++kinds;
    auto f = join(path, "tcp");
    only(n, f,
         {"port", "intervalSeconds", "timeoutSeconds", "unhealthyThreshold"});
    if (!n["port"])
      fail(n, join(f, "port"), "required field is missing");
    tcp_check tcp;
    tcp.port = static_cast<std::uint16_t>(
        integer(n["port"], join(f, "port"), 1, 65535));
    read_timing(n, f, hc);
    hc.probe = tcp;
  }
  if (auto n = node["process"]) {
    ++kinds;
    auto f = join(path, "process");
    only(n, f,
         {"name", "intervalSeconds", "timeoutSeconds", "unhealthyThreshold"});
    if (!n["name"])
      fail(n, join(f, "name"), "required field is missing");
    process_check proc;
    proc.name = text(n["name"], join(f, "name"));
    if (proc.name.empty())
      fail(n["name"], join(f, "name"), "must not be empty");
    read_timing(n, f, hc);
    hc.probe = proc;
  }
  if (kinds > 1)
    fail(node, path, "give exactly one of http, tcp or process");
  if (kinds == 0 && hc.enabled)
    fail(node, path, "enabled but none of http, tcp or process is given");
  return hc;
}

void read_surge(const YAML::Node& node, const std::string& path, update_strategy& s) {
  for (auto [key, out] : {std::pair{"maxSurge", &s.max_surge},
                          std::pair{"maxUnavailable", &s.max_unavailable}}) {
    auto n = node[key];
    if (!n)
      continue;
    if (s.kind != strategy_kind::rolling)
      fail(n, join(path, key), "applies to type rolling only");
    auto v = parse_int_or_percent(text(n, join(path, key)));
    if (!v)
      fail(n, join(path, key), v.error_value().message);
    *out = *v;
  }
}

constexpr auto int32_max = std::numeric_limits<std::int32_t>::max();

/// The rollout fields, at spec level (Kubernetes: minReadySeconds,
/// progressDeadlineSeconds, revisionHistoryLimit) or in spec.strategy.
void read_rollout_fields(const YAML::Node& node, const std::string& path,
                         update_strategy& s) {
  if (auto n = node["minReadySeconds"])
    s.min_ready_seconds
        = static_cast<std::int32_t>(integer(n, join(path, "minReadySeconds"), 0, int32_max));
  if (auto n = node["progressDeadlineSeconds"])
    s.progress_deadline_seconds = static_cast<std::int32_t>(
        integer(n, join(path, "progressDeadlineSeconds"), 1, int32_max));
  if (auto n = node["revisionHistoryLimit"])
    s.revision_history = static_cast<std::int32_t>(
        integer(n, join(path, "revisionHistoryLimit"), 1, 1000));
}

update_strategy read_strategy(const YAML::Node& node, const std::string& path,
                              update_strategy s) {
  only(node, path,
       {"type", "maxSurge", "maxUnavailable", "rollingUpdate", "minReadySeconds",
        "progressDeadlineSeconds", "revisionHistoryLimit", "terminationGracePeriod",
        "autoRevert", "paused"});
  if (auto n = node["type"]) {
    auto type = text(n, join(path, "type"));
    if (type == "Recreate")
      type = "recreate";
    else if (type == "RollingUpdate")
      type = "rolling";
    auto kind = parse_strategy(type);
    if (!kind)
      fail(n, join(path, "type"), kind.error_value().message);
    s.kind = *kind;
  }
  read_surge(node, path, s);
  if (auto n = node["rollingUpdate"]) { // Kubernetes' spelling
    auto sub = join(path, "rollingUpdate");
    only(n, sub, {"maxSurge", "maxUnavailable"});
    if (s.kind != strategy_kind::rolling)
      fail(n, sub, "applies to type RollingUpdate only");
    read_surge(n, sub, s);
  }
  read_rollout_fields(node, path, s);
  if (auto n = node["terminationGracePeriod"]) {
    auto field = join(path, "terminationGracePeriod");
    auto ms = parse_duration_ms(text(n, field), field);
    if (!ms || *ms > int32_max)
      fail(n, field, ms ? std::string("is out of range") : ms.error_value().message);
    s.termination_grace_ms = static_cast<std::int32_t>(*ms);
  }
  if (auto n = node["autoRevert"])
    s.auto_revert = boolean(n, join(path, "autoRevert"));
  if (auto n = node["paused"])
    s.rollout_paused = boolean(n, join(path, "paused"));
  return s;
}

void read_spec(const YAML::Node& node, deployment_spec& spec,
               std::vector<env_var>& secrets) {
  only(node, "spec",
       {"replicas", "plugin", "resources", "labels", "env", "secretEnv",
        "volumes", "autoRestart", "strategy", "networking", "healthCheck",
        "readinessCheck", "minReadySeconds", "progressDeadlineSeconds",
        "revisionHistoryLimit", "quota", "multiHost"});
  if (auto n = node["replicas"]) {
    auto replicas
        = integer(n, "spec.replicas", std::numeric_limits<std::int32_t>::min(),
                  std::numeric_limits<std::int32_t>::max());
    if (replicas < 0)
      fail(n, "spec.replicas",
           "replicas must be >= 0, got " + std::to_string(replicas));
    spec.replicas = static_cast<std::int32_t>(replicas);
  }
  if (!node["plugin"])
    fail(node, "spec.plugin", "required field is missing");
  auto ref = parse_plugin_ref(text(node["plugin"], "spec.plugin"));
  if (!ref)
    fail(node["plugin"], "spec.plugin", ref.error_value().message);
  spec.tmpl.plugin = *ref;
  if (auto res = node["resources"]) {
    only(res, "spec.resources", {"cpu", "memory"});
    if (auto n = res["cpu"])
      spec.tmpl.cpu = static_cast<std::int32_t>(integer(
          n, "spec.resources.cpu", std::numeric_limits<std::int32_t>::min(),
          std::numeric_limits<std::int32_t>::max()));
    if (auto n = res["memory"])
      spec.tmpl.memory_mib = memory_mib(n, "spec.resources.memory");
  }
  if (auto n = node["labels"])
    read_labels(n, "spec.labels", spec.tmpl.vm_labels);
  if (auto n = node["env"])
    read_env(n, "spec.env", spec.tmpl.env);
  if (auto n = node["secretEnv"]) {
    read_env(n, "spec.secretEnv", secrets, true);
    for (const auto& var : secrets)
      for (const auto& plain : spec.tmpl.env)
        if (plain.key == var.key)
          fail(n, "spec.secretEnv",
               "key '" + var.key + "' is also in spec.env: give it once");
  }
  if (auto n = node["volumes"])
    read_volumes(n, "spec.volumes", spec.tmpl.volumes);
  if (auto n = node["autoRestart"])
    spec.auto_restart = boolean(n, "spec.autoRestart");
  if (auto n = node["quota"])
    spec.quota = text(n, "spec.quota");
  if (auto n = node["multiHost"])
    spec.multi_host = boolean(n, "spec.multiHost");
  read_rollout_fields(node, "spec", spec.strategy);
  if (auto n = node["strategy"])
    spec.strategy = read_strategy(n, "spec.strategy", spec.strategy);
  if (auto net = node["networking"]) {
    only(net, "spec.networking", {"mode"});
    if (auto n = net["mode"]; n && text(n, "spec.networking.mode") != "bridge")
      fail(n, "spec.networking.mode",
           "only 'bridge' is supported, got " + describe(n));
  }
  if (auto n = node["healthCheck"])
    spec.tmpl.health = read_health(n, "spec.healthCheck");
  // Same shape; `enabled: false` leaves READY to the health check.
  if (auto n = node["readinessCheck"])
    spec.tmpl.readiness = read_health(n, "spec.readinessCheck");
}

/// The offset of the first byte that is not part of well-formed UTF-8
/// (Unicode's table 3-7: no overlong forms, surrogates or code points past
/// U+10FFFF), or npos.
std::size_t first_invalid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF; // range of the second byte
    if (b < 0x80) {
      ++i;
      continue;
    } else if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      lo = b == 0xE0 ? 0xA0 : 0x80;
      hi = b == 0xED ? 0x9F : 0xBF;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      lo = b == 0xF0 ? 0x90 : 0x80;
      hi = b == 0xF4 ? 0x8F : 0xBF;
    } else {
      return i;
    }
    if (i + len > s.size())
      return i;
    for (std::size_t k = 1; k < len; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF))
        return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

/// A parser's events, scanned without building nodes: counts documents and
/// notes the first scalar that is not UTF-8 once decoded (yaml-cpp decodes
/// some byte sequences of valid UTF-8 input into bytes that are not: found by
/// tests/fuzz), linear in the text whatever its aliases.
struct scan_events : YAML::EventHandler {
  std::optional<YAML::Mark> bad_scalar;
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string& value) override {
    if (!bad_scalar && first_invalid_utf8(value) != std::string_view::npos)
      bad_scalar = mark;
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

deployment_document read_document(const YAML::Node& doc) {
  if (doc.IsMap() && doc["kind"] && doc["kind"].IsScalar()
      && doc["kind"].Scalar() == "HorizontalPodAutoscaler") {
    deployment_document out;
    out.is_autoscaler = true;
    out.autoscaler = read_autoscaler(doc);
    return out;
  }
  if (doc.IsMap() && doc["quotas"] && !doc["kind"]) {
    deployment_document out;
    out.is_quotas = true;
    out.quotas = read_quotas(doc);
    return out;
  }
  if (!doc.IsMap())
    fail(doc, "manifest",
         "expected a mapping with apiVersion, kind, metadata "
         "and spec, got "
             + describe(doc));
  if (!doc["kind"])
    fail(doc, "kind", "required field is missing");
  auto kind = text(doc["kind"], "kind");
  if (kind != "Deployment")
    fail(doc["kind"], "kind",
         "'" + kind + "' is unknown (expected Deployment or HorizontalPodAutoscaler)");
  if (!doc["apiVersion"])
    fail(doc, "apiVersion", "required field is missing");
  if (auto v = text(doc["apiVersion"], "apiVersion"); v != "volant.io/v1")
    fail(doc["apiVersion"], "apiVersion",
         "expected volant.io/v1, got '" + v + "'");
  only(doc, "", {"apiVersion", "kind", "metadata", "spec"});
  deployment_spec spec;
  auto meta = doc["metadata"];
  if (!meta)
    fail(doc, "metadata", "required field is missing");
  only(meta, "metadata", {"name", "labels"});
  if (!meta["name"])
    fail(meta, "metadata.name", "required field is missing");
  spec.name = text(meta["name"], "metadata.name");
  if (auto n = meta["labels"])
    read_labels(n, "metadata.labels", spec.tmpl.vm_labels);
  if (!doc["spec"])
    fail(doc, "spec", "required field is missing");
  std::vector<env_var> secrets;
  read_spec(doc["spec"], spec, secrets);
  return {std::move(spec), std::move(secrets)};
}

} // namespace

expected<std::vector<quota_spec>> quotas_from_yaml(std::string_view yaml_text) {
  auto docs = deployment_documents_from_yaml(yaml_text);
  if (!docs)
    return docs.error_value();
  if (docs->size() != 1 || !docs->front().is_quotas)
    return make_error(ec::invalid_quota,
                      "expected one document with a top-level 'quotas:' list");
  return std::move(docs->front().quotas);
}

expected<deployment_spec> deployment_from_yaml(std::string_view yaml_text) {
  auto doc = deployment_document_from_yaml(yaml_text);
  if (!doc)
    return doc.error_value();
  return std::move(doc->spec);
}

expected<deployment_document>
deployment_document_from_yaml(std::string_view yaml_text) {
  auto docs = deployment_documents_from_yaml(yaml_text);
  if (!docs)
    return docs.error_value();
  if (docs->size() > 1)
    return make_error(ec::invalid_argument,
                      "the manifest holds " + std::to_string(docs->size())
                          + " deployments; expected one");
  if (docs->front().is_quotas)
    return make_error(ec::invalid_argument, "the manifest holds quotas, not a Deployment");
  if (docs->front().is_autoscaler)
    return make_error(ec::invalid_argument,
                      "the manifest holds a HorizontalPodAutoscaler, not a Deployment");
  return std::move(docs->front());
}

expected<std::vector<deployment_document>>
deployment_documents_from_yaml(std::string_view yaml_text) {
  if (yaml_text.size() > max_yaml_bytes)
    return make_error(ec::invalid_argument,
                      "the manifest is " + describe_bytes(yaml_text.size())
                          + ": at most " + describe_bytes(max_yaml_bytes));
  // Every string of the spec goes to volantd as JSON, which is UTF-8 (and
  // nlohmann's dump throws on anything else).
  if (auto bad = first_invalid_utf8(yaml_text); bad != std::string_view::npos) {
    auto before = yaml_text.substr(0, bad);
    auto line = std::count(before.begin(), before.end(), '\n') + 1;
    auto nl = before.rfind('\n');
    auto column = nl == std::string_view::npos ? bad + 1 : bad - nl;
    return make_error(ec::invalid_argument,
                      "the manifest is not valid UTF-8 (line " + std::to_string(line)
                          + ", column " + std::to_string(column) + ")");
  }
  // Documents are counted first, and only up to a bound: yaml-cpp 0.7 reads
  // some streams (a lone ",") as endless empty documents, and YAML::LoadAll
  // then grows without end (found by tests/fuzz). A stream within the bound
  // is finite, so LoadAll then reads it.
  std::size_t count = 0;
  std::vector<YAML::Node> nodes;
  try {
    std::istringstream in{std::string(yaml_text)};
    YAML::Parser parser(in);
    scan_events scan;
    // Empty documents count here too (a stray "---" each), so the bound is
    // looser than the one on deployments below.
    constexpr std::size_t max_raw_documents = 4 * max_yaml_documents;
    while (count <= max_raw_documents && parser.HandleNextDocument(scan))
      ++count;
    if (count > max_raw_documents)
      return make_error(ec::invalid_argument,
                        "the manifest holds more than " + std::to_string(max_raw_documents)
                            + " documents: apply at most "
                            + std::to_string(max_yaml_documents) + " deployments at a time");
    if (scan.bad_scalar)
      return make_error(ec::invalid_argument,
                        "the manifest has a value that is not valid UTF-8 once decoded (line "
                            + std::to_string(scan.bad_scalar->line + 1) + ", column "
                            + std::to_string(scan.bad_scalar->column + 1) + ")");
    nodes = YAML::LoadAll(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    // The count stopped at the document that failed.
    return make_error(ec::invalid_argument,
                      (count > 0 ? "document " + std::to_string(count + 1) + ": " : "")
                          + "not valid YAML: " + e.msg + " (line "
                          + std::to_string(e.mark.line + 1) + ", column "
                          + std::to_string(e.mark.column + 1) + ")");
  }
  // Empty documents (a stray "---") are skipped, as kubectl does; errors name
  // the document by its place in the stream once there are several.
  std::size_t non_empty = 0;
  for (const auto& node : nodes)
    non_empty += node.IsNull() ? 0 : 1;
  if (non_empty == 0)
    return make_error(ec::invalid_argument, "the manifest is empty");
  if (non_empty > max_yaml_documents)
    return make_error(ec::invalid_argument,
                      "the manifest holds " + std::to_string(non_empty)
                          + " deployments: apply at most "
                          + std::to_string(max_yaml_documents) + " at a time");
  std::vector<deployment_document> docs;
  std::map<std::string, std::size_t> document_of; // deployment name -> its number
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].IsNull())
      continue;
    auto where = [&](error err) {
      if (non_empty > 1)
        err.message = "document " + std::to_string(i + 1) + " (line "
                      + std::to_string(nodes[i].Mark().line + 1) + "): " + err.message;
      return err;
    };
    deployment_document doc;
    try {
      doc = read_document(nodes[i]);
    } catch (const field_error& e) {
      return where(e.err);
    } catch (const YAML::Exception& e) {
      return where(make_error(ec::invalid_argument, "not valid YAML: " + e.msg));
    }
    auto key = doc.is_quotas       ? std::string("quotas:")
               : doc.is_autoscaler ? "autoscaler:" + doc.autoscaler.name
                                   : doc.spec.name;
    if (!doc.is_quotas && !doc.is_autoscaler)
      if (auto st = validate_spec(doc.spec, std::numeric_limits<std::int32_t>::max()); !st)
        return where(st.error_value());
    if (auto [it, fresh] = document_of.try_emplace(key, i + 1); !fresh)
      return where(make_error(ec::invalid_argument,
                              (doc.is_quotas       ? std::string("the quotas")
                               : doc.is_autoscaler ? "autoscaler '" + doc.autoscaler.name + "'"
                                                   : "deployment '" + doc.spec.name + "'")
                                  + (doc.is_quotas ? " are" : " is") + " also document "
                                  + std::to_string(it->second)));
    docs.push_back(std::move(doc));
  }
  return docs;
}

} // namespace volant::cli
