#pragma once

// Per-VM resource limits through cgroups v1 (the `memory` and `cpu` controllers
// mounted under /sys/fs/cgroup, as on these hosts). A group per VM:
// /sys/fs/cgroup/{memory,cpu}/volant/<vm>.

#include "events/error.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace volant::runtime {

class cgroups {
public:
  /// Probes the host once: which controllers can be written.
  explicit cgroups(std::string root = "/sys/fs/cgroup", std::string group = "volant");

  bool memory() const noexcept { return memory_; }
  bool cpu() const noexcept { return cpu_; }
  /// Why limits are not enforced (empty when both are).
  const std::string& note() const noexcept { return note_; }

  /// Creates the VM's groups and sets memory (MiB) and CPU (cores) limits.
  status prepare(const std::string& vm, std::int64_t memory_mib, std::int32_t cpus);

  /// Opens the VM's `cgroup.procs` files for writing, before a fork: the child
  /// writes "0" to each (async-signal-safe) to enter its groups before exec.
  std::vector<int> open_procs(const std::string& vm) const;

  /// Kills every process left in the VM's groups (a workload started just before a
  /// daemon crash, never journaled): one VM never runs twice.
  void kill_strays(const std::string& vm);

  /// Removes the VM's groups, killing what is left in them first.
  void remove(const std::string& vm);

  /// Names of the VM groups that exist (from an earlier daemon run, too).
  std::vector<std::string> vm_groups() const;

private:
  std::string dir(const std::string& controller, const std::string& vm) const;

  std::string root_;
  std::string group_;
  bool memory_ = false;
  bool cpu_ = false;
  std::string note_;
};

} // namespace volant::runtime
