// A seeded chaos harness: real volar processes (several at once) create, scale,
// update, pause, resume and delete deployments while volantd is killed with
// kill -9 at random moments (during commands, right after a restart, while it
// replays its log, twice in a row) or frozen with SIGSTOP. After every restart
// it checks what a user relies on: every acknowledged command in effect, the
// VMs settled (one process each, distinct IPs, exactly the desired names,
// nothing leaked, ready and serving within 30 s), and volant-replay's state
// equal to the live one. Every violation names the seed and iteration that
// reproduce it; a deployment left unsettled is deleted afterwards so that one
// stuck VM is not reported again by every later iteration.
//
//   VOLANT_CHAOS_SEED        the seed (default 1)
//   VOLANT_CHAOS_ITERATIONS  iterations to run
//   VOLANT_CHAOS_SECONDS     start no iteration after this many seconds
//   (neither given: 40 iterations, none started after 100 s: the short run of
//   `meson test`, 1.5 to 2 minutes, 3 at most when violations come late)
//   VOLANT_CHAOS_POOL_OCTET  the pool 127.78.N.0/24 (default 111; bench/chaos:
//   112)
//
// The kill -> settled times are printed at the end, never asserted
// (bench/chaos).

#include "chaos/model.hpp"
#include "chaos/observe.hpp"

#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

namespace volant::chaos {

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

struct config {
  std::uint64_t seed = 1;
  int iterations = 40;
  double seconds = 100;
  int max_violations = 20;
  int pool_octet = 111;
};

config config_from_env() {
  config c;
  auto get = [](const char* name) -> const char* {
    const char* v = std::getenv(name);
    return v && *v ? v : nullptr;
  };
  auto* seed = get("VOLANT_CHAOS_SEED");
  auto* iterations = get("VOLANT_CHAOS_ITERATIONS");
  auto* seconds = get("VOLANT_CHAOS_SECONDS");
  if (seed)
    c.seed = std::strtoull(seed, nullptr, 10);
  if (iterations || seconds) {
    c.iterations = iterations ? std::atoi(iterations) : 1 << 30;
    c.seconds = seconds ? std::atof(seconds) : 0;
  }
  if (auto* octet = get("VOLANT_CHAOS_POOL_OCTET"))
    c.pool_octet = std::atoi(octet);
  if (auto* max = get("VOLANT_CHAOS_MAX_VIOLATIONS"))
    c.max_violations = std::atoi(max);
  return c;
}

/// busybox httpd serving / (the VM name), /env.txt and, for the checked
/// workload, /health (an HTTP check every second, unhealthy after two misses).
json manifest(const std::string& name, bool checked) {
  auto m = e2e::httpd_manifest(name);
  if (!checked)
    return m;
  auto& cmd = m["workload"]["entrypoint"][2];
  cmd = "mkdir -p \"$VOLANT_VM_DIR/www\" && echo ok > "
        "\"$VOLANT_VM_DIR/www/health\" && "
        + cmd.get<std::string>();
  m["workload"]["health_check"] = {{"enabled", true},
                                   {"http",
                                    {{"port", 80},
                                     {"path", "/health"},
                                     {"interval_seconds", 1},
                                     {"timeout_seconds", 1},
                                     {"unhealthy_threshold", 2}}}};
  return m;
}

/// What happens to the daemon in one iteration.
enum class chaos_kind {
  none,           ///< the commands alone
  kill_during,    ///< kill -9 while the commands run
  kill_after,     ///< kill -9 once they returned
  kill_twice,     ///< kill -9, restart, kill -9 again right after it came up
  kill_in_replay, ///< kill -9, restart, kill -9 while it opens and replays its
                  ///< log
  stop_cont,      ///< SIGSTOP while the commands run, SIGCONT later
  stop_then_kill, ///< SIGSTOP while the commands run, then kill -9
};

std::string to_string(chaos_kind k) {
  switch (k) {
  case chaos_kind::none:
    return "no fault";
  case chaos_kind::kill_during:
    return "kill -9 during the commands";
  case chaos_kind::kill_after:
    return "kill -9 after the commands";
  case chaos_kind::kill_twice:
    return "kill -9, restart, kill -9 right after it came up";
  case chaos_kind::kill_in_replay:
    return "kill -9, restart, kill -9 during replay";
  case chaos_kind::stop_cont:
    return "SIGSTOP during the commands, then SIGCONT";
  case chaos_kind::stop_then_kill:
    return "SIGSTOP during the commands, then kill -9";
  }
  return "?";
}

chaos_kind pick_chaos(std::mt19937_64& rng) {
  // none 20, kill_during 25, kill_after 10, kill_twice 10, kill_in_replay 10,
  // stop_cont 15, stop_then_kill 10
  static const std::vector<std::pair<int, chaos_kind>> weights
      = {{20, chaos_kind::none},           {25, chaos_kind::kill_during},
         {10, chaos_kind::kill_after},     {10, chaos_kind::kill_twice},
         {10, chaos_kind::kill_in_replay}, {15, chaos_kind::stop_cont},
         {10, chaos_kind::stop_then_kill}};
  int roll = std::uniform_int_distribution<int>(0, 99)(rng);
  for (const auto& [w, k] : weights) {
    if (roll < w)
      return k;
    roll -= w;
  }
  return chaos_kind::none;
}

int ms_between(std::mt19937_64& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0)
      .count();
}

