#include "runtime/sandbox.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace volant::runtime {

namespace fs = std::filesystem;

namespace {

std::string octal_mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

int read_last_cap() {
  std::ifstream in("/proc/sys/kernel/cap_last_cap");
  int last = 0;
  if (in >> last && last > 0 && last < 64)
    return last;
  return CAP_LAST_CAP;
}

/// Whether `id` has all of `bits` (of r=4, w=2, x=1) on a file with `st`.
bool permits(const struct stat& st, const workload_identity& id, unsigned bits) {
  unsigned shift = 0; // others
  if (st.st_uid == id.uid)
    shift = 6;
  else if (st.st_gid == id.gid
           || std::find(id.groups.begin(), id.groups.end(), st.st_gid) != id.groups.end())
    shift = 3;
  return ((st.st_mode >> shift) & bits) == bits;
}

/// Whether `id` may search (traverse) a directory with `st`.
bool can_traverse(const struct stat& st, const workload_identity& id) {
  return permits(st, id, 1);
}

} // namespace

expected<workload_identity> resolve_workload_user(const std::string& user) {
  workload_identity id;
  id.last_cap = read_last_cap();
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::geteuid() != 0) {
    id.uid = ::geteuid();
    id.gid = ::getegid();
    int err = getpwuid_r(id.uid, &pw, buf.data(), buf.size(), &found);
    id.name = err == 0 && found ? found->pw_name : std::to_string(id.uid);
    return id;
  }
  int err = getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
  if (err != 0 || found == nullptr)
    return make_error(ec::invalid_host_config,
                      "workload user '" + user
                        + "' does not exist: create it (scripts/setup.sh does: "
                          "useradd --system --no-create-home --home-dir /nonexistent "
                          "--shell /usr/sbin/nologin "
                        + user + ") or name another with --workload-user");
  if (pw.pw_uid == 0)
    return make_error(ec::invalid_host_config,
                      "workload user '" + user + "' has uid 0: workloads never run as root");
  id.switch_user = true;
  id.name = pw.pw_name;
  id.uid = pw.pw_uid;
  id.gid = pw.pw_gid;
  int n = 32;
  std::vector<gid_t> groups(static_cast<std::size_t>(n));
  while (getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0)
    groups.resize(static_cast<std::size_t>(n));
  groups.resize(static_cast<std::size_t>(n));
  id.groups = std::move(groups);
  return id;
}

int become_workload(const workload_identity& id, bool bind_service,
                    const char** step) noexcept {
  auto failed = [&](const char* what) {
    *step = what;
    return errno != 0 ? errno : EPERM;
  };
  // Nothing the daemon holds open reaches the workload (the journal, sockets):
  // its own descriptors are close-on-exec already, a library's may not be.
  if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int fd = 3; fd < 65536; ++fd)
      (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  if (!id.switch_user)
    return 0;
  // Raw system calls: glibc's setresuid() and friends signal every thread of
  // the process, which a forked child must not rely on.
  if (syscall(SYS_setgroups, id.groups.size(), id.groups.data()) != 0)
    return failed("setgroups");
  if (syscall(SYS_setresgid, id.gid, id.gid, id.gid) != 0)
    return failed("setresgid");
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
    return failed("keepcaps");
  for (int cap = 0; cap <= id.last_cap; ++cap)
    if ((cap != CAP_NET_BIND_SERVICE || !bind_service)
        && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      return failed("capbset_drop");
  if (syscall(SYS_setresuid, id.uid, id.uid, id.uid) != 0)
    return failed("setresuid");
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (bind_service)
    data[0].effective = data[0].permitted = data[0].inheritable
      = 1U << CAP_NET_BIND_SERVICE;
  if (syscall(SYS_capset, &header, data) != 0)
    return failed("capset");
  if (bind_service
      && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0) != 0)
    return failed("ambient capability");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return failed("no_new_privs");
  return 0;
}

std::vector<std::string> workload_environment(const std::vector<env_var>& env,
                                              const std::string& home) {
  std::vector<env_var> all = {
    {"PATH", workload_path}, {"HOME", home}, {"LANG", "C.UTF-8"}};
  for (const auto& v : env) {
    auto it = std::find_if(all.begin(), all.end(),
                           [&](const env_var& e) { return e.key == v.key; });
    if (it != all.end())
      it->value = v.value;
    else
      all.push_back(v);
  }
  std::vector<std::string> out;
  out.reserve(all.size());
  for (const auto& v : all)
    out.push_back(v.key + "=" + v.value);
  return out;
}

bool may_read_write(const std::string& path, const workload_identity& id) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 && permits(st, id, 6);
}

