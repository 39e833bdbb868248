#include "actors/api_reads.hpp"

#include "wire/json.hpp"

#include <deque>

namespace volant {

namespace {

void add_usage_one(nlohmann::json& vm, const daemon_context& ctx) {
  const auto& h = vm.value("handle", nlohmann::json::object());
  driver_handle handle{h.value("driver", std::string{}), h.value("pid", std::int64_t{0}),
                       h.value("start_ticks", std::uint64_t{0}),
                       h.value("control", std::string{})};
  auto key = vm.contains("id") ? vm.value("id", std::string{}) : vm.value("name", std::string{});
  auto run = runtime::run_id(key, vm.value("incarnation", std::uint64_t{0}));
  auto u = ctx.driver_for(handle.driver).measure(handle, run);
  vm["usage"] = {{"cpu_seconds", u.cpu_seconds}, {"rss_bytes", u.rss_bytes}};
}

} // namespace

void add_usage(nlohmann::json& vms, const daemon_context& ctx) {
  if (vms.is_array())
    for (auto& vm : vms)
      add_usage_one(vm, ctx);
  else if (vms.is_object())
    add_usage_one(vms, ctx);
}

void add_lb_stats(nlohmann::json& lbs, const daemon_context& ctx) {
  if (ctx.haproxy == nullptr)
    return;
  auto stats = ctx.haproxy->stats();
  auto one = [&](nlohmann::json& lb) {
    if (!lb.is_object() || !lb.contains("servers") || !lb["servers"].is_array())
      return;
    auto name = lb.value("name", std::string{});
    auto draining = nlohmann::json::array();
    for (const auto& s : stats) {
      if (s.lb != name)
        continue;
      bool listed = false;
      for (auto& server : lb["servers"])
        if (server.value("server", std::string{}) == s.server) {
          server["state"] = s.status;
          server["sessions"] = s.sessions;
          server["requests"] = s.requests;
          server["total"] = s.total;
          listed = true;
        }
      if (!listed)
        draining.push_back({{"server", s.server},
                            {"id", s.vm},
                            {"state", s.status},
                            {"sessions", s.sessions},
                            {"requests", s.requests}});
    }
    lb["draining"] = draining;
  };
  if (lbs.is_array())
    for (auto& lb : lbs)
      one(lb);
  else
    one(lbs);
}

nlohmann::json recent_events(const daemon_context& ctx, const std::string& name,
                             std::size_t limit) {
  std::deque<nlohmann::json> kept;
  auto last = ctx.store->last_seq();
  auto from = last > 5000 ? last - 5000 : 1;
  auto prefix = name + "-";
  (void)ctx.store->read(from, store::max_seq, [&](const recorded_event& rec) {
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
  return nlohmann::json(std::vector<nlohmann::json>(kept.begin(), kept.end()));
}

} // namespace volant
