#include "actors/vm.hpp"

#include "actors/crash.hpp"
#include "actors/inspect.hpp"
#include "actors/log.hpp"
#include "actors/probe.hpp"
#include "actors/wire_error.hpp"
#include "events/launch.hpp"
#include "wire/json.hpp"

#include <caf/all.hpp>

#include <filesystem>
#include <fstream>

namespace volant {

namespace {

using self_ptr = vm_actor::stateful_pointer<vm_actor_state>;

const std::string& vm_of(self_ptr self) {
  return self->state.info.vm.name;
}

/// The driver of this VM: the one that started its workload, else its plugin's.
runtime::driver& drv(self_ptr self) {
  auto& st = self->state;
  return st.ctx->driver_for(!st.handle.driver.empty() ? st.handle.driver
                                                      : st.info.plugin.runtime);
}

/// Appends a marker line to the VM's log, so that `vms logs` tells runs apart.
void log_marker(self_ptr self, const std::string& text) {
  std::ofstream out(self->state.ctx->log_path(vm_of(self)), std::ios::app);
  out << "--- volant " << wire::format_time(now_nanos()) << " " << vm_of(self) << ": "
      << text << " ---\n";
}

/// Sends a command to the controller; `then` runs after it committed.
void report(self_ptr self, command cmd, std::function<void()> then = {}) {
  self->request(self->state.controller, caf::infinite, command_atom::value, std::move(cmd))
    .then(
      [=](record_batch&) {
        if (then)
          then();
      },
      [=](caf::error& err) {
        VLOG_DEBUG(vm_of(self), "report refused: {}", self->system().render(err));
      });
}

void watch(self_ptr self) {
  auto me = caf::actor_cast<vm_actor>(self);
  auto& h = self->state.handle;
  auto id = self->state.ctx->watcher->watch(h.pid, h.start_ticks,
                                            [me](const runtime::exit_status& s) {
                                              caf::anon_send(me, exited_atom::value, s);
                                            });
  if (!id)
    VLOG_WARN(vm_of(self), "cannot watch pid {}: {}", h.pid, id.error_value().message);
  else
    *self->state.watched = {h.pid, *id};
}

/// Starts checking the running workload, if the VM has a health check.
void start_probe(self_ptr self) {
  auto& st = self->state;
  if (!st.info.health.enabled || st.prober)
    return;
  st.prober = self->spawn<caf::linked>(probe, st.ctx, st.controller, vm_of(self),
                                       st.info.vm.ip, st.handle, st.info.health);
}

/// Reports that the workload runs (started, resumed); once that committed a
/// verdict follows while it still runs: ready at once without a health check,
/// else from the probe.
void report_running(self_ptr self, command cmd) {
  bool ready_now = !self->state.info.health.enabled;
  report(self, std::move(cmd), [=] {
    if (self->state.phase != vm_phase::running)
      return;
    if (ready_now)
      report(self, record_vm_ready{vm_of(self)});
    else
      start_probe(self);
  });
}

void stop_probe(self_ptr self) {
  auto& st = self->state;
  if (!st.prober)
    return;
  self->unlink_from(st.prober);
  self->send_exit(st.prober, caf::exit_reason::user_shutdown);
  st.prober = nullptr;
}

void begin_stop(self_ptr self) {
  auto& st = self->state;
  stop_probe(self);
  if (st.phase == vm_phase::paused) // a frozen workload cannot act on SIGTERM
    (void) drv(self).resume(st.handle);
  st.phase = vm_phase::stopping;
  if (auto ok_ = drv(self).terminate(st.handle); !ok_)
    VLOG_WARN(vm_of(self), "terminate failed: {}", ok_.error_value().message);
  self->delayed_send(self, st.ctx->stop_grace, kill_atom::value, ++st.stop_generation);
}

void launch(self_ptr self, const launch_info& info) {
  auto& st = self->state;
  st.info = info;
  const auto& vm = info.vm.name;
  if (info.plugin.name.empty()) {
    st.phase = vm_phase::idle;
    if (info.tmpl.plugin.name.empty())
      return; // the deployment is gone: this VM is being removed, not started
    report(self, record_vm_start_failed{vm, "plugin '" + info.tmpl.plugin.name
                                              + "' is not installed"});
    return;
  }
  auto cmd = plan_launch(info.plugin, info.tmpl, info.vm, st.ctx->vm_dir(vm));
  runtime::launch_spec spec{vm,           cmd.argv,          cmd.env,
                            st.ctx->vm_dir(vm), st.ctx->log_path(vm), info.vm.cpu,
                            info.vm.memory_mib, info.vm.ip,   info.plugin.kernel,
                            info.plugin.initramfs};
  log_marker(self, "starting (" + std::to_string(++st.starts) + ")");
  auto handle = drv(self).start(spec);
  if (!handle) {
    st.phase = vm_phase::idle;
    log_marker(self, "start failed: " + handle.error_value().message);
    report(self, record_vm_start_failed{vm, handle.error_value().message});
    return;
  }
  st.handle = *handle;
  st.phase = vm_phase::running;
  watch(self);
  VLOG_INFO(vm, "started pid {}", st.handle.pid);
  report_running(self, record_vm_started{vm, st.handle});
  if (st.stop_when_started) {
    st.stop_when_started = false;
    begin_stop(self);
  }
}

void remove_and_quit(self_ptr self) {
  auto vm = vm_of(self);
  // Release the host's resources first: once vm_removed commits, this actor may
  // be gone before it hears back (its deployment retires with its last VM).
  drv(self).cleanup(vm);
  std::error_code ignored; // a recreated VM starts with a fresh directory
  std::filesystem::remove_all(self->state.ctx->vm_dir(vm), ignored);
  auto finish = [=] { self->quit(); };
  self->request(self->state.controller, caf::infinite, command_atom::value,
                command{remove_vm{vm}})
    .then([=](record_batch&) { finish(); },
          [=](caf::error& err) {
            if (err.category() == error_category
                && err.code() == static_cast<std::uint8_t>(ec::conflict))
              report(self, record_vm_stopped{vm}, [=] { report(self, remove_vm{vm}, finish); });
            else if (err.category() == error_category
                     && err.code() == static_cast<std::uint8_t>(ec::unknown_vm))
              finish();
          });
}

void on_exited(self_ptr self, const runtime::exit_status& s) {
  auto& st = self->state;
  if (s.pid != st.handle.pid || st.phase == vm_phase::idle)
    return; // a previous run's exit (a paused workload can still be killed)
  const auto& vm = vm_of(self);
  stop_probe(self);
  log_marker(self, s.reason);
  if (st.phase == vm_phase::stopping) {
    st.phase = vm_phase::idle;
    if (st.remove_after_stop) {
      report(self, record_vm_stopped{vm}, [=] { remove_and_quit(self); });
    } else if (st.restart_after_stop) {
      st.restart_after_stop = false;
      self->delayed_send(self, std::chrono::milliseconds(st.restart_backoff_ms),
                         start_atom::value);
    } else {
      report(self, record_vm_stopped{vm});
    }
    return;
  }
  VLOG_INFO(vm, "workload {}", s.reason);
  st.phase = vm_phase::idle;
  report(self, record_vm_exited{vm, s.code, s.reason});
}

/// At spawn: a workload the log says runs is adopted if it still does.
void adopt(self_ptr self) {
  auto& st = self->state;
  const auto& rec = st.info.vm;
  bool was_running = rec.status == vm_status::starting || rec.status == vm_status::running
                     || rec.status == vm_status::ready || rec.status == vm_status::unhealthy
                     || rec.status == vm_status::stopping || rec.status == vm_status::paused;
  if (!was_running || rec.handle.pid == 0)
    return;
  if (st.ctx->driver_for(rec.handle.driver).alive(rec.handle)) {
    st.handle = rec.handle;
    bool paused = rec.status == vm_status::paused;
    st.phase = paused ? vm_phase::paused : vm_phase::running;
    watch(self);
    VLOG_INFO(rec.name, "adopted pid {}{}", rec.handle.pid, paused ? " (paused)" : "");
    report(self, record_vm_adopted{rec.name, rec.handle});
    if (!paused)
      start_probe(self);
  } else {
    report(self, record_vm_exited{rec.name, 0,
                                  "not running when the daemon came back (exit status "
                                  "unknown)"});
  }
}

} // namespace

std::string_view to_string(vm_phase phase) {
  switch (phase) {
    case vm_phase::idle:
      return "idle";
    case vm_phase::starting:
      return "starting";
    case vm_phase::running:
      return "running";
    case vm_phase::stopping:
      return "stopping";
    case vm_phase::paused:
      return "paused";
  }
  return "unknown";
}

vm_actor::behavior_type vm_actor_fn(vm_actor::stateful_pointer<vm_actor_state> self,
                                    daemon_context* ctx, launch_info info,
                                    controller_actor controller) {
  auto& st = self->state;
  st.ctx = ctx;
  st.info = std::move(info);
  st.controller = std::move(controller);
  enlist(self, ctx, "vm", st.info.vm.name);
  self->set_exit_handler([=](caf::exit_msg& msg) {
    auto& st = self->state;
    if (st.prober && msg.source == st.prober.address()) {
      // The probe crashed: the workload is untouched; check it anew.
      auto reason = self->system().render(msg.reason);
      VLOG_WARN(vm_of(self), "probe crashed ({}), restarting it", reason);
      st.prober = nullptr;
      caf::anon_send(st.controller, command_atom::value,
                     command{record_actor_crash{"probe/" + vm_of(self), reason,
                                                ++st.probe_crashes}});
      if (on_crash(st.probe_recent, now_nanos()).escalate) {
        self->quit(msg.reason); // the deployment restarts this actor, which adopts
        return;
      }
      if (st.phase == vm_phase::running)
        start_probe(self);
      return;
    }
    self->quit(msg.reason);
  });
  adopt(self);
  self->attach_functor([ctx, watched = st.watched] {
    // The workload outlives its actor; only the watch ends here.
    if (watched->first != 0)
      ctx->watcher->unwatch(watched->first, watched->second);
  });
  return {
    [=](start_atom) {
      auto& st = self->state;
      if (st.phase != vm_phase::idle)
        return;
      st.phase = vm_phase::starting;
      self->request(st.controller, caf::infinite, launch_atom::value, vm_of(self))
        .then([=](launch_info& fresh) { launch(self, fresh); },
              [=](caf::error&) { self->state.phase = vm_phase::idle; });
    },
    [=](stop_atom, bool remove) {
      auto& st = self->state;
      st.remove_after_stop = st.remove_after_stop || remove;
      switch (st.phase) {
        case vm_phase::running:
        case vm_phase::paused:
          begin_stop(self);
          break;
        case vm_phase::starting:
          st.stop_when_started = true;
          break;
        case vm_phase::stopping:
          break;
        case vm_phase::idle:
          if (remove)
            remove_and_quit(self);
          break;
      }
    },
    [=](restart_atom, std::uint64_t backoff, const std::string& reason) {
      auto& st = self->state;
      if (st.phase == vm_phase::stopping || st.phase == vm_phase::starting
          || st.phase == vm_phase::paused)
        return;
      report(self, schedule_vm_restart{vm_of(self), reason, backoff}, [=] {
        auto& st = self->state;
        VLOG_INFO(vm_of(self), "restarting in {} ms: {}", backoff, reason);
        if (st.phase == vm_phase::running) {
          st.restart_after_stop = true;
          st.restart_backoff_ms = backoff;
          begin_stop(self);
        } else {
          self->delayed_send(self, std::chrono::milliseconds(backoff), start_atom::value);
        }
      });
    },
    [=](pause_atom) {
      auto& st = self->state;
      if (st.phase != vm_phase::running)
        return; // starting: the next reconcile round pauses it once it runs
      if (auto ok_ = drv(self).pause(st.handle); !ok_) {
        VLOG_WARN(vm_of(self), "pause failed: {}", ok_.error_value().message);
        return;
      }
      stop_probe(self);
      st.phase = vm_phase::paused;
      log_marker(self, "paused");
      report(self, record_vm_paused{vm_of(self)});
    },
    [=](resume_atom) {
      auto& st = self->state;
      if (st.phase != vm_phase::paused)
        return;
      if (auto ok_ = drv(self).resume(st.handle); !ok_) {
        VLOG_WARN(vm_of(self), "resume failed: {}", ok_.error_value().message);
        return;
      }
      st.phase = vm_phase::running;
      log_marker(self, "resumed");
      report_running(self, record_vm_resumed{vm_of(self)});
    },
    [=](exited_atom, const runtime::exit_status& s) { on_exited(self, s); },
    [=](kill_atom, std::uint64_t generation) {
      auto& st = self->state;
      if (st.phase == vm_phase::stopping && generation == st.stop_generation) {
        VLOG_WARN(vm_of(self), "did not stop within the grace period: killing");
        (void) drv(self).kill(st.handle);
      }
    },
    [=](crash_atom, const std::string& path) {
      auto& st = self->state;
      if (crash_target(path, "vm") == vm_of(self))
        crash_now(path);
      if (crash_target(path, "probe") == vm_of(self) && st.prober)
        self->send(st.prober, crash_atom::value, path);
    },
    [=](inspect_atom) -> caf::result<std::string> {
      auto& st = self->state;
      // The record as this actor was launched with it (the log has the live
      // status; `vms show` shows both), what it drives right now, and its probe.
      auto j = inspect_header(self, "vm", vm_of(self), to_string(st.phase));
      j.update({{"phase", to_string(st.phase)},
                {"driver", drv(self).name()},
                {"handle",
                 {{"pid", st.handle.pid},
                  {"start_ticks", st.handle.start_ticks},
                  {"control", st.handle.control}}},
                {"pid", st.handle.pid},
                {"ip", to_string_ip(st.info.vm.ip)},
                {"starts", st.starts},
                {"probe_crashes", st.probe_crashes},
                {"plugin", st.info.plugin.name + ":" + st.info.plugin.version},
                {"spec",
                 {{"cpu", st.info.vm.cpu},
                  {"memory_mib", st.info.vm.memory_mib},
                  {"revision", st.info.vm.revision},
                  {"labels", st.info.tmpl.vm_labels},
                  {"auto_restart", st.info.auto_restart},
                  {"health", st.info.health.enabled ? wire::to_json(st.info.health)
                                                    : nlohmann::json(nullptr)}}}});
      auto rp = self->make_response_promise<std::string>();
      auto finish = [=](nlohmann::json probe) mutable {
        j["probe"] = std::move(probe);
        // restarts, back-off and status as committed
        self->request(self->state.controller, std::chrono::seconds(5), query_atom::value,
                      std::string("vms.show"), nlohmann::json{{"name", vm_of(self)}}.dump())
          .then(
            [=](const std::string& text) mutable {
              auto rec = nlohmann::json::parse(text, nullptr, false);
              if (rec.is_object())
                for (const char* key : {"status", "restarts", "backoff_ms", "last_error",
                                        "started_at", "ready_at", "created_at", "deployment",
                                        "index"})
                  if (rec.contains(key))
                    j[key] = rec[key];
              rp.deliver(j.dump());
            },
            [=](caf::error&) mutable { rp.deliver(j.dump()); });
      };
      if (!st.prober) {
        finish(nullptr);
        return rp;
      }
      self->request(st.prober, std::chrono::seconds(5), inspect_atom::value)
        .then(
          [=](const std::string& text) mutable {
            finish(nlohmann::json::parse(text, nullptr, false));
          },
          [=](caf::error&) mutable { finish(nullptr); });
      return rp;
    },
  };
}

} // namespace volant
