#include "events/launch.hpp"

#include "events/events.hpp"

#include <algorithm>

namespace volant {

std::vector<env_var> workload_vars(const vm_record& vm, const std::string& vm_dir) {
  return {{"VOLANT_IP", to_string_ip(vm.ip)},
          {"VOLANT_VM_NAME", vm.name},
          {"VOLANT_INDEX", std::to_string(vm.index)},
          {"VOLANT_DEPLOYMENT", vm.deployment},
          {"VOLANT_VM_DIR", vm_dir},
          {"VOLANT_CPU", std::to_string(vm.cpu)},
          {"VOLANT_MEMORY_MIB", std::to_string(vm.memory_mib)}};
}

std::string substitute(std::string_view text, const std::vector<env_var>& vars) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") == 0) {
      auto close = text.find('}', i + 2);
      if (close != std::string_view::npos) {
        auto name = text.substr(i + 2, close - i - 2);
        auto it = std::find_if(vars.begin(), vars.end(),
                               [&](const env_var& v) { return v.key == name; });
        if (it != vars.end()) {
          out += it->value;
          i = close + 1;
          continue;
        }
      }
    }
    out += text[i++];
  }
  return out;
}

launch_command plan_launch(const plugin_manifest& plugin, const vm_template& tmpl,
                           const vm_record& vm, const std::string& vm_dir,
                           const std::vector<env_var>& secrets) {
  auto vars = workload_vars(vm, vm_dir);
  launch_command cmd;
  for (const auto& arg : plugin.workload.entrypoint)
    cmd.argv.push_back(substitute(arg, vars));
  auto set = [&](const env_var& v) {
    auto value = substitute(v.value, vars);
    auto it = std::find_if(cmd.env.begin(), cmd.env.end(),
                           [&](const env_var& e) { return e.key == v.key; });
    if (it != cmd.env.end())
      it->value = std::move(value);
    else
      cmd.env.push_back({v.key, std::move(value)});
  };
  for (const auto& v : plugin.workload.env)
    set(v);
  for (const auto& v : tmpl.env)
    set(v);
  for (const auto& v : vars)
    set(v);
  auto named = [](const std::vector<env_var>& list, const std::string& key) {
    return std::any_of(list.begin(), list.end(),
                       [&](const env_var& e) { return e.key == key; });
  };
  for (const auto& v : secrets) {
    if (named(vars, v.key) || named(cmd.secret_env, v.key))
      continue;
    std::erase_if(cmd.env, [&](const env_var& e) { return e.key == v.key; });
    cmd.secret_env.push_back(v);
  }
  return cmd;
}

} // namespace volant
