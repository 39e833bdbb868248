#include "events/vm_machine.hpp"

#include "events/state.hpp"

#include <algorithm>
#include <optional>

namespace volant {

namespace {

constexpr unix_nanos ms(std::uint64_t v) {
  return static_cast<unix_nanos>(v) * 1'000'000;
}

bool is_one_of(vm_status s, std::initializer_list<vm_status> set) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

/// The record says a run is up (or frozen).
bool says_up(vm_status s) {
  return is_one_of(s, {vm_status::starting, vm_status::running, vm_status::ready,
                       vm_status::unhealthy, vm_status::stopping,
                       vm_status::paused, vm_status::terminating});
}

/// The reason a VM is restarted or recreated: its last error, else its status.
std::string reason_of(const vm_record& vm) {
  return vm.last_error.empty() ? std::string(to_string(vm.status)) : vm.last_error;
}

/// "5 s", "1.5 s".
std::string seconds_text(std::uint64_t v) {
  auto text = std::to_string(v / 1000);
  if (auto tenths = v % 1000 / 100; tenths != 0)
    text += "." + std::to_string(tenths);
  return text + " s";
}

bool ready_since_start(const vm_record& vm) {
  return vm.ready_at != 0 && vm.ready_at >= vm.started_at;
}

/// Restarted in place, and not ready since that start: a restart in place did
/// not help, so the next remedy is a fresh VM.
bool failed_since_restart(const vm_record& vm) {
  return vm.restarts > 0 && !ready_since_start(vm);
}

/// When a VM restarted in place must be ready by (0: no deadline applies). A VM
/// resumed after a pause was ready since its start: no deadline.
unix_nanos ready_deadline(const vm_record& vm, const restart_policy& policy) {
  if (vm.status != vm_status::running || vm.restarts == 0 || vm.started_at == 0
      || ready_since_start(vm))
    return 0;
  return vm.started_at + ms(policy.ready_deadline_ms);
}

std::string run_text(std::uint64_t n) {
  return "run " + std::to_string(n);
}

struct stepper {
  vm_machine& m;
  unix_nanos now;
  const vm_config& cfg;
  std::vector<vm_effect> out;

  const std::string& name() const { return m.rec.name; }

  template <class Fx> void emit(Fx fx) { out.emplace_back(std::move(fx)); }

  void command(volant::command cmd, std::string_view what) {
    m.awaiting = true;
    m.awaiting_what = what;
    emit(fx_command{std::move(cmd)});
  }

  /// Asks for a tick at `at` unless an earlier one is pending.
  void wake(unix_nanos at) {
    if (m.wake_at > now && m.wake_at <= at)
      return;
    m.wake_at = at;
    emit(fx_timer{at});
  }

  void probe_off() {
    if (m.run.probing) {
      emit(fx_probe_stop{});
      m.run.probing = false;
    }
  }

  void start() {
    auto n = m.rec.incarnation + 1;
    m.run = vm_run{};
    m.run.phase = run_phase::launching;
    m.run.n = n;
    emit(fx_note{"starting " + run_text(n)});
    emit(fx_start{n});
  }

  void stop(std::string why) {
    auto& r = m.run;
    if (r.phase == run_phase::frozen) // a frozen workload cannot act on SIGTERM
      emit(fx_thaw{r.n, r.handle, false});
    probe_off();
    emit(fx_note{"stopping " + run_text(r.n) + ": " + why});
    emit(fx_terminate{r.n, r.handle});
    r.phase = run_phase::stopping;
    r.stop_at = now;
    r.killed = false;
    r.stop_reason = std::move(why);
    wake(now + ms(cfg.stop_grace_ms));
  }

  /// The end of the current run was observed.
  void ended(std::int32_t code, std::string reason) {
    auto& r = m.run;
    r.on_purpose = r.phase == run_phase::stopping;
    probe_off();
    r.phase = run_phase::ended;
    r.exit_code = code;
    r.exit_reason = std::move(reason);
    emit(fx_note{run_text(r.n) + " " + r.exit_reason});
    emit(fx_release{r.n});
  }

  // -- inputs -------------------------------------------------------------------

