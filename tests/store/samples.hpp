#pragma once

// Test fixtures of the store tests: temporary directories, sample values with
// every field away from its default, and a valid event history.

#include "events/events.hpp"
#include "events/state.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace volant::test {

/// A fresh directory under /tmp (mkdtemp), removed with everything in it.
class temp_dir {
public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const { return path_; }

  /// `path()/name`.
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

/// A manifest with every field set; `n` varies names and numbers.
plugin_manifest sample_manifest(int n);

/// A deployment spec with every field set (health check override included).
deployment_spec sample_spec(int n);

/// A VM record with every field set.
vm_record sample_vm(int n);

/// One event per alternative of `volant::event`, in variant order, each with
/// every field away from its default.
std::vector<event> every_event();

/// A world with a configured host, plugins, deployments and VMs.
world sample_world();

/// A valid history for `apply`: host, plugins, deployments, VMs coming and
/// going, of roughly `n` events; deterministic in `n`.
std::vector<event> valid_history(int n);

/// Folds `recs` into an empty world with `volant::apply`.
world fold(const std::vector<recorded_event>& recs);

} // namespace volant::test
