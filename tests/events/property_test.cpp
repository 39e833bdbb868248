// Property test: a whole daemon simulated in pure code, seeded so that every
// failure reproduces. The controller decides commands against the world and
// pushes each deployment's plan (creates, one goal per VM); every VM runs the
// real lifecycle machine (vm_step) as its actor does; a fake driver delays and
// reorders reports and drops some; faults are injected: workloads crash, probes
// flip, VM actors crash (their machine is rebuilt from the record) and the daemon
// restarts (every machine rebuilt from the log; replies, reports and timers in
// flight are lost; workloads keep running). Invariants are checked all along;
// then the faults stop and every deployment must converge.

#include "fixture.hpp"

#include "events/vm_machine.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <random>
#include <set>

using namespace volant;
using namespace volant::test;

namespace {

constexpr int sequences = 120;
constexpr int steps = 160;
constexpr unix_nanos ms = 1'000'000;

/// Totals over all sequences: the random walk reached the interesting places.
struct coverage {
  std::map<std::string, int> events;
  std::map<std::string, int> errors;
  std::map<std::string, int> effects;
  std::map<std::string, int> faults;
  int blocked = 0;
  int surged = 0;
};

/// A workload run as the fake driver has it.
struct fake_run {
  std::string vm;
  std::uint64_t n = 0;
  bool alive = true;
  bool frozen = false;
  bool healthy = true;
  bool stubborn = false; ///< ignores SIGTERM: only the kill after the grace ends it
  bool watched = false;
  bool probing = false;
};

/// A message on its way to a VM actor.
struct message {
  unix_nanos at = 0;
  std::uint64_t order = 0;
  std::string vm;
  std::uint64_t generation = 0; ///< of the actor it was sent to
  vm_input in;
};

/// What one machine was fed and did, to check that it replays the same.
struct trace {
  vm_record initial;
  std::vector<std::tuple<vm_input, unix_nanos, std::vector<vm_effect>>> steps;
};

class simulation {
public:
  simulation(std::uint32_t seed, coverage& cov) : rng_(seed), cov_(cov) {
    cfg_.policy = {1000, 8000, 60000, 20000};
    cfg_.stop_grace_ms = 300;
    cfg_.audit_ms = 2000;
    cfg_.retry_ms = 200;
    must(configure_host{random_host()});
    auto m = nginx("1.0.0");
    must(install_plugin{m});
  }

  void step() {
    now_ += pick(0, 400) * ms;
    deliver_due();
    int what = pick(0, 99);
    if (what < 40)
      run_user(random_command());
    else if (what < 52)
      crash_workload();
    else if (what < 60)
      flip_health();
    else if (what < 64)
      crash_actor();
    else if (what < 66)
      restart_daemon();
    if (now_ >= next_round_) {
      next_round_ = now_ + 2000 * ms;
      push_all();
    }
    check_invariants();
  }

  /// Faults stop; time runs until everything settled.
  void settle() {
    faults_ = false;
    for (auto& [pid, r] : runs_)
      r.healthy = true; // a probe that still runs will say so
    for (auto& [pid, r] : runs_)
      if (r.alive && r.probing)
        mail(r.vm, in_verdict{r.n, true, ""}, 10 * ms);
    for (int round = 0; round < 400; ++round) {
      now_ += 250 * ms;
      deliver_due();
      if (round % 8 == 0)
        push_all();
    }
    check_invariants();
    check_settled();
    check_replays();
  }

private:
  harness h_;
  std::mt19937 rng_;
  coverage& cov_;
  vm_config cfg_;
  unix_nanos now_ = 1'000'000'000'000;
  unix_nanos next_round_ = 0;
  bool faults_ = true;
  std::map<std::string, vm_machine> machines_;
  std::map<std::string, std::uint64_t> generation_;
  std::map<std::string, trace> traces_;
  std::vector<trace> finished_;
  std::map<std::int64_t, fake_run> runs_; ///< by pid
  std::int64_t next_pid_ = 1000;
  std::vector<message> mail_;
  std::uint64_t order_ = 0;
  std::map<std::string, unix_nanos> fifo_; ///< last delivery time per channel