  void absorb(const in_spawned& in) {
    const auto& rec = m.rec;
    // A predecessor may have forked the next run and crashed before recording
    // it: that run is nobody's now.
    emit(fx_release{rec.incarnation + 1});
    m.awaiting = false;
    m.run = vm_run{};
    m.run.n = rec.incarnation;
    m.run.handle = rec.handle;
    auto reason = std::string(in.daemon_start
                                ? "not running when volantd came back"
                                : "not running when its actor was restarted")
                  + " (exit status unknown)";
    bool maybe_up = says_up(rec.status) || rec.status == vm_status::restarting;
    if (maybe_up && rec.handle.pid != 0) {
      m.run.phase = run_phase::unknown;
      m.run.exit_reason = std::move(reason);
      emit(fx_check_alive{m.run.n, m.run.handle});
    } else if (says_up(rec.status)) {
      m.run.phase = run_phase::up; // no run on record: tell the record it ended
      ended(0, std::move(reason));
    } else {
      m.run.phase = run_phase::none;
    }
  }

  void absorb(const in_goal& in) {
    // `vms delete` was journaled by the api, not by this machine: the goal
    // brings it. Only when it turns on: a goal sent before this machine's
    // vm_recreated was committed may still say so, and must not repeat it.
    if (in.goal.recreate && !m.goal.recreate)
      m.rec.replace_requested = true;
    // An in-place update (a new health check) moved the record to the new
    // revision without an event of this VM's own: the goal brings it.
    if (!in.goal.outdated && in.goal.keep && in.goal.revision > m.rec.revision)
      m.rec.revision = in.goal.revision;
    m.goal = in.goal;
    m.has_goal = true;
    if (!m.goal.probed && !m.goal.readiness)
      probe_off();
  }

  void absorb(const in_committed& in) {
    m.awaiting = false;
    m.awaiting_what.clear();
    m.last_rejection.clear();
    m.retry_at = 0;
    for (const auto& ev : in.events) {
      volant::apply(m.rec, ev);
      if (std::holds_alternative<vm_removed>(ev)) {
        m.gone = true; // wiped before the removal was asked for (remove())
        emit(fx_quit{});
      } else if (std::holds_alternative<vm_recreated>(ev)) {
        m.run = vm_run{};
        m.run.phase = run_phase::none;
        m.run.n = m.rec.incarnation;
        const auto& why = m.rec.last_error; // a failure's says "recreated: " already
        emit(fx_note{why.starts_with("recreated: ") ? why : "recreated: " + why});
        emit(fx_wipe{false});
      } else if (std::holds_alternative<vm_exited>(ev)
                 || std::holds_alternative<vm_stopped>(ev)) {
        m.run.phase = run_phase::none;
      } else if (std::holds_alternative<vm_adopted>(ev)) {
        m.run.adoption_unrecorded = false;
      }
    }
  }

  void absorb(const in_rejected& in) {
    m.awaiting = false;
    m.awaiting_what.clear();
    m.last_rejection = in.message;
    m.retry_at = now + ms(cfg.retry_ms);
  }

  void absorb(const in_started& in) {
    auto& r = m.run;
    if (r.phase != run_phase::launching || in.n != r.n) {
      // A run this machine does not own (another number, or one whose failed
      // start or end it saw already): never two at once.
      if (in.n != r.n || r.phase == run_phase::none || r.phase == run_phase::ended)
        emit(fx_kill{in.n, in.handle});
      return;
    }
    r.phase = run_phase::up;
    r.handle = in.handle;
    r.audited_at = now;
    emit(fx_watch{r.n, r.handle});
  }

  void absorb(const in_start_failed& in) {
    auto& r = m.run;
    if (r.phase != run_phase::launching || in.n != r.n)
      return;
    r.phase = run_phase::none;
    r.start_error = in.error;
    emit(fx_note{run_text(r.n) + " failed to start: " + in.error});
    emit(fx_release{r.n});
  }

  void absorb(const in_exited& in) {
    auto& r = m.run;
    if (in.n != r.n)
      return; // another run's exit
    if (r.phase == run_phase::up || r.phase == run_phase::frozen
        || r.phase == run_phase::stopping)
      ended(in.code, in.reason);
  }

  void absorb(const in_alive& in) {
    auto& r = m.run;
    if (in.n != r.n)
      return;
    if (r.phase == run_phase::unknown) {
      if (!in.alive) {
        r.phase = run_phase::up;
        ended(0, r.exit_reason);
        return;
      }
      r.phase = m.rec.status == vm_status::paused ? run_phase::frozen : run_phase::up;
      r.exit_reason.clear();
      r.audited_at = now;
      r.adoption_unrecorded = m.rec.status != vm_status::restarting;
      emit(fx_note{"adopted " + run_text(r.n)});
      emit(fx_watch{r.n, r.handle});
      return;
    }
    if (!in.alive
        && (r.phase == run_phase::up || r.phase == run_phase::frozen
            || r.phase == run_phase::stopping))
      ended(0, "found not running (exit status unknown)");
  }

