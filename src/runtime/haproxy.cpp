#include "runtime/haproxy.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

extern char** environ;

namespace volant::runtime {

namespace {

namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool write_file(const std::string& path, const std::string& text) {
  auto tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush())
      return false;
  }
  ::chmod(tmp.c_str(), 0600);
  return ::rename(tmp.c_str(), path.c_str()) == 0;
}

/// Runs `argv` with stdout and stderr to `log` (appended) in a session of its
/// own; the pid, or -errno.
pid_t spawn_detached(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK
                                      | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0].c_str(), &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  return rc == 0 ? pid : -rc;
}

/// Runs `argv` to its end (at most ~10 s); its exit status and output.
std::pair<int, std::string> run_to_end(const std::vector<std::string>& argv,
                                       const std::string& scratch) {
  ::unlink(scratch.c_str());
  pid_t pid = spawn_detached(argv, scratch);
  if (pid < 0)
    return {-1, std::string("cannot run ") + argv[0] + ": " + std::strerror(-pid)};
  int status = 0;
  for (int i = 0; i < 1000; ++i) {
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return {WIFEXITED(status) ? WEXITSTATUS(status) : 128, read_file(scratch)};
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return {-1, argv[0] + std::string(" did not finish within 10 s")};
}

/// The process exists and is not a zombie.
bool process_alive(std::int64_t pid) {
  if (pid <= 0)
    return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text))
    return false;
  auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z';
}

std::string cmdline_of(std::int64_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/cmdline");
  for (auto& c : text)
    if (c == '\0')
      c = ' ';
  return text;
}

/// The last non-empty line of `text` (HAProxy's reason).
std::string last_line(const std::string& text) {
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t\r") != std::string::npos)
      last = line;
  return last;
}

} // namespace

haproxy_supervisor::haproxy_supervisor(options opts) : opts_(std::move(opts)) {
  std::error_code ec;
  fs::create_directories(opts_.dir, ec);
  ::chmod(opts_.dir.c_str(), 0700);
  if (auto pid = find_running(); pid != 0) {
    work_.running = true;
    work_.wanted = true;
    work_.pid = pid;
    work_.adopted = true;
    current_ = read_file(opts_.dir + "/haproxy.cfg");
  }
  st_ = work_;
  thread_ = std::thread([this] { loop(); });
}

haproxy_supervisor::~haproxy_supervisor() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

haproxy_paths haproxy_supervisor::paths() const {
  return {opts_.dir + "/haproxy.sock", opts_.dir + "/haproxy.pid"};
}

std::int64_t haproxy_supervisor::find_running() const {
  std::int64_t pid = 0;
  std::ifstream(opts_.dir + "/haproxy.pid") >> pid;
  if (!process_alive(pid))
    return 0;
  auto cmd = cmdline_of(pid);
  if (cmd.find("haproxy") == std::string::npos
      || cmd.find(opts_.dir + "/haproxy.cfg") == std::string::npos)
    return 0;
  return pid;
}

void haproxy_supervisor::apply(std::string config) {
  {
    std::lock_guard lock(mu_);
    pending_ = std::move(config);
  }
  cv_.notify_all();
}

haproxy_supervisor::status haproxy_supervisor::state() const {
  std::lock_guard lock(mu_);
  return st_;
}

bool haproxy_supervisor::alive() {
  if (work_.pid <= 0)
    return false;
  if (our_child_) {
    int status = 0;
    if (::waitpid(static_cast<pid_t>(work_.pid), &status, WNOHANG) == work_.pid)
      return false;
  }
  return process_alive(work_.pid);
}

void haproxy_supervisor::start() {
  auto cfg = opts_.dir + "/haproxy.cfg";
  ::unlink(paths().pid_file.c_str());
  pid_t pid = spawn_detached({opts_.binary, "-W", "-db", "-f", cfg, "-p", paths().pid_file},
                             opts_.dir + "/haproxy.log");
  if (pid < 0) {
    work_.last_error = "cannot start " + opts_.binary + ": " + std::strerror(-pid);
    work_.running = false;
    return;
  }
  our_child_ = true;
  work_.pid = pid;
  work_.running = true;
  work_.adopted = false;
  ++work_.starts;
}

void haproxy_supervisor::install(const std::string& config) {
  auto cfg = opts_.dir + "/haproxy.cfg";
  if (config.empty()) {
    // No load balancer left: HAProxy stops (its master takes the workers down).
    if (work_.pid > 0 && alive()) {
      ::kill(static_cast<pid_t>(work_.pid), SIGTERM);
      for (int i = 0; i < 200 && alive(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    work_.running = false;
    work_.wanted = false;
    work_.pid = 0;
    current_.clear();
    ::unlink(cfg.c_str());
    return;
  }
  work_.wanted = true;
  // Checked before it replaces the configuration in force.
  auto candidate = opts_.dir + "/haproxy.cfg.new";
  if (!write_file(candidate, config)) {
    work_.last_error = "cannot write " + candidate;
    return;
  }
  auto [rc, out] = run_to_end({opts_.binary, "-c", "-q", "-f", candidate},
                              opts_.dir + "/check.log");
  if (rc != 0) {
    work_.last_error = "configuration refused by haproxy -c: " + last_line(out);
    return;
  }
  if (::rename(candidate.c_str(), cfg.c_str()) != 0) {
    work_.last_error = "cannot install " + cfg + ": " + std::strerror(errno);
    return;
  }
  current_ = config;
  work_.last_error.clear();
  if (alive()) {
    ::kill(static_cast<pid_t>(work_.pid), SIGUSR2); // hitless reload
    ++work_.reloads;
  } else {
    start();
  }
}

void haproxy_supervisor::loop() {
  for (;;) {
    std::optional<std::string> config;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(1),
                   [this] { return stop_ || pending_.has_value(); });
      if (stop_)
        return;
      config.swap(pending_);
    }
    // The process work runs without the lock: apply() never waits for it.
    if (config) {
      if (*config != current_ || (!config->empty() && !alive()))
        install(*config);
    } else if (!current_.empty() && !alive()) {
      // Supervision: a wanted HAProxy that died is started again.
      work_.last_error = "haproxy (pid " + std::to_string(work_.pid) + ") died: restarted";
      start();
    }
    std::lock_guard lock(mu_);
    st_ = work_;
  }
}

std::optional<std::string> haproxy_supervisor::runtime_command(const std::string& command,
                                                               int timeout_ms) const {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return std::nullopt;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  auto path = paths().stats_socket;
  if (path.size() >= sizeof addr.sun_path) {
    ::close(fd);
    return std::nullopt;
  }
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  // The master's socket: "@1 <command>" goes to the (first) current worker.
  auto line = "@1 " + command + "\n";
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    ::close(fd);
    return std::nullopt;
  }
  std::string out;
  char buf[4096];
  for (;;) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n <= 0)
      break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

} // namespace volant::runtime