  // -- randomness ---------------------------------------------------------------

  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(int percent) { return pick(0, 99) < percent; }
  template <class T> T one_of(const std::vector<T>& xs) {
    return xs[static_cast<std::size_t>(pick(0, static_cast<int>(xs.size()) - 1))];
  }

  std::string deployment_name() {
    static const std::vector<std::string> valid{"web", "db", "api"};
    if (!h_.w.deployments.empty() && chance(80)) {
      auto i = h_.w.deployments.begin();
      std::advance(i, pick(0, static_cast<int>(h_.w.deployments.size()) - 1));
      return i->first;
    }
    return chance(97) ? one_of(valid) : "Bad";
  }

  host_config random_host() {
    auto c = small_host();
    c.pool_first = ip(10);
    c.pool_last = ip(static_cast<std::uint32_t>(10 + pick(8, 30)));
    c.memory_total_mib = 256 * pick(6, 16);
    c.max_vms = static_cast<std::uint32_t>(pick(8, 30));
    c.max_replicas = 8;
    return c;
  }

  update_strategy strategy() {
    update_strategy s;
    if (chance(50)) {
      s.kind = strategy_kind::rolling;
      s.max_unavailable = chance(50) ? int_or_percent{1, false} : int_or_percent{50, true};
      s.max_surge = one_of<int_or_percent>({{0, false}, {1, false}, {2, false}, {50, true}});
      s.termination_grace_ms = static_cast<std::int32_t>(pick(0, 3) * 500);
    }
    return s;
  }

  command random_command() {
    switch (pick(0, 11)) {
    case 0:
    case 1: {
      auto s = spec(deployment_name(), pick(0, 5), one_of<std::int64_t>({64, 128, 256}));
      s.auto_restart = chance(85);
      s.paused = chance(5);
      s.strategy = strategy();
      return create_deployment{s};
    }
    case 2:
    case 3:
      return scale_deployment{deployment_name(), chance(5) ? -1 : pick(0, 6)};
    case 4:
    case 5: {
      update_deployment u;
      u.name = deployment_name();
      if (chance(50))
        u.cpu = pick(1, 3);
      if (chance(30))
        u.env = std::vector<env_var>{{"MODE", std::to_string(pick(0, 9))}};
      if (chance(20))
        u.auto_restart = chance(70);
      if (chance(20))
        u.strategy = strategy();
      if (chance(15))
        u.memory_mib = one_of<std::int64_t>({64, 128, 256});
      return u;
    }
    case 6:
    case 7:
      return pause_deployment{deployment_name()};
    case 8:
    case 9:
      return resume_deployment{deployment_name()};
    case 10:
      return delete_deployment{deployment_name()};
    default:
      return record_vm_ready{"ghost-0"}; // refused: no such VM
    }
  }

  void must(const command& cmd) {
    h_.now = now_;
    auto r = decide(h_.w, cmd, now_);
    REQUIRE_MESSAGE(r.has_value(), r.error_value().message);
    commit(*r);
  }

  // -- the controller -----------------------------------------------------------

  /// Applies and logs committed events; checks what may only happen to a VM
  /// whose run is over.
  void commit(const std::vector<event>& evs) {
    for (const auto& ev : evs) {
      cov_.events[std::string(kind_name(ev))]++;
      const std::string* gone = nullptr;
      if (const auto* e = std::get_if<vm_removed>(&ev))
        gone = &e->name;
      if (const auto* e = std::get_if<vm_recreated>(&ev))
        gone = &e->name;
      if (gone != nullptr)
        for (const auto& [pid, r] : runs_)
          CHECK_MESSAGE(!(r.alive && r.vm == *gone),
                        *gone << ": " << kind_name(ev) << " while run " << r.n
                              << " is still up");
      h_.now = now_;
      h_.record(ev);
    }
  }

