#include "runtime/cgroup.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace volant::runtime {

namespace {

bool write_file(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  out << value;
  out.flush();
  return static_cast<bool>(out);
}

bool writable_controller(const std::string& base) {
  std::error_code ec_;
  std::filesystem::create_directories(base, ec_);
  return !ec_ && access((base + "/cgroup.procs").c_str(), W_OK) == 0;
}

} // namespace

cgroups::cgroups(std::string root, std::string group, std::int64_t max_pids)
  : root_(std::move(root)), group_(std::move(group)), max_pids_(max_pids) {
  memory_ = writable_controller(root_ + "/memory/" + group_);
  cpu_ = writable_controller(root_ + "/cpu/" + group_);
  pids_ = max_pids_ > 0 && writable_controller(root_ + "/pids/" + group_);
  cpuacct_ = writable_controller(root_ + "/cpuacct/" + group_);
  std::vector<std::string> missing;
  if (!memory_)
    missing.push_back("memory");
  if (!cpu_)
    missing.push_back("cpu");
  if (!pids_ && max_pids_ > 0)
    missing.push_back("pids");
  for (std::size_t i = 0; i < missing.size(); ++i)
    note_ += (i == 0 ? "" : i + 1 == missing.size() ? " and " : ", ") + missing[i];
  if (!note_.empty())
    note_ = "cgroup v1 " + note_ + (missing.size() == 1 ? " controller is" : " controllers are")
            + " not writable: " + (missing.size() == 1 ? "its limits are" : "their limits are")
            + " not enforced";
}

std::vector<std::string> cgroups::enabled() const {
  std::vector<std::string> out;
  if (memory_)
    out.push_back("memory");
  if (cpu_)
    out.push_back("cpu");
  if (pids_)
    out.push_back("pids");
  if (cpuacct_)
    out.push_back("cpuacct");
  return out;
}

std::string cgroups::dir(const std::string& controller, const std::string& vm) const {
  return root_ + "/" + controller + "/" + group_ + "/" + vm;
}

expected<std::vector<int>> cgroups::open_procs(const std::string& vm) const {
  std::vector<int> fds;
  for (const auto& controller : enabled()) {
    auto path = dir(controller, vm) + "/cgroup.procs";
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      auto err = make_error(ec::io_error, "cannot open " + path + ": " + std::strerror(errno));
      for (int open_fd : fds)
        ::close(open_fd);
      return err;
    }
    fds.push_back(fd);
  }
  return fds;
}

status cgroups::prepare(const std::string& vm, std::int64_t memory_mib,
                        std::int32_t cpus) {
  std::error_code ec_;
  if (memory_) {
    std::filesystem::create_directories(dir("memory", vm), ec_);
    auto bytes = std::to_string(memory_mib * 1024 * 1024);
    if (ec_ || !write_file(dir("memory", vm) + "/memory.limit_in_bytes", bytes))
      return make_error(ec::io_error, "cannot set the memory limit of " + vm);
  }
  if (cpu_) {
    std::filesystem::create_directories(dir("cpu", vm), ec_);
    const std::int64_t period = 100000;
    if (ec_ || !write_file(dir("cpu", vm) + "/cpu.cfs_period_us", std::to_string(period))
        || !write_file(dir("cpu", vm) + "/cpu.cfs_quota_us",
                       std::to_string(period * cpus)))
      return make_error(ec::io_error, "cannot set the CPU limit of " + vm);
  }
  if (cpuacct_) {
    std::filesystem::create_directories(dir("cpuacct", vm), ec_);
    if (ec_)
      return make_error(ec::io_error, "cannot make the CPU accounting group of " + vm);
  }
  if (pids_) {
    std::filesystem::create_directories(dir("pids", vm), ec_);
    if (ec_ || !write_file(dir("pids", vm) + "/pids.max", std::to_string(max_pids_)))
      return make_error(ec::io_error, "cannot set the pids limit of " + vm + " in "
                                        + dir("pids", vm));
  }
  return ok();
}

void cgroups::kill_strays(const std::string& vm) {
  for (const auto& controller : enabled()) {
    std::ifstream in(dir(controller, vm) + "/cgroup.procs");
    for (pid_t pid; in >> pid;)
      ::kill(pid, SIGKILL);
  }
}

void cgroups::remove(const std::string& vm) {
  kill_strays(vm);
  for (const char* controller : {"memory", "cpu", "cpuacct", "pids"}) {
    // A killed process leaves its group a moment after SIGKILL.
    for (int i = 0; i < 100 && rmdir(dir(controller, vm).c_str()) != 0 && errno == EBUSY;
         ++i)
      usleep(2000);
  }
}

std::optional<double> cgroups::cpu_seconds(const std::string& vm) const {
  if (!cpuacct_)
    return std::nullopt;
  std::ifstream in(dir("cpuacct", vm) + "/cpuacct.usage");
  std::uint64_t nanos = 0;
  if (!(in >> nanos))
    return std::nullopt;
  return static_cast<double>(nanos) / 1e9;
}

std::optional<std::uint64_t> cgroups::working_set(const std::string& vm) const {
  if (!memory_)
    return std::nullopt;
  std::ifstream usage_in(dir("memory", vm) + "/memory.usage_in_bytes");
  std::uint64_t usage = 0;
  if (!(usage_in >> usage))
    return std::nullopt;
  std::ifstream stat_in(dir("memory", vm) + "/memory.stat");
  std::string key;
  for (std::uint64_t value = 0; stat_in >> key >> value;)
    if (key == "total_inactive_file")
      return usage > value ? usage - value : 0;
  return usage;
}

std::vector<std::string> cgroups::vm_groups() const {
  std::vector<std::string> names;
  for (const auto& controller : enabled()) {
    std::error_code ec_;
    for (const auto& entry :
         std::filesystem::directory_iterator(root_ + "/" + controller + "/" + group_, ec_))
      if (entry.is_directory())
        names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

} // namespace volant::runtime
