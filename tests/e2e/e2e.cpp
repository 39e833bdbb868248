#include "e2e/e2e.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace volant::e2e {

namespace fs = std::filesystem;

std::string volantd_bin() {
  return test::binary("VOLANTD");
}
std::string volar_bin() {
  return test::binary("VOLAR");
}
std::string replay_bin() {
  return test::binary("VOLANT_REPLAY");
}
std::string examples_dir() {
  return test::binary("VOLANT_EXAMPLES");
}

std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds every) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred())
      return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(every);
  }
}

namespace {

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::max<std::int64_t>(left.count(), 0));
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The NUL-separated environment of a process ("" when unreadable).
std::string environ_of(int pid) {
  return read_all("/proc/" + std::to_string(pid) + "/environ");
}

bool env_has(const std::string& environ, const std::string& entry) {
  std::size_t pos = 0;
  while (pos < environ.size()) {
    auto end = environ.find('\0', pos);
    if (end == std::string::npos)
      end = environ.size();
    if (environ.compare(pos, end - pos, entry) == 0)
      return true;
    pos = end + 1;
  }
  return false;
}

bool env_has_prefix(const std::string& environ, const std::string& prefix) {
  std::size_t pos = 0;
  while (pos < environ.size()) {
    auto end = environ.find('\0', pos);
    if (end == std::string::npos)
      end = environ.size();
    if (environ.compare(pos, prefix.size(), prefix) == 0)
      return true;
    pos = end + 1;
  }
  return false;
}

std::vector<int> all_pids() {
  std::vector<int> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    auto name = entry.path().filename().string();
    if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos)
      out.push_back(std::stoi(name));
  }
  return out;
}

} // namespace

std::optional<http_reply> http_get(const std::string& ip, int port, const std::string& path,
                                   std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return std::nullopt;
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } guard{fd};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1)
    return std::nullopt;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS)
      return std::nullopt;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) != 1)
      return std::nullopt;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0)
      return std::nullopt;
  }
  std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + ip + "\r\nConnection: close\r\n\r\n";
  std::size_t sent = 0;
  while (sent < request.size()) {
    auto n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR)
      return std::nullopt;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) != 1)
      return std::nullopt;
  }
  std::string response;
  char buf[4096];
  while (true) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      response.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0)
      break;
    if (errno != EAGAIN && errno != EINTR)
      return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) != 1)
      return std::nullopt;
  }
  // "HTTP/1.x NNN ..."
  if (response.rfind("HTTP/", 0) != 0 || response.size() < 12)
    return std::nullopt;
  http_reply reply;
  reply.status = std::atoi(response.c_str() + response.find(' ') + 1);
  auto head_end = response.find("\r\n\r\n");
  reply.body = head_end == std::string::npos ? "" : response.substr(head_end + 4);
  return reply;
}

std::string http_body_eventually(const std::string& ip, const std::string& path,
                                 std::chrono::milliseconds timeout) {
  std::string body;
  eventually(
      [&] {
        auto r = http_get(ip, 80, path);
        if (r && r->status == 200) {
          body = r->body;
          return true;
        }
        return false;
      },
      timeout, 50ms);
  return body;
}

bool pid_alive(int pid) {
  if (pid <= 0)
    return false;
  auto stat = read_all("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  if (stat.empty() || close == std::string::npos || close + 2 >= stat.size())
    return false;
  char state = stat[close + 2];
  return state != 'Z' && state != 'X';
}

int listeners_on(const std::string& ip, int port) {
  in_addr addr{};
  if (inet_pton(AF_INET, ip.c_str(), &addr) != 1)
    return 0;
  char want[32];
  // /proc/net/tcp prints the address as the host-order view of the network-order
  // 32 bits, and the port in host order.
  std::snprintf(want, sizeof want, "%08X:%04X", addr.s_addr, port);
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line); // header
  int count = 0;
  while (std::getline(in, line)) {
    auto f = fields_of(line);
    if (f.size() > 3 && f[1] == want && f[3] == "0A")
      ++count;
  }
  return count;
}

std::vector<int> pids_with_env(const std::string& key, const std::string& value) {
  std::vector<int> out;
  auto entry = key + "=" + value;
  for (int pid : all_pids())
    if (pid_alive(pid) && env_has(environ_of(pid), entry))
      out.push_back(pid);
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty())
      out.push_back(line);
  return out;
}

std::vector<std::string> fields_of(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string f; in >> f;)
    out.push_back(f);
  return out;
}

bool one_line(const std::string& err) {
  return !err.empty() && err.back() == '\n' && err.find('\n') == err.size() - 1 && err.size() > 1;
}

