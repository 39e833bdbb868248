#include "runtime/proc.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <map>
#include <sstream>

namespace volant::runtime {

namespace {

/// The fields of /proc/PID/stat after the command name: [0] is the state (field 3).
std::optional<std::vector<std::string>> stat_fields(std::int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line))
    return std::nullopt;
  auto close = line.rfind(')'); // comm may contain spaces and parentheses
  if (close == std::string::npos)
    return std::nullopt;
  std::istringstream rest(line.substr(close + 2));
  std::vector<std::string> fields;
  for (std::string f; rest >> f;)
    fields.push_back(f);
  if (fields.size() < 22)
    return std::nullopt;
  return fields;
}

} // namespace

std::optional<std::uint64_t> start_ticks(std::int64_t pid) {
  auto fields = stat_fields(pid);
  if (!fields)
    return std::nullopt;
  return std::stoull((*fields)[19]); // field 22
}

bool process_alive(std::int64_t pid, std::uint64_t ticks) {
  if (pid <= 0)
    return false;
  auto fields = stat_fields(pid);
  if (!fields || (*fields)[0] == "Z" || (*fields)[0] == "X")
    return false;
  return ticks == 0 || std::stoull((*fields)[19]) == ticks;
}

std::vector<std::int64_t> process_tree(std::int64_t pid) {
  std::multimap<std::int64_t, std::int64_t> children;
  if (DIR* dir = opendir("/proc")) {
    while (auto* entry = readdir(dir)) {
      char* end = nullptr;
      auto child = std::strtoll(entry->d_name, &end, 10);
      if (*end != '\0' || child <= 0)
        continue;
      // Zombies are dead: a killed child its parent never reaped does not count.
      if (auto fields = stat_fields(child); fields && (*fields)[0] != "Z")
        children.emplace(std::stoll((*fields)[1]), child); // field 4: ppid
    }
    closedir(dir);
  }
  std::vector<std::int64_t> tree;
  if (!process_alive(pid, 0))
    return tree;
  tree.push_back(pid);
  for (std::size_t i = 0; i < tree.size(); ++i) {
    auto [first, last] = children.equal_range(tree[i]);
    for (auto it = first; it != last; ++it)
      tree.push_back(it->second);
  }
  return tree;
}

std::string read_proc_file(const std::string& path) {
  std::string out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return out;
  char buf[4096];
  for (;;) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

std::string process_name(std::int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

void process_usage(const std::vector<std::int64_t>& pids, double& cpu_seconds,
                   std::uint64_t& rss_bytes) {
  static const double ticks_per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
  static const auto page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  cpu_seconds = 0;
  rss_bytes = 0;
  for (auto pid : pids) {
    auto fields = stat_fields(pid);
    if (!fields)
      continue;
    cpu_seconds += (std::stod((*fields)[11]) + std::stod((*fields)[12]))
                   / ticks_per_second; // fields 14, 15: utime, stime
    rss_bytes += std::stoull((*fields)[21]) * page; // field 24: rss pages
  }
}

} // namespace volant::runtime