std::string fmt_ms(double ms) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(0) << ms << " ms";
  return out.str();
}

class harness {
public:
  harness(e2e::daemon& d, config cfg) : d_(d), cfg_(cfg) {}

  void run() {
    auto start = clock_type::now();
    for (int i = 1; i <= cfg_.iterations; ++i) {
      if (cfg_.seconds > 0 && ms_since(start) > cfg_.seconds * 1000)
        break;
      if (static_cast<int>(violations_.size()) >= cfg_.max_violations) {
        std::cout << "chaos: stopping after " << violations_.size()
                  << " violations\n";
        break;
      }
      iteration(i);
      iterations_ = i;
    }
    // The last commands, checked once more without a fault.
    double settled = -1;
    check(iterations_, "final check", clock_type::now(), &settled);
    std::cout << "chaos final check: "
              << (settled >= 0 ? "settled in " + fmt_ms(settled)
                               : "NOT settled")
              << std::endl;
    elapsed_s_ = ms_since(start) / 1000;
  }

  const std::vector<std::string>& violations() const { return violations_; }

  /// The summary, in the form of bench/RESULTS.md.
  std::string summary() const {
    auto sorted = settle_ms_;
    std::sort(sorted.begin(), sorted.end());
    auto median = sorted.empty() ? 0.0 : sorted[sorted.size() / 2];
    auto max = sorted.empty() ? 0.0 : sorted.back();
    std::ostringstream out;
    out << "bench/chaos: seeded commands, kill -9 and SIGSTOP of volantd; "
           "checks after every "
           "restart\n"
        << "seed:        " << cfg_.seed << "\n"
        << "iterations:  " << iterations_ << " (" << std::fixed
        << std::setprecision(1) << elapsed_s_ << " s)\n"
        << "commands:    " << acked_ << " acknowledged, " << failed_
        << " failed " << exit_codes() << ", " << hung_
        << " killed by the harness after " << volar_timeout_s << " s\n"
        << "faults:      " << kills_ << " kill -9 ("
        << counts_.at(chaos_kind::kill_during) << " during commands, "
        << counts_.at(chaos_kind::kill_twice) << " twice in a row, "
        << counts_.at(chaos_kind::kill_in_replay) << " during replay, "
        << counts_.at(chaos_kind::stop_then_kill) << " while stopped), "
        << counts_.at(chaos_kind::stop_cont) << " SIGSTOP/SIGCONT\n\n"
        << "| metric                     | value   | goal\n"
        << "|----------------------------|---------|------\n"
        << "| iterations                 | " << std::setw(7) << iterations_
        << " |\n"
        << "| violations                 | " << std::setw(7)
        << violations_.size() << " | 0\n"
        << "| restarts measured          | " << std::setw(7) << sorted.size()
        << " |\n"
        << "| kill -> settled, median    | " << std::setw(7) << fmt_ms(median)
        << " | < 1 s\n"
        << "| kill -> settled, max       | " << std::setw(7) << fmt_ms(max)
        << " | < 10 s\n"
        << "| volar call, median         | " << std::setw(7)
        << fmt_ms(volar_median_ms()) << " | (the harness's resolution)\n";
    return out.str();
  }

private:
  std::string exit_codes() const {
    std::string out = "(exit codes:";
    for (const auto& [code, n] : exit_codes_)
      out += " " + std::to_string(code) + " x" + std::to_string(n);
    return out + ")";
  }

