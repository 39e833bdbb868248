// The journal on a real RocksDB in a temporary directory: append, reopen, read,
// snapshots, load and secondary instances.

#include "samples.hpp"

#include "store/journal.hpp"
#include "store/journal_testing.hpp"

#include <doctest/doctest.h>

#include <chrono>

using namespace volant;
using namespace volant::store;
using volant::test::temp_dir;

namespace {

std::unique_ptr<journal> open_journal(const std::string& dir) {
  auto j = journal::open(dir);
  REQUIRE_MESSAGE(j.has_value(), j.error_value().message);
  return std::move(*j);
}

std::vector<recorded_event> append(journal& j, std::vector<event> evs) {
  auto r = j.append(std::move(evs));
  REQUIRE_MESSAGE(r.has_value(), r.error_value().message);
  return *r;
}

std::vector<recorded_event> read_all(const journal& j, std::uint64_t from = 1,
                                     std::uint64_t to = max_seq) {
  std::vector<recorded_event> out;
  auto st = j.read(from, to, [&](const recorded_event& r) {
    out.push_back(r);
    return true;
  });
  REQUIRE_MESSAGE(st.has_value(), st.error_value().message);
  return out;
}

std::vector<std::uint64_t> seqs_of(const std::vector<recorded_event>& recs) {
  std::vector<std::uint64_t> out;
  for (const auto& r : recs)
    out.push_back(r.seq);
  return out;
}

std::vector<std::uint64_t> iota(std::uint64_t from, std::uint64_t to) {
  std::vector<std::uint64_t> out;
  for (auto s = from; s <= to; ++s)
    out.push_back(s);
  return out;
}

/// Appends `evs` in calls of `chunk` events; returns every committed record.
std::vector<recorded_event> append_chunked(journal& j,
                                           const std::vector<event>& evs,
                                           std::size_t chunk) {
  std::vector<recorded_event> out;
  for (std::size_t i = 0; i < evs.size(); i += chunk) {
    auto end = std::min(evs.size(), i + chunk);
    auto recs = append(j, {evs.begin() + static_cast<std::ptrdiff_t>(i),
                           evs.begin() + static_cast<std::ptrdiff_t>(end)});
    out.insert(out.end(), recs.begin(), recs.end());
  }
  return out;
}

world fold_prefix(const std::vector<recorded_event>& recs, std::size_t n) {
  return volant::test::fold({recs.begin(),
                             recs.begin() + static_cast<std::ptrdiff_t>(n)});
}

} // namespace

TEST_SUITE_BEGIN("store");

TEST_CASE("a new journal is empty") {
  temp_dir tmp;
  auto j = open_journal(tmp.sub("journal"));
  CHECK(j->last_seq() == 0);
  CHECK_FALSE(j->read_only());
  CHECK(read_all(*j).empty());
  CHECK(j->snapshot_seqs().empty());
  auto snap = j->read_snapshot();
  REQUIRE(snap.has_value());
  CHECK_FALSE(snap->has_value());
  auto w = j->load();
  REQUIRE(w.has_value());
  CHECK(*w == world{});
  CHECK(j->stats().appends == 0);
}

TEST_CASE("an empty append commits nothing") {
  temp_dir tmp;
  auto j = open_journal(tmp.path());
  CHECK(append(*j, {}).empty());
  CHECK(j->last_seq() == 0);
  CHECK(j->stats().syncs == 0);
}

TEST_CASE("every event type survives append, reopen and read") {
  temp_dir tmp;
  auto events = volant::test::every_event();
  std::vector<recorded_event> committed;
  {
    auto j = open_journal(tmp.path());
    committed = append(*j, events); // one atomic batch
    auto singles = append_chunked(*j, events, 1);
    committed.insert(committed.end(), singles.begin(), singles.end());
    CHECK(j->last_seq() == 2 * events.size());
  }
  REQUIRE(committed.size() == 2 * events.size());
  for (std::size_t i = 0; i < committed.size(); ++i) {
    CHECK(committed[i].seq == i + 1);
    CHECK(committed[i].ev == events[i % events.size()]);
  }
  auto j = open_journal(tmp.path());
  CHECK(j->last_seq() == committed.size());
  auto back = read_all(*j);
  REQUIRE(back.size() == committed.size());
  for (std::size_t i = 0; i < back.size(); ++i) {
    INFO("event " << kind_name(back[i].ev));
    CHECK(back[i] == committed[i]);
  }
}