  void run_user(const command& cmd) {
    h_.now = now_;
    auto r = decide(h_.w, cmd, now_);
    if (!r) {
      cov_.errors[std::string(to_string(r.error_value().code))]++;
      return;
    }
    commit(*r);
    push_all();
  }

  std::set<std::string> deployments_in_world() const {
    std::set<std::string> out;
    for (const auto& [name, d] : h_.w.deployments)
      out.insert(name);
    for (const auto& [name, vm] : h_.w.vms)
      out.insert(vm.deployment);
    return out;
  }

  void push_all() {
    for (const auto& dep : deployments_in_world())
      push(dep);
  }

  /// Records missing replicas, then hands every VM its goal.
  void push(const std::string& dep) {
    auto p = reconcile(h_.w, dep, now_);
    if (!p.blocked.empty())
      cov_.blocked++;
    if (!p.create.empty() || !p.surge.empty()) {
      for (auto index : p.create) {
        h_.now = now_;
        auto r = decide(h_.w, create_vm{dep, index}, now_);
        REQUIRE_MESSAGE(r.has_value(), r.error_value().message);
        commit(*r);
      }
      for (auto index : p.surge) {
        h_.now = now_;
        auto r = decide(h_.w, create_vm{dep, index, true}, now_);
        REQUIRE_MESSAGE(r.has_value(), r.error_value().message);
        commit(*r);
        cov_.surged++;
      }
      p = reconcile(h_.w, dep, now_);
    }
    for (const auto& [vm, goal] : p.goals) {
      if (!machines_.count(vm))
        spawn(vm, false);
      mail(vm, in_goal{goal}, pick(0, 30) * ms, "goal");
    }
  }

  /// A VM actor starts on the record as decided now.
  void spawn(const std::string& vm, bool recovering) {
    const auto& rec = h_.w.vms.at(vm);
    machines_[vm] = make_vm_machine(rec);
    ++generation_[vm];
    traces_[vm] = trace{rec, {}};
    feed(vm, in_spawned{recovering});
  }

  // -- messages -----------------------------------------------------------------

  /// Sends `in` to the VM's actor after `delay`; on a FIFO channel never before
  /// what was sent on it earlier.
  void mail(const std::string& vm, vm_input in, unix_nanos delay,
            const std::string& channel = {}) {
    auto at = now_ + delay;
    if (!channel.empty()) {
      auto& last = fifo_[vm + "/" + channel];
      at = std::max(at, last);
      last = at;
    }
    mail_.push_back({at, order_++, vm, generation_[vm], std::move(in)});
  }

  void deliver_due() {
    for (;;) {
      auto next = std::min_element(mail_.begin(), mail_.end(), [](const auto& a, const auto& b) {
        return std::tie(a.at, a.order) < std::tie(b.at, b.order);
      });
      if (next == mail_.end() || next->at > now_)
        return;
      auto msg = std::move(*next);
      mail_.erase(next);
      if (machines_.count(msg.vm) && generation_[msg.vm] == msg.generation)
        feed(msg.vm, std::move(msg.in));
    }
  }

  /// One step of the VM's machine, then its effects; answers of the driver come
  /// back in order, as the actor feeds them.
  void feed(const std::string& vm, vm_input first) {
    std::vector<vm_input> queue{std::move(first)};
    for (std::size_t i = 0; i < queue.size(); ++i) {
      auto it = machines_.find(vm);
      if (it == machines_.end())
        return;
      auto in = queue[i];
      auto effects = vm_step(it->second, in, now_, cfg_);
      traces_[vm].steps.emplace_back(in, now_, effects);
      if (const char* t = std::getenv("VOLANT_TRACE_VM"); t != nullptr && vm == t) {
        std::string line = std::to_string(now_ / ms) + " " + std::string(kind_name(in));
        if (auto* c = std::get_if<in_committed>(&in))
          for (const auto& ev : c->events)
            line += " " + std::string(kind_name(ev));
        line += " ->";
        for (const auto& fx : effects)
          line += " " + std::string(kind_name(fx));
        line += "  [" + describe(vm) + "]";
        MESSAGE(line);
      }
      for (const auto& fx : effects) {
        cov_.effects[std::string(kind_name(fx))]++;
        if (auto answer = carry_out(vm, fx))
          queue.push_back(std::move(*answer));
      }
    }
  }

