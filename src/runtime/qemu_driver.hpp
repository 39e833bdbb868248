#pragma once

// The microVM driver: a replica is a `qemu-system-x86_64 -M microvm` process in
// its own session, booting the plugin's kernel and initramfs (see
// tools/mkguest), its serial console appended to the VM's log, controlled over
// a QMP socket in the VM's run directory, networked through a TAP on a host
// bridge. QEMU processes outlive the daemon; a new driver finds them again by
// pid + start time (the handle) and by the `-name volant:<vm>` marker on their
// command line.
//
// The guest learns its address from the kernel command line:
//   volant.ip=A.B.C.D/N volant.gw=G.G.G.G volant.name=VM volant.env=KEY=VALUE
//   ...
// (values percent-encoded: %20 for a space). It prints `VOLANT-READY <vm> <ip>`
// on its console when the workload listens.
//
// Volumes are raw ext4 images on the host, made here when missing, attached
// as virtio-blk disks after the root disk and written through (no snapshot);
// the guest init mounts them from `volant.vol=/dev/vdX:PATH` words.

#include "runtime/driver.hpp"
#include "runtime/sandbox.hpp"
#include "runtime/netdev.hpp"

#include <chrono>
#include <string>

namespace volant::runtime {

/// How to run QEMU; the defaults suit a daemon on these hosts.
struct qemu_options {
  std::string binary = "qemu-system-x86_64"; ///< looked up in PATH
  /// "kvm", "tcg", or empty: detect (see `detect_accelerator`).
  std::string accelerator;
  bool network = true;      ///< a TAP on `bridge` per VM; false: no NIC at all
  bridge_config bridge;     ///< created on first start if missing
  std::string extra_append; ///< appended to the kernel command line
  /// The guests' resolver (volantd's DNS on the bridge address), written to
  /// their /etc/resolv.conf by the guest init; empty: the image's own file.
  std::string dns;
  std::chrono::milliseconds qmp_timeout{3000};
  /// Who QEMU runs as: the workload user when volantd is root (its TAP is
  /// given to that user, the serial log is a descriptor volantd opened), else
  /// volantd itself.
  workload_identity user;
  /// The daemon whose runs these are (its data directory's tag): a QEMU
  /// marked with another tag, or none, is never reaped, released or killed
  /// by this driver; empty: untagged runs only (tests and tools).
  std::string owner;
};

/// The accelerator a host supports, and why.
struct accelerator_choice {
  std::string name;   ///< "kvm" or "tcg"
  std::string reason; ///< for `limits().note` and logs
};

/// KVM if `dev_kvm` can be opened read-write and the PVM flavour of KVM
/// (`kvm_pvm_module`, which cannot boot stock kernels) is not loaded; TCG
/// otherwise. The paths are parameters for tests.
accelerator_choice detect_accelerator(const std::string& dev_kvm = "/dev/kvm",
                                      const std::string& kvm_pvm_module
                                      = "/sys/module/kvm_pvm");

/// The most volumes one microVM takes (/dev/vdb../dev/vdq).
inline constexpr std::size_t max_volumes = 16;

/// The QEMU command line for `spec` (argv[0] = options.binary). Volume i is
/// expected as descriptors 5 + 2i (read-write) and 6 + 2i (read-only, which
/// QEMU opens first) of fd set 2 + i. Exposed for tests and `debug` output.
expected<std::vector<std::string>> qemu_command(const launch_spec& spec,
                                                const qemu_options& options,
                                                const std::string& accelerator);

/// The guest's report of its workload's end, from the text of its control
/// port ("exited 3", "killed 9" lines, or "failed WHAT" when the guest could
/// not start the workload, e.g. a volume did not mount; the last one counts):
/// {status (-signal when killed, 127 when it never ran), reason}, nullopt
/// without one.
std::optional<std::pair<std::int32_t, std::string>> parse_control_report(std::string_view text);

/// The file in a run directory that receives the guest's control port.
inline constexpr const char* control_file = "ctl.out";

/// The marker `-name` value of one run's QEMU: "volant:<owner>:<run id>"
/// ("volant:volant-1a2b3c4d:web-0.3"), "volant:<run id>" without an owner.
std::string qemu_marker(const std::string& run, const std::string& owner = {});

/// Pids of running QEMU processes carrying a `volant:` marker, by run id; only
/// those in the caller's network namespace (a daemon owns the VMs on its
/// bridge; a test in its own namespace never touches another daemon's VMs)
/// and of `owner` (untagged ones for an empty owner): two volantd in one
/// namespace, or a test's driver beside a volantd, keep apart.
std::vector<std::pair<std::string, std::int64_t>> find_qemu_processes(const std::string& owner = {});

class qemu_driver final : public driver {
public:
  explicit qemu_driver(qemu_options options = qemu_options{});

  std::string_view name() const override { return "qemu"; }
  /// "kvm" or "tcg", decided at construction.
  const std::string& accelerator() const noexcept { return accel_.name; }
  const qemu_options& options() const noexcept { return options_; }

  /// Makes missing volume images (guest::ensure_volume_image), creates the
  /// VM's TAP, launches QEMU. The returned handle's `control` is the QMP
  /// socket (<workdir>/qmp.sock).
  expected<driver_handle> start(const launch_spec& spec) override;
  /// QMP `cont` (a paused guest must run to see the button), then
  /// `system_powerdown` (ACPI power button: the guest's init powers off, QEMU
  /// exits 0); SIGTERM to QEMU when QMP does not answer. A guest still booting
  /// (before its init watches the button) ignores it: `kill` after the grace.
  status terminate(const driver_handle& handle) override;
  status kill(const driver_handle& handle) override;
  /// QMP `stop` / `cont`: the vCPUs halt, QEMU and the guest's memory stay.
  status pause(const driver_handle& handle) override;
  status resume(const driver_handle& handle) override;
  bool alive(const driver_handle& handle) const override;
  /// Kills what is left of the VM's QEMU, removes its TAP.
  void release(const std::string& run) override;
  void forget(const std::string& vm_name) override;
  /// Kills marked QEMU processes of VMs not in `known` and removes TAPs (prefix
  /// `tap_prefix`) that no known VM owns. Returns the VM names of the
  /// processes.
  std::vector<std::string>
  reap_unknown(const std::vector<std::string>& known) override;
  usage measure(const driver_handle& handle, const std::string& run) const override;
  /// The QEMU process's name ("qemu-system-x86"): the guest's processes are not
  /// visible from the host.
  std::vector<std::string>
  processes(const driver_handle& handle) const override;
  capabilities limits() const override;
  std::optional<std::pair<std::int32_t, std::string>>
  workload_exit(const std::string& run_dir) const override;

private:
  status qmp(const driver_handle& handle, std::string_view command);
  status signal(const driver_handle& handle, int sig);

  qemu_options options_;
  accelerator_choice accel_;
  std::string user_note_; ///< why QEMU does not run as the workload user
};

} // namespace volant::runtime
