#include "cli/history.hpp"

#include "wire/table.hpp"

#include <map>

namespace volant::cli {

using json = nlohmann::json;

namespace {

std::string plugin_text(const json& t) {
  auto p = t.value("plugin", json::object());
  auto name = p.value("name", std::string{});
  auto version = p.value("version", std::string{});
  return version.empty() ? name : name + ":" + version;
}

/// key -> value of an env list ([{key, value}]) or of sealed secrets ([{key, sealed}]).
std::map<std::string, std::string> pairs(const json& list, const char* value_key) {
  std::map<std::string, std::string> out;
  if (list.is_array())
    for (const auto& e : list)
      if (e.is_object())
        out[e.value("key", std::string{})] = e.value(value_key, std::string{});
  return out;
}

std::map<std::string, std::string> label_map(const json& labels) {
  std::map<std::string, std::string> out;
  if (labels.is_object())
    for (const auto& [k, v] : labels.items())
      out[k] = v.is_string() ? v.get<std::string>() : v.dump();
  else if (labels.is_array()) // [[key, value], ...]
    for (const auto& kv : labels)
      if (kv.is_array() && kv.size() == 2)
        out[kv[0].get<std::string>()] = kv[1].is_string() ? kv[1].get<std::string>() : kv[1].dump();
  return out;
}

/// "+K=V", "-K", "K=A->B" for each difference; secrets only by key.
void diff_pairs(std::vector<std::string>& out, const std::string& what,
                const std::map<std::string, std::string>& a,
                const std::map<std::string, std::string>& b, bool secret) {
  std::string parts;
  auto add = [&](const std::string& p) { parts += (parts.empty() ? "" : " ") + p; };
  for (const auto& [k, v] : b) {
    auto it = a.find(k);
    if (it == a.end())
      add("+" + k + (secret ? "" : "=" + v));
    else if (it->second != v)
      add(k + (secret ? " changed" : "=" + it->second + "->" + v));
  }
  for (const auto& [k, v] : a)
    if (!b.count(k))
      add("-" + k);
  if (!parts.empty())
    out.push_back(what + " " + parts);
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts)
    out += (out.empty() ? "" : ", ") + p;
  return out;
}

} // namespace

std::string describe_change(const json& before, const json& after) {
  std::vector<std::string> out;
  if (before.is_null()) {
    out.push_back("created: plugin " + plugin_text(after));
    out.push_back("cpu " + std::to_string(after.value("cpu", 0)));
    out.push_back("memory " + std::to_string(after.value("memory_mib", 0)) + " MiB");
    return join(out);
  }
  if (plugin_text(before) != plugin_text(after))
    out.push_back("plugin " + plugin_text(before) + " -> " + plugin_text(after));
  if (before.value("cpu", 0) != after.value("cpu", 0))
    out.push_back("cpu " + std::to_string(before.value("cpu", 0)) + " -> "
                  + std::to_string(after.value("cpu", 0)));
  if (before.value("memory_mib", 0) != after.value("memory_mib", 0))
    out.push_back("memory " + std::to_string(before.value("memory_mib", 0)) + " -> "
                  + std::to_string(after.value("memory_mib", 0)) + " MiB");
  diff_pairs(out, "env", pairs(before.value("env", json::array()), "value"),
             pairs(after.value("env", json::array()), "value"), false);
  diff_pairs(out, "secret env", pairs(before.value("secret_env", json::array()), "sealed"),
             pairs(after.value("secret_env", json::array()), "sealed"), true);
  diff_pairs(out, "labels", label_map(before.value("vm_labels", json::object())),
             label_map(after.value("vm_labels", json::object())), false);
  if (before.value("volumes", json::array()) != after.value("volumes", json::array()))
    out.push_back("volumes");
  if (before.value("health", json()) != after.value("health", json()))
    out.push_back("health check");
  if (before.value("readiness", json()) != after.value("readiness", json()))
    out.push_back("readiness check");
  return out.empty() ? "no change" : join(out);
}

std::vector<revision> revisions_of(const json& events) {
  std::vector<revision> revs;
  if (!events.is_array())
    return revs;
  for (const auto& e : events) {
    auto kind = e.value("event", std::string{});
    auto fields = e.value("fields", json::object());
    if (kind == "deployment_created") {
      revs.clear();
      auto tmpl = fields.value("spec", json::object()).value("tmpl", json::object());
      revs.push_back({fields.value("revision", std::uint64_t{1}), e.value("at", std::string{}), tmpl,
                      describe_change(json(), tmpl), false});
    } else if (kind == "deployment_updated" && !revs.empty()) {
      auto number = fields.value("revision", revs.back().number + 1);
      if (number == revs.back().number)
        continue; // the strategy only (rollout pause, --max-surge): no revision
      auto tmpl = fields.value("tmpl", json::object());
      auto change = describe_change(revs.back().tmpl, tmpl);
      bool in_place = fields.value("in_place", false);
      if (auto why = fields.value("reason", std::string{}); !why.empty())
        change += " (" + why + ")";
      revs.push_back({number, e.value("at", std::string{}), tmpl,
                      change + (in_place ? " (in place)" : ""), in_place});
    } else if (kind == "deployment_deleted") {
      revs.clear();
    }
  }
  return revs;
}

std::string render_history(const std::vector<revision>& revs, std::size_t keep) {
  wire::table t({"REVISION", "CREATED", "CHANGE"});
  std::size_t first = revs.size() > keep ? revs.size() - keep : 0;
  for (std::size_t i = first; i < revs.size(); ++i)
    t.add_row({std::to_string(revs[i].number), revs[i].at, revs[i].change});
  auto out = t.render();
  if (first > 0)
    out += "(" + std::to_string(first) + " older revision" + (first == 1 ? "" : "s")
           + " not shown: --all)\n";
  return out;
}

} // namespace volant::cli