  void absorb(const in_frozen& in) {
    auto& r = m.run;
    if (in.n != r.n || r.phase != run_phase::up)
      return;
    if (!in.ok) {
      emit(fx_note{"pause failed: " + in.error});
      m.retry_at = now + ms(cfg.retry_ms);
      return;
    }
    probe_off();
    r.phase = run_phase::frozen;
    emit(fx_note{"paused"});
  }

  void absorb(const in_thawed& in) {
    auto& r = m.run;
    if (in.n != r.n || r.phase != run_phase::frozen)
      return;
    if (!in.ok) {
      emit(fx_note{"resume failed: " + in.error});
      m.retry_at = now + ms(cfg.retry_ms);
      return;
    }
    r.phase = run_phase::up;
    r.verdict = probe_verdict::unknown; // it has to prove itself again
    r.ready_verdict = probe_verdict::unknown;
    emit(fx_note{"resumed"});
  }

  void absorb(const in_verdict& in) {
    auto& r = m.run;
    if (in.n != r.n || r.phase != run_phase::up)
      return;
    auto verdict = in.ok ? probe_verdict::healthy : probe_verdict::unhealthy;
    if (in.readiness) {
      r.ready_verdict = verdict;
      r.ready_reason = in.reason;
    } else {
      r.verdict = verdict;
      r.verdict_reason = in.reason;
    }
  }

  void absorb(const in_tick&) { m.wake_at = 0; }

  // -- what to do ---------------------------------------------------------------

  /// The recreate due now, if any: an outdated VM its plan lets go, or (with
  /// auto-restart) a failure that a restart in place did not heal.
  std::optional<recreate_vm> recreate_due() const {
    const auto& rec = m.rec;
    const auto& g = m.goal;
    if (rec.replace_requested)
      return recreate_vm{name(), 0, g.revision, 0, 0, "deleted by the user: replaced"};
    if (rec.revision != g.revision) {
      if (!g.replace)
        return std::nullopt;
      return recreate_vm{name(), 0, g.revision, 0, 0,
                         "revision " + std::to_string(rec.revision) + " -> "
                           + std::to_string(g.revision)};
    }
    if (!g.auto_restart)
      return std::nullopt;
    std::string why;
    auto deadline = ready_deadline(rec, cfg.policy);
    if (rec.status == vm_status::failed)
      why = reason_of(rec);
    else if (is_one_of(rec.status, {vm_status::exited, vm_status::unhealthy})
             && failed_since_restart(rec))
      why = reason_of(rec) + " (again after a restart)";
    else if (deadline != 0 && now >= deadline)
      why = "not ready within " + seconds_text(cfg.policy.ready_deadline_ms)
            + " of its restart";
    if (why.empty())
      return std::nullopt;
    return recreate_vm{name(), 0, rec.revision, rec.restarts + 1,
                       next_backoff_ms(rec, now, cfg.policy), "recreated: " + why};
  }

  /// Tells the record what happened to the run, before anything else (after
  /// a rejection, not before retry_at: nothing else goes first meanwhile).
  bool record_facts() {
    auto& r = m.run;
    const auto& rec = m.rec;
    bool ran = r.phase == run_phase::up || r.phase == run_phase::frozen
               || r.phase == run_phase::stopping || r.phase == run_phase::ended;
    std::optional<volant::command> fact;
    std::string_view what;
    if (ran && r.n > rec.incarnation) {
      fact = record_vm_started{name(), r.handle, r.n};
      what = "record_vm_started";
    } else if (r.phase == run_phase::none && !r.start_error.empty()
               && r.n > rec.incarnation) {
      fact = record_vm_start_failed{name(), r.start_error, r.n};
      what = "record_vm_start_failed";
    } else if (r.adoption_unrecorded
               && (r.phase == run_phase::up || r.phase == run_phase::frozen)) {
      fact = record_vm_adopted{name(), r.handle, r.n};
      what = "record_vm_adopted";
    }
    if (!fact)
      return false;
    if (now < m.retry_at)
      wake(m.retry_at);
    else
      command(std::move(*fact), what);
    return true;
  }

  /// Wipes the VM's files, then asks for its removal: once `vm_removed` is
  /// journaled a new VM may take the name at once, and its run directory and
  /// log must not be the ones this actor is still deleting.
  void remove(std::uint64_t ended) {
    emit(fx_wipe{true});
    command(remove_vm{name(), ended}, "remove_vm");
  }