  fake_run* run_of(const std::string& vm, std::uint64_t n, const driver_handle& h) {
    auto it = runs_.find(h.pid);
    if (it == runs_.end())
      return nullptr;
    CHECK_MESSAGE((it->second.vm == vm && it->second.n == n),
                  vm << ": an effect for run " << n << " names pid " << h.pid << " of "
                     << it->second.vm << " run " << it->second.n);
    return &it->second;
  }

  /// The run ends: its watcher reports it (sometimes late, now and then never).
  void end_run(fake_run& r, std::int32_t code, const std::string& why) {
    if (!r.alive)
      return;
    r.alive = false;
    r.probing = false;
    if (r.watched && !(faults_ && chance(5)))
      mail(r.vm, in_exited{r.n, code, why}, pick(0, 200) * ms);
  }

  std::optional<vm_input> carry_out(const std::string& vm, const vm_effect& fx) {
    const auto& m = machines_.at(vm);
    return std::visit(
      [&](const auto& x) -> std::optional<vm_input> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, fx_check_alive>) {
          auto it = runs_.find(x.handle.pid);
          bool alive = it != runs_.end() && it->second.alive && it->second.vm == vm
                       && it->second.n == x.n;
          return in_alive{x.n, alive};
        } else if constexpr (std::is_same_v<T, fx_start>) {
          // The driver first ends a run of the same number that was forked but
          // never recorded (its actor crashed right after the fork).
          for (auto& [pid, r] : runs_)
            if (r.alive && r.vm == vm && r.n == x.n) {
              r.alive = false;
              cov_.faults["unrecorded run ended at its retry"]++;
            }
          for (const auto& [pid, r] : runs_)
            CHECK_MESSAGE(!(r.alive && r.vm == vm),
                          vm << ": run " << x.n << " started while run " << r.n << " is up");
          if (faults_ && chance(4))
            return in_start_failed{x.n, "cannot run nginx: No such file or directory"};
          auto pid = next_pid_++;
          runs_[pid] = fake_run{vm, x.n, true, false, !(faults_ && chance(15)),
                                faults_ && chance(10)};
          driver_handle h{"process", pid, 1, ""};
          if (chance(20)) {
            mail(vm, in_started{x.n, h}, pick(1, 100) * ms);
            return std::nullopt;
          }
          return in_started{x.n, h};
        } else if constexpr (std::is_same_v<T, fx_watch>) {
          if (auto* r = run_of(vm, x.n, x.handle)) {
            r->watched = true;
            if (!r->alive)
              mail(vm, in_exited{x.n, 0, "not running (found gone)"}, 0);
          }
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, fx_terminate>) {
          CHECK(x.n == m.run.n);
          if (auto* r = run_of(vm, x.n, x.handle); r && !r->stubborn)
            end_run(*r, 0, "exited with status 0");
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, fx_kill>) {
          if (auto* r = run_of(vm, x.n, x.handle))
            end_run(*r, -9, "killed by signal 9 (SIGKILL)");
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, fx_freeze>) {
          auto* r = run_of(vm, x.n, x.handle);
          bool ok = r != nullptr && r->alive;
          if (ok)
            r->frozen = true;
          return in_frozen{x.n, ok, ok ? "" : "not running"};
        } else if constexpr (std::is_same_v<T, fx_thaw>) {
          auto* r = run_of(vm, x.n, x.handle);
          if (r != nullptr)
            r->frozen = false;
          if (x.reply)
            return in_thawed{x.n, r != nullptr && r->alive, ""};
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, fx_release>) {
          // The driver ends what is left of the run; never the one the machine
          // has up.
          bool own = x.n == m.run.n
                     && (m.run.phase == run_phase::up || m.run.phase == run_phase::frozen
                         || m.run.phase == run_phase::stopping
                         || m.run.phase == run_phase::launching);
          CHECK_MESSAGE(!own, vm << ": released its own run " << x.n << " while up");
          for (auto& [pid, r] : runs_)
            if (r.alive && r.vm == vm && r.n == x.n) {
              r.alive = false;
              cov_.faults["unrecorded run released"]++;
            }
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, fx_wipe>) {
          for (const auto& [pid, r] : runs_)
            CHECK_MESSAGE(!(r.alive && r.vm == vm), vm << ": wiped while run " << r.n << " is up");
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, fx_probe_start>) {
          if (auto* r = run_of(vm, x.n, x.handle)) {
            r->probing = true;
            mail(vm, in_verdict{x.n, r->healthy, r->healthy ? "" : "HTTP 503"},
                 pick(1, 300) * ms, "probe");
          }
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, fx_probe_stop>) {
          for (auto& [pid, r] : runs_)
            if (r.vm == vm)
              r.probing = false;
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, fx_timer>) {
          mail(vm, in_tick{}, std::max<unix_nanos>(0, x.at - now_) + pick(0, 20) * ms);
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, fx_command>) {
          controller_command(vm, x.cmd);
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, fx_note>) {
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, fx_quit>) {
          finished_.push_back(std::move(traces_[vm]));
          traces_.erase(vm);
          machines_.erase(vm);
          // Scaled up again meanwhile: a new VM of the same name gets an actor of
          // its own once this one is gone (the deployment actor does the same).
          if (h_.w.vms.count(vm)) {
            spawn(vm, false);
            push(deployment_of_vm(vm));
          }
          return std::nullopt;
        } else {
          static_assert(!sizeof(T), "unhandled effect");
        }
      },
      fx);
  }

  /// A VM's command: decided at once; the reply (and the plan push the commit
  /// triggers) arrives later.
  void controller_command(const std::string& vm, const command& cmd) {
    h_.now = now_;
    auto r = decide(h_.w, cmd, now_);
    if (!r) {
      cov_.errors[std::string(to_string(r.error_value().code))]++;
      mail(vm, in_rejected{r.error_value().message}, pick(0, 50) * ms);
      return;
    }
    commit(*r);
    mail(vm, in_committed{*r}, pick(0, 80) * ms);
    push(deployment_of_vm(vm));
  }

  static std::string deployment_of_vm(const std::string& vm) {
    return vm.substr(0, vm.rfind('-'));
  }

  // -- faults -------------------------------------------------------------------

  std::vector<std::int64_t> alive_pids() const {
    std::vector<std::int64_t> out;
    for (const auto& [pid, r] : runs_)
      if (r.alive)
        out.push_back(pid);
    return out;
  }

  void crash_workload() {
    auto pids = alive_pids();
    if (pids.empty())
      return;
    cov_.faults["workload crash"]++;
    end_run(runs_.at(one_of(pids)), 1, "exited with status 1");
  }

  void flip_health() {
    auto pids = alive_pids();
    if (pids.empty())
      return;
    auto& r = runs_.at(one_of(pids));
    r.healthy = !r.healthy;
    cov_.faults[r.healthy ? "probe heals" : "probe fails"]++;
    if (r.probing)
      mail(r.vm, in_verdict{r.n, r.healthy, r.healthy ? "" : "HTTP 503"}, pick(1, 300) * ms,
           "probe");
  }

  /// An actor crash: its state, mailbox, exit watch and probe are gone; its
  /// supervisor respawns it on the record as decided now.
  void crash_actor() {
    if (machines_.empty())
      return;
    auto it = machines_.begin();
    std::advance(it, pick(0, static_cast<int>(machines_.size()) - 1));
    auto vm = it->first;
    cov_.faults["actor crash"]++;
    finished_.push_back(std::move(traces_[vm]));
    machines_.erase(it);
    ++generation_[vm];
    for (auto& [pid, r] : runs_)
      if (r.vm == vm)
        r.watched = r.probing = false;
    if (h_.w.vms.count(vm)) {
      spawn(vm, false);
      push(deployment_of_vm(vm));
    }
  }

  /// kill -9 of the daemon: everything in memory is gone; the workloads run on.
  /// The next daemon folds the log, releases runs the log does not know, and
  /// spawns a machine per VM, which adopts its run.
  void restart_daemon() {
    cov_.faults["daemon restart"]++;
    for (auto& [vm, t] : traces_)
      finished_.push_back(std::move(t));
    traces_.clear();
    machines_.clear();
    mail_.clear();
    fifo_.clear();
    for (auto& [vm, g] : generation_)
      ++g;
    auto w = replay(h_.log);
    CHECK(w == h_.w);
    for (auto& [pid, r] : runs_) {
      r.watched = r.probing = false;
      auto vm = w.vms.find(r.vm);
      if (r.alive && (vm == w.vms.end() || vm->second.incarnation != r.n)) {
        r.alive = false; // reap_unknown
        cov_.faults["reaped at start"]++;
      }
    }
    for (const auto& [name, vm] : w.vms)
      spawn(name, true);
    push_all();
  }

  // -- invariants ---------------------------------------------------------------

  void check_invariants() {
    const auto& w = h_.w;
    std::map<std::string, int> up;
    for (const auto& [pid, r] : runs_)
      if (r.alive)
        CHECK_MESSAGE(++up[r.vm] == 1, r.vm << " has two live runs");
    std::set<ipv4> ips;
    std::int64_t memory = 0;
    for (const auto& [name, vm] : w.vms) {
      CHECK(std::string(slot_name(name)) == vm_name(vm.deployment, vm.index));
      CHECK(ips.insert(vm.ip).second);
      memory += vm.memory_mib;
    }
    CHECK(w.host.leases.size() == w.vms.size());
    CHECK(w.host.memory_used_mib == memory);
    CHECK(w.host.memory_used_mib <= w.host.config.memory_total_mib);
  }

  /// What a VM's record, machine and runs look like, for failure messages.
  std::string describe(const std::string& vm) const {
    std::string out = vm;
    if (auto r = h_.w.vms.find(vm); r != h_.w.vms.end())
      out += " status=" + std::string(to_string(r->second.status))
             + " run=" + std::to_string(r->second.incarnation);
    if (auto m = machines_.find(vm); m != machines_.end())
      out += " machine: phase=" + std::string(to_string(m->second.run.phase))
             + " n=" + std::to_string(m->second.run.n) + " awaiting=" + m->second.awaiting_what
             + " has_goal=" + std::to_string(m->second.has_goal)
             + " keep=" + std::to_string(m->second.goal.keep) + " rejection="
             + m->second.last_rejection;
    else
      out += " no machine";
    for (const auto& [pid, r] : runs_)
      if (r.vm == vm && r.alive)
        out += " live run " + std::to_string(r.n) + (r.frozen ? " frozen" : "");
    return out;
  }

  void check_settled() {
    const auto& w = h_.w;
    CHECK(replay(h_.log) == w);
    for (const auto& vm : orphans(w))
      FAIL_CHECK("orphan " << describe(vm));
    for (const auto& [vm, m] : machines_) {
      CHECK_MESSAGE(!m.awaiting, vm << " still awaits " << m.awaiting_what);
      CHECK(w.vms.count(vm));
    }
    for (const auto& [pid, r] : runs_) {
      if (!r.alive)
        continue;
      auto vm = w.vms.find(r.vm);
      REQUIRE_MESSAGE(vm != w.vms.end(), "leaked run of " << r.vm);
      CHECK_MESSAGE(vm->second.handle.pid == pid, r.vm << " runs pid " << pid
                                                       << ", the record says "
                                                       << vm->second.handle.pid);
      CHECK(vm->second.incarnation == r.n);
    }
    for (const auto& [name, d] : w.deployments) {
      auto vms = vms_of(w, name);
      auto p = reconcile(w, name, now_);
      CHECK(p.create.empty());
      CHECK(p.surge.empty());
      for (const auto* vm : vms)
        CHECK_MESSAGE(vm->index < static_cast<std::uint32_t>(d.spec.replicas),
                      describe(vm->name));
      if (d.spec.paused || !p.blocked.empty())
        continue;
      REQUIRE(vms.size() == static_cast<std::size_t>(d.spec.replicas));
      for (std::uint32_t i = 0; i < vms.size(); ++i) {
        CAPTURE(vms[i]->name);
        CHECK(slot_name(vms[i]->name) == vm_name(name, i));
        if (!d.spec.auto_restart)
          continue;
        CHECK(vms[i]->status == vm_status::ready);
        CHECK(vms[i]->revision == d.revision);
        auto live = std::count_if(runs_.begin(), runs_.end(), [&](const auto& kv) {
          return kv.second.alive && kv.second.vm == vms[i]->name && !kv.second.frozen;
        });
        CHECK(live == 1);
      }
    }
  }

  /// The same inputs at the same times make a fresh machine decide the same.
  void check_replays() {
    for (auto& [vm, t] : traces_)
      finished_.push_back(std::move(t));
    traces_.clear();
    for (const auto& t : finished_) {
      auto m = make_vm_machine(t.initial);
      for (const auto& [in, at, effects] : t.steps) {
        auto again = vm_step(m, in, at, cfg_);
        REQUIRE(again.size() == effects.size());
        for (std::size_t i = 0; i < again.size(); ++i)
          CHECK(kind_name(again[i]) == kind_name(effects[i]));
      }
    }
  }
};

} // namespace

