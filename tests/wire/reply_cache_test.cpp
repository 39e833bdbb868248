// The api's reply cache (wire/reply_cache.hpp): a retried request never runs
// twice, gets the first run's answer, and what is kept stays bounded.

#include "wire/reply_cache.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace volant;
using namespace std::chrono_literals;

namespace {

using cache = wire::reply_cache<std::string, int>;
using verdict = cache::verdict;

const cache::clock::time_point t0{};

} // namespace

TEST_CASE("a retry joins the request in flight, and both are answered once it ends") {
  cache c;
  CHECK(c.admit("a", 1, t0).what == verdict::run);
  CHECK(c.admit("a", 2, t0 + 1s).what == verdict::joined);
  auto waiters = c.finish("a", "reply", 5, t0 + 2s);
  CHECK(waiters == std::vector<int>{1, 2});
  // A third attempt after the end: the same answer, without running again.
  auto again = c.admit("a", 3, t0 + 3s);
  CHECK(again.what == verdict::answer);
  REQUIRE(again.outcome.has_value());
  CHECK(*again.outcome == "reply");
  // Another id runs on its own.
  CHECK(c.admit("b", 4, t0 + 3s).what == verdict::run);
}

TEST_CASE("outcomes expire after the ttl; requests in flight never do") {
  cache c({.max_entries = 100, .max_bytes = 1000, .ttl = 60s});
  c.admit("done", 1, t0);
  c.finish("done", "x", 1, t0);
  c.admit("slow", 2, t0);
  CHECK(c.admit("done", 3, t0 + 59s).what == verdict::answer);
  // Past the ttl the id is new again; the slow one is still in flight.
  CHECK(c.admit("done", 4, t0 + 61s).what == verdict::run);
  CHECK(c.admit("slow", 5, t0 + 3600s).what == verdict::joined);
  CHECK(c.finish("slow", "y", 1, t0 + 3600s) == std::vector<int>{2, 5});
}

TEST_CASE("over the entry or byte limit, the oldest outcomes go first") {
  cache c({.max_entries = 3, .max_bytes = 1000, .ttl = 600s});
  for (int i = 0; i < 5; ++i) {
    auto id = "r" + std::to_string(i);
    c.admit(id, i, t0 + std::chrono::seconds(i));
    c.finish(id, "v", 1, t0 + std::chrono::seconds(i));
  }
  CHECK(c.size() == 3);
  CHECK(c.admit("r0", 9, t0 + 10s).what == verdict::run); // dropped, runs again
  CHECK(c.admit("r4", 9, t0 + 10s).what == verdict::answer);

  cache b({.max_entries = 100, .max_bytes = 100, .ttl = 600s});
  b.admit("big1", 1, t0);
  b.finish("big1", "a", 60, t0);
  b.admit("big2", 2, t0);
  b.finish("big2", "b", 60, t0 + 1s);
  CHECK(b.bytes() == 60);
  CHECK(b.admit("big1", 3, t0 + 2s).what == verdict::run);
  CHECK(b.admit("big2", 4, t0 + 2s).what == verdict::answer);
}

TEST_CASE("finishing an unknown id answers nobody") {
  cache c;
  CHECK(c.finish("never", "x", 1, t0).empty());
  CHECK(c.size() == 0);
}

TEST_CASE("request ids: 1 to 64 of [A-Za-z0-9_-]") {
  CHECK(wire::valid_request_id("0f3a9c2e-7d41_Z"));
  CHECK(wire::valid_request_id(std::string(64, 'a')));
  CHECK_FALSE(wire::valid_request_id(""));
  CHECK_FALSE(wire::valid_request_id(std::string(65, 'a')));
  CHECK_FALSE(wire::valid_request_id("a b"));
  CHECK_FALSE(wire::valid_request_id("../x"));
  CHECK_FALSE(wire::valid_request_id(std::string("a\0b", 3)));
}