json httpd_manifest(const std::string& name) {
  return {
      {"name", name},
      {"version", "1.0.0"},
      {"description", "e2e: busybox httpd without a health check"},
      {"runtime", "process"},
      {"workload",
       {{"entrypoint",
         {"/bin/sh", "-c",
          "mkdir -p \"$VOLANT_VM_DIR/www\" && echo \"$VOLANT_VM_NAME\" > "
          "\"$VOLANT_VM_DIR/www/index.html\" && env | sort > \"$VOLANT_VM_DIR/www/env.txt\" "
          "&& exec busybox httpd -f -p \"$VOLANT_IP:80\" -h \"$VOLANT_VM_DIR/www\""}}}},
  };
}

int unread_bytes_on(int port) {
  char want[32];
  std::snprintf(want, sizeof want, "0100007F:%04X", port); // 127.0.0.1, see listeners_on
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line); // header
  int bytes = 0;
  while (std::getline(in, line)) {
    auto f = fields_of(line); // sl local remote st tx_queue:rx_queue ...
    if (f.size() > 4 && f[1] == want && f[3] == "01")
      bytes += static_cast<int>(std::stoul(f[4].substr(f[4].find(':') + 1), nullptr, 16));
  }
  return bytes;
}

// -- background volar -------------------------------------------------------------

background_volar::background_volar(const daemon& d, const std::string& args) {
  auto command = "exec " + sh_quote(volar_bin()) + " --data-dir " + sh_quote(d.dir()) + " "
                 + args + " >" + sh_quote(files_ / "out") + " 2>" + sh_quote(files_ / "err")
                 + " </dev/null";
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  pid_ = pid;
}

