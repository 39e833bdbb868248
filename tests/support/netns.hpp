#pragma once

// A network namespace of the test's own, for tests that put a bridge, TAPs and
// microVMs somewhere (never in the host's namespace): created as <prefix><pid>,
// its loopback up, and entered by this (single-threaded) process, so that every
// process it starts from then on lives there. On destruction everything still
// running in it is killed, the process returns to its namespace and the namespace
// is deleted, also after a failed assertion. Namespaces of this prefix left by
// earlier runs that died (their pid is gone) are deleted first. Needs root.

#include "support/process.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

namespace volant::test {

class netns_scope {
public:
  explicit netns_scope(std::string prefix) : prefix_(std::move(prefix)) {
    delete_stale();
    name_ = prefix_ + std::to_string(::getpid());
    auto add = run("ip netns add " + name_ + " && ip -n " + name_ + " link set lo up");
    REQUIRE_MESSAGE(add.exit_code == 0, "ip netns add " << name_ << ": " << add.err);
    created_ = true;
    original_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    REQUIRE(original_ >= 0);
    auto before = inode("/proc/self/ns/net");
    int fd = ::open(("/var/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE_MESSAGE(fd >= 0, "open /var/run/netns/" << name_ << ": " << std::strerror(errno));
    int rc = ::setns(fd, CLONE_NEWNET);
    int err = errno;
    ::close(fd);
    REQUIRE_MESSAGE(rc == 0, "setns: " << std::strerror(err));
    // Never build a bridge in the host's namespace.
    REQUIRE_MESSAGE(inode("/proc/self/ns/net") != before, "still in the original namespace");
    entered_ = true;
  }

  ~netns_scope() {
    // Out first: this process must not be among the namespace's pids it kills.
    if (entered_ && ::setns(original_, CLONE_NEWNET) != 0)
      std::fprintf(stderr, "cannot return to the original namespace: %s\n", std::strerror(errno));
    if (created_)
      run("ip netns pids " + name_ + " | xargs -r kill -9");
    if (original_ >= 0)
      ::close(original_);
    if (created_)
      run("sleep 0.2; ip netns del " + name_);
    while (::waitpid(-1, nullptr, WNOHANG) > 0) { // reap the killed children
    }
  }

  netns_scope(const netns_scope&) = delete;
  netns_scope& operator=(const netns_scope&) = delete;

  const std::string& name() const { return name_; }

private:
  static std::string inode(const char* path) {
    struct stat st {};
    return ::stat(path, &st) == 0 ? std::to_string(st.st_ino) : "";
  }

  void delete_stale() const {
    std::error_code ignored;
    for (const auto& e : std::filesystem::directory_iterator("/var/run/netns", ignored)) {
      auto n = e.path().filename().string();
      if (n.rfind(prefix_, 0) != 0)
        continue;
      auto pid = std::atoll(n.c_str() + prefix_.size());
      if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == 0)
        continue; // its test still runs
      run("ip netns pids " + n + " | xargs -r kill -9; ip netns del " + n);
    }
  }

  std::string prefix_;
  std::string name_;
  int original_ = -1;
  bool created_ = false;
  bool entered_ = false;
};

} // namespace volant::test
