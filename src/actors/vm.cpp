#include "actors/vm.hpp"

#include "actors/crash.hpp"
#include "actors/inspect.hpp"
#include "actors/log.hpp"
#include "actors/probe.hpp"
#include "events/launch.hpp"
#include "runtime/sandbox.hpp"
#include "wire/json.hpp"
#include "wire/views.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace volant {

namespace {

using self_ptr = vm_actor::stateful_pointer<vm_actor_state>;

const std::string& vm_of(self_ptr self) {
  return self->state.machine.rec.name;
}

/// The driver of this VM: the one that started its run, else its plugin's.
runtime::driver& drv(self_ptr self, const driver_handle& handle = {}) {
  auto& st = self->state;
  if (!handle.driver.empty())
    return st.ctx->driver_for(handle.driver);
  const auto& rec = st.machine.rec.handle;
  return st.ctx->driver_for(!rec.driver.empty() ? rec.driver : st.launch.plugin.runtime);
}

/// A marker line in the VM's log, so that `vms logs` tells runs apart.
void note(self_ptr self, const std::string& text) {
  std::error_code ignored;
  std::filesystem::create_directories(self->state.ctx->data_dir + "/logs", ignored);
  std::ofstream out(self->state.ctx->log_path(vm_of(self)), std::ios::app);
  out << "--- volant " << wire::format_time(now_nanos()) << " " << vm_of(self) << ": "
      << text << " ---\n";
  VLOG_INFO(vm_of(self), "{}", text);
}

void step(self_ptr self, vm_input in);

/// The template's secret env, opened for this launch only (it lives no longer
/// than the launch spec). A value that does not open fails the start with one
/// error naming the key, never the value.
expected<std::vector<env_var>> open_secrets(const daemon_context& ctx,
                                            const std::string& deployment,
                                            const vm_template& tmpl) {
  std::vector<env_var> out;
  if (tmpl.secret_env.empty())
    return out;
  if (ctx.sealer == nullptr)
    return make_error(ec::secret_unreadable, "volantd has no key to open secret env with");
  for (const auto& var : tmpl.secret_env) {
    auto value = ctx.sealer->open(deployment, var.key, var.sealed);
    if (!value)
      return value.error_value();
    out.push_back({var.key, std::move(*value)});
  }
  return out;
}

/// The VM's volumes as its driver mounts them (docs/volumes.md): a persistent
/// one from `<data-dir>/volumes/<id>`, a scratch one from the run directory
/// (wiped with it when the VM is recreated); `.ext4` images for microVMs.
expected<std::vector<runtime::volume_mount>> volume_mounts(const daemon_context& ctx,
                                                          const launch_template& launch,
                                                          const vm_record& rec,
                                                          const std::string& dir) {
  bool image = launch.plugin.runtime == "qemu";
  std::vector<runtime::volume_mount> out;
  for (std::size_t i = 0; i < launch.tmpl.volumes.size(); ++i) {
    const auto& v = launch.tmpl.volumes[i];
    runtime::volume_mount m;
    m.path = v.path;
    m.size_mib = v.size_mib > 0 ? v.size_mib : default_volume_mib;
    m.persistent = v.persistent;
    if (v.persistent) {
      auto it = std::find_if(launch.volumes.begin(), launch.volumes.end(),
                             [&](const volume_record& vol) {
                               return vol.vm == rec.name && vol.path == v.path;
                             });
      // Never a run with its data silently elsewhere.
      if (it == launch.volumes.end())
        return make_error(ec::conflict, "volume "
                                            + volume_name(rec.deployment, rec.index, v.path)
                                            + " is not attached to this VM");
      m.source = ctx.volumes_dir() + "/" + std::to_string(it->id) + (image ? ".ext4" : "");
    } else {
      m.source = dir + "/.volumes/scratch-" + std::to_string(i) + (image ? ".ext4" : "");
    }
    out.push_back(std::move(m));
  }
  return out;
}

/// Launches run `n` from the VM's record and its deployment's template.
vm_input start(self_ptr self, std::uint64_t n) {
  auto& st = self->state;
  const auto& rec = st.machine.rec;
  const auto& launch = st.launch;
  if (launch.plugin.name.empty())
    return in_start_failed{n, "plugin '" + launch.tmpl.plugin.name + "' is not installed"};
  auto dir = st.ctx->vm_dir(rec.name);
  auto secrets = open_secrets(*st.ctx, rec.deployment, launch.tmpl);
  if (!secrets)
    return in_start_failed{n, secrets.error_value().message};
  auto volumes = volume_mounts(*st.ctx, launch, rec, dir);
  if (!volumes)
    return in_start_failed{n, volumes.error_value().message};
  auto cmd = plan_launch(launch.plugin, launch.tmpl, rec, dir, *secrets);
  runtime::launch_spec spec{rec.name,     n,          cmd.argv,
                            cmd.env,      dir,        st.ctx->log_path(rec.name),
                            rec.cpu,      rec.memory_mib, rec.ip,
                            launch.plugin.kernel, launch.plugin.initramfs,
                            std::move(cmd.secret_env)};
  spec.rootfs = launch.plugin.rootfs;
  spec.resolv_conf = st.ctx->resolv_conf;
  spec.volumes = std::move(*volumes);
  ++st.starts;
  auto handle = st.ctx->driver_for(launch.plugin.runtime).start(spec);
  if (!handle)
    return in_start_failed{n, handle.error_value().message};
  VLOG_INFO(rec.name, "run {} started, pid {}", n, handle->pid);
  return in_started{n, *handle};
}

void unwatch(self_ptr self) {
  auto& w = *self->state.watched;
  if (w.pid != 0)
    self->state.ctx->watcher->unwatch(w.pid, w.id);
  w = {};
}

void watch(self_ptr self, std::uint64_t n, const driver_handle& h) {
  unwatch(self);
  auto me = caf::actor_cast<vm_actor>(self);
  auto id = self->state.ctx->watcher->watch(h.pid, h.start_ticks,
                                            [me, n](const runtime::exit_status& s) {
                                              caf::anon_send(me, exited_atom::value, n, s);
                                            });
  if (!id)
    VLOG_WARN(vm_of(self), "cannot watch pid {}: {} (the liveness audit still checks it)",
              h.pid, id.error_value().message);
  else
    *self->state.watched = {h.pid, *id, n};
}

void stop_probe(self_ptr self) {
  auto& st = self->state;
  if (!st.prober)
    return;
  self->unlink_from(st.prober);
  self->send_exit(st.prober, caf::exit_reason::user_shutdown);
  st.prober = nullptr;
}

void start_probe(self_ptr self, std::uint64_t n, const driver_handle& h) {
  auto& st = self->state;
  stop_probe(self);
  st.prober = self->spawn<caf::linked>(probe, st.ctx, caf::actor_cast<vm_actor>(self),
                                       vm_of(self), n, st.machine.rec.ip, h, st.launch.health,
                                       st.launch.readiness);
}

/// Wipes the run directory (a recreate: a fresh VM); on removal also the log and
/// what the driver holds for the VM across runs.
void wipe(self_ptr self, bool removed) {
  auto& st = self->state;
  std::error_code ignored;
  runtime::remove_run_dir(st.ctx->vm_dir(vm_of(self)));
  if (!removed)
    return;
  for (runtime::driver* d : {st.ctx->driver, st.ctx->qemu})
    if (d != nullptr)
      d->forget(vm_of(self));
  // A new VM of the same name starts a log of its own.
  std::filesystem::remove(st.ctx->log_path(vm_of(self)), ignored);
}

void run_command(self_ptr self, command cmd) {
  self->request(self->state.controller, caf::infinite, command_atom::value, std::move(cmd))
    .then(
      [=](record_batch& recs) {
        in_committed in;
        for (auto& rec : recs)
          in.events.push_back(std::move(rec.ev));
        step(self, std::move(in));
      },
      [=](caf::error& err) {
        auto text = self->system().render(err);
        VLOG_DEBUG(vm_of(self), "command refused: {}", text);
        step(self, in_rejected{std::move(text)});
      });
}

/// Carries out one effect; an answer is queued as the next input.
void carry_out(self_ptr self, vm_effect& fx) {
  auto& st = self->state;
  auto& inputs = st.inputs;
  std::visit(
    [&](auto& x) {
      using T = std::decay_t<decltype(x)>;
      if constexpr (std::is_same_v<T, fx_check_alive>) {
        inputs.push_back(in_alive{x.n, drv(self, x.handle).alive(x.handle)});
      } else if constexpr (std::is_same_v<T, fx_start>) {
        inputs.push_back(start(self, x.n));
      } else if constexpr (std::is_same_v<T, fx_watch>) {
        watch(self, x.n, x.handle);
      } else if constexpr (std::is_same_v<T, fx_terminate>) {
        if (auto ok_ = drv(self, x.handle).terminate(x.handle); !ok_)
          VLOG_WARN(vm_of(self), "terminate run {}: {}", x.n, ok_.error_value().message);
      } else if constexpr (std::is_same_v<T, fx_kill>) {
        (void)drv(self, x.handle).kill(x.handle);
      } else if constexpr (std::is_same_v<T, fx_freeze>) {
        auto r = drv(self, x.handle).pause(x.handle);
        inputs.push_back(in_frozen{x.n, bool(r), r ? "" : r.error_value().message});
      } else if constexpr (std::is_same_v<T, fx_thaw>) {
        auto r = drv(self, x.handle).resume(x.handle);
        if (x.reply)
          inputs.push_back(in_thawed{x.n, bool(r), r ? "" : r.error_value().message});
      } else if constexpr (std::is_same_v<T, fx_release>) {
        if (st.watched->run == x.n)
          unwatch(self);
        drv(self).release(runtime::run_id(vm_of(self), x.n));
      } else if constexpr (std::is_same_v<T, fx_wipe>) {
        wipe(self, x.removed);
      } else if constexpr (std::is_same_v<T, fx_probe_start>) {
        start_probe(self, x.n, x.handle);
      } else if constexpr (std::is_same_v<T, fx_probe_stop>) {
        stop_probe(self);
      } else if constexpr (std::is_same_v<T, fx_timer>) {
        auto delay = std::max<std::int64_t>(0, x.at - now_nanos());
        self->delayed_send(self, std::chrono::nanoseconds(delay), tick_atom::value);
      } else if constexpr (std::is_same_v<T, fx_command>) {
        run_command(self, std::move(x.cmd));
      } else if constexpr (std::is_same_v<T, fx_note>) {
        note(self, x.text);
      } else if constexpr (std::is_same_v<T, fx_quit>) {
        self->quit();
      } else {
        static_assert(!sizeof(T), "unhandled effect");
      }
    },
    fx);
}

/// Feeds `in` to the machine and carries out what it says, then the answers.
void step(self_ptr self, vm_input in) {
  auto& st = self->state;
  st.inputs.push_back(std::move(in));
  if (st.stepping)
    return; // the loop below takes it
  st.stepping = true;
  while (!st.inputs.empty() && !st.machine.gone) {
    auto next = std::move(st.inputs.front());
    st.inputs.pop_front();
    auto effects = vm_step(st.machine, next, now_nanos(), st.ctx->machine);
    for (auto& fx : effects)
      carry_out(self, fx);
  }
  st.stepping = false;
}

} // namespace