TEST_CASE("append stamps the commit time and never lets it go backwards") {
  using namespace std::chrono;
  temp_dir tmp;
  auto j = open_journal(tmp.path());
  auto before = duration_cast<nanoseconds>(
                  system_clock::now().time_since_epoch())
                  .count();
  auto recs = append(*j, volant::test::valid_history(10));
  auto after = duration_cast<nanoseconds>(
                 system_clock::now().time_since_epoch())
                 .count();
  for (const auto& r : recs) {
    CHECK(r.at >= before);
    CHECK(r.at <= after);
    CHECK(r.at == recs.front().at); // one commit, one time
  }
  unix_nanos prev = 0;
  for (int i = 0; i < 20; ++i) {
    auto more = append(*j, {vm_ready{"x", 1}});
    CHECK(more.front().at >= prev);
    prev = more.front().at;
  }
}

TEST_CASE("reopening keeps last_seq and every record") {
  temp_dir tmp;
  auto history = volant::test::valid_history(50);
  std::vector<recorded_event> first;
  {
    auto j = open_journal(tmp.path());
    first = append_chunked(*j, history, 5);
    CHECK(j->stats().appends == (history.size() + 4) / 5);
    CHECK(j->stats().events == history.size());
  }
  {
    auto j = open_journal(tmp.path());
    CHECK(j->last_seq() == history.size());
    CHECK(read_all(*j) == first);
    auto next = append(*j, {vm_ready{"dep0-0", 7}});
    CHECK(next.front().seq == history.size() + 1);
    CHECK(next.front().at >= first.back().at);
  }
  auto j = open_journal(tmp.path());
  CHECK(j->last_seq() == history.size() + 1);
  CHECK(seqs_of(read_all(*j)) == iota(1, history.size() + 1));
}

TEST_CASE("read honours its range and stops when the visitor says so") {
  temp_dir tmp;
  auto j = open_journal(tmp.path());
  append_chunked(*j, volant::test::valid_history(40), 3);
  auto n = j->last_seq();
  REQUIRE(n >= 40);
  CHECK(seqs_of(read_all(*j, 10, 20)) == iota(10, 20));
  CHECK(seqs_of(read_all(*j, 0, 3)) == iota(1, 3));
  CHECK(seqs_of(read_all(*j, n, max_seq)) == iota(n, n));
  CHECK(read_all(*j, n + 1, max_seq).empty());
  CHECK(read_all(*j, 20, 10).empty());
  std::vector<std::uint64_t> seen;
  auto st = j->read(5, max_seq, [&](const recorded_event& r) {
    seen.push_back(r.seq);
    return seen.size() < 3;
  });
  CHECK(st.has_value());
  CHECK(seen == iota(5, 7));
}

TEST_CASE("snapshots are stored by seq and found at or before a seq") {
  temp_dir tmp;
  auto j = open_journal(tmp.path());
  auto recs = append_chunked(*j, volant::test::valid_history(30), 4);
  auto w10 = fold_prefix(recs, 10);
  auto w20 = fold_prefix(recs, 20);
  REQUIRE(j->write_snapshot(w20).has_value());
  REQUIRE(j->write_snapshot(w10).has_value());
  CHECK(j->snapshot_seqs() == std::vector<std::uint64_t>{10, 20});
  auto at15 = j->read_snapshot(15);
  REQUIRE(at15.has_value());
  REQUIRE(at15->has_value());
  CHECK(**at15 == w10);
  auto newest = j->read_snapshot();
  REQUIRE(newest.has_value());
  CHECK(**newest == w20);
  auto none = j->read_snapshot(9);
  REQUIRE(none.has_value());
  CHECK_FALSE(none->has_value());
  SUBCASE("a snapshot ahead of the log is refused") {
    world ahead = w20;
    ahead.last_seq = j->last_seq() + 1;
    auto st = j->write_snapshot(ahead);
    REQUIRE_FALSE(st.has_value());
    CHECK(st.error_value().code == ec::conflict);
  }
  SUBCASE("snapshots survive a reopen") {
    j.reset();
    j = open_journal(tmp.path());
    CHECK(j->snapshot_seqs() == std::vector<std::uint64_t>{10, 20});
    CHECK(**j->read_snapshot() == w20);
  }
}

