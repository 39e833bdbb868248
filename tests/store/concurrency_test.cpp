// Many appenders at once: gap-free, strictly increasing seqs, each call's
// events consecutive, everything readable, and fewer syncs than appends.

#include "samples.hpp"

#include "store/journal.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <thread>

using namespace volant;
using namespace volant::store;
using volant::test::temp_dir;

TEST_SUITE_BEGIN("store");

TEST_CASE("concurrent appenders get gap-free, strictly increasing seqs") {
  constexpr int threads = 8;
  constexpr int appends_per_thread = 200;
  temp_dir tmp;
  auto opened = journal::open(tmp.path());
  REQUIRE(opened.has_value());
  auto& j = **opened;

  std::mutex mtx;
  std::map<std::uint64_t, recorded_event> committed; // by seq
  std::vector<std::string> failures;
  std::atomic<bool> reader_done{false};
  std::atomic<int> reads{0};
  std::vector<std::string> reader_failures;

  // A reader runs alongside: every read it makes must be contiguous from 1.
  std::thread reader{[&] {
    while (!reader_done.load()) {
      std::uint64_t expect = 1;
      auto st = j.read(1, max_seq, [&](const recorded_event& r) {
        if (r.seq != expect) {
          reader_failures.push_back("reader saw seq " + std::to_string(r.seq)
                                    + " where " + std::to_string(expect)
                                    + " was due");
          return false;
        }
        ++expect;
        return true;
      });
      if (!st)
        reader_failures.push_back(st.error_value().message);
      ++reads;
    }
  }};

  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      std::mt19937 rng{static_cast<unsigned>(t) * 7919u + 1u};
      std::uniform_int_distribution<int> count{1, 3};
      std::uint64_t prev = 0;
      for (int i = 0; i < appends_per_thread; ++i) {
        std::vector<event> evs;
        int n = count(rng);
        for (int k = 0; k < n; ++k)
          evs.push_back(vm_unhealthy{"t" + std::to_string(t),
                                     "append " + std::to_string(i) + "."
                                       + std::to_string(k),
                                     static_cast<unix_nanos>(i)});
        auto recs = j.append(evs);
        std::lock_guard guard{mtx};
        if (!recs) {
          failures.push_back(recs.error_value().message);
          continue;
        }
        if (recs->size() != evs.size())
          failures.push_back("wrong number of records");
        for (std::size_t k = 0; k < recs->size(); ++k) {
          const auto& r = (*recs)[k];
          if (r.ev != evs[k])
            failures.push_back("event changed");
          if (k > 0 && r.seq != (*recs)[k - 1].seq + 1)
            failures.push_back("seqs of one call not consecutive");
          if (r.seq <= prev)
            failures.push_back("seqs of one thread not increasing");
          prev = r.seq;
          if (!committed.emplace(r.seq, r).second)
            failures.push_back("seq " + std::to_string(r.seq) + " handed out twice");
        }
      }
    });
  for (auto& w : workers)
    w.join();
  reader_done = true;
  reader.join();

  for (const auto& f : failures)
    FAIL_CHECK(f);
  for (const auto& f : reader_failures)
    FAIL_CHECK(f);
  CHECK(reads.load() > 0);

  // Gap-free from 1: the map's keys are exactly 1..N.
  REQUIRE_FALSE(committed.empty());
  CHECK(committed.begin()->first == 1);
  CHECK(committed.rbegin()->first == committed.size());
  CHECK(j.last_seq() == committed.size());

  // Everything reads back as committed.
  std::size_t seen = 0;
  auto st = j.read(1, max_seq, [&](const recorded_event& r) {
    auto it = committed.find(r.seq);
    REQUIRE(it != committed.end());
    CHECK(it->second == r);
    ++seen;
    return true;
  });
  CHECK(st.has_value());
  CHECK(seen == committed.size());

  // Group commit batched concurrent calls.
  auto stats = j.stats();
  INFO("appends " << stats.appends << ", syncs " << stats.syncs);
  CHECK(stats.appends == threads * appends_per_thread);
  CHECK(stats.events == committed.size());
  CHECK(stats.syncs >= 1);
  CHECK(stats.syncs < stats.appends);
}

TEST_CASE("a batch's commit times never go backwards across group commits") {
  temp_dir tmp;
  auto opened = journal::open(tmp.path());
  REQUIRE(opened.has_value());
  auto& j = **opened;
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t)
    workers.emplace_back([&] {
      for (int i = 0; i < 50; ++i)
        (void)j.append({vm_ready{"x", 1}});
    });
  for (auto& w : workers)
    w.join();
  unix_nanos prev = 0;
  std::uint64_t n = 0;
  auto st = j.read(1, max_seq, [&](const recorded_event& r) {
    CHECK(r.at >= prev);
    prev = r.at;
    ++n;
    return true;
  });
  CHECK(st.has_value());
  CHECK(n == 200);
}

TEST_SUITE_END();
