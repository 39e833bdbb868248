// The exit watcher (runtime/exit_watcher.hpp) against real processes: our own
// children (exit status, signal), a stranger adopted from an earlier run (no
// status), unwatch, and pids that are already gone.

#include "runtime/exit_watcher.hpp"
#include "runtime/proc.hpp"
#include "support/mailbox.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

using namespace volant;
using namespace volant::runtime;
using namespace std::chrono_literals;

namespace {

/// A child that waits for a byte on a pipe, then exits with that byte as its
/// status; killed and reaped on destruction if still around.
class child {
public:
  child() {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::close(fds[1]);
      unsigned char code = 0;
      ::_exit(::read(fds[0], &code, 1) == 1 ? code : 100);
    }
    ::close(fds[0]);
    go_ = fds[1];
  }
  ~child() {
    ::close(go_);
    // 0: still running (-1: reaped already, by the watcher or the test).
    if (::waitpid(pid_, nullptr, WNOHANG) == 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  pid_t pid() const { return pid_; }
  void exit_with(unsigned char code) { REQUIRE(::write(go_, &code, 1) == 1); }
  void kill(int sig) { REQUIRE(::kill(pid_, sig) == 0); }

private:
  pid_t pid_ = -1;
  int go_ = -1;
};

/// The mailbox's next exit, or a failed test.
exit_status next(test::mailbox<exit_status>& exits) {
  auto st = exits.take();
  REQUIRE_MESSAGE(st, "no exit reported within 10 s");
  return *st;
}

} // namespace

TEST_CASE("A child that exits is reported once with its exit status") {
  exit_watcher w;
  child c;
  test::mailbox<exit_status> exits;
  auto id = w.watch(c.pid(), 0, [&](const exit_status& st) { exits.put(st); });
  REQUIRE(id);
  CHECK(w.size() == 1);
  c.exit_with(3);
  auto st = next(exits);
  CHECK(st.pid == c.pid());
  CHECK(st.known);
  CHECK(st.code == 3);
  CHECK(st.reason == "exited with status 3");
  CHECK(w.size() == 0);
  // Reaped by the watcher: no zombie is left for anyone else to wait for.
  CHECK(::waitpid(c.pid(), nullptr, WNOHANG) == -1);
}

TEST_CASE("A child killed by a signal is reported with the signal's name") {
  exit_watcher w;
  child c;
  test::mailbox<exit_status> exits;
  REQUIRE(w.watch(c.pid(), *start_ticks(c.pid()), [&](const exit_status& st) {
    exits.put(st);
  }));
  c.kill(SIGKILL);
  auto st = next(exits);
  CHECK(st.known);
  CHECK(st.code == -9);
  CHECK(st.reason == "killed by signal 9 (SIGKILL)");
}

TEST_CASE("A workload that is not our child is reported without a status") {
  // As after a daemon restart: `sleep` is reparented when its shell exits.
  auto r = test::run("sh -c 'sleep 60 >/dev/null 2>&1 & echo $!'");
  auto pid = std::atoi(r.out.c_str());
  REQUIRE(pid > 0);
  REQUIRE(process_alive(pid, 0));
  exit_watcher w;
  test::mailbox<exit_status> exits;
  REQUIRE(w.watch(pid, *start_ticks(pid), [&](const exit_status& st) { exits.put(st); }));
  ::kill(pid, SIGTERM);
  auto st = next(exits);
  CHECK(st.pid == pid);
  CHECK_FALSE(st.known);
  CHECK(st.reason == "exited while not supervised by this daemon (status unknown)");
}

TEST_CASE("An unwatched pid's callback is never called; a newer watch stays") {
  exit_watcher w;
  child c;
  test::mailbox<std::string> calls;
  auto first = w.watch(c.pid(), 0, [&](const exit_status&) { calls.put("first"); });
  REQUIRE(first);
  w.unwatch(c.pid(), *first);
  CHECK(w.size() == 0);

  auto second = w.watch(c.pid(), 0, [&](const exit_status&) { calls.put("second"); });
  REQUIRE(second);
  auto third = w.watch(c.pid(), 0, [&](const exit_status& st) {
    calls.put("third: " + st.reason);
  });
  REQUIRE(third);
  CHECK(w.size() == 1); // the third replaced the second
  w.unwatch(c.pid(), *second); // stale id: the third stays
  CHECK(w.size() == 1);

  c.exit_with(0);
  CHECK(calls.take() == "third: exited with status 0");
  // The exit was consumed by the third watch; no other can fire any more.
  CHECK(calls.size() == 0);
}

TEST_CASE("A pid that is already gone is reported as not running") {
  exit_watcher w;
  test::mailbox<exit_status> exits;
  SUBCASE("no such process") {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0)
      ::_exit(0);
    REQUIRE(::waitpid(pid, nullptr, 0) == pid); // reaped: the pid is free
    REQUIRE(w.watch(pid, 0, [&](const exit_status& st) { exits.put(st); }));
    auto st = next(exits);
    CHECK(st.pid == pid);
    CHECK_FALSE(st.known);
    CHECK(st.reason == "not running (found gone)");
  }
  SUBCASE("the pid now belongs to another process (other start time)") {
    auto ticks = *start_ticks(::getpid());
    REQUIRE(w.watch(::getpid(), ticks + 1, [&](const exit_status& st) { exits.put(st); }));
    auto st = next(exits);
    CHECK(st.pid == ::getpid());
    CHECK(st.reason == "not running (found gone)");
  }
  CHECK(w.size() == 0);
}

TEST_CASE("Destroying the watcher with watches left returns and calls none of them") {
  child c;
  test::mailbox<exit_status> exits;
  {
    exit_watcher w;
    REQUIRE(w.watch(c.pid(), 0, [&](const exit_status& st) { exits.put(st); }));
  }
  c.exit_with(0);
  REQUIRE(::waitpid(c.pid(), nullptr, 0) == c.pid()); // still ours to reap
  CHECK(exits.size() == 0);
}