  /// A run that ended while the record says it is up: record its end, or go
  /// straight to the removal or recreate it was stopped for.
  void record_end() {
    auto& r = m.run;
    if (m.has_goal && !m.goal.keep) {
      remove(r.n);
    } else if (auto re = m.has_goal ? recreate_due() : std::nullopt) {
      re->ended = r.n;
      command(std::move(*re), "recreate_vm");
    } else if (r.on_purpose) {
      command(record_vm_stopped{name(), r.n}, "record_vm_stopped");
    } else {
      command(record_vm_exited{name(), r.exit_code, r.exit_reason, r.n},
              "record_vm_exited");
    }
  }

  void drive() {
    step_once();
    // The liveness audit needs a wake-up of its own: a VM that is up and
    // idle gets no other input, and a lost exit report would leave it
    // "running" for ever.
    const auto& r = m.run;
    auto audit_at = r.audited_at + ms(cfg.audit_ms);
    if (!m.gone && !m.awaiting && audited(r) && audit_at > now)
      wake(audit_at);
  }

  /// A run whose liveness is audited besides its exit watch (a killed one
  /// too: nothing else would notice that its exit report was lost).
  static bool audited(const vm_run& r) {
    return r.phase == run_phase::up || r.phase == run_phase::frozen
           || (r.phase == run_phase::stopping && r.killed);
  }

  void step_once() {
    auto& r = m.run;
    const auto& rec = m.rec;
    if (m.gone || m.awaiting || r.phase == run_phase::unknown
        || r.phase == run_phase::launching)
      return; // waiting for an answer
    if (record_facts())
      return;
    if (r.phase == run_phase::ended && !says_up(rec.status))
      r.phase = run_phase::none; // the record agrees (a restart's stop)
    if (audited(r) && now - r.audited_at >= ms(cfg.audit_ms)) {
      r.audited_at = now;
      emit(fx_check_alive{r.n, r.handle});
      return;
    }
    if (r.phase == run_phase::stopping) {
      auto deadline = r.stop_at + ms(cfg.stop_grace_ms);
      if (!r.killed && now >= deadline) {
        emit(fx_note{run_text(r.n) + " did not stop within the grace period: killing"});
        emit(fx_kill{r.n, r.handle});
        r.killed = true;
        r.audited_at = now;
      } else if (!r.killed) {
        wake(deadline);
      }
      return;
    }
    if (now < m.retry_at) {
      wake(m.retry_at);
      return;
    }
    if (r.phase == run_phase::ended) {
      record_end();
      return;
    }
    if (m.has_goal)
      pursue_goal();
  }

  void pursue_goal() {
    auto& r = m.run;
    const auto& rec = m.rec;
    const auto& g = m.goal;
    auto s = rec.status;
    bool running = r.phase == run_phase::up || r.phase == run_phase::frozen;
    // A rolling update's retirement: terminating (out of the load balancer
    // and DNS) for the drain time, then stopped, then removed or replaced.
    if (s == vm_status::terminating && running) {
      // Its load balancers drained it (vm_drained): it need not wait longer.
      auto until = g.terminate_at != 0 ? std::min(rec.terminate_at, g.terminate_at)
                                        : rec.terminate_at;
      if (now < until)
        return wake(until);
      return stop("terminated: " + (rec.last_error.empty() ? g.retire_reason : rec.last_error));
    }
    bool retiring = !g.keep || (g.replace && !g.paused && rec.revision != g.revision);
    if (retiring && g.drain_ms > 0 && r.phase == run_phase::up && r.n == rec.incarnation
        && is_one_of(s, {vm_status::starting, vm_status::running, vm_status::ready,
                         vm_status::unhealthy})) {
      probe_off();
      return command(terminate_vm{name(), r.n, g.drain_ms, g.retire_reason},
                     "terminate_vm");
    }
    if (!g.keep) {
      if (running)
        return stop("removed");
      return remove(rec.incarnation);
    }
    if (s == vm_status::restarting && running)
      return stop("restarting: " + reason_of(rec));
    if (g.paused) {
      if (r.phase == run_phase::up
          && is_one_of(s, {vm_status::running, vm_status::ready, vm_status::unhealthy}))
        return emit(fx_freeze{r.n, r.handle});
      if (r.phase == run_phase::frozen && s != vm_status::paused)
        return command(record_vm_paused{name(), r.n}, "record_vm_paused");
      return; // nothing starts or restarts while paused
    }
    if (r.phase == run_phase::frozen)
      return emit(fx_thaw{r.n, r.handle, true});
    if (r.phase == run_phase::up && s == vm_status::paused)
      return command(record_vm_resumed{name(), r.n}, "record_vm_resumed");
    if (r.phase == run_phase::up && observe_health())
      return;
    if (auto re = recreate_due()) {
      if (running)
        return stop(re->reason);
      re->ended = rec.incarnation;
      return command(std::move(*re), "recreate_vm");
    }
    if (rec.revision != g.revision)
      return; // outdated: replaced when the plan allows, never restarted
    if (g.auto_restart && is_one_of(s, {vm_status::exited, vm_status::unhealthy}))
      return command(schedule_vm_restart{name(), reason_of(rec),
                                         next_backoff_ms(rec, now, cfg.policy),
                                         rec.incarnation},
                     "schedule_vm_restart");
    if (g.auto_restart)
      if (auto deadline = ready_deadline(rec, cfg.policy); deadline != 0)
        wake(deadline);
    if (r.phase == run_phase::none
        && is_one_of(s, {vm_status::pending, vm_status::stopped,
                         vm_status::restarting})) {
      if (now < rec.not_before)
        return wake(rec.not_before);
      start();
    }
  }