std::string resolve_command(const std::string& command, const std::string& path) {
  if (command.empty() || command.find('/') != std::string::npos)
    return command;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    auto end = path.find(':', pos);
    if (end == std::string::npos)
      end = path.size();
    auto dir = path.substr(pos, end - pos);
    auto candidate = (dir.empty() ? std::string(".") : dir) + "/" + command;
    struct stat st{};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)
        && (st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) != 0)
      return candidate;
    pos = end + 1;
  }
  return command;
}

status prepare_run_dir(const std::string& dir, const workload_identity& id) {
  auto fail = [&](const std::string& what) {
    return make_error(ec::io_error, "run directory " + dir + ": " + what + ": "
                                      + std::strerror(errno));
  };
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return fail("cannot create it");
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return fail("cannot open it (not a directory?)");
  struct stat st{};
  bool good = ::fstat(fd, &st) == 0;
  if (good && id.switch_user && (st.st_uid != id.uid || st.st_gid != id.gid))
    good = ::fchown(fd, id.uid, id.gid) == 0;
  if (good && (st.st_mode & 07777) != 0700)
    good = ::fchmod(fd, 0700) == 0;
  auto saved = errno;
  ::close(fd);
  errno = saved;
  if (!good)
    return fail("cannot give it to " + id.name + " with mode 0700");
  return ok();
}

namespace {

void remove_at(int parent, const char* name, int depth) {
  int fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    (void) ::unlinkat(parent, name, 0); // a file or a symlink, not followed
    return;
  }
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    ::close(fd);
    return;
  }
  std::vector<std::string> names;
  while (auto* e = ::readdir(d))
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
      names.emplace_back(e->d_name);
  if (depth < 128)
    for (const auto& n : names)
      remove_at(::dirfd(d), n.c_str(), depth + 1);
  ::closedir(d);
  (void) ::unlinkat(parent, name, AT_REMOVEDIR);
}

} // namespace

void remove_run_dir(const std::string& dir) {
  fs::path p(dir);
  int parent = ::open(p.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (parent < 0)
    return;
  remove_at(parent, p.filename().c_str(), 0);
  ::close(parent);
}

status prepare_run_root(const std::string& dir, const workload_identity& id) {
  auto bad = [&](const std::string& what) {
    return make_error(ec::invalid_host_config, "--run-dir " + dir + ": " + what);
  };
  std::error_code err;
  bool existed = fs::exists(dir, err);
  if (!existed) {
    fs::create_directories(dir, err);
    if (err)
      return bad("cannot create it: " + err.message());
    if (::chmod(dir.c_str(), id.switch_user ? 0711 : 0700) != 0)
      return bad("cannot set its mode: " + std::string(std::strerror(errno)));
  }
  struct stat st{};
  if (::lstat(dir.c_str(), &st) != 0)
    return bad(std::strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return bad("not a directory (a symlink is not followed)");
  if (st.st_uid != ::geteuid())
    return bad("owned by uid " + std::to_string(st.st_uid)
               + ", not by volantd: choose a directory of volantd's own");
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    return bad("writable by others (mode " + octal_mode(st.st_mode)
               + "): another user could swap a VM's directory; chmod go-w it");
  if (!id.switch_user)
    return ok();
  // The workload user must reach <dir>/<vm>: every directory on the way.
  auto path = fs::absolute(dir, err).lexically_normal();
  for (fs::path p = path;; p = p.parent_path()) {
    struct stat ps{};
    if (::stat(p.c_str(), &ps) == 0 && !can_traverse(ps, id))
      return bad("the workload user " + id.name + " cannot reach it: " + p.string()
                 + " is mode " + octal_mode(ps.st_mode) + " (chmod o+x " + p.string()
                 + ", or choose another --run-dir)");
    if (p == p.root_path() || p.empty())
      break;
  }
  return ok();
}

status lock_run_root(const std::string& dir, const std::string& owner) {
  auto path = dir + "/.volantd.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return make_error(ec::io_error,
                      "cannot open " + path + ": " + std::string(std::strerror(errno)));
  // A POSIX record lock, not flock(2): it belongs to this process, so a child
  // forked just before a kill -9 (between its fork and its exec it shares the
  // descriptor) does not keep it from the next volantd.
  struct flock lock{};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  if (::fcntl(fd, F_SETLK, &lock) != 0) {
    char buf[4096] = {};
    auto n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    std::string other = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "?";
    return make_error(ec::invalid_host_config,
                      "--run-dir " + dir + " is in use by another volantd (data dir "
                        + other + "): each daemon needs a run directory of its own");
  }
  // Held (never closed) for the life of the process.
  if (::ftruncate(fd, 0) == 0)
    (void) !::pwrite(fd, owner.data(), owner.size(), 0);
  return ok();
}

} // namespace volant::runtime