  void iteration(int i) {
    std::mt19937_64 rng(cfg_.seed * 1'000'003 + static_cast<std::uint64_t>(i));
    auto batch = model_.next_batch(rng);
    auto kind = pick_chaos(rng);
    ++counts_[kind];
    int delay = ms_between(rng, 0, 400);
    int hold = ms_between(rng, 100, 1500);
    int second = ms_between(rng, 0, 300);
    std::vector<int> stagger;
    for (std::size_t k = 0; k < batch.size(); ++k)
      stagger.push_back(ms_between(rng, 0, 40));

    std::ostringstream line;
    line << "chaos #" << i << ":";
    for (const auto& o : batch)
      line << " [" << o.args().substr(std::string("deployments ").size())
           << "]";
    line << " | " << to_string(kind);

    std::vector<e2e::run_result> results(batch.size());
    std::vector<double> took(batch.size());
    std::vector<std::thread> threads;
    for (std::size_t k = 0; k < batch.size(); ++k)
      threads.emplace_back([&, k] {
        std::this_thread::sleep_for(std::chrono::milliseconds(stagger[k]));
        auto t = clock_type::now();
        results[k] = run_volar(d_, batch[k].args());
        took[k] = ms_since(t);
      });
    int pid = d_.pid();
    switch (kind) {
    case chaos_kind::kill_during:
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
      d_.kill9();
      break;
    case chaos_kind::stop_cont:
    case chaos_kind::stop_then_kill:
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
      ::kill(pid, SIGSTOP);
      std::this_thread::sleep_for(std::chrono::milliseconds(hold));
      if (kind == chaos_kind::stop_cont)
        ::kill(pid, SIGCONT);
      else
        d_.kill9();
      break;
    default:
      break;
    }
    for (auto& t : threads)
      t.join();
    int acked_now = 0;
    std::string failures;
    for (std::size_t k = 0; k < batch.size(); ++k) {
      bool ack = results[k].exit_code == 0;
      model_.record(batch[k], ack);
      acked_now += ack;
      if (ack) {
        ++acked_;
        continue;
      }
      ++failed_;
      ++exit_codes_[results[k].exit_code];
      if (results[k].exit_code == 137)
        ++hung_;
      auto err = results[k].err.substr(0, results[k].err.find('\n'));
      failures += " [" + batch[k].deployment + ": exit "
                  + std::to_string(results[k].exit_code) + " after "
                  + fmt_ms(took[k]) + (err.empty() ? "" : ": " + err) + "]";
    }
    line << " | acknowledged " << acked_now << "/" << batch.size() << failures;

    switch (kind) {
    case chaos_kind::kill_after:
      d_.kill9();
      break;
    case chaos_kind::kill_twice:
      d_.kill9();
      start(i, to_string(kind));
      std::this_thread::sleep_for(std::chrono::milliseconds(second / 3));
      d_.kill9();
      break;
    case chaos_kind::kill_in_replay:
      d_.kill9();
      d_.launch();
      std::this_thread::sleep_for(std::chrono::milliseconds(second / 5));
      d_.kill9();
      break;
    default:
      break;
    }
    bool killed = kind != chaos_kind::none && kind != chaos_kind::stop_cont;
    if (killed)
      ++kills_;
    auto t0 = clock_type::now();
    if (killed) {
      start(i, to_string(kind));
      line << " | up in " << fmt_ms(ms_since(t0));
    }
    if (kind == chaos_kind::none) {
      std::cout << line.str() << std::endl;
      return;
    }
    double settled = -1;
    check(i, to_string(kind), t0, &settled);
    if (settled >= 0 && killed)
      settle_ms_.push_back(settled);
    line << " | "
         << (settled >= 0 ? "settled in " + fmt_ms(settled) : "NOT settled");
    std::cout << line.str() << std::endl;
  }

  /// Starts volantd. One that does not come up (it exits, or writes no
  /// endpoint within 20 s: the fixture's REQUIRE fails) is a violation; it is
  /// started again, up to three times.
  void start(int i, const std::string& what) {
    for (int attempt = 1; attempt < 3; ++attempt) {
      try {
        d_.start();
        return;
      } catch (...) {
        violation(i, what,
                  "volantd did not come up (attempt " + std::to_string(attempt)
                      + "):\n" + d_.log_tail(8));
      }
    }
    d_.start();
  }

  /// After a violation that left something unsettled, clears it away so that
  /// the next iterations are not all the same violation again: the deployment
  /// it is about is deleted (and may be created again later), leaked processes
  /// are killed.
  void reset(const verdict& v) {
    for (int pid : v.leaked)
      ::kill(pid, SIGKILL);
    if (v.deployment.empty())
      return;
    op o;
    o.kind = op_kind::remove;
    o.deployment = v.deployment;
    bool ack = run_volar(d_, o.args()).exit_code == 0;
    model_.record(o, ack);
    bool gone = e2e::eventually(
        [&] {
          auto vms = volar_json(d_, "vms list");
          return vms
                 && std::none_of(vms->begin(), vms->end(), [&](const json& vm) {
                      return vm.value("deployment", "") == v.deployment;
                    });
        },
        30s, 100ms);
    std::cout << "chaos: reset after the violation: deleted " << v.deployment
              << (gone ? "" : " (its VMs are still listed after 30 s)")
              << std::endl;
  }

