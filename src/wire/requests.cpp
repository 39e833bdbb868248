#include "wire/requests.hpp"

#include "events/validate.hpp"
#include "wire/json.hpp"
#include "wire/request_check.hpp"
#include "wire/manifest.hpp"

#include <algorithm>

namespace volant::wire {

namespace {

using json = nlohmann::json;

expected<std::string> name_arg(const json& args) {
  auto it = args.find("name");
  if (it == args.end() || !it->is_string() || it->get<std::string>().empty())
    return make_error(ec::invalid_argument, "missing argument 'name'");
  return it->get<std::string>();
}

expected<std::int64_t> int_arg(const json& args, const char* key) {
  auto it = args.find(key);
  if (it == args.end() || !it->is_number_integer())
    return make_error(ec::invalid_argument,
                      std::string("argument '") + key + "' must be an integer");
  return it->get<std::int64_t>();
}

/// `secret_env`: [{"key": K, "value": V}, ...], keys valid and unique, each
/// value sealed for `deployment`. Absent: none.
expected<std::vector<sealed_env_var>> secret_env_arg(const json& args,
                                                     const std::string& deployment,
                                                     const seal_fn& seal) {
  std::vector<sealed_env_var> out;
  auto it = args.find("secret_env");
  if (it == args.end() || it->is_null())
    return out;
  if (!it->is_array())
    return make_error(ec::invalid_env, "secret_env must be a list of {key, value}");
  for (std::size_t i = 0; i < it->size(); ++i) {
    const auto& item = (*it)[i];
    auto field = "secret_env[" + std::to_string(i) + "]";
    if (!item.is_object() || !item.contains("key") || !item["key"].is_string()
        || !item.contains("value") || !item["value"].is_string())
      return make_error(ec::invalid_env,
                        field + " must be {key, value} with string key and value");
    auto key = item["key"].get<std::string>();
    if (auto st = validate_env_key(key, "secret_env"); !st)
      return st.error_value();
    for (const auto& have : out)
      if (have.key == key)
        return make_error(ec::invalid_env, "secret_env key '" + key + "' is given twice");
    if (!seal)
      return make_error(ec::io_error, "volantd has no key to seal secret env with");
    auto sealed = seal(deployment, key, item["value"].get<std::string>());
    if (!sealed)
      return sealed.error_value();
    out.push_back({std::move(key), std::move(*sealed)});
  }
  return out;
}

/// `secret_env_remove`: ["KEY", ...].
expected<std::vector<std::string>> secret_remove_arg(const json& args) {
  std::vector<std::string> out;
  auto it = args.find("secret_env_remove");
  if (it == args.end() || it->is_null())
    return out;
  if (!it->is_array())
    return make_error(ec::invalid_env, "secret_env_remove must be a list of keys");
  for (const auto& item : *it) {
    if (!item.is_string())
      return make_error(ec::invalid_env, "secret_env_remove must be a list of keys");
    auto key = item.get<std::string>();
    if (auto st = validate_env_key(key, "secret_env_remove"); !st)
      return st.error_value();
    if (std::find(out.begin(), out.end(), key) == out.end())
      out.push_back(std::move(key));
  }
  return out;
}

expected<command> update_from(const json& args, std::string name, const seal_fn& seal) {
  update_deployment upd;
  upd.name = std::move(name);
  if (auto it = args.find("plugin"); it != args.end() && !it->is_null()) {
    auto ref = it->is_string() ? parse_plugin_ref(it->get<std::string>())
                               : expected<plugin_ref>(make_error(
                                   ec::invalid_argument, "plugin must be NAME[:VERSION]"));
    if (!ref)
      return ref.error_value();
    upd.plugin = *ref;
  }
  for (auto [key, out] : {std::pair{"cpu", &upd.cpu}, {"memory", &upd.memory_mib}})
    if (args.contains(key) && !args[key].is_null()) {
      auto v = int_arg(args, key);
      if (!v)
        return v.error_value();
      *out = *v;
    }
  if (auto it = args.find("labels"); it != args.end() && !it->is_null()) {
    labels l;
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string())
        return make_error(ec::invalid_label, "label '" + k + "' must have a string value");
      l[k] = v.get<std::string>();
    }
    upd.vm_labels = std::move(l);
  }
  if (auto it = args.find("env"); it != args.end() && !it->is_null()) {
    std::vector<env_var> env;
    if (!it->is_array())
      return make_error(ec::invalid_env, "argument 'env' must be an array of {key, value}");
    for (const auto& item : *it) {
      auto key = item.is_object() ? item.find("key") : item.end();
      auto value = item.is_object() ? item.find("value") : item.end();
      if (!item.is_object() || key == item.end() || !key->is_string()
          || (value != item.end() && !value->is_string()))
        return make_error(ec::invalid_env,
                          "argument 'env': entries must be {key: string, value: string}");
      env.push_back({key->get<std::string>(),
                     value == item.end() ? std::string{} : value->get<std::string>()});
    }
    upd.env = std::move(env);
  }
  if (auto it = args.find("auto_restart"); it != args.end() && !it->is_null()) {
    if (!it->is_boolean())
      return make_error(ec::invalid_argument, "auto_restart must be true or false");
    upd.auto_restart = it->get<bool>();
  }
  for (auto [key, out] :
       {std::pair{"health", &upd.health}, {"readiness", &upd.readiness}})
    if (auto it = args.find(key); it != args.end() && !it->is_null()) {
      auto hc = health_from_json(*it, key);
      if (!hc)
        return hc.error_value();
      *out = *hc;
    }
  if (auto it = args.find("strategy"); it != args.end() && !it->is_null()) {
    auto strategy = strategy_from_json(*it);
    if (!strategy)
      return strategy.error_value();
    upd.strategy = *strategy;
  }
  if (auto it = args.find("volumes"); it != args.end() && !it->is_null()) {
    auto volumes = volumes_from_json(*it);
    if (!volumes)
      return volumes.error_value();
    upd.volumes = std::move(*volumes);
  }
  if (auto it = args.find("quota"); it != args.end() && !it->is_null())
    upd.quota = it->get<std::string>();
  if (auto it = args.find("rollout_paused"); it != args.end() && !it->is_null()) {
    if (!it->is_boolean())
      return make_error(ec::invalid_argument, "rollout_paused must be true or false");
    upd.rollout_paused = it->get<bool>();
  }
  auto removed = secret_remove_arg(args);
  if (!removed)
    return removed.error_value();
  upd.secret_env_remove = std::move(*removed);
  auto secrets = secret_env_arg(args, upd.name, seal);
  if (!secrets)
    return secrets.error_value();
  upd.secret_env_set = std::move(*secrets);
  return command{std::move(upd)};
}

} // namespace

