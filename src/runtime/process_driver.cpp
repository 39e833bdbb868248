#include "runtime/process_driver.hpp"

#include "runtime/routes.hpp"

#include "runtime/spawn.hpp"
#include "runtime/proc.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace volant::runtime {

namespace {


[[noreturn]] void child_fail(int report_fd, const char* step) {
  child_report(report_fd, errno, step);
}

/// Makes each volume's source directory (given to the workload user, 0700, when
/// new: existing data keeps its owner and mode) and its mount point. The mount
/// point is made on the host when missing, an empty directory, as systemd's
/// BindPaths= does: a bind mount needs a directory to cover (docs/volumes.md).
status prepare_volumes(const std::vector<volume_mount>& volumes, const workload_identity& id) {
  for (const auto& v : volumes) {
    auto fail = [&](const std::string& what, int err) {
      return make_error(ec::io_error, "volume " + v.path + ": " + what
                                          + (err != 0 ? std::string(": ") + std::strerror(err)
                                                      : std::string()));
    };
    struct stat st{};
    if (::lstat(v.source.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode))
        return fail(v.source + " is not a directory (a microVM's volume image? the "
                               "process runtime needs a directory)", 0);
    } else {
      std::error_code err;
      std::filesystem::create_directories(std::filesystem::path(v.source).parent_path(), err);
      if (::mkdir(v.source.c_str(), 0700) != 0 && errno != EEXIST)
        return fail("cannot create " + v.source, errno);
      if (id.switch_user && ::chown(v.source.c_str(), id.uid, id.gid) != 0)
        return fail("cannot give " + v.source + " to " + id.name, errno);
    }
    if (::stat(v.path.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode))
        return fail("the mount point exists and is not a directory", 0);
    } else {
      std::error_code err;
      std::filesystem::create_directories(v.path, err);
      if (err)
        return fail("cannot create the mount point", err.value());
    }
  }
  return ok();
}

} // namespace

process_driver::process_driver(cgroups groups, workload_identity user)
  : groups_(std::move(groups)), user_(std::move(user)) {}

expected<driver_handle> process_driver::start(const launch_spec& spec) {
  if (spec.argv.empty())
    return make_error(ec::invalid_argument, spec.vm_name + ": empty entrypoint");
  std::error_code fs_err;
  if (!spec.workdir.empty()) {
    if (auto parent = std::filesystem::path(spec.workdir).parent_path(); !parent.empty())
      std::filesystem::create_directories(parent, fs_err);
    if (auto st = prepare_run_dir(spec.workdir, user_); !st)
      return st.error_value();
  }
  if (!spec.volumes.empty()) {
    if (::geteuid() != 0)
      return make_error(ec::io_error, "volumes need volantd to run as root (each workload "
                                      "mounts them in a mount namespace of its own)");
    if (auto st = prepare_volumes(spec.volumes, user_); !st)
      return st.error_value();
  }
  if (!vm_interface_.empty() && spec.ip != 0)
    if (auto st = add_vm_address(vm_interface_, spec.ip); !st)
      return make_error(st.error_value().code, spec.vm_name + ": cannot give it its address on "
                                                   + vm_interface_ + ": "
                                                   + st.error_value().message);
  if (auto parent = std::filesystem::path(spec.log_path).parent_path(); !parent.empty())
    std::filesystem::create_directories(parent, fs_err);
  // The daemon opens the log: the workload user cannot reach the data directory.
  int log = ::open(spec.log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (log < 0)
    return make_error(ec::io_error, "cannot open log " + spec.log_path + ": "
                                      + std::strerror(errno));
  // A run forked just before a daemon crash and never recorded goes first.
  groups_.kill_strays(spec.run());
  if (auto st = groups_.prepare(spec.run(), spec.memory_mib, spec.cpu); !st) {
    ::close(log);
    return st.error_value();
  }
  auto cgroup_fds = groups_.open_procs(spec.run());
  if (!cgroup_fds) {
    ::close(log);
    return cgroup_fds.error_value();
  }
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    ::close(log);
    for (int fd : *cgroup_fds)
      ::close(fd);
    return make_error(ec::io_error, "pipe: " + std::string(std::strerror(errno)));
  }
  auto extra = spec.env;
  extra.insert(extra.end(), spec.secret_env.begin(), spec.secret_env.end());
  auto env = workload_environment(extra, spec.workdir);
  auto args = spec.argv;
  // The workload's PATH finds the entrypoint, not the daemon's.
  for (const auto& e : env)
    if (e.rfind("PATH=", 0) == 0)
      args[0] = resolve_command(args[0], e.substr(5));
  c_strings argv(std::move(args));
  c_strings envp(std::move(env));
  const char* workdir = spec.workdir.empty() ? nullptr : spec.workdir.c_str();
  const auto& user = user_;
  const char* resolv = spec.resolv_conf.empty() || ::geteuid() != 0
                               || ::access("/etc/resolv.conf", F_OK) != 0
                           ? nullptr
                           : spec.resolv_conf.c_str();
  std::vector<std::string> sources, targets;
  for (const auto& v : spec.volumes) {
    sources.push_back(v.source);
    targets.push_back(v.path);
  }
  c_strings mount_from(std::move(sources));
  c_strings mount_at(std::move(targets));
  const auto mounts = spec.volumes.size();
  bool own_namespace = resolv != nullptr || mounts > 0;
  pid_t pid = fork();
  if (pid == 0) {
    // Child: only async-signal-safe calls from here to exec.
    setsid();
    for (int fd : *cgroup_fds)
      if (write(fd, "0", 1) != 1)
        child_fail(report[1], "joining its cgroup");
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
      child_fail(report[1], "redirecting stdio");
    // Its own view of /etc/resolv.conf (volantd's DNS) and of its volumes: a
    // private mount namespace, so that the host's files are untouched.
    if (own_namespace
        && (unshare(CLONE_NEWNS) != 0
            || mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0))
      child_fail(report[1], "making its own mount namespace");
    if (resolv != nullptr && mount(resolv, "/etc/resolv.conf", nullptr, MS_BIND, nullptr) != 0)
      child_fail(report[1], "giving it volantd's resolver (/etc/resolv.conf)");
    for (std::size_t i = 0; i < mounts; ++i)
      if (mount(mount_from.get()[i], mount_at.get()[i], nullptr, MS_BIND | MS_REC, nullptr) != 0)
        child_fail(report[1], "mounting one of its volumes");
    const char* step = "";
    if (int err = become_workload(user, true, &step); err != 0) {
      errno = err;
      child_fail(report[1], step);
    }
    if (workdir && chdir(workdir) != 0)
      child_fail(report[1], "entering its run directory");
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execvpe(argv.get()[0], argv.get(), envp.get());
    child_fail(report[1], nullptr);
  }
  int fork_errno = errno;
  ::close(report[1]);
  ::close(log);
  for (int fd : *cgroup_fds)
    ::close(fd);
  if (pid < 0) {
    ::close(report[0]);
    return make_error(ec::io_error, "fork: " + std::string(std::strerror(fork_errno)));
  }
  if (auto failure = exec_failure(report[0], pid); failure.err != 0) {
    if (!failure.step.empty())
      return make_error(ec::io_error, "cannot start " + spec.argv.front() + " as "
                                        + user_.name + ": " + failure.step + ": "
                                        + std::strerror(failure.err));
    return make_error(ec::io_error, "cannot run " + spec.argv.front() + ": "
                                      + std::strerror(failure.err));
  }
  driver_handle handle;
  handle.driver = "process";
  handle.pid = pid;
  handle.start_ticks = start_ticks(pid).value_or(0);
  return handle;
}

