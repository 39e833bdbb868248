#pragma once

// The embedded default driver: a replica is a host process in its own session
// (process group == pid), stdout/stderr appended to the VM's log (opened by the
// daemon before the fork), limits through cgroups v1 where the host allows, run
// as the workload user with the fixed environment of runtime/sandbox.hpp.
// Workloads outlive the daemon.

#include "runtime/cgroup.hpp"
#include "runtime/driver.hpp"
#include "runtime/sandbox.hpp"

namespace volant::runtime {

class process_driver final : public driver {
public:
  /// `user`: who workloads run as (by default volantd itself, no switch).
  explicit process_driver(cgroups groups = cgroups{}, workload_identity user = {});

  std::string_view name() const override { return "process"; }
  expected<driver_handle> start(const launch_spec& spec) override;
  status terminate(const driver_handle& handle) override;
  status kill(const driver_handle& handle) override;
  status pause(const driver_handle& handle) override;
  status resume(const driver_handle& handle) override;
  bool alive(const driver_handle& handle) const override;
  void release(const std::string& run) override;
  void forget(const std::string& vm_name) override;
  std::vector<std::string> reap_unknown(const std::vector<std::string>& known) override;
  usage measure(const driver_handle& handle, const std::string& run) const override;
  std::vector<std::string> processes(const driver_handle& handle) const override;
  capabilities limits() const override;

  /// A host of a cluster (volantd --vm-interface IF): each VM's address is
  /// added to IF before its workload starts (runtime/routes.hpp).
  void set_vm_interface(std::string dev) { vm_interface_ = std::move(dev); }

private:
  status signal_group(const driver_handle& handle, int sig);

  cgroups groups_;
  workload_identity user_;
  std::string vm_interface_;
};

} // namespace volant::runtime