  void violation(int i, const std::string& what, const std::string& text) {
    std::ostringstream out;
    out << "chaos VIOLATION seed=" << cfg_.seed << " iteration=" << i << " ("
        << what << "): " << text;
    std::cout << out.str() << std::endl;
    violations_.push_back(out.str());
  }

  /// Checks the daemon against the model; `settled_ms` gets the time from `t0`
  /// until everything held (left alone when it did not within 30 s).
  void check(int i, const std::string& what, clock_type::time_point t0,
             double* settled_ms) {
    std::optional<std::map<std::string, observed_deployment>> seen;
    e2e::eventually(
        // 30 s, the window the checks give a restart: one volar call that
        // hangs is killed after 10 s (counted in the summary, its stacks
        // kept) and the next call decides (issue 10's note: a rare hang).
        [&] { return (seen = observe_deployments(d_)).has_value(); }, 30s,
        50ms);
    if (!seen) {
      violation(i, what,
                "volar cannot list the deployments for 30 s (last: "
                    + last_volar_failure() + ")\n" + d_.log_tail(20));
      return;
    }
    for (const auto& v : model_.violations(*seen))
      violation(i, what, v);
    model_.observe(*seen);
    verdict v;
    bool ok = e2e::eventually(
        [&] {
          v = settle_verdict(d_, *seen);
          return v.why.empty();
        },
        std::chrono::duration_cast<std::chrono::milliseconds>(
            t0 + 30s - clock_type::now()),
        20ms);
    if (!ok) {
      violation(i, what,
                "not settled 30 s after the restart: " + v.why + "\n"
                    + run_volar(d_, "vms list").out
                    + run_volar(d_, "shell -c 'ls vms; ls probes'").out
                    + d_.log_tail(15));
      reset(v);
      return;
    }
    if (settled_ms)
      *settled_ms
          = std::chrono::duration<double, std::milli>(v.seen_at - t0).count();
    if (auto diff = replay_differs(d_); !diff.empty())
      violation(i, what, diff);
  }

  e2e::daemon& d_;
  config cfg_;
  model model_;
  std::vector<std::string> violations_;
  std::vector<double> settle_ms_;
  std::map<chaos_kind, int> counts_
      = {{chaos_kind::none, 0},           {chaos_kind::kill_during, 0},
         {chaos_kind::kill_after, 0},     {chaos_kind::kill_twice, 0},
         {chaos_kind::kill_in_replay, 0}, {chaos_kind::stop_cont, 0},
         {chaos_kind::stop_then_kill, 0}};
  std::map<int, int> exit_codes_;
  int iterations_ = 0;
  int acked_ = 0;
  int failed_ = 0;
  int hung_ = 0;
  int kills_ = 0;
  double elapsed_s_ = 0;
};

} // namespace

TEST_CASE(
    "Under seeded chaos every acknowledged command survives kill -9 and "
    "SIGSTOP of "
    "volantd, and the VMs settle ready, one process each, as the log says") {
  auto cfg = config_from_env();
  std::cout << "chaos: seed " << cfg.seed << ", " << cfg.iterations
            << " iterations"
            << (cfg.seconds > 0
                    ? ", at most " + std::to_string(cfg.seconds) + " s"
                    : "")
            << ", pool 127.78." << cfg.pool_octet << ".0/24" << std::endl;
  INFO("reproduce with VOLANT_CHAOS_SEED=" << cfg.seed);
  // At debug, volantd logs each request and reply: a volar call that hangs
  // (observe.cpp) then shows whether its reply left the daemon.
  e2e::daemon d({.pool_octet = cfg.pool_octet,
                 .memory_mib = 16384,
                 .cpus = 64,
                 .extra = {"--log-level", "debug"}});
  d.install(manifest(plugins[0], false));
  d.install(manifest(plugins[1], true));
  harness h(d, cfg);
  h.run();
  auto summary = h.summary();
  std::cout << "\n" << summary << std::endl;
  std::string all;
  for (const auto& v : h.violations())
    all += v + "\n";
  CHECK_MESSAGE(h.violations().empty(), h.violations().size()
                                            << " violations:\n"
                                            << all);
}

} // namespace volant::chaos