status process_driver::signal_group(const driver_handle& handle, int sig) {
  if (!alive(handle))
    return ok(); // already gone (or the pid was reused: never signal a stranger)
  if (::kill(-static_cast<pid_t>(handle.pid), sig) != 0
      && ::kill(static_cast<pid_t>(handle.pid), sig) != 0)
    return make_error(ec::io_error, "kill " + std::to_string(handle.pid) + ": "
                                      + std::strerror(errno));
  return ok();
}

status process_driver::terminate(const driver_handle& handle) {
  return signal_group(handle, SIGTERM);
}

status process_driver::kill(const driver_handle& handle) {
  return signal_group(handle, SIGKILL);
}

status process_driver::pause(const driver_handle& handle) {
  return signal_group(handle, SIGSTOP);
}

status process_driver::resume(const driver_handle& handle) {
  return signal_group(handle, SIGCONT);
}

bool process_driver::alive(const driver_handle& handle) const {
  return process_alive(handle.pid, handle.start_ticks);
}

void process_driver::release(const std::string& run) {
  groups_.remove(run);
}

void process_driver::forget(const std::string& vm_name) {
  groups_.remove(vm_name); // a group of a daemon from before runs were numbered
}

std::vector<std::string> process_driver::reap_unknown(
  const std::vector<std::string>& known) {
  std::vector<std::string> reaped;
  for (const auto& run : groups_.vm_groups())
    if (std::find(known.begin(), known.end(), run) == known.end()) {
      groups_.remove(run);
      reaped.push_back(run);
    }
  return reaped;
}

usage process_driver::measure(const driver_handle& handle, const std::string& run) const {
  usage u;
  if (!alive(handle))
    return u;
  // The run's cgroups count every process it ever had (a short-lived child's
  // CPU time too); a run of an older volantd without them, its process tree.
  auto cpu = groups_.cpu_seconds(run);
  auto memory = groups_.working_set(run);
  if (!cpu || !memory)
    process_usage(process_tree(handle.pid), u.cpu_seconds, u.rss_bytes);
  if (cpu)
    u.cpu_seconds = *cpu;
  if (memory)
    u.rss_bytes = *memory;
  return u;
}

std::vector<std::string> process_driver::processes(const driver_handle& handle) const {
  std::vector<std::string> names;
  if (!alive(handle))
    return names;
  for (auto pid : process_tree(handle.pid))
    names.push_back(process_name(pid));
  return names;
}

capabilities process_driver::limits() const {
  return {groups_.memory(), groups_.cpu(), groups_.pids() ? groups_.max_pids() : 0,
          user_.name, groups_.note()};
}

} // namespace volant::runtime