background_volar::~background_volar() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::optional<int> background_volar::wait_exit(std::chrono::milliseconds limit) {
  if (pid_ <= 0)
    return std::nullopt;
  int status = 0;
  bool done = eventually([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, limit, 20ms);
  if (!done)
    return std::nullopt;
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string background_volar::out() const {
  return read_all(files_ / "out");
}

std::string background_volar::err() const {
  return read_all(files_ / "err");
}

// -- daemon ---------------------------------------------------------------------

std::string daemon::workload_scratch(const std::string& name) const {
  auto path = scratch(name);
  std::filesystem::create_directories(path);
  ::chmod(files_.path().c_str(), 0711);
  const auto* user = ::getpwnam("volant-workload");
  REQUIRE_MESSAGE(user != nullptr, "no user volant-workload: run scripts/setup.sh");
  REQUIRE(::chown(path.c_str(), user->pw_uid, user->pw_gid) == 0);
  ::chmod(path.c_str(), 0700);
  return path;
}

daemon::daemon(options opts) : opts_(std::move(opts)) {
  REQUIRE_MESSAGE((!dir_.path().empty() && !run_.path().empty()), "cannot create a temp dir");
  ::chmod(run_.path().c_str(), 0711);
  // Nothing from the caller's environment may redirect volar.
  ::unsetenv("VOLANT_TOKEN");
  ::unsetenv("VOLANT_ENDPOINT");
  ::unsetenv("VOLANT_HOME");
  start();
}

daemon::~daemon() {
  cleanup();
  if (std::getenv("VOLANT_E2E_KEEP")) {
    auto keep = "/tmp/volant-e2e-kept-" + std::to_string(::getpid()) + "-"
                + std::to_string(opts_.pool_octet);
    std::error_code ec;
    fs::copy(dir(), keep, fs::copy_options::recursive, ec);
  }
}

std::string daemon::ip(int host) const {
  return "127.78." + std::to_string(opts_.pool_octet) + "." + std::to_string(host);
}

std::string daemon::pool() const {
  if (!opts_.pool_cidr.empty())
    return opts_.pool_cidr;
  return "127.78." + std::to_string(opts_.pool_octet) + ".0/24";
}

std::string daemon::log() const {
  return read_all(dir_ / "volantd.log");
}

std::string daemon::log_tail(std::size_t n) const {
  auto all = lines_of(log());
  std::string out = "volantd log (" + dir() + "):\n";
  for (std::size_t i = all.size() > n ? all.size() - n : 0; i < all.size(); ++i)
    out += all[i] + "\n";
  return out;
}

void daemon::launch() {
  REQUIRE(pid_ <= 0);
  ::unlink((dir_ / "endpoint").c_str());
  std::vector<std::string> args = {volantd_bin(),
                                   "--data-dir",
                                   dir(),
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--pool",
                                   pool(),
                                   "--memory-mib",
                                   std::to_string(opts_.memory_mib),
                                   "--cpus",
                                   std::to_string(opts_.cpus),
                                   "--reconcile-ms",
                                   std::to_string(opts_.reconcile_ms),
                                   "--stop-grace-ms",
                                   std::to_string(opts_.stop_grace_ms),
                                   "--run-dir",
                                   run_dir()};
  args.insert(args.end(), opts_.extra.begin(), opts_.extra.end());
  if (!opts_.netns.empty()) // `ip netns exec` execs volantd in place: pid_ is volantd's
    args.insert(args.begin(), {"/usr/bin/env", "ip", "netns", "exec", opts_.netns});
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  auto log_path = dir_ / "volantd.log";
  std::ofstream(log_path, std::ios::app) << "=== e2e: starting volantd\n";
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::setpgid(0, 0);
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (in < 0 || out < 0 || ::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0)
      ::_exit(126);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  pid_ = pid;
}

void daemon::start() {
  launch();
  auto endpoint = dir_ / "endpoint";
  bool up = eventually(
      [&] {
        int status;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          return true; // exited: reported below
        }
        auto text = read_all(endpoint);
        return !text.empty() && text.back() == '\n';
      },
      20s, 20ms);
  REQUIRE_MESSAGE(pid_ > 0, "volantd exited at start\n" << log_tail());
  if (!up)
    stop();
  REQUIRE_MESSAGE(up, "volantd wrote no endpoint within 20 s\n" << log_tail());
}

void daemon::kill9() {
  REQUIRE(pid_ > 0);
  ::kill(pid_, SIGKILL);
  int status;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::optional<int> daemon::wait_exit(std::chrono::milliseconds limit) {
  REQUIRE(pid_ > 0);
  int status = 0;
  if (!eventually([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, limit, 20ms))
    return std::nullopt;
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void daemon::stop() {
  if (pid_ <= 0)
    return;
  ::kill(pid_, SIGTERM);
  int status;
  bool gone = eventually([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, 10s, 20ms);
  if (!gone) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  pid_ = -1;
}

run_result daemon::volar(const std::string& args, const std::string& env) const {
  auto cmd = (opts_.netns.empty() ? "" : "ip netns exec " + opts_.netns + " ")
             + (env.empty() ? "" : "env " + env + " ") + sh_quote(volar_bin()) + " --data-dir "
             + sh_quote(dir()) + " " + args + " </dev/null";
  return test::run(cmd);
}

std::string daemon::ok(const std::string& args) const {
  auto r = volar(args);
  CHECK_MESSAGE(r.exit_code == 0, "volar " << args << " -> exit " << r.exit_code << ": "
                                          << r.err << r.out);
  return r.out;
}

json daemon::get_json(const std::string& args) const {
  auto r = volar(args + " --json");
  REQUIRE_MESSAGE(r.exit_code == 0,
                  "volar " << args << " --json -> exit " << r.exit_code << ": " << r.err);
  auto j = json::parse(r.out, nullptr, false);
  REQUIRE_MESSAGE(!j.is_discarded(), "volar " << args << " --json printed no JSON: " << r.out);
  return j;
}

json daemon::deployment(const std::string& name) const {
  for (const auto& d : deployments())
    if (d.value("name", "") == name)
      return d;
  return nullptr;
}

json daemon::vms(const std::string& args) const {
  auto list = get_json("vms list " + args);
  REQUIRE(list.is_array());
  return list;
}

json daemon::vms_of(const std::string& deployment) const {
  json out = json::array();
  for (const auto& v : vms())
    if (v.value("deployment", "") == deployment)
      out.push_back(v);
  return out;
}

std::vector<json> daemon::journal() const {
  auto r = test::run(sh_quote(replay_bin()) + " events --json --data-dir " + sh_quote(dir()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::vector<json> out;
  for (const auto& line : lines_of(r.out))
    out.push_back(json::parse(line));
  return out;
}

json daemon::vm(const std::string& name) const {
  for (const auto& v : vms())
    if (v.value("name", "") == name)
      return v;
  return nullptr;
}

void daemon::install(const json& manifest) {
  auto path = scratch(manifest.value("name", "plugin") + ".manifest.json");
  std::ofstream(path) << manifest.dump(2) << "\n";
  install_file(path);
}

void daemon::install_file(const std::string& path) {
  auto r = volar("plugins install --manifest " + sh_quote(path));
  REQUIRE_MESSAGE(r.exit_code == 0, "plugins install " << path << ": " << r.err);
}

std::optional<json> daemon::try_json(const std::string& args) const {
  auto r = volar(args + " --json");
  if (r.exit_code != 0)
    return std::nullopt;
  auto j = json::parse(r.out, nullptr, false);
  if (j.is_discarded())
    return std::nullopt;
  return j;
}

bool daemon::settled(const std::string& name, int n, std::chrono::milliseconds timeout) const {
  // A failing volar call (e.g. while the daemon restarts an actor) is "not yet".
  return eventually(
      [&] {
        auto deps = try_json("deployments list");
        if (!deps || !deps->is_array())
          return false;
        json d;
        for (const auto& dep : *deps)
          if (dep.value("name", "") == name)
            d = dep;
        if (d.is_null() || d.value("desired", -1) != n || d.value("current", -1) != n
            || d.value("ready", -1) != n)
          return false;
        auto vms = try_json("vms list --deployment " + name);
        if (!vms || !vms->is_array())
          return false;
        const auto& list = *vms;
        if (static_cast<int>(list.size()) != n)
          return false;
        for (const auto& vm : list)
          if (vm.value("status", "") != "ready" || vm.value("pid", 0) <= 0)
            return false;
        return true;
      },
      timeout, 200ms);
}

std::string daemon::cgroup_group() const {
  // As volantd names it (src/daemon/host.cpp): "volant-" + hex(hash(data dir)).
  std::ostringstream out;
  out << "volant-" << std::hex << (std::hash<std::string>{}(dir()) & 0xffffffffu);
  return out.str();
}

std::vector<int> daemon::workload_pids() const {
  std::vector<int> out;
  auto env_prefix = "VOLANT_VM_DIR=" + run_dir() + "/";
  auto group = "/" + cgroup_group() + "/";
  for (int pid : all_pids()) {
    if (pid == pid_ || !pid_alive(pid))
      continue;
    auto cg = read_all("/proc/" + std::to_string(pid) + "/cgroup");
    // volantd's HAProxy outlives it by design; its command line names its
    // config in the data directory.
    auto cmdline = read_all("/proc/" + std::to_string(pid) + "/cmdline");
    if (cg.find(group) != std::string::npos || env_has_prefix(environ_of(pid), env_prefix)
        || cmdline.find(dir() + "/haproxy/") != std::string::npos)
      out.push_back(pid);
  }
  return out;
}

std::vector<int> daemon::vm_pids(const std::string& vm) const {
  std::set<int> all;
  auto name = "VOLANT_VM_NAME=" + vm;
  auto dir_entry = "VOLANT_VM_DIR=" + vm_dir(vm);
  for (int pid : all_pids()) {
    if (!pid_alive(pid))
      continue;
    auto env = environ_of(pid);
    if (env_has(env, name) && env_has(env, dir_entry))
      all.insert(pid);
  }
  // Only the tops of process trees: a workload's own children (busybox httpd
  // forks one per connection) are not a second copy of the VM.
  std::vector<int> out;
  for (int pid : all) {
    auto stat = read_all("/proc/" + std::to_string(pid) + "/stat");
    auto close = stat.rfind(')');
    int ppid = 0;
    if (close != std::string::npos)
      std::sscanf(stat.c_str() + close + 2, "%*c %d", &ppid);
    if (!all.count(ppid))
      out.push_back(pid);
  }
  return out;
}

void daemon::cleanup() {
  if (pid_ > 0) {
    auto r = volar("deployments list --json");
    auto list = json::parse(r.out, nullptr, false);
    if (r.exit_code == 0 && list.is_array()) {
      for (const auto& d : list)
        volar("deployments delete " + sh_quote(d.value("name", "")) + " --force");
      eventually(
          [&] {
            auto v = volar("vms list --json");
            auto j = json::parse(v.out, nullptr, false);
            return v.exit_code != 0 || (j.is_array() && j.empty());
          },
          15s, 200ms);
    }
    stop();
  }
  // Whatever is left (a daemon that could not delete, a test that failed midway).
  auto left = workload_pids();
  if (!left.empty()) {
    MESSAGE("e2e cleanup: killing " << left.size() << " leftover workload processes of "
                                    << dir());
    for (int pid : left) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
    }
    eventually([&] { return workload_pids().empty(); }, 5s, 50ms);
  }
  for (const char* controller : {"memory", "cpu", "cpuacct", "pids"}) {
    fs::path base = fs::path("/sys/fs/cgroup") / controller / cgroup_group();
    std::error_code ec;
    if (!fs::exists(base, ec))
      continue;
    for (const auto& sub : fs::directory_iterator(base, ec))
      if (sub.is_directory(ec))
        ::rmdir(sub.path().c_str());
    ::rmdir(base.c_str());
  }
}

} // namespace volant::e2e