TEST_CASE("snapshot plus tail equals the full replay") {
  temp_dir tmp;
  auto history = volant::test::valid_history(400);
  std::vector<recorded_event> recs;
  {
    auto j = open_journal(tmp.path());
    recs = append_chunked(*j, history, 7);
    REQUIRE(j->write_snapshot(fold_prefix(recs, 100)).has_value());
    REQUIRE(j->write_snapshot(fold_prefix(recs, 250)).has_value());
  }
  auto full = volant::test::fold(recs);
  // The history exercises every aggregate.
  REQUIRE(full.host.configured);
  REQUIRE(full.plugins.by_name.size() == 3);
  REQUIRE(full.deployments.size() > 10);
  REQUIRE(full.vms.size() > 20);
  REQUIRE(full.host.leases.size() == full.vms.size());
  auto j = open_journal(tmp.path());
  auto loaded = j->load();
  REQUIRE_MESSAGE(loaded.has_value(), loaded.error_value().message);
  CHECK(*loaded == full);
  CHECK(loaded->last_seq == recs.size());
  for (std::size_t at : {std::size_t{1}, std::size_t{50}, std::size_t{100},
                         std::size_t{101}, std::size_t{249}, std::size_t{250},
                         std::size_t{251}, recs.size()}) {
    INFO("at seq " << at);
    auto w = j->load(at);
    REQUIRE(w.has_value());
    CHECK(*w == fold_prefix(recs, at));
  }
  auto w0 = j->load(0);
  REQUIRE(w0.has_value());
  CHECK(*w0 == world{});
}

TEST_CASE("a secondary instance sees the primary's writes after catch_up") {
  temp_dir tmp;
  auto dir = tmp.sub("journal");
  auto primary = open_journal(dir);
  auto recs = append_chunked(*primary, volant::test::valid_history(20), 4);
  auto opened = journal::open_secondary(dir, tmp.sub("scratch"));
  REQUIRE_MESSAGE(opened.has_value(), opened.error_value().message);
  auto& secondary = **opened;
  CHECK(secondary.read_only());
  CHECK(secondary.last_seq() == recs.size());
  CHECK(read_all(secondary) == recs);

  auto more = append_chunked(*primary, volant::test::valid_history(15), 2);
  recs.insert(recs.end(), more.begin(), more.end());
  REQUIRE(primary->write_snapshot(fold_prefix(recs, 30)).has_value());
  REQUIRE(secondary.catch_up().has_value());
  CHECK(secondary.last_seq() == recs.size());
  CHECK(read_all(secondary) == recs);
  CHECK(secondary.snapshot_seqs() == std::vector<std::uint64_t>{30});
  auto loaded = secondary.load();
  REQUIRE(loaded.has_value());
  CHECK(*loaded == volant::test::fold(recs));

  SUBCASE("a secondary refuses writes") {
    auto r = secondary.append({vm_ready{"x", 1}});
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error_value().code == ec::conflict);
    auto st = secondary.write_snapshot(world{});
    REQUIRE_FALSE(st.has_value());
    CHECK(st.error_value().code == ec::conflict);
  }
  SUBCASE("catch_up is a no-op on a primary") {
    CHECK(primary->catch_up().has_value());
  }
}

TEST_CASE("a secondary on a missing directory is an io_error") {
  temp_dir tmp;
  auto r = journal::open_secondary(tmp.sub("nothing"), tmp.sub("scratch"));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error_value().code == ec::io_error);
  CHECK(r.error_value().message.find(tmp.sub("nothing")) != std::string::npos);
}

TEST_CASE("a failed write reports io_error and consumes no seqs") {
  temp_dir tmp;
  auto j = open_journal(tmp.path());
  append(*j, {vm_ready{"a", 1}, vm_ready{"b", 2}});
  testing::fail_next_writes(*j, 1);
  auto failed = j->append({vm_ready{"c", 3}});
  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.error_value().code == ec::io_error);
  CHECK(failed.error_value().message.find("injected failure")
        != std::string::npos);
  CHECK(j->last_seq() == 2);
  auto next = append(*j, {vm_ready{"d", 4}});
  CHECK(next.front().seq == 3);
  auto all = read_all(*j);
  REQUIRE(all.size() == 3);
  CHECK(std::get<vm_ready>(all[2].ev).name == "d");
}

TEST_SUITE_END();
