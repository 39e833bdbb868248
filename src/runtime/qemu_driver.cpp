#include "runtime/qemu_driver.hpp"

#include "events/events.hpp"
#include "guest/volume.hpp"
#include "runtime/proc.hpp"
#include "runtime/qmp.hpp"
#include "runtime/spawn.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

namespace volant::runtime {

namespace {

namespace fs = std::filesystem;

/// x86's COMMAND_LINE_SIZE, terminating NUL included.
constexpr std::size_t max_append = 2047;

/// The descriptor of the VM's log in QEMU: opened by volantd (the workload
/// user cannot open the data directory), handed over as fd set 1.
constexpr int log_fd = 3;
/// QEMU's end of the VM's TAP, opened by volantd (the workload user may not
/// open /dev/net/tun): `-netdev tap,fd=4`.
constexpr int tap_fd = 4;
/// Volume i's image as descriptors volantd opened (the workload user may not
/// reach the data directory): read-write at 5 + 2i, read-only at 6 + 2i, both
/// in fd set 2 + i (QEMU opens the file read-only first, then read-write).
constexpr int first_volume_fd = 5;
/// Where the child parks the descriptors it hands over, above every target.
constexpr int parked_fd_floor = 64;
static_assert(first_volume_fd + 2 * static_cast<int>(max_volumes)
              < parked_fd_floor);

[[noreturn]] void child_fail(int report_fd, const char* step) {
  child_report(report_fd, errno, step);
}

/// QEMU option values separate sub-options with ','; a literal comma is
/// doubled.
std::string qemu_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == ',')
      out += ',';
  }
  return out;
}