expected<decoded_request> decode_request(const std::string& verb,
                                         std::string_view args_text,
                                         std::size_t max_bytes, const seal_fn& seal) {
  auto args = check_request(verb, args_text, max_bytes);
  if (!args)
    return args.error_value();
  decoded_request out{verb, std::move(*args), std::nullopt};
  if (is_mutation(verb)) {
    // check_request checked every argument's kind; a value it cannot see
    // into (a spec, a manifest, a strategy) is decoded here, and a decoding
    // step that throws is still one error.
    try {
      auto cmd = command_from_request(verb, out.args, seal);
      if (!cmd)
        return cmd.error_value();
      out.cmd = std::move(*cmd);
    } catch (const std::exception& e) {
      return make_error(ec::invalid_argument,
                        "request '" + verb + "': malformed arguments (" + e.what() + ")");
    }
  }
  return out;
}

bool is_mutation(const std::string& verb) {
  return verb == "plugins.install" || verb == "plugins.remove" || verb == "vms.delete"
         || verb == "lb.create" || verb == "lb.switch" || verb == "lb.delete"
         || verb == "volumes.delete" || verb == "quotas.apply" || verb == "hpa.apply"
         || verb == "hpa.delete" || verb == "hosts.drain"
         || (verb.rfind("deployments.", 0) == 0 && verb != "deployments.list"
             && verb != "deployments.show"
             // composed by the api from the journal (events/undo.hpp)
             && verb != "deployments.undo");
}

