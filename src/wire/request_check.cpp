#include "wire/request_check.hpp"

#include "events/limits.hpp"
#include "events/validate.hpp"
#include "wire/json.hpp"

#include <algorithm>
#include <limits>

namespace volant::wire {

namespace {

using json = nlohmann::json;

constexpr std::int64_t int_max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t int_min = std::numeric_limits<std::int64_t>::min();
constexpr std::size_t default_text_bytes = 256;

std::vector<verb_rule> make_table() {
  using k = arg_kind;
  arg_rule name_of_deployment{"name", k::deployment, true};
  return {
      {"ping", {}},
      {"plugins.install", {{"manifest", k::manifest, true}}},
      {"plugins.list", {}},
      {"plugins.progress", {{"name", k::plugin, true}, {"from", k::integer, false, 0, int_max}}},
      {"plugins.show", {{"name", k::plugin, true}, {"version", k::version}}},
      {"plugins.remove", {{"name", k::plugin, true}, {"version", k::version}}},
      {"deployments.create", {{"spec", k::spec, true}, {"secret_env", k::env_list}}},
      {"deployments.scale",
       {name_of_deployment,
        {"replicas", k::integer, true, int_min, int_max},
        {"remove", k::vm_list}}},
      {"deployments.update",
       {name_of_deployment,
        {"plugin", k::text, false, 0, 0, true},
        {"cpu", k::integer, false, int_min, int_max, true},
        {"memory", k::integer, false, int_min, int_max, true},
        {"labels", k::label_map, false, 0, 0, true},
        {"env", k::env_list, false, 0, 0, true},
        {"secret_env", k::env_list, false, 0, 0, true},
        {"secret_env_remove", k::key_list, false, 0, 0, true},
        {"auto_restart", k::boolean, false, 0, 0, true},
        {"health", k::object, false, 0, 0, true},
        {"readiness", k::object, false, 0, 0, true},
        {"strategy", k::object, false, 0, 0, true},
        {"rollout_paused", k::boolean, false, 0, 0, true},
        {"volumes", k::list, false, 0, 0, true},
        {"quota", k::text, false, 0, 64, true}}},
      {"deployments.pause", {name_of_deployment}},
      {"deployments.undo", {name_of_deployment, {"to_revision", k::integer, false, 1, int_max}}},
      {"deployments.resume", {name_of_deployment}},
      {"deployments.delete", {name_of_deployment, {"purge_volumes", k::boolean}}},
      {"volumes.list", {{"deployment", k::deployment}}},
      {"volumes.delete", {{"name", k::text, true, 0, 512}}},
      {"quotas.list", {}},
      {"hosts.list", {}},
      {"hosts.drain", {{"name", k::text, true, 0, 253}}},
      {"hpa.apply", {{"spec", k::object, true}}},
      {"hpa.list", {}},
      {"hpa.show", {{"name", k::text, true, 0, 64}}},
      {"hpa.delete", {{"name", k::text, true, 0, 64}}},
      {"quotas.show", {{"name", k::text, true, 0, 64}}},
      {"quotas.apply", {{"quotas", k::list, true}}},
      {"deployments.list", {}},
      {"deployments.show",
       {name_of_deployment, {"events", k::integer, false, 0, 10000}}},
      {"vms.list",
       {{"deployment", k::deployment},
        {"labels", k::label_map},
        {"usage", k::boolean}}},
      {"vms.show", {{"name", k::vm, true}}},
      {"vms.delete", {{"name", k::vm, true}}},
      {"vms.logs",
       {{"name", k::vm, true},
        {"offset", k::integer, false, 0, int_max},
        {"max", k::integer, false, 0,
         static_cast<std::int64_t>(max_log_chunk_bytes)}}},
      {"lb.create",
       {{"name", k::deployment, true},
        {"deployment", k::deployment, true},
        {"port", k::integer, true, 1, 65535},
        {"listen", k::text, false, 0, 64},
        {"algorithm", k::text, false, 0, 32},
        {"health_check", k::boolean},
        {"health_path", k::text, false, 0, 1024},
        {"target_port", k::integer, false, 1, 65535},
        {"drain_timeout_ms", k::integer, false, 0, 3'600'000}}},
      {"lb.switch",
       {{"name", k::deployment, true},
        {"to", k::deployment, true},
        {"require_all_ready", k::boolean},
        {"create", k::boolean}}},
      {"lb.delete", {{"name", k::deployment, true}}},
      {"lb.list", {}},
      {"lb.show", {{"name", k::deployment, true}}},
      {"debug.resources", {}},
      {"debug.crash", {{"actor", k::actor, true}}},
      {"debug.drop_reply", {{"verb", k::text, true, 0, 64}, {"count", k::integer, false, 1, 1000}}},
      {"events",
       {{"from", k::integer, false, 0, int_max},
        {"aggregate", k::text},
        {"limit", k::integer, false, 0, int_max},
        {"wait_ms", k::integer, false, 0, 60000}}},
      {"shell.ls", {{"kind", k::ls_kind}}},
      {"shell.inspect", {{"name", k::actor, true}}},
      {"shell.state",
       {{"name", k::subject},
        {"at_seq", k::integer, false, 0, int_max},
        {"at_time", k::time}}},
      {"shell.explain", {{"name", k::subject, true}}},
      {"credentials.show", {}},
      {"credentials.export",
       {{"name", k::text, false, 0, 64}, {"days", k::integer, false, 1, 3650}}},
      {"credentials.revoke", {{"serial", k::integer, true, 0, int_max}}},
      {"credentials.rotate", {}},
  };
}

std::string arg_label(std::string_view key) {
  return "argument '" + std::string(key) + "'";
}

error bad(std::string_view key, const std::string& what,
          ec code = ec::invalid_argument) {
  return make_error(code, arg_label(key) + " " + what);
}

/// What a JSON value is, for "must be X, got Y".
std::string type_of(const json& v) {
  if (v.is_null())
    return "null";
  if (v.is_boolean())
    return "a boolean";
  if (v.is_number_integer())
    return "an integer";
  if (v.is_number())
    return "a number";
  if (v.is_string())
    return "a string";
  if (v.is_array())
    return "an array";
  return "an object";
}

error wrong_type(std::string_view key, const json& v, std::string_view want) {
  return bad(key, "must be " + std::string(want) + ", got " + type_of(v));
}

bool printable(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

/// A name by `validate_name`'s rules, or KIND/NAME for an actor.
status check_name(std::string_view key, const std::string& s, arg_kind kind) {
  std::string_view what = kind == arg_kind::vm           ? "VM name"
                          : kind == arg_kind::plugin     ? "plugin name"
                          : kind == arg_kind::actor      ? "actor name"
                          : kind == arg_kind::deployment ? "deployment name"
                                                         : "name";
  auto refuse = [&](const error& e) {
    // A name with control characters is shown escaped, not as the raw bytes.
    if (!printable(s))
      return make_error(
          ec::invalid_name,
          arg_label(key) + ": " + std::string(what) + " " + shown(s)
              + " contains a control character (allowed: a-z, 0-9 and '-')");
    return make_error(e.code, arg_label(key) + ": " + e.message);
  };
  if (kind == arg_kind::deployment) {
    if (auto st = validate_deployment_name(s); !st)
      return refuse(st.error_value());
    return ok();
  }
  std::string_view rest = s;
  if (kind == arg_kind::actor) {
    if (auto slash = rest.find('/'); slash != std::string_view::npos) {
      if (auto st = validate_name(rest.substr(0, slash), "actor kind"); !st)
        return refuse(st.error_value());
      rest.remove_prefix(slash + 1);
    }
  }
  // A rolling update's surge VM: "<slot name>@<revision>".
  if (auto at = rest.find('@');
      at != std::string_view::npos && (kind == arg_kind::vm || kind == arg_kind::actor)) {
    auto revision = rest.substr(at + 1);
    if (revision.empty() || revision.size() > 19
        || revision.find_first_not_of("0123456789") != std::string_view::npos)
      return make_error(ec::invalid_name, arg_label(key) + ": " + std::string(what) + " "
                                              + shown(s)
                                              + " must end in @<revision number> after '@'");
    rest = rest.substr(0, at);
  }
  if (auto st = validate_name(rest, what); !st)
    return refuse(st.error_value());
  return ok();
}

status check_labels(std::string_view key, const json& v) {
  if (!v.is_object())
    return wrong_type(key, v, "an object of label values");
  labels out;
  for (const auto& [k, value] : v.items()) {
    if (!value.is_string())
      return bad(key,
                 "label " + shown(k) + " must have a string value, got "
                     + type_of(value),
                 ec::invalid_label);
    if (out.size() >= max_labels)
      return bad(key,
                 "has more than " + std::to_string(max_labels)
                     + " labels: at most " + std::to_string(max_labels)
                     + " per object",
                 ec::invalid_label);
    out.emplace(k, value.get<std::string>());
  }
  if (auto st = validate_labels(out); !st)
    return make_error(st.error_value().code,
                      arg_label(key) + ": " + st.error_value().message);
  return ok();
}

status check_env(std::string_view key, const json& v) {
  if (!v.is_array())
    return wrong_type(key, v, "an array of {key, value}");
  for (std::size_t i = 0; i < v.size(); ++i) {
    auto item_key = std::string(key) + "[" + std::to_string(i) + "]";
    const auto& item = v[i];
    if (!item.is_object())
      return wrong_type(item_key, item, "an object {key, value}");
    auto k = item.find("key");
    if (k == item.end())
      return bad(item_key + ".key", "is missing");
    if (!k->is_string())
      return wrong_type(item_key + ".key", *k, "a string");
    if (auto val = item.find("value"); val != item.end() && !val->is_string())
      return wrong_type(item_key + ".value", *val, "a string");
  }
  return ok();
}

status check_integer(const arg_rule& r, const json& v) {
  auto range
      = "an integer " + std::to_string(r.min) + ".." + std::to_string(r.max);
  if (!v.is_number_integer())
    return wrong_type(r.key, v, range);
  // Non-negative integers parse as unsigned, and may exceed int64's range.
  bool in_range
      = v.is_number_unsigned()
            ? v.get<std::uint64_t>() <= static_cast<std::uint64_t>(r.max)
                  && (r.min <= 0
                      || v.get<std::uint64_t>()
                             >= static_cast<std::uint64_t>(r.min))
            : v.get<std::int64_t>() >= r.min && v.get<std::int64_t>() <= r.max;
  if (!in_range)
    return bad(r.key, "must be " + range + ", got " + v.dump());
  return ok();
}

status check_arg(const arg_rule& r, const json& v) {
  using k = arg_kind;
  switch (r.kind) {
  case k::deployment:
  case k::vm:
  case k::plugin:
  case k::subject:
  case k::actor:
    if (!v.is_string())
      return wrong_type(r.key, v, "a string");
    return check_name(r.key, v.get<std::string>(), r.kind);
  case k::version: {
    if (!v.is_string())
      return wrong_type(r.key, v, "a string");
    auto st = validate_plugin_ref({"x", v.get<std::string>()});
    if (!st || v.get<std::string>().empty())
      return bad(
          r.key,
          shown(v.get<std::string>())
              + " is not a version (1-128 characters of [A-Za-z0-9._+-])");
    return ok();
  }
  case k::text: {
    if (!v.is_string())
      return wrong_type(r.key, v, "a string");
    const auto& s = v.get_ref<const std::string&>();
    auto limit
        = r.max > 0 ? static_cast<std::size_t>(r.max) : default_text_bytes;
    if (s.size() > limit)
      return bad(r.key, "is " + std::to_string(s.size()) + " bytes: at most "
                            + std::to_string(limit));
    if (!printable(s))
      return bad(r.key, shown(s) + " contains a control character");
    return ok();
  }
  case k::integer:
    return check_integer(r, v);
  case k::boolean:
    if (!v.is_boolean())
      return wrong_type(r.key, v, "true or false");
    return ok();
  case k::object:
    if (!v.is_object())
      return wrong_type(r.key, v, "an object");
    return ok();
  case k::list:
    if (!v.is_array())
      return wrong_type(r.key, v, "a list");
    if (v.size() > 1024)
      return bad(r.key, "has more than 1024 entries");
    return ok();
  case k::manifest: {
    if (!v.is_object())
      return wrong_type(r.key, v, "an object (the manifest JSON)");
    auto size = v.dump().size();
    if (size > max_manifest_bytes)
      return bad(r.key,
                 "is " + describe_bytes(size) + ": at most "
                     + describe_bytes(max_manifest_bytes),
                 ec::invalid_manifest);
    return ok();
  }
  case k::spec: {
    if (!v.is_object())
      return wrong_type(r.key, v, "an object (the deployment spec)");
    auto name = v.find("name");
    if (name == v.end())
      return bad("spec.name", "is missing");
    if (!name->is_string())
      return wrong_type("spec.name", *name, "a string");
    if (auto st
        = check_name("spec.name", name->get<std::string>(), k::deployment);
        !st)
      return st;
    if (auto t = v.find("tmpl"); t != v.end() && t->is_object())
      if (auto l = t->find("vm_labels"); l != t->end())
        return check_labels("spec.tmpl.vm_labels", *l);
    return ok();
  }
  case k::label_map:
    return check_labels(r.key, v);
  case k::env_list:
    return check_env(r.key, v);
  case k::time:
    if (!v.is_string())
      return wrong_type(r.key, v, "a string");
    if (!parse_time(v.get<std::string>()))
      return bad(r.key,
                 shown(v.get<std::string>()) + " is not an RFC 3339 UTC time");
    return ok();
  case k::vm_list: {
    if (!v.is_array())
      return wrong_type(r.key, v, "a list of VM names");
    if (v.size() > max_labels)
      return bad(r.key, "names " + std::to_string(v.size()) + " VMs: at most "
                          + std::to_string(max_labels));
    for (std::size_t i = 0; i < v.size(); ++i) {
      auto key = std::string(r.key) + "[" + std::to_string(i) + "]";
      if (!v[i].is_string())
        return wrong_type(key, v[i], "a string");
      if (auto st = check_name(key, v[i].get<std::string>(), k::vm); !st)
        return st;
    }
    return ok();
  }
  case k::key_list: {
    constexpr std::size_t max_keys = 1024;
    if (!v.is_array())
      return wrong_type(r.key, v, "a list of env keys");
    if (v.size() > max_keys)
      return bad(r.key, "names " + std::to_string(v.size()) + " keys: at most "
                          + std::to_string(max_keys));
    for (std::size_t i = 0; i < v.size(); ++i) {
      auto key = std::string(r.key) + "[" + std::to_string(i) + "]";
      if (!v[i].is_string())
        return wrong_type(key, v[i], "a string");
      if (v[i].get<std::string>().size() > default_text_bytes
          || !printable(v[i].get<std::string>()))
        return bad(key, "is not an env key");
    }
    return ok();
  }
  case k::ls_kind: {
    if (!v.is_string())
      return wrong_type(r.key, v, "a string");
    auto s = v.get<std::string>();
    if (s != "deployments" && s != "vms" && s != "probes" && s != "system")
      return bad(r.key,
                 shown(s)
                     + " is not one of deployments, vms, probes or system");
    return ok();
  }
  }
  return ok();
}

/// The deepest nesting of arrays and objects in `text` (JSON or not), without
/// parsing it: a deep document would exhaust the stack of whatever walks it.
int nesting(std::string_view text) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '[' || c == '{')
      deepest = std::max(deepest, ++depth);
    else if (c == ']' || c == '}')
      --depth;
  }
  return deepest;
}

} // namespace

