#include "runtime/haproxy.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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

/// `text` split at `sep`.
std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(text);
  while (std::getline(in, field, sep))
    out.push_back(field);
  return out;
}

std::uint64_t number(const std::string& text) {
  std::uint64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      break;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
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
    written_ = read_file(opts_.dir + "/haproxy.cfg");
    frame_ = haproxy_frame(written_);
    for (const auto& [lb, serving] : haproxy_serving(written_)) {
      slots_[lb] = serving.slot;
      slot_target_[lb] = serving.deployment;
    }
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
  return {opts_.dir + "/haproxy.sock", opts_.dir + "/haproxy.pid", opts_.dir + "/slots.map"};
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

void haproxy_supervisor::apply(std::vector<lb_view> lbs) {
  {
    std::lock_guard lock(mu_);
    pending_ = std::move(lbs);
  }
  cv_.notify_all();
}

haproxy_supervisor::status haproxy_supervisor::state() const {
  std::lock_guard lock(mu_);
  return st_;
}

std::vector<haproxy_supervisor::server_stat> haproxy_supervisor::stats() const {
  std::lock_guard lock(mu_);
  return published_stats_;
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
  reload_pending_ = false;
  draining_.clear(); // a new HAProxy has only the file's servers
  ++work_.starts;
}

std::int64_t haproxy_supervisor::worker_pid() const {
  auto info = runtime_command("show info");
  if (!info)
    return 0;
  std::istringstream in(*info);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("Pid: ", 0) == 0)
      return static_cast<std::int64_t>(number(line.substr(5)));
  return 0;
}

void haproxy_supervisor::reload() {
  // Hitless: the master starts a worker on the new configuration, which takes
  // the listening sockets over; the old one finishes its sessions. A reload
  // signalled while the master is busy may be lost: the worker's pid tells.
  if (!reload_pending_) {
    reload_from_ = worker_pid();
    reload_pending_ = reload_from_ != 0;
  }
  reload_at_ = clock::now();
  ::kill(static_cast<pid_t>(work_.pid), SIGUSR2);
  ++work_.reloads;
}

