// The runtime's one epoll loop (runtime/event_loop.hpp): fd handlers, posted
// work, the tick and its deadline, shutdown. Real fds (pipes, socket pairs), a
// real thread; "not called" is proved by work posted after the fact, which runs
// after every ready fd of the same round.

#include "runtime/event_loop.hpp"
#include "support/mailbox.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

using namespace volant;
using namespace volant::runtime;
using namespace std::chrono_literals;

namespace {

/// Both ends of a pipe, closed on destruction.
struct pipe_pair {
  int r = -1, w = -1;
  pipe_pair() {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
    r = fds[0];
    w = fds[1];
  }
  ~pipe_pair() {
    ::close(r);
    ::close(w);
  }
  void put(char c = 'x') const { REQUIRE(::write(w, &c, 1) == 1); }
  void drain() const {
    char buf[64];
    while (::read(r, buf, sizeof buf) > 0) {
    }
  }
};

/// Waits until work posted now has run: everything ready before it was handled.
void flush(event_loop& loop) {
  test::mailbox<bool> done;
  loop.post([&] { done.put(true); });
  REQUIRE(done.take());
}

} // namespace

TEST_CASE("Posted work runs on the loop thread, in the order it was posted") {
  event_loop loop("test.loop");
  test::mailbox<int> order;
  std::atomic<bool> all_on_loop{true};
  std::thread poster([&] {
    for (int i = 0; i < 100; ++i)
      loop.post([&, i] {
        all_on_loop = all_on_loop && loop.on_loop_thread();
        order.put(i);
      });
  });
  poster.join();
  for (int i = 0; i < 100; ++i) {
    auto got = order.take();
    REQUIRE(got);
    CHECK(*got == i);
  }
  CHECK(all_on_loop);
  CHECK_FALSE(loop.on_loop_thread());
}

TEST_CASE("A readable fd's handler is called until the fd is removed") {
  event_loop loop("test.loop");
  pipe_pair p;
  test::mailbox<std::uint32_t> calls;
  REQUIRE(loop.add(p.r, EPOLLIN, [&](std::uint32_t ev) {
    p.drain();
    calls.put(ev);
  }));
  CHECK(loop.size() == 1);
  p.put();
  auto ev = calls.take();
  REQUIRE(ev);
  CHECK((*ev & EPOLLIN) != 0);
  p.put();
  CHECK(calls.take());

  loop.remove(p.r);
  CHECK(loop.size() == 0);
  p.put();
  flush(loop);
  CHECK(calls.size() == 0);
  loop.remove(p.r); // a second remove is harmless
}

TEST_CASE("modify changes the events a handler is called for") {
  event_loop loop("test.loop");
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
  test::mailbox<std::uint32_t> calls;
  // Writable at once, but asked for input only: no call until modify().
  REQUIRE(loop.add(sv[0], EPOLLIN, [&](std::uint32_t ev) {
    if (ev & EPOLLOUT)
      REQUIRE(loop.modify(sv[0], EPOLLIN)); // once is enough
    calls.put(ev);
  }));
  flush(loop);
  CHECK(calls.size() == 0);
  REQUIRE(loop.modify(sv[0], EPOLLOUT));
  auto ev = calls.take();
  REQUIRE(ev);
  CHECK((*ev & EPOLLOUT) != 0);
  loop.remove(sv[0]);
  ::close(sv[0]);
  ::close(sv[1]);
}

TEST_CASE("A bad registration is refused with the reason") {
  event_loop loop("test.loop");
  pipe_pair p;
  REQUIRE(loop.add(p.r, EPOLLIN, [](std::uint32_t) {}));
  auto twice = loop.add(p.r, EPOLLIN, [](std::uint32_t) {});
  REQUIRE_FALSE(twice);
  CHECK(twice.error_value().message.find("already watched") != std::string::npos);

  int closed = ::dup(p.w);
  ::close(closed);
  auto bad = loop.add(closed, EPOLLIN, [](std::uint32_t) {});
  REQUIRE_FALSE(bad);
  CHECK(bad.error_value().message.find("Bad file descriptor") != std::string::npos);
  CHECK_FALSE(loop.modify(closed, EPOLLIN));
  CHECK(loop.size() == 1);
  loop.remove(p.r);
}

TEST_CASE("A handler may remove its own fd and register another") {
  event_loop loop("test.loop");
  pipe_pair first, second;
  test::mailbox<int> calls;
  REQUIRE(loop.add(first.r, EPOLLIN, [&](std::uint32_t) {
    first.drain();
    loop.remove(first.r);
    REQUIRE(loop.add(second.r, EPOLLIN, [&](std::uint32_t) {
      second.drain();
      calls.put(2);
    }));
    calls.put(1);
  }));
  first.put();
  CHECK(calls.take() == 1);
  second.put();
  CHECK(calls.take() == 2);
  first.put();
  flush(loop);
  CHECK(calls.size() == 0);
  loop.remove(second.r);
}

TEST_CASE("The tick runs after wake-ups and again at the deadline it returns") {
  test::mailbox<event_loop::clock::time_point> ticks;
  std::optional<event_loop::clock::time_point> deadline;
  event_loop loop("test.loop", [&]() -> std::optional<event_loop::clock::time_point> {
    ticks.put(event_loop::clock::now());
    return deadline;
  });
  // A deadline set from the loop thread (as the prober does) is honoured without
  // any other wake-up.
  auto due = event_loop::clock::now() + 150ms;
  loop.post([&] { deadline = due; });
  REQUIRE(ticks.take()); // after the post
  auto at = ticks.take();
  REQUIRE(at);
  CHECK(*at >= due);
  loop.post([&] { deadline.reset(); });
  REQUIRE(ticks.take());
  loop.wake();
  CHECK(ticks.take());
}

TEST_CASE("After stop no more work starts, and the destructor returns") {
  std::atomic<int> ran{0};
  test::mailbox<bool> done;
  {
    event_loop loop("test.loop");
    pipe_pair p;
    REQUIRE(loop.add(p.r, EPOLLIN, [](std::uint32_t) {})); // left registered
    // Stopped from its own thread (a handler's decision): the work posted
    // before the stop, not yet started, is dropped.
    loop.post([&] {
      loop.post([&] { ++ran; });
      loop.stop();
      ++ran;
      done.put(true);
    });
    REQUIRE(done.take());
    loop.stop(); // joins; idempotent
    loop.post([&] { ++ran; });
    loop.wake();
  }
  CHECK(ran == 1);
}