std::string shown(std::string_view text) {
  return json(std::string(text))
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

const std::vector<verb_rule>& request_table() {
  static const std::vector<verb_rule> table = make_table();
  return table;
}

expected<json> check_request(std::string_view verb, std::string_view args_text,
                             std::size_t max_bytes) {
  auto size = verb.size() + args_text.size();
  if (size > max_bytes)
    return make_error(ec::invalid_argument,
                      "the request is " + describe_bytes(size) + ": at most "
                          + describe_bytes(max_bytes)
                          + " (volantd --max-request-bytes)");
  const auto& table = request_table();
  auto rule = std::find_if(table.begin(), table.end(),
                           [&](const verb_rule& r) { return r.verb == verb; });
  if (rule == table.end())
    return make_error(ec::invalid_argument,
                      "unknown request " + shown(verb)
                          + " (docs/protocol.md lists the verbs)");
  if (nesting(args_text) > max_request_depth)
    return make_error(ec::invalid_argument,
                      "request arguments nest deeper than "
                          + std::to_string(max_request_depth) + " levels");
  auto args = json::parse(args_text, nullptr, false);
  if (args.is_discarded() || !args.is_object())
    return make_error(ec::invalid_argument,
                      "request arguments are not a JSON object");
  for (const auto& r : rule->args) {
    auto it = args.find(std::string(r.key));
    if (it == args.end() || (it->is_null() && r.nullable)) {
      if (r.required)
        return make_error(ec::invalid_argument, "missing " + arg_label(r.key));
      continue;
    }
    if (auto st = check_arg(r, *it); !st)
      return st.error_value();
  }
  return args;
}

} // namespace volant::wire
