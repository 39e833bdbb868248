#include "actors/probe.hpp"

#include "actors/crash.hpp"
#include "actors/inspect.hpp"
#include "actors/log.hpp"
#include "wire/json.hpp"

#include <caf/all.hpp>

#include <algorithm>

namespace volant {

namespace {

using self_ptr = probe_actor::stateful_pointer<probe_actor_state>;

void schedule(self_ptr self, bool readiness) {
  const auto& lane = self->state.lanes[readiness ? 1 : 0];
  self->delayed_send(self, std::chrono::milliseconds(probe_delay_ms(lane.probe, lane.check)),
                     tick_atom::value, readiness);
}

/// Starts one check of a lane; the result comes back as a `sample` message.
void check_now(self_ptr self, bool readiness) {
  auto& st = self->state;
  auto& lane = st.lanes[readiness ? 1 : 0];
  lane.checking = true;
  ++lane.checks;
  auto me = caf::actor_cast<probe_actor>(self);
  if (auto* proc = std::get_if<process_check>(&lane.check.probe)) {
    auto names = st.ctx->driver_for(st.handle.driver).processes(st.handle);
    bool found = std::find(names.begin(), names.end(), proc->name) != names.end();
    self->send(self, sample_atom::value,
               probe_sample{found, found ? "" : "no process named '" + proc->name + "'", 0,
                            now_nanos()},
               readiness);
    return;
  }
  runtime::check_request req;
  req.ip = st.ip;
  req.timeout = std::chrono::seconds(lane.check.timeout_seconds);
  if (auto* http = std::get_if<http_check>(&lane.check.probe)) {
    req.port = http->port;
    req.path = http->path;
  } else if (auto* tcp = std::get_if<tcp_check>(&lane.check.probe)) {
    req.port = tcp->port;
  }
  req.done = [me, readiness](const runtime::check_result& r) {
    caf::anon_send(me, sample_atom::value,
                   probe_sample{r.ok, r.error, r.latency_us, now_nanos()}, readiness);
  };
  st.ctx->prober->submit(std::move(req));
}

void on_sample(self_ptr self, const probe_sample& sample, bool readiness) {
  auto& st = self->state;
  auto& lane = st.lanes[readiness ? 1 : 0];
  lane.checking = false;
  auto since_start = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - st.started)
                       .count();
  std::optional<event> transition;
  if (sample.ok
      || failure_counts(lane.probe, lane.check, static_cast<std::uint64_t>(since_start))) {
    transition = observe(lane.probe, st.vm, lane.check, sample);
  } else {
    lane.probe.recent.push_back(sample); // still starting: shown, not counted
    if (lane.probe.recent.size() > probe_history)
      lane.probe.recent.erase(lane.probe.recent.begin());
  }
  if (transition) {
    // Only transitions go to the VM, whose machine journals them.
    bool ok = std::holds_alternative<vm_ready>(*transition);
    self->send(st.parent, verdict_atom::value, st.incarnation, ok,
               ok ? std::string() : sample.error, readiness);
  }
  schedule(self, readiness);
}

nlohmann::json lane_json(const probe_actor_state::lane& lane) {
  nlohmann::json samples = nlohmann::json::array();
  for (const auto& s : lane.probe.recent)
    samples.push_back({{"ok", s.ok},
                       {"error", s.error},
                       {"latency_ms", static_cast<double>(s.latency_us) / 1000.0},
                       {"at", wire::format_time(s.at)}});
  const char* verdicts[] = {"unknown", "healthy", "unhealthy"};
  return {{"check", wire::to_json(lane.check)},
          {"verdict", verdicts[static_cast<int>(lane.probe.verdict)]},
          {"failures_in_row", lane.probe.failures_in_row},
          {"successes_in_row", lane.probe.successes_in_row},
          {"checks", lane.checks},
          {"checking", lane.checking},
          {"samples", samples}};
}

} // namespace

probe_actor::behavior_type
probe(probe_actor::stateful_pointer<probe_actor_state> self, daemon_context* ctx,
      vm_actor parent, std::string vm, std::uint64_t incarnation, ipv4 ip,
      driver_handle handle, health_check check, health_check readiness) {
  auto& st = self->state;
  st.ctx = ctx;
  st.parent = std::move(parent);
  st.vm = std::move(vm);
  st.incarnation = incarnation;
  st.ip = ip;
  st.handle = std::move(handle);
  st.lanes[0].check = std::move(check);
  st.lanes[1].check = std::move(readiness);
  st.started = std::chrono::steady_clock::now();
  enlist(self, ctx, "probe", st.vm);
  // A first look shortly after the start: most servers listen within tens of ms.
  for (bool readiness_lane : {false, true})
    if (st.lanes[readiness_lane ? 1 : 0].check.enabled)
      self->delayed_send(self, std::chrono::milliseconds(first_probe_ms), tick_atom::value,
                         readiness_lane);
  return {
    [=](tick_atom, bool readiness_lane) {
      if (!self->state.lanes[readiness_lane ? 1 : 0].checking)
        check_now(self, readiness_lane);
    },
    [=](sample_atom, const probe_sample& sample, bool readiness_lane) {
      on_sample(self, sample, readiness_lane);
    },
    [=](crash_atom, const std::string& path) { crash_now(path); },
    [=](inspect_atom) -> std::string {
      auto& st = self->state;
      // The lane that decides READY speaks for the probe; both are shown.
      const auto& main = st.lanes[0].check.enabled ? st.lanes[0] : st.lanes[1];
      auto shown = lane_json(main);
      auto j = inspect_header(self, "probe", st.vm, shown["verdict"].get<std::string>());
      j.update({{"vm", st.vm}, {"run", st.incarnation}});
      j.update(shown);
      if (st.lanes[1].check.enabled)
        j["readiness"] = lane_json(st.lanes[1]);
      return j.dump();
    },
  };
}

} // namespace volant