/// Kernel command-line words end at whitespace and the guest's init splits on
/// it: everything but a few safe characters is sent as %XX (decoded by the
/// init).
std::string percent_encode(const std::string& s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                || (c >= '0' && c <= '9')
                || std::strchr("._-/:@+=,", c) != nullptr;
    if (safe && c != '\0') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

/// Descriptors closed when the holder goes.
struct fd_list {
  std::vector<int> fds;
  fd_list() = default;
  fd_list(const fd_list&) = delete;
  fd_list& operator=(const fd_list&) = delete;
  ~fd_list() {
    for (int fd : fds)
      ::close(fd);
  }
};

/// Waits until `pid` (started at `ticks`) is gone or a zombie, up to `limit`.
bool wait_gone(std::int64_t pid, std::uint64_t ticks,
               std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (process_alive(pid, ticks)) {
    if (std::chrono::steady_clock::now() >= until)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

/// Removes a TAP, retrying while the QEMU that held it is still going away.
void delete_tap_patiently(const std::string& tap) {
  for (int i = 0; i < 100; ++i) {
    if (delete_tap(tap))
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

/// SIGKILLs `pid` (a QEMU found by its marker) and waits for it to go.
void kill_and_wait(std::int64_t pid) {
  auto ticks = start_ticks(pid).value_or(0);
  ::kill(static_cast<pid_t>(pid), SIGKILL);
  wait_gone(pid, ticks, std::chrono::seconds(3));
}

std::vector<std::string> split_nul(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\0', start);
    if (end == std::string::npos)
      end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

} // namespace

accelerator_choice detect_accelerator(const std::string& dev_kvm,
                                      const std::string& kvm_pvm_module) {
  if (::access(kvm_pvm_module.c_str(), F_OK) == 0)
    return {"tcg", "tcg: " + dev_kvm + " is kvm_pvm (" + kvm_pvm_module
                       + " exists), which cannot boot stock kernels"};
  int fd = ::open(dev_kvm.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return {"tcg",
            "tcg: " + dev_kvm + " is not usable: " + std::strerror(errno)};
  ::close(fd);
  return {"kvm", "kvm: " + dev_kvm + " is usable"};
}

std::optional<std::pair<std::int32_t, std::string>> parse_control_report(std::string_view text) {
  std::optional<std::pair<std::int32_t, std::string>> out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos)
      break; // an unfinished line is no report
    auto line = text.substr(start, end - start);
    start = end + 1;
    // The guest init could not start the workload (a volume did not mount):
    // its words, bounded and printable, as the reason.
    if (line.substr(0, 7) == "failed " && line.size() > 7) {
      auto what = std::string(line.substr(7, 300));
      for (auto& c : what)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
          c = '?';
      out = {{127, "the workload did not run: " + what + " (in the guest)"}};
      continue;
    }
    for (auto [prefix, sign] : {std::pair{std::string_view("exited "), 1},
                                {std::string_view("killed "), -1}}) {
      if (line.substr(0, prefix.size()) != prefix)
        continue;
      auto num = line.substr(prefix.size());
      if (num.empty() || num.size() > 3
          || !std::all_of(num.begin(), num.end(), [](char c) { return c >= '0' && c <= '9'; }))
        continue;
      int value = std::stoi(std::string(num));
      if (sign > 0 && value <= 255)
        out = {{value, "the workload exited with status " + std::to_string(value)
                           + " (in the guest)"}};
      else if (sign < 0 && value >= 1 && value <= 64)
        out = {{-value, "the workload was killed by signal " + std::to_string(value)
                            + " (in the guest)"}};
    }
  }
  return out;
}

std::optional<std::pair<std::int32_t, std::string>>
qemu_driver::workload_exit(const std::string& run_dir) const {
  std::ifstream in(run_dir + "/" + control_file, std::ios::binary);
  if (!in)
    return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_control_report(text);
}

std::string qemu_marker(const std::string& run, const std::string& owner) {
  return "volant:" + (owner.empty() ? std::string() : owner + ":") + run;
}

expected<std::vector<std::string>>
qemu_command(const launch_spec& spec, const qemu_options& options,
             const std::string& accelerator) {
  auto bad = [&](const std::string& what) {
    return make_error(ec::invalid_argument, spec.vm_name + ": " + what);
  };
  if (spec.vm_name.empty())
    return make_error(ec::invalid_argument, "qemu: empty VM name");
  if (spec.kernel.empty() || spec.initramfs.empty())
    return bad("the qemu runtime needs a kernel and an initramfs");
  if (spec.workdir.empty())
    return bad("the qemu runtime needs a run directory (QMP socket)");
  if (spec.cpu < 1 || spec.memory_mib < 16)
    return bad("needs at least 1 CPU and 16 MiB");
  if (accelerator != "kvm" && accelerator != "tcg")
    return bad("unknown accelerator '" + accelerator + "'");
  // The guest learns its env from the kernel command line, which every local
  // user can read (/proc/PID/cmdline of QEMU): no place for a secret.
  if (!spec.secret_env.empty())
    return bad("the qemu runtime cannot pass secret env yet (the guest's env goes "
               "on the kernel command line, which every local user can read); "
               "use env, or the process runtime");

  std::string append = "console=ttyS0 panic=-1 quiet";
  // Under TCG the TSC calibration sometimes hangs the boot (one in three).
  if (accelerator == "tcg")
    append += " tsc_early_khz=2000000 tsc=reliable";
  append += " volant.name=" + percent_encode(spec.vm_name);
  if (options.network) {
    auto net = parse_cidr(options.bridge.cidr);
    if (!net)
      return net.error_value();
    if (spec.ip == 0)
      return bad("no IP address for the VM's network");
    append += " volant.ip=" + to_string_ip(spec.ip) + "/"
              + std::to_string(net->prefix);
    append += " volant.gw=" + to_string_ip(net->address);
    if (!options.dns.empty())
      append += " volant.dns=" + options.dns;
  }
  for (const auto& v : spec.env)
    append += " volant.env=" + percent_encode(v.key) + "="
              + percent_encode(v.value);
  if (!spec.rootfs.empty())
    append += " volant.root=/dev/vda";
  if (spec.volumes.size() > max_volumes)
    return bad("at most " + std::to_string(max_volumes) + " volumes");
  // The disks appear in command-line order: the root disk (vda), then the
  // volumes.
  char first_disk = spec.rootfs.empty() ? 'a' : 'b';
  for (std::size_t i = 0; i < spec.volumes.size(); ++i) {
    const auto& v = spec.volumes[i];
    if (v.source.empty() || v.path.size() < 2 || v.path[0] != '/')
      return bad("volume " + v.path
                 + ": needs an image file and an absolute path other than /");
    for (std::size_t j = 0; j < i; ++j)
      if (spec.volumes[j].path == v.path || spec.volumes[j].source == v.source)
        return bad("volume " + v.path
                   + ": its path or image is another volume's too");
    append += " volant.vol=/dev/vd"
              + std::string(1, static_cast<char>(first_disk + i)) + ":"
              + percent_encode(v.path);
  }
  if (!options.extra_append.empty())
    append += " " + options.extra_append;
  if (append.size() > max_append)
    return bad("kernel command line too long (" + std::to_string(append.size())
               + " > " + std::to_string(max_append)
               + " bytes): fewer or shorter env or volume paths");

  std::vector<std::string> argv = {
      options.binary,
      "-name",
      qemu_marker(spec.run(), options.owner),
      // acpi=on: Debian's cloud kernel finds virtio-mmio devices through
      // microvm's ACPI tables only (no VIRTIO_MMIO_CMDLINE_DEVICES), and the
      // ACPI power button is what makes `system_powerdown` a graceful stop.
      "-M",
      "microvm,acpi=on",
      "-accel",
      accelerator,
  };
  if (accelerator == "kvm")
    argv.insert(argv.end(), {"-cpu", "host"});
  argv.insert(argv.end(), {
                              "-smp",
                              std::to_string(spec.cpu),
                              "-m",
                              std::to_string(spec.memory_mib),
                              "-kernel",
                              spec.kernel,
                              "-initrd",
                              spec.initramfs,
                              "-append",
                              append,
                              "-nodefaults",
                              "-no-user-config",
                              "-nographic",
                              "-no-reboot",
                              // The log as the descriptor volantd opened:
                              // QEMU may run as a user who cannot open it.
                              "-add-fd",
                              "fd=" + std::to_string(log_fd) + ",set=1,opaque="
                                  + qemu_escape(spec.log_path),
                              "-chardev",
                              "file,id=console,append=on,path=/dev/fdset/1",
                              "-serial",
                              "chardev:console",
                              // Relative to the working directory (the run
                              // directory): sun_path is short.
                              "-qmp",
                              "unix:qmp.sock,server=on,wait=off",
                              // The guest's control port (volant-guest-init
                              // reports the workload's exit status there),
                              // apart from the console the workload writes.
                              "-device",
                              "virtio-serial-device,max_ports=2",
                              "-chardev",
                              std::string("file,id=ctl,path=") + control_file,
                              "-device",
                              "virtserialport,chardev=ctl,name=volant.ctl",
                          });
  if (!spec.rootfs.empty())
    argv.insert(argv.end(), {
                                // A throw-away overlay: the image is shared by
                                // every VM of the plugin and never written.
                                "-drive",
                                "file=" + qemu_escape(spec.rootfs)
                                    + ",format=raw,if=none,id=root,snapshot=on",
                                "-device",
                                "virtio-blk-device,drive=root",
                            });
  for (std::size_t i = 0; i < spec.volumes.size(); ++i) {
    auto n = static_cast<int>(i);
    auto set = std::to_string(2 + n);
    auto opaque = qemu_escape(spec.volumes[i].source);
    auto id = "vol" + std::to_string(n);
    argv.insert(argv.end(),
                {"-add-fd",
                 "fd=" + std::to_string(first_volume_fd + 2 * n) + ",set=" + set
                     + ",opaque=" + opaque,
                 "-add-fd",
                 "fd=" + std::to_string(first_volume_fd + 2 * n + 1)
                     + ",set=" + set + ",opaque=" + opaque,
                 // Written through to the image (no snapshot): the data is the
                 // point. Writeback caching, whose guest flushes (sync, the
                 // unmount at power-off) reach the file.
                 "-drive",
                 "file=/dev/fdset/" + set + ",format=raw,if=none,id=" + id
                     + ",cache=writeback",
                 "-device", "virtio-blk-device,drive=" + id});
  }
  if (options.network) {
    argv.insert(argv.end(), {
                                "-netdev",
                                // The TAP (tap_name(vm)) as the descriptor
                                // volantd opened.
                                "tap,id=n0,fd=" + std::to_string(tap_fd),
                                "-device",
                                "virtio-net-device,netdev=n0,mac="
                                    + mac_address(spec.vm_name),
                            });
  }
  return argv;
}

std::vector<std::pair<std::string, std::int64_t>> find_qemu_processes(const std::string& owner) {
  std::vector<std::pair<std::string, std::int64_t>> found;
  std::error_code ec_;
  auto own_netns = fs::read_symlink("/proc/self/ns/net", ec_);
  DIR* proc = ::opendir("/proc");
  if (!proc)
    return found;
  while (auto* entry = ::readdir(proc)) {
    char* end = nullptr;
    auto pid = std::strtoll(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0')
      continue;
    auto text = read_proc_file("/proc/" + std::string(entry->d_name) + "/cmdline");
    auto args = split_nul(text);
    if (args.empty()
        || fs::path(args[0]).filename().string().rfind("qemu", 0) != 0)
      continue;
    for (std::size_t i = 1; i + 1 < args.size(); ++i)
      if (args[i] == "-name" && args[i + 1].rfind("volant:", 0) == 0) {
        auto netns = fs::read_symlink(
            "/proc/" + std::string(entry->d_name) + "/ns/net", ec_);
        auto marked = args[i + 1].substr(7);
        auto colon = marked.find(':');
        // Untagged ones belong to an untagged driver only (tests, tools).
        bool mine = colon == std::string::npos ? owner.empty() : marked.substr(0, colon) == owner;
        if (colon != std::string::npos)
          marked = marked.substr(colon + 1);
        if (mine && netns == own_netns && process_alive(pid, 0))
          found.emplace_back(marked, pid);
        break;
      }
  }
  ::closedir(proc);
  return found;
}

qemu_driver::qemu_driver(qemu_options options) : options_(std::move(options)) {
  auto& wanted = options_.accelerator;
  if (wanted == "kvm" || wanted == "tcg") {
    accel_ = {wanted, wanted + ": set by configuration"};
  } else {
    accel_ = detect_accelerator();
    if (!wanted.empty())
      accel_.reason
          = "unknown accelerator '" + wanted + "' ignored; " + accel_.reason;
  }
  // KVM needs /dev/kvm; a workload user who cannot open it would make every
  // start fail: QEMU then runs as volantd itself, and says so.
  auto& user = options_.user;
  if (user.switch_user && accel_.name == "kvm" && !may_read_write("/dev/kvm", user)) {
    user_note_ = "; QEMU runs as volantd, not " + user.name + ", who cannot open /dev/kvm "
                 "(add it to /dev/kvm's group)";
    user.switch_user = false;
    user.name.clear();
  }
}

expected<driver_handle> qemu_driver::start(const launch_spec& spec) {
  auto argv_list = qemu_command(spec, options_, accel_.name);
  if (!argv_list)
    return argv_list.error_value();
  std::error_code fs_err;
  auto workdir = fs::absolute(spec.workdir, fs_err).string();
  if (auto parent = fs::path(workdir).parent_path(); !parent.empty())
    fs::create_directories(parent, fs_err);
  if (auto st = prepare_run_dir(workdir, options_.user); !st)
    return st.error_value();
  // The volumes' images exist before QEMU starts (a scratch one lives in the
  // run directory, prepared just above); QEMU gets each as two descriptors
  // opened here, closed here when start returns.
  fd_list volume_fds;
  for (const auto& v : spec.volumes) {
    if (auto made = guest::ensure_volume_image(v.source, v.size_mib, v.path); !made)
      return made.error_value();
    for (int mode : {O_RDWR, O_RDONLY}) {
      int fd = ::open(v.source.c_str(), mode | O_CLOEXEC);
      if (fd < 0)
        return make_error(ec::io_error, "volume " + v.path + ": cannot open "
                                            + v.source + ": "
                                            + std::strerror(errno));
      volume_fds.fds.push_back(fd);
    }
  }
  if (auto parent = fs::path(spec.log_path).parent_path(); !parent.empty())
    fs::create_directories(parent, fs_err);
  int log = ::open(spec.log_path.c_str(),
                   O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (log < 0)
    return make_error(ec::io_error, "cannot open log " + spec.log_path + ": "
                                        + std::strerror(errno));
  // One VM never runs twice: a QEMU started just before a daemon crash goes
  // first.
  for (const auto& [run, pid] : find_qemu_processes(options_.owner))
    if (run == spec.run())
      kill_and_wait(pid);
  int tap = -1; // QEMU's end of the TAP, opened here
  if (options_.network) {
    auto st = ensure_bridge(options_.bridge);
    if (st)
      st = create_tap(tap_name(spec.vm_name), options_.bridge.name);
    if (st) {
      if (auto fd = open_tap(tap_name(spec.vm_name)); fd)
        tap = *fd;
      else
        st = fd.error_value();
    }
    if (!st) {
      ::close(log);
      return st.error_value();
    }
  }
  auto qmp_path = workdir + "/qmp.sock";
  fs::remove(qmp_path, fs_err);
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    ::close(log);
    if (tap >= 0)
      ::close(tap);
    return make_error(ec::io_error,
                      "pipe: " + std::string(std::strerror(errno)));
  }
  // QEMU gets none of volantd's environment either (it may run as the workload
  // user); its binary is still looked up in volantd's PATH, as before.
  const char* daemon_path = std::getenv("PATH");
  (*argv_list)[0] = resolve_command((*argv_list)[0], daemon_path ? daemon_path : "");
  c_strings argv(*argv_list);
  c_strings envp(workload_environment({}, workdir));
  const auto& user = options_.user;
  const char* kernel = spec.kernel.c_str();
  const char* initramfs = spec.initramfs.c_str();
  const char* rootfs = spec.rootfs.c_str();
  const int* volumes = volume_fds.fds.data();
  int volume_count = static_cast<int>(volume_fds.fds.size());
  // Where the child parks the volumes' descriptors (no allocation after fork).
  std::vector<int> parked(volume_fds.fds.size(), -1);
  int* park = parked.data();
  pid_t pid = fork();
  if (pid == 0) {
    // Child: only async-signal-safe calls from here to exec.
    setsid();
    // Out of the way of the descriptors QEMU is given (3: log, 4: TAP, 5..:
    // volumes).
    int rep = fcntl(report[1], F_DUPFD_CLOEXEC, parked_fd_floor);
    int lg = fcntl(log, F_DUPFD_CLOEXEC, parked_fd_floor);
    int tp = tap >= 0 ? fcntl(tap, F_DUPFD_CLOEXEC, parked_fd_floor) : -1;
    if (rep < 0 || lg < 0 || (tap >= 0 && tp < 0))
      _exit(127);
    for (int i = 0; i < volume_count; ++i)
      if ((park[i] = fcntl(volumes[i], F_DUPFD_CLOEXEC, parked_fd_floor)) < 0)
        child_fail(rep, "handing over a volume");
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(lg, 1) < 0
        || dup2(lg, 2) < 0)
      child_fail(rep, "redirecting stdio");
    const char* step = "";
    if (int err = become_workload(user, false, &step); err != 0) {
      errno = err;
      child_fail(rep, step);
    }
    // After become_workload (which marks descriptors above 2 close-on-exec).
    if (dup2(lg, log_fd) < 0)
      child_fail(rep, "handing over the log");
    if (tp >= 0 && dup2(tp, tap_fd) < 0)
      child_fail(rep, "handing over the TAP");
    for (int i = 0; i < volume_count; ++i)
      if (dup2(park[i], first_volume_fd + i) < 0)
        child_fail(rep, "handing over a volume");
    if (chdir(workdir.c_str()) != 0)
      child_fail(rep, "entering its run directory");
    // As QEMU will open them: as its user, from the run directory.
    if (access(kernel, R_OK) != 0)
      child_fail(rep, "reading the kernel");
    if (access(initramfs, R_OK) != 0)
      child_fail(rep, "reading the initramfs");
    if (*rootfs != '\0' && access(rootfs, R_OK) != 0)
      child_fail(rep, "reading the root disk");
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(argv.get()[0], argv.get(), envp.get());
    child_fail(rep, nullptr);
  }
  int fork_errno = errno;
  ::close(report[1]);
  ::close(log);
  if (tap >= 0)
    ::close(tap);
  if (pid < 0) {
    ::close(report[0]);
    return make_error(ec::io_error,
                      "fork: " + std::string(std::strerror(fork_errno)));
  }
  if (auto failure = exec_failure(report[0], pid); failure.err != 0) {
    if (options_.network)
      (void)delete_tap(tap_name(spec.vm_name));
    std::string what = failure.step;
    if (what == "reading the kernel")
      what += " " + spec.kernel;
    else if (what == "reading the initramfs")
      what += " " + spec.initramfs;
    else if (what == "reading the root disk")
      what += " " + spec.rootfs;
    if (!what.empty())
      return make_error(ec::io_error, "cannot start " + options_.binary + " as "
                                          + (user.name.empty() ? "volantd" : user.name)
                                          + ": " + what + ": "
                                          + std::strerror(failure.err));
    return make_error(ec::io_error, "cannot run " + options_.binary + ": "
                                        + std::strerror(failure.err));
  }
  driver_handle handle;
  handle.driver = "qemu";
  handle.pid = pid;
  handle.start_ticks = start_ticks(pid).value_or(0);
  handle.control = qmp_path;
  return handle;
}

status qemu_driver::qmp(const driver_handle& handle, std::string_view command) {
  if (!alive(handle))
    return make_error(ec::io_error,
                      "qemu " + std::to_string(handle.pid) + " is not running");
  auto reply = qmp_execute(handle.control, command, {}, options_.qmp_timeout);
  if (!reply)
    return reply.error_value();
  return ok();
}

status qemu_driver::signal(const driver_handle& handle, int sig) {
  if (!alive(handle))
    return ok(); // already gone (or the pid was reused: never signal a
                 // stranger)
  if (::kill(-static_cast<pid_t>(handle.pid), sig) != 0
      && ::kill(static_cast<pid_t>(handle.pid), sig) != 0)
    return make_error(ec::io_error, "kill " + std::to_string(handle.pid) + ": "
                                        + std::strerror(errno));
  return ok();
}

status qemu_driver::terminate(const driver_handle& handle) {
  if (!alive(handle))
    return ok();
  // A paused guest cannot see the power button: continue it first.
  auto client = qmp_client::connect(handle.control, options_.qmp_timeout);
  if (client && client->execute("cont") && client->execute("system_powerdown"))
    return ok();
  // No QMP (socket gone, QEMU wedged): QEMU exits on SIGTERM, the guest does
  // not shut down cleanly.
  return signal(handle, SIGTERM);
}

status qemu_driver::kill(const driver_handle& handle) {
  return signal(handle, SIGKILL);
}

status qemu_driver::pause(const driver_handle& handle) {
  return qmp(handle, "stop");
}

status qemu_driver::resume(const driver_handle& handle) {
  return qmp(handle, "cont");
}

bool qemu_driver::alive(const driver_handle& handle) const {
  return process_alive(handle.pid, handle.start_ticks);
}

void qemu_driver::release(const std::string& run) {
  for (const auto& [found, pid] : find_qemu_processes(options_.owner))
    if (found == run)
      kill_and_wait(pid);
}

void qemu_driver::forget(const std::string& vm_name) {
  for (const auto& [run, pid] : find_qemu_processes(options_.owner))
    if (vm_of_run(run) == vm_name)
      kill_and_wait(pid);
  delete_tap_patiently(tap_name(vm_name));
}

std::vector<std::string>
qemu_driver::reap_unknown(const std::vector<std::string>& known) {
  std::set<std::string> reaped;
  for (const auto& [run, pid] : find_qemu_processes(options_.owner))
    if (std::find(known.begin(), known.end(), run) == known.end()) {
      kill_and_wait(pid);
      reaped.insert(run);
    }
  std::set<std::string> owned;
  for (const auto& run : known)
    owned.insert(tap_name(vm_of_run(run)));
  for (const auto& tap : links_with_prefix(tap_prefix))
    if (owned.count(tap) == 0)
      delete_tap_patiently(tap);
  return {reaped.begin(), reaped.end()};
}

usage qemu_driver::measure(const driver_handle& handle, const std::string&) const {
  usage u;
  if (alive(handle))
    process_usage(process_tree(handle.pid), u.cpu_seconds, u.rss_bytes);
  return u;
}

std::vector<std::string>
qemu_driver::processes(const driver_handle& handle) const {
  if (!alive(handle))
    return {};
  return {process_name(handle.pid)};
}

capabilities qemu_driver::limits() const {
  return {true, true, 0, "",
          "qemu: accelerator " + accel_.reason
              + "; memory through -m, CPUs through -smp (the guest cannot "
                "exceed them)"
              + user_note_};
}

} // namespace volant::runtime