vm_actor::behavior_type vm_actor_fn(vm_actor::stateful_pointer<vm_actor_state> self,
                                    daemon_context* ctx, vm_record record,
                                    controller_actor controller, bool recovering) {
  auto& st = self->state;
  st.ctx = ctx;
  st.controller = std::move(controller);
  st.machine = make_vm_machine(std::move(record));
  enlist(self, ctx, "vm", st.machine.rec.name);
  self->set_exit_handler([=](caf::exit_msg& msg) {
    auto& st = self->state;
    if (!st.prober || msg.source != st.prober.address()) {
      self->quit(msg.reason);
      return;
    }
    // The probe crashed: the workload is untouched; check it anew.
    st.prober = nullptr;
    auto n = st.machine.run.n;
    auto h = st.machine.run.handle;
    supervise_crash(self, st.probes, vm_of(self), "probe/" + vm_of(self), msg.reason,
                    st.controller, [=](std::chrono::milliseconds) {
                      if (self->state.machine.run.probing && self->state.machine.run.n == n)
                        start_probe(self, n, h);
                    });
  });
  self->attach_functor([ctx, watched = st.watched] {
    // The workload outlives its actor; only the watch ends here.
    if (watched->pid != 0)
      ctx->watcher->unwatch(watched->pid, watched->id);
  });
  step(self, in_spawned{recovering});
  return {
    [=](goal_atom, vm_goal& goal, launch_template& launch) {
      auto& st = self->state;
      bool new_check = !(st.launch.health == launch.health)
                       || !(st.launch.readiness == launch.readiness);
      st.launch = std::move(launch);
      step(self, in_goal{goal});
      // A changed health check (an in-place update) applies to the run that
      // is up: its probe restarts with the new check; the VM does not.
      const auto& run = st.machine.run;
      if (new_check && st.prober && run.probing) {
        VLOG_INFO(vm_of(self), "health check changed: probe of run {} restarted", run.n);
        start_probe(self, run.n, run.handle);
      }
    },
    [=](exited_atom, std::uint64_t n, const runtime::exit_status& s) {
      // A microVM's guest reports its workload's own status.
      auto own = drv(self).workload_exit(self->state.ctx->vm_dir(vm_of(self)));
      step(self, own ? in_exited{n, own->first, own->second} : in_exited{n, s.code, s.reason});
    },
    [=](verdict_atom, std::uint64_t n, bool ok, std::string& reason, bool readiness) {
      if (readiness)
        VLOG_INFO(vm_of(self), "readiness of run {}: {}", n,
                  ok ? "ready" : "not ready: " + reason);
      else
        VLOG_INFO(vm_of(self), "health of run {}: {}", n,
                  ok ? "ready" : "unhealthy: " + reason);
      step(self, in_verdict{n, ok, std::move(reason), readiness});
    },
    [=](tick_atom) { step(self, in_tick{}); },
    [=](crash_atom, const std::string& path) {
      auto& st = self->state;
      if (crash_target(path, "vm") == vm_of(self))
        crash_now(path);
      if (crash_target(path, "probe") == vm_of(self) && st.prober)
        self->send(st.prober, crash_atom::value, path);
    },
    [=](inspect_atom) -> caf::result<std::string> {
      auto& st = self->state;
      auto j = inspect_header(self, "vm", vm_of(self), to_string(st.machine.run.phase));
      j.update(wire::vm_machine_view(st.machine));
      j.update({{"driver", drv(self).name()},
                {"starts", st.starts},
                {"probe_crashes", st.probes.crashes[("probe/" + vm_of(self))]},
                {"plugin", st.launch.plugin.name + ":" + st.launch.plugin.version},
                {"health", st.launch.health.enabled ? wire::to_json(st.launch.health)
                                                    : nlohmann::json(nullptr)}});
      if (!st.prober)
        return j.dump();
      auto rp = self->make_response_promise<std::string>();
      self->request(st.prober, std::chrono::seconds(5), inspect_atom::value)
        .then(
          [=](const std::string& text) mutable {
            j["probe"] = nlohmann::json::parse(text, nullptr, false);
            rp.deliver(j.dump());
          },
          [=](caf::error&) mutable { rp.deliver(j.dump()); });
      return rp;
    },
  };
}

} // namespace volant