void haproxy_supervisor::stop_all() {
  // No load balancer left: HAProxy stops (its master takes the workers down).
  if (work_.pid > 0 && alive()) {
    ::kill(static_cast<pid_t>(work_.pid), SIGTERM);
    for (int i = 0; i < 200 && alive(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  work_.running = false;
  work_.wanted = false;
  work_.pid = 0;
  frame_.clear();
  written_.clear();
  draining_.clear();
  stat_.clear();
  slots_.clear();
  slot_target_.clear();
  reload_pending_ = false;
  ::unlink((opts_.dir + "/haproxy.cfg").c_str());
  ::unlink(paths().slots_map.c_str());
}

bool haproxy_supervisor::install(const std::string& config) {
  auto cfg = opts_.dir + "/haproxy.cfg";
  work_.wanted = true;
  // Checked before it replaces the configuration in force.
  auto candidate = opts_.dir + "/haproxy.cfg.new";
  // The slots map first: the check loads it, and so does the new worker.
  if (!write_file(paths().slots_map, render_lb_map(*desired_, slots_))) {
    work_.last_error = "cannot write " + paths().slots_map;
    return false;
  }
  if (!write_file(candidate, config)) {
    work_.last_error = "cannot write " + candidate;
    return false;
  }
  auto [rc, out] = run_to_end({opts_.binary, "-c", "-q", "-f", candidate},
                              opts_.dir + "/check.log");
  if (rc != 0) {
    work_.last_error = "configuration refused by haproxy -c: " + last_line(out);
    return false;
  }
  if (::rename(candidate.c_str(), cfg.c_str()) != 0) {
    work_.last_error = "cannot install " + cfg + ": " + std::strerror(errno);
    return false;
  }
  written_ = config;
  frame_ = haproxy_frame(config);
  work_.last_error.clear();
  if (alive())
    reload();
  else
    start();
  return true;
}

std::string haproxy_supervisor::send(const std::string& command) {
  auto out = runtime_command(command);
  ++work_.api_commands;
  return out ? *out : std::string();
}

void haproxy_supervisor::read_stats() {
  stat_.clear();
  auto text = runtime_command("show stat");
  stats_ok_ = text && text->rfind("# ", 0) == 0;
  if (!stats_ok_)
    return;
  auto lines = split(*text, '\n');
  auto header = split(lines.front().substr(2), ',');
  auto column = [&](std::string_view name) {
    for (std::size_t i = 0; i < header.size(); ++i)
      if (header[i] == name)
        return i;
    return header.size();
  };
  auto px = column("pxname"), sv = column("svname"), scur = column("scur"),
       stot = column("stot"), status = column("status"), req = column("req_tot");
  for (std::size_t i = 1; i < lines.size(); ++i) {
    auto f = split(lines[i], ',');
    if (f.size() < header.size() || f[sv] == "BACKEND" || f[sv] == "FRONTEND")
      continue;
    if (f[px].rfind("lb_", 0) != 0)
      continue;
    auto be = lb_of_backend(f[px]);
    if (!be)
      continue;
    server_stat s;
    s.lb = be->first;
    s.server = f[sv];
    s.vm = lb_server_vm(s.server);
    s.status = f[status];
    s.sessions = number(f[scur]);
    s.total = number(f[stot]);
    s.requests = req < f.size() ? number(f[req]) : 0;
    s.draining = draining_.count(f[px] + "/" + f[sv]) != 0;
    stat_[{f[px], f[sv]}] = std::move(s);
  }
}

std::map<std::string, std::string> haproxy_supervisor::read_map() {
  // "0x55e1c2a0 lb_web lb_web_a" per entry.
  std::map<std::string, std::string> out;
  auto text = runtime_command("show map " + paths().slots_map);
  if (!text)
    return out;
  for (const auto& line : split(*text, '\n')) {
    auto f = split(line, ' ');
    if (f.size() == 3)
      out[f[1]] = f[2];
  }
  return out;
}

void haproxy_supervisor::choose_slots() {
  // A load balancer whose target changed (a switch) serves from its other
  // backend from now on: the new servers go there, the old ones drain.
  std::map<std::string, char> kept;
  std::map<std::string, std::string> targets;
  for (const auto& lb : *desired_) {
    const auto& name = lb.spec.name;
    auto slot = slots_.count(name) ? slots_[name] : 'a';
    auto t = slot_target_.find(name);
    if (t != slot_target_.end() && t->second != lb.spec.deployment)
      slot = other_slot(slot);
    kept[name] = slot;
    targets[name] = lb.spec.deployment;
  }
  slots_ = std::move(kept);
  slot_target_ = std::move(targets);
}

void haproxy_supervisor::sync_lb(const lb_view& lb,
                                 const std::map<std::string, std::string>& map_now) {
  const auto& name = lb.spec.name;
  char slot = slots_.at(name); // choose_slots gave every desired LB one
  auto serving = lb_backend_name(name, slot);
  // The servers first, then the frontend to them (atomic), then the other
  // backend empties by draining.
  if (!sync_backend(lb, serving, lb.servers))
    return;
  auto key = "lb_" + name;
  auto m = map_now.find(key);
  if (m == map_now.end() || m->second != serving) {
    auto verb = m == map_now.end() ? "add map " : "set map ";
    send(verb + paths().slots_map + " " + key + " " + serving);
    write_file(paths().slots_map, render_lb_map(*desired_, slots_)); // for a restart
  }
  sync_backend(lb, lb_backend_name(name, other_slot(slot)), {});
}

bool haproxy_supervisor::sync_backend(const lb_view& lb, const std::string& be,
                                      const std::vector<lb_server>& servers) {
  auto state = runtime_command("show servers state " + be);
  if (!state)
    return false; // unreachable now: the next tick tries again
  if (state->rfind("Can't find backend", 0) == 0) {
    // The frame that has it is not loaded yet: a reload under way, or lost.
    if (clock::now() - reload_at_ > std::chrono::seconds(3))
      reload();
    return false;
  }
  struct present {
    std::string addr;
    std::uint16_t port = 0;
    std::uint64_t admin = 0;
  };
  std::map<std::string, present> now;
  for (const auto& line : split(*state, '\n')) {
    if (line.empty() || line[0] == '#' || line.find(' ') == std::string::npos)
      continue;
    auto f = split(line, ' ');
    if (f.size() < 19 || f[1] != be)
      continue;
    now[f[3]] = {f[4], static_cast<std::uint16_t>(number(f[18])), number(f[6])};
  }
  auto options = lb_server_options(lb);
  for (const auto& s : servers) {
    auto id = be + "/" + s.name;
    auto addr = to_string_ip(s.ip);
    auto i = now.find(s.name);
    if (i == now.end()) {
      // Joins: added, its check enabled, then itself (HAProxy adds it off).
      send("add server " + id + " " + addr + ":" + std::to_string(s.port)
           + (options.empty() ? "" : " " + options));
      if (!options.empty())
        send("enable health " + id);
      send("enable server " + id);
      draining_.erase(id);
      continue;
    }
    if (i->second.addr != addr || i->second.port != s.port)
      send("set server " + id + " addr " + addr + " port " + std::to_string(s.port));
    if (i->second.admin != 0 || draining_.count(id)) {
      send("set server " + id + " state ready"); // back before it was gone
      draining_.erase(id);
    }
  }
  for (const auto& [name, p] : now) {
    bool wanted = std::any_of(servers.begin(), servers.end(),
                              [&](const lb_server& s) { return s.name == name; });
    if (wanted)
      continue;
    auto id = be + "/" + name;
    auto d = draining_.find(id);
    if (d == draining_.end()) {
      // Leaves: no new requests; its sessions finish.
      send("set server " + id + " state drain");
      draining_[id] = {clock::now(), lb.spec.drain_timeout_ms, lb.spec.name, lb_server_vm(name)};
      continue;
    }
    auto st = stat_.find({be, name});
    auto sessions = st == stat_.end() ? 0 : st->second.sessions;
    bool expired = clock::now() - d->second.since
                   >= std::chrono::milliseconds(d->second.timeout_ms);
    if (sessions != 0 && !expired)
      continue;
    if (opts_.on_drained)
      opts_.on_drained(d->second.lb, d->second.vm);
    send("set server " + id + " state maint");
    send("shutdown sessions server " + id);
    if (send("del server " + id).find("Server deleted") != std::string::npos)
      draining_.erase(id);
  }
  return true;
}

void haproxy_supervisor::step(bool changed) {
  if (!desired_) {
    // Adopted and not told yet: only kept alive on the file's configuration.
    if (!written_.empty() && !alive()) {
      work_.last_error = "haproxy (pid " + std::to_string(work_.pid) + ") died: restarted";
      start();
    }
    return;
  }
  if (desired_->empty()) {
    if (work_.wanted || alive())
      stop_all();
    return;
  }
  choose_slots();
  auto config = render_haproxy(*desired_, paths(), slots_);
  auto frame = haproxy_frame(config);
  bool up = alive();
  if (!up && work_.running)
    work_.last_error = "haproxy (pid " + std::to_string(work_.pid) + ") died: restarted";
  if (frame != frame_ || !up) {
    // A new frame (or none running): checked, installed, reloaded or started.
    // A refused frame is tried again only when the load balancers change.
    if ((changed || !up) && !install(config))
      work_.running = up;
    if (frame != frame_)
      return; // refused: the one in force stays, with its servers
  } else if (config != written_) {
    // Servers only: the file follows (for a restart), HAProxy hears it below.
    if (write_file(opts_.dir + "/haproxy.cfg", config))
      written_ = config;
  }
  if (reload_pending_) {
    auto pid = worker_pid();
    if (pid != 0 && pid != reload_from_)
      reload_pending_ = false;
    else if (clock::now() - reload_at_ > std::chrono::seconds(3))
      reload(); // lost: signalled again
    else
      return; // the new worker is not there yet
  }
  read_stats();
  auto sent = work_.api_commands;
  auto map_now = read_map();
  for (const auto& lb : *desired_)
    sync_lb(lb, map_now);
  if (work_.api_commands != sent) {
    read_stats(); // `lb show` sees a server that joined or left at once
    quick_until_ = clock::now() + std::chrono::seconds(2); // and its first requests
  }
}

void haproxy_supervisor::loop() {
  for (;;) {
    std::optional<std::vector<lb_view>> next;
    {
      std::unique_lock lock(mu_);
      // Quick while something drains, a reload is under way, a new HAProxy is
      // not answering yet, or shortly after a server change.
      bool busy = !draining_.empty() || reload_pending_ || (work_.running && !stats_ok_)
                  || clock::now() < quick_until_;
      auto tick = busy ? std::chrono::milliseconds(100) : std::chrono::milliseconds(1000);
      cv_.wait_for(lock, tick, [this] { return stop_ || pending_.has_value(); });
      if (stop_)
        return;
      next.swap(pending_);
    }
    // The process work runs without the lock: apply() never waits for it.
    bool changed = next.has_value();
    if (next)
      desired_ = std::move(next);
    step(changed);
    std::vector<server_stat> stats;
    for (const auto& [key, s] : stat_)
      stats.push_back(s);
    std::lock_guard lock(mu_);
    st_ = work_;
    published_stats_ = std::move(stats);
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
  // The worker's socket (passed from worker to worker across reloads): one
  // command per connection, answered until it closes.
  auto line = command + "\n";
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
