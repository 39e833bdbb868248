#include "actors/queries.hpp"

#include "events/validate.hpp"
#include "wire/json.hpp"
#include "wire/manifest.hpp"
#include "wire/views.hpp"

#include <deque>

namespace volant {

namespace {

using json = nlohmann::json;

expected<std::string> string_arg(const json& args, const char* key) {
  auto it = args.find(key);
  if (it == args.end() || !it->is_string() || it->get<std::string>().empty())
    return make_error(ec::invalid_argument, std::string("missing argument '") + key + "'");
  return it->get<std::string>();
}

/// The last `limit` events about deployment `name` or its VMs.
json recent_events(const daemon_context& ctx, const std::string& name,
                   std::size_t limit) {
  std::deque<json> kept;
  auto last = ctx.store->last_seq();
  auto from = last > 5000 ? last - 5000 : 1;
  auto prefix = name + "-";
  (void) ctx.store->read(from, store::max_seq, [&](const recorded_event& rec) {
    auto agg = aggregate_of(rec.ev);
    bool mine = (agg.kind == aggregate_kind::deployment && agg.id == name)
                || (agg.kind == aggregate_kind::vm && agg.id.rfind(prefix, 0) == 0
                    && agg.id.find('-', prefix.size()) == std::string::npos);
    if (mine) {
      kept.push_back(wire::to_json(rec));
      if (kept.size() > limit)
        kept.pop_front();
    }
    return true;
  });
  return json(std::vector<json>(kept.begin(), kept.end()));
}

expected<const deployment_state*> find_deployment(const world& w, const json& args) {
  auto name = string_arg(args, "name");
  if (!name)
    return name.error_value();
  auto it = w.deployments.find(*name);
  if (it == w.deployments.end())
    return make_error(ec::unknown_deployment, "deployment '" + *name + "' not found");
  return &it->second;
}

expected<json> answer(const world& w, const daemon_context& ctx, const std::string& verb,
                      const json& args) {
  if (verb == "ping")
    return json{{"version", ctx.version},
                {"started_at", wire::format_time(ctx.started_at)},
                {"data_dir", ctx.data_dir},
                {"driver", std::string(ctx.driver->name())},
                {"last_seq", w.last_seq}};
  if (verb == "deployments.list")
    return wire::deployments_view(w, ctx.policy);
  if (verb == "deployments.show") {
    auto d = find_deployment(w, args);
    if (!d)
      return d.error_value();
    // Recent events cost a scan of the log's tail: pollers (--wait) ask for none.
    auto events = args.value("events", std::int64_t{20});
    return wire::deployment_detail(
      w, **d, ctx.policy,
      events > 0 ? recent_events(ctx, (*d)->spec.name, static_cast<std::size_t>(events))
                 : json::array());
  }
  if (verb == "vms.list") {
    wire::vm_filter filter;
    if (auto it = args.find("deployment"); it != args.end() && it->is_string())
      filter.deployment = it->get<std::string>();
    if (auto it = args.find("labels"); it != args.end() && it->is_object())
      for (const auto& [k, v] : it->items())
        filter.match[k] = v.is_string() ? v.get<std::string>() : v.dump();
    auto rows = wire::vms_view(w, filter);
    if (args.value("usage", false))
      for (auto& row : rows) {
        auto& vm = w.vms.at(row["name"].get<std::string>());
        auto u = ctx.driver_for(vm.handle.driver).measure(vm.handle);
        row["usage"] = {{"cpu_seconds", u.cpu_seconds}, {"rss_bytes", u.rss_bytes}};
      }
    return rows;
  }
  if (verb == "vms.show") {
    auto name = string_arg(args, "name");
    if (!name)
      return name.error_value();
    auto it = w.vms.find(*name);
    if (it == w.vms.end())
      return make_error(ec::unknown_vm, "VM '" + *name + "' not found");
    auto row = wire::vm_view(w, it->second);
    auto u = ctx.driver_for(it->second.handle.driver).measure(it->second.handle);
    row["usage"] = {{"cpu_seconds", u.cpu_seconds}, {"rss_bytes", u.rss_bytes}};
    row["log"] = ctx.log_path(*name);
    return row;
  }
  if (verb == "debug.resources") {
    auto j = wire::resources_view(w);
    auto caps = ctx.driver->limits();
    j["driver"] = std::string(ctx.driver->name());
    j["limits"] = {{"memory", caps.memory_limit}, {"cpu", caps.cpu_limit},
                   {"note", caps.note}};
    if (ctx.qemu != nullptr)
      j["qemu"] = {{"accelerator", ctx.qemu_accelerator},
                   {"bridge", ctx.qemu_bridge},
                   {"note", ctx.qemu->limits().note}};
    return j;
  }
  if (verb == "plugins.list")
    return wire::plugins_view(w);
  if (verb == "plugins.show") {
    auto name = string_arg(args, "name");
    if (!name)
      return name.error_value();
    plugin_ref ref{*name, args.value("version", std::string{})};
    const auto* m = w.plugins.find(ref);
    if (!m)
      return make_error(ec::unknown_plugin, "plugin '" + wire::plugin_label(ref)
                                              + "' is not installed (see: volar plugins list)");
    return wire::manifest_to_json(*m);
  }
  return make_error(ec::invalid_argument, "unknown request '" + verb + "'");
}

} // namespace

expected<std::string> answer_query(const world& w, const daemon_context& ctx,
                                   const std::string& verb, const std::string& args) {
  auto parsed = json::parse(args, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return make_error(ec::invalid_argument, "request arguments are not a JSON object");
  auto reply = answer(w, ctx, verb, parsed);
  if (!reply)
    return reply.error_value();
  return reply->dump();
}

expected<launch_info> launch_for(const world& w, const std::string& name) {
  auto vm = w.vms.find(name);
  if (vm == w.vms.end())
    return make_error(ec::unknown_vm, "VM '" + name + "' not found");
  launch_info info;
  info.vm = vm->second;
  auto d = w.deployments.find(vm->second.deployment);
  if (d == w.deployments.end())
    return info; // an orphan: it can be adopted and stopped, never started
  info.tmpl = d->second.spec.tmpl;
  info.health = effective_health_check(w, d->second);
  info.auto_restart = d->second.spec.auto_restart;
  if (const auto* plugin = w.plugins.find(d->second.spec.tmpl.plugin))
    info.plugin = *plugin;
  return info;
}

} // namespace volant