TEST_CASE("a simulated daemon with crashes, lost reports and restarts keeps every "
          "invariant and converges") {
  coverage cov;
  int only = std::getenv("VOLANT_SEED") ? std::atoi(std::getenv("VOLANT_SEED")) : 0;
  for (int seed = 1; seed <= sequences; ++seed) {
    if (only != 0 && seed != only)
      continue;
    CAPTURE(seed);
    simulation sim(static_cast<std::uint32_t>(seed), cov);
    for (int i = 0; i < steps; ++i) {
      CAPTURE(i);
      sim.step();
    }
    sim.settle();
  }
  for (auto kind : {"deployment_created", "deployment_scaled", "deployment_updated",
                    "deployment_paused", "deployment_resumed", "deployment_deleted",
                    "vm_created", "vm_started", "vm_adopted", "vm_ready", "vm_unhealthy",
                    "vm_exited", "vm_start_failed", "vm_restart_scheduled", "vm_stopped",
                    "vm_removed", "vm_paused", "vm_resumed", "vm_recreated", "vm_terminating"}) {
    CAPTURE(kind);
    CHECK(cov.events[kind] > 0);
  }
  for (auto fx : {"fx_check_alive", "fx_start", "fx_watch", "fx_terminate", "fx_kill",
                  "fx_freeze", "fx_thaw", "fx_release", "fx_wipe", "fx_probe_start",
                  "fx_probe_stop", "fx_timer", "fx_command", "fx_quit"}) {
    CAPTURE(fx);
    CHECK(cov.effects[fx] > 0);
  }
  for (auto code : {"unknown_deployment", "unknown_vm", "conflict", "invalid_replicas",
                    "duplicate_name"}) {
    CAPTURE(code);
    CHECK(cov.errors[code] > 0);
  }
  CHECK(cov.faults["daemon restart"] > 0);
  CHECK(cov.faults["actor crash"] > 0);
  CHECK(cov.surged > 0);
  std::string summary;
  for (const auto& [k, n] : cov.events)
    summary += k + "=" + std::to_string(n) + " ";
  for (const auto& [k, n] : cov.faults)
    summary += k + "=" + std::to_string(n) + " ";
  for (const auto& [k, n] : cov.errors)
    summary += k + "=" + std::to_string(n) + " ";
  MESSAGE("blocked=" << cov.blocked << " surged=" << cov.surged << " " << summary);
}
