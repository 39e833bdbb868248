#include "wire/requests.hpp"

#include "events/validate.hpp"
#include "wire/json.hpp"
#include "wire/manifest.hpp"

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

expected<command> update_from(const json& args, std::string name) {
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
  if (auto it = args.find("health"); it != args.end() && !it->is_null()) {
    auto hc = health_from_json(*it);
    if (!hc)
      return hc.error_value();
    upd.health = *hc;
  }
  if (auto it = args.find("strategy"); it != args.end() && !it->is_null()) {
    auto strategy = strategy_from_json(*it);
    if (!strategy)
      return strategy.error_value();
    upd.strategy = *strategy;
  }
  return command{std::move(upd)};
}

} // namespace

bool is_mutation(const std::string& verb) {
  return verb == "plugins.install" || verb == "plugins.remove" || verb == "vms.delete"
         || (verb.rfind("deployments.", 0) == 0 && verb != "deployments.list"
             && verb != "deployments.show");
}

expected<command> command_from_request(const std::string& verb, const json& args) {
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
    return command{create_deployment{std::move(*spec)}};
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
    return update_from(args, *name);
  if (verb == "deployments.pause")
    return command{pause_deployment{*name}};
  if (verb == "deployments.resume")
    return command{resume_deployment{*name}};
  if (verb == "deployments.delete")
    return command{delete_deployment{*name}};
  if (verb == "vms.delete")
    return command{delete_vm{*name}};
  return make_error(ec::invalid_argument, "unknown request '" + verb + "'");
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
  return {"deployments.show", {{"name", args.value("name", std::string{})}}};
}

} // namespace volant::wire
