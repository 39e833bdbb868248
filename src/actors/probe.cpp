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

void schedule(self_ptr self) {
  self->delayed_send(self, std::chrono::milliseconds(probe_delay_ms(self->state.probe,
                                                                    self->state.check)),
                     tick_atom::value);
}

/// Starts one check; the result comes back as a `sample` message.
void check_now(self_ptr self) {
  auto& st = self->state;
  st.checking = true;
  ++st.checks;
  auto me = caf::actor_cast<probe_actor>(self);
  if (auto* proc = std::get_if<process_check>(&st.check.probe)) {
    auto names = st.ctx->driver_for(st.handle.driver).processes(st.handle);
    bool found = std::find(names.begin(), names.end(), proc->name) != names.end();
    self->send(self, sample_atom::value,
               probe_sample{found, found ? "" : "no process named '" + proc->name + "'", 0,
                            now_nanos()});
    return;
  }
  runtime::check_request req;
  req.ip = st.ip;
  req.timeout = std::chrono::seconds(st.check.timeout_seconds);
  if (auto* http = std::get_if<http_check>(&st.check.probe)) {
    req.port = http->port;
    req.path = http->path;
  } else if (auto* tcp = std::get_if<tcp_check>(&st.check.probe)) {
    req.port = tcp->port;
  }
  req.done = [me](const runtime::check_result& r) {
    caf::anon_send(me, sample_atom::value,
                   probe_sample{r.ok, r.error, r.latency_us, now_nanos()});
  };
  st.ctx->prober->submit(std::move(req));
}

void on_sample(self_ptr self, const probe_sample& sample) {
  auto& st = self->state;
  st.checking = false;
  auto since_start = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - st.started)
                       .count();
  std::optional<event> transition;
  if (sample.ok || failure_counts(st.probe, st.check, static_cast<std::uint64_t>(since_start))) {
    transition = observe(st.probe, st.vm, st.check, sample);
  } else {
    st.probe.recent.push_back(sample); // still starting: shown, not counted
    if (st.probe.recent.size() > probe_history)
      st.probe.recent.erase(st.probe.recent.begin());
  }
  if (transition) {
    // Only transitions go to the VM, whose machine journals them.
    bool ok = std::holds_alternative<vm_ready>(*transition);
    self->send(st.parent, verdict_atom::value, st.incarnation, ok,
               ok ? std::string() : sample.error);
  }
  schedule(self);
}

} // namespace

probe_actor::behavior_type
probe(probe_actor::stateful_pointer<probe_actor_state> self, daemon_context* ctx,
      vm_actor parent, std::string vm, std::uint64_t incarnation, ipv4 ip,
      driver_handle handle, health_check check) {
  auto& st = self->state;
  st.ctx = ctx;
  st.parent = std::move(parent);
  st.vm = std::move(vm);
  st.incarnation = incarnation;
  st.ip = ip;
  st.handle = std::move(handle);
  st.check = std::move(check);
  st.started = std::chrono::steady_clock::now();
  enlist(self, ctx, "probe", st.vm);
  // A first look shortly after the start: most servers listen within tens of ms.
  self->delayed_send(self, std::chrono::milliseconds(first_probe_ms), tick_atom::value);
  return {
    [=](tick_atom) {
      if (!self->state.checking)
        check_now(self);
    },
    [=](sample_atom, const probe_sample& sample) { on_sample(self, sample); },
    [=](crash_atom, const std::string& path) { crash_now(path); },
    [=](inspect_atom) -> std::string {
      auto& st = self->state;
      nlohmann::json samples = nlohmann::json::array();
      for (const auto& s : st.probe.recent)
          samples.push_back({{"ok", s.ok},
                           {"error", s.error},
                           {"latency_ms", static_cast<double>(s.latency_us) / 1000.0},
                           {"at", wire::format_time(s.at)}});
      const char* verdicts[] = {"unknown", "healthy", "unhealthy"};
      auto verdict = verdicts[static_cast<int>(st.probe.verdict)];
      auto j = inspect_header(self, "probe", st.vm, verdict);
      j.update({{"vm", st.vm},
                {"run", st.incarnation},
                {"check", wire::to_json(st.check)},
                {"verdict", verdict},
                {"failures_in_row", st.probe.failures_in_row},
                {"successes_in_row", st.probe.successes_in_row},
                {"checks", st.checks},
                {"checking", st.checking},
                {"samples", samples}});
      return j.dump();
    },
  };
}

} // namespace volant
