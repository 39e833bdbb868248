#pragma once

// What the chaos harness knows about the deployments it drives: every command
// it ran and whether volantd acknowledged it (volar exit 0). An acknowledged
// effect is certain; a command that failed (the daemon was killed or stopped
// under it, or refused it) may or may not have taken effect, so each field is
// the set of values it may have. After a kill the harness observes the daemon,
// checks the observation against these sets and narrows them to what it saw.

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace volant::chaos {

/// The two workloads: busybox httpd without a health check, and the same with
/// an HTTP check on /health.
inline const std::vector<std::string> plugins
    = {"chaos-plain", "chaos-checked"};

/// The deployment names the harness uses (short, so that VM names stay short).
inline const std::vector<std::string> names
    = {"alpha", "bravo", "charlie", "delta"};

/// The most replicas a deployment gets.
constexpr int max_replicas = 4;

enum class op_kind { create, scale, update, pause, resume, remove };

std::string to_string(op_kind k);

/// One volar command.
struct op {
  op_kind kind = op_kind::create;
  std::string deployment;
  int replicas = 0;   ///< create, scale
  std::string plugin; ///< create
  int gen = 0;        ///< create, update: the CHAOS_GEN of the template
  int cpu = 0;        ///< update: --cpu when > 0

  /// The volar arguments, e.g. "deployments scale alpha --replicas 3".
  std::string args() const;
};

/// What a deployment may be, as far as the acknowledged commands tell.
struct expected_deployment {
  std::set<bool> exists = {false};
  std::set<int> replicas;
  std::set<bool> paused;
  std::set<int> gen; ///< CHAOS_GEN in the template's env
  std::set<int> cpu;
  std::set<std::string> plugin;

  /// Exactly one possibility for every field.
  bool certain() const;
};

/// A deployment as observed on the daemon.
struct observed_deployment {
  int replicas = 0;
  bool paused = false;
  int gen = -1; ///< -1: no CHAOS_GEN in the env
  int cpu = 0;
  std::string plugin;
  std::uint64_t revision = 0;
};

class model {
public:
  /// Records the outcome of `o`: certain when acknowledged, possible otherwise.
  void record(const op& o, bool acknowledged);

  /// The differences between `seen` (every deployment the daemon lists) and
  /// what the acknowledged commands require, one line each.
  std::vector<std::string>
  violations(const std::map<std::string, observed_deployment>& seen) const;

  /// Narrows every field to what was observed (the daemon's log now holds it).
  void observe(const std::map<std::string, observed_deployment>& seen);

  /// A batch of 1..4 commands on distinct deployments (so that running them
  /// concurrently leaves one possible order per deployment).
  std::vector<op> next_batch(std::mt19937_64& rng);

  const std::map<std::string, expected_deployment>& deployments() const {
    return d_;
  }

private:
  op next_op(std::mt19937_64& rng, const std::string& name);

  std::map<std::string, expected_deployment> d_;
  int next_gen_ = 1;
};

} // namespace volant::chaos