expected<command> command_from_request(const std::string& verb, const json& args,
                                       const seal_fn& seal) {
  if (verb == "plugins.install") {
    auto it = args.find("manifest");
    if (it == args.end())
      return make_error(ec::invalid_argument, "missing argument 'manifest'");
    auto m = parse_manifest(it->dump());
    if (!m)
      return m.error_value();
    return command{install_plugin{std::move(*m)}};
  }
  if (verb == "deployments.create") {
    auto it = args.find("spec");
    if (it == args.end())
      return make_error(ec::invalid_argument, "missing argument 'spec'");
    auto spec = spec_from_json(*it);
    if (!spec)
      return spec.error_value();
    // Sealed values only ever come from this daemon's own sealing below.
    if (!spec->tmpl.secret_env.empty())
      return make_error(ec::invalid_env,
                        "spec.tmpl.secret_env: give secret env as the request's "
                        "secret_env [{key, value}] (volantd seals it)");
    auto secrets = secret_env_arg(args, spec->name, seal);
    if (!secrets)
      return secrets.error_value();
    spec->tmpl.secret_env = std::move(*secrets);
    return command{create_deployment{std::move(*spec)}};
  }
  if (verb == "hpa.apply") {
    auto spec = autoscaler_from_json(args["spec"]);
    if (!spec)
      return spec.error_value();
    return command{set_autoscaler{std::move(*spec)}};
  }
  if (verb == "quotas.apply") {
    set_quotas cmd{{}, "apply", true};
    for (const auto& item : args["quotas"]) {
      auto q = quota_from_json(item);
      if (!q)
        return q.error_value();
      cmd.quotas.push_back(std::move(*q));
    }
    return command{std::move(cmd)};
  }
  auto name = name_arg(args);
  if (!name)
    return name.error_value();
  if (verb == "plugins.remove") {
    auto version = args.find("version");
    if (version != args.end() && !version->is_string())
      return make_error(ec::invalid_argument, "argument 'version' must be a string");
    return command{remove_plugin{
      *name, version == args.end() ? std::string{} : version->get<std::string>()}};
  }
  if (verb == "deployments.scale") {
    auto n = int_arg(args, "replicas");
    if (!n)
      return n.error_value();
    scale_deployment cmd{*name, *n, {}};
    if (auto it = args.find("remove"); it != args.end()) {
      if (!it->is_array())
        return make_error(ec::invalid_argument, "argument 'remove' is not a list of VM names");
      for (const auto& vm : *it) {
        if (!vm.is_string())
          return make_error(ec::invalid_argument,
                            "argument 'remove' is not a list of VM names");
        cmd.remove.push_back(vm.get<std::string>());
      }
    }
    return command{std::move(cmd)};
  }
  if (verb == "deployments.update")
    return update_from(args, *name, seal);
  if (verb == "deployments.pause")
    return command{pause_deployment{*name}};
  if (verb == "deployments.resume")
    return command{resume_deployment{*name}};
  if (verb == "deployments.delete")
    return command{delete_deployment{*name, args.value("purge_volumes", false)}};
  if (verb == "vms.delete")
    return command{delete_vm{*name}};
  if (verb == "volumes.delete")
    return command{delete_volume{*name}};
  if (verb == "hpa.delete")
    return command{delete_autoscaler{*name}};
  if (verb == "hosts.drain")
    return command{drain_host{*name}};
  if (verb == "lb.create") {
    lb_spec spec;
    spec.name = *name;
    spec.deployment = args.value("deployment", std::string{});
    spec.port = static_cast<std::uint16_t>(args.value("port", 80));
    spec.listen = args.value("listen", std::string{});
    auto algorithm = args.value("algorithm", std::string{"round-robin"});
    bool known = false;
    for (auto a : {lb_algorithm::round_robin, lb_algorithm::least_conn, lb_algorithm::source})
      if (algorithm == to_string(a)) {
        spec.algorithm = a;
        known = true;
      }
    if (!known)
      return make_error(ec::invalid_argument,
                        "algorithm '" + algorithm
                            + "' is unknown: round-robin, least-conn or source");
    spec.health_check = args.value("health_check", true);
    spec.health_path = args.value("health_path", std::string{});
    spec.target_port = static_cast<std::uint16_t>(args.value("target_port", 0));
    spec.drain_timeout_ms = static_cast<std::uint32_t>(
        args.value("drain_timeout_ms", std::int64_t{spec.drain_timeout_ms}));
    return command{create_lb{std::move(spec)}};
  }
  if (verb == "lb.switch")
    return command{switch_lb{*name, args.value("to", std::string{}),
                             args.value("require_all_ready", false),
                             args.value("create", false)}};
  if (verb == "lb.delete")
    return command{delete_lb{*name}};
  return make_error(ec::invalid_argument, "unknown request '" + verb + "'");
}

json redact_request(const json& args) {
  auto out = args;
  auto mask = [](json& list) {
    if (list.is_array())
      for (auto& item : list)
        if (item.is_object() && item.contains("value"))
          item["value"] = std::string(secret_mask);
  };
  if (!out.is_object())
    return out;
  if (auto it = out.find("secret_env"); it != out.end())
    mask(*it);
  // Refused there, but a client may have put values in the spec by mistake.
  if (auto spec = out.find("spec"); spec != out.end() && spec->is_object())
    if (auto tmpl = spec->find("tmpl"); tmpl != spec->end() && tmpl->is_object())
      if (auto it = tmpl->find("secret_env"); it != tmpl->end())
        mask(*it);
  return out;
}

std::pair<std::string, json> reply_query(const std::string& verb, const json& args) {
  if (verb == "deployments.create")
    return {"deployments.show", {{"name", args["spec"].value("name", std::string{})}}};
  if (verb == "deployments.delete" || verb == "plugins.remove")
    return {"", json::object()};
  if (verb == "plugins.install")
    return {"", json::object()};
  if (verb == "vms.delete")
    return {"vms.show", {{"name", args.value("name", std::string{})}}};
  if (verb == "lb.create" || verb == "lb.switch")
    return {"lb.show", {{"name", args.value("name", std::string{})}}};
  if (verb == "hpa.apply")
    return {"hpa.show", {{"name", args["spec"].value("name", std::string{})}}};
  if (verb == "lb.delete" || verb == "volumes.delete" || verb == "hpa.delete")
    return {"", json::object()};
  if (verb == "quotas.apply")
    return {"quotas.list", json::object()};
  if (verb == "hosts.drain")
    return {"hosts.list", json::object()};
  return {"deployments.show", {{"name", args.value("name", std::string{})}}};
}

} // namespace volant::wire