  /// READY and UNHEALTHY from the probe (or at once without a check); starts
  /// the probe of a run that has none. True if a command went out.
  bool observe_health() {
    auto& r = m.run;
    const auto& rec = m.rec;
    auto s = rec.status;
    if (r.n != rec.incarnation)
      return false;
    bool checked = m.goal.probed || m.goal.readiness;
    // The health check failing: unhealthy (restarts), with or without a
    // readiness check.
    if (checked && r.verdict == probe_verdict::unhealthy
        && is_one_of(s, {vm_status::running, vm_status::ready})) {
      command(record_vm_unhealthy{name(), r.verdict_reason, r.n}, "record_vm_unhealthy");
      return true;
    }
    // READY from the readiness check when there is one, else from the health
    // check, else as soon as it runs.
    bool ready = m.goal.readiness ? r.ready_verdict == probe_verdict::healthy
                                        && r.verdict != probe_verdict::unhealthy
                 : m.goal.probed  ? r.verdict == probe_verdict::healthy
                                  : true;
    if (ready && is_one_of(s, {vm_status::running, vm_status::unhealthy})) {
      command(record_vm_ready{name(), r.n}, "record_vm_ready");
      return true;
    }
    // A readiness failure takes it out of service, running.
    if (m.goal.readiness && r.ready_verdict == probe_verdict::unhealthy
        && s == vm_status::ready) {
      command(record_vm_not_ready{name(), r.ready_reason, r.n}, "record_vm_not_ready");
      return true;
    }
    if (!checked)
      return false;
    if (!r.probing
        && is_one_of(s, {vm_status::running, vm_status::ready, vm_status::unhealthy})) {
      emit(fx_probe_start{r.n, r.handle});
      r.probing = true;
    }
    return false;
  }
};

} // namespace

std::string_view to_string(run_phase phase) noexcept {
  switch (phase) {
    case run_phase::unknown:
      return "unknown";
    case run_phase::none:
      return "none";
    case run_phase::launching:
      return "launching";
    case run_phase::up:
      return "up";
    case run_phase::frozen:
      return "frozen";
    case run_phase::stopping:
      return "stopping";
    case run_phase::ended:
      return "ended";
  }
  return "unknown";
}

vm_machine make_vm_machine(vm_record rec) {
  vm_machine m;
  m.rec = std::move(rec);
  m.run.n = m.rec.incarnation;
  return m;
}

std::vector<vm_effect> vm_step(vm_machine& m, const vm_input& in, unix_nanos now,
                               const vm_config& config) {
  stepper s{m, now, config, {}};
  std::visit([&](const auto& x) { s.absorb(x); }, in);
  s.drive();
  return std::move(s.out);
}

std::string_view kind_name(const vm_input& in) {
  static constexpr std::string_view names[] = {
    "in_spawned",  "in_goal",  "in_committed", "in_rejected",
    "in_started",  "in_start_failed", "in_exited", "in_alive",
    "in_frozen",   "in_thawed", "in_verdict",  "in_tick"};
  static_assert(std::size(names) == std::variant_size_v<vm_input>);
  return names[in.index()];
}

std::string_view kind_name(const vm_effect& fx) {
  static constexpr std::string_view names[] = {
    "fx_check_alive", "fx_start", "fx_watch",       "fx_terminate",
    "fx_kill",        "fx_freeze", "fx_thaw",       "fx_release",
    "fx_wipe",        "fx_probe_start", "fx_probe_stop", "fx_timer",
    "fx_command",     "fx_note",  "fx_quit"};
  static_assert(std::size(names) == std::variant_size_v<vm_effect>);
  return names[fx.index()];
}

} // namespace volant
