#include "runtime/cgroup.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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

cgroups::cgroups(std::string root, std::string group)
  : root_(std::move(root)), group_(std::move(group)) {
  memory_ = writable_controller(root_ + "/memory/" + group_);
  cpu_ = writable_controller(root_ + "/cpu/" + group_);
  if (!memory_ && !cpu_)
    note_ = "cgroup v1 memory and cpu controllers are not writable: limits not enforced";
  else if (!memory_)
    note_ = "cgroup v1 memory controller is not writable: memory limits not enforced";
  else if (!cpu_)
    note_ = "cgroup v1 cpu controller is not writable: CPU limits not enforced";
}

std::string cgroups::dir(const std::string& controller, const std::string& vm) const {
  return root_ + "/" + controller + "/" + group_ + "/" + vm;
}

std::vector<int> cgroups::open_procs(const std::string& vm) const {
  std::vector<int> fds;
  for (auto [enabled, controller] : {std::pair{memory_, "memory"}, {cpu_, "cpu"}}) {
    if (!enabled)
      continue;
    int fd = ::open((dir(controller, vm) + "/cgroup.procs").c_str(),
                    O_WRONLY | O_CLOEXEC);
    if (fd >= 0)
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
  return ok();
}

void cgroups::kill_strays(const std::string& vm) {
  for (auto [enabled, controller] : {std::pair{memory_, "memory"}, {cpu_, "cpu"}}) {
    if (!enabled)
      continue;
    std::ifstream in(dir(controller, vm) + "/cgroup.procs");
    for (pid_t pid; in >> pid;)
      ::kill(pid, SIGKILL);
  }
}

void cgroups::remove(const std::string& vm) {
  kill_strays(vm);
  for (const char* controller : {"memory", "cpu"}) {
    // A killed process leaves its group a moment after SIGKILL.
    for (int i = 0; i < 100 && rmdir(dir(controller, vm).c_str()) != 0 && errno == EBUSY;
         ++i)
      usleep(2000);
  }
}

std::vector<std::string> cgroups::vm_groups() const {
  std::vector<std::string> names;
  for (auto [enabled, controller] : {std::pair{memory_, "memory"}, {cpu_, "cpu"}}) {
    if (!enabled)
      continue;
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
