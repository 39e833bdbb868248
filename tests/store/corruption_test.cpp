// Damaged databases: every damage is reported (with the seq where one is
// known), nothing is skipped, nothing crashes.

#include "raw_db.hpp"
#include "samples.hpp"

#include "store/codec.hpp"
#include "store/journal.hpp"
#include "store/journal_testing.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

using namespace volant;
using namespace volant::store;
using volant::test::files_named;
using volant::test::raw_db;
using volant::test::temp_dir;
namespace fs = std::filesystem;

namespace {

std::string as_string(const std::vector<std::uint8_t>& bytes) {
  return {bytes.begin(), bytes.end()};
}

/// Writes `n` valid events through the journal and closes it.
/// Appends a valid history of `n` events; with `crash`, closes as kill -9 would
/// (the events stay in the write-ahead log, unflushed).
std::vector<recorded_event> fill(const std::string& dir, int n,
                                 std::size_t chunk = 5, bool crash = false) {
  auto j = journal::open(dir);
  REQUIRE(j.has_value());
  if (crash)
    volant::store::testing::skip_flush_on_close(**j);
  auto history = volant::test::valid_history(n);
  std::vector<recorded_event> out;
  for (std::size_t i = 0; i < history.size(); i += chunk) {
    auto end = std::min(history.size(), i + chunk);
    auto recs = (*j)->append({history.begin() + static_cast<std::ptrdiff_t>(i),
                              history.begin() + static_cast<std::ptrdiff_t>(end)});
    REQUIRE(recs.has_value());
    out.insert(out.end(), recs->begin(), recs->end());
  }
  return out;
}

/// Reads everything; the seqs visited before the error (or the end).
struct read_result {
  std::vector<std::uint64_t> seqs;
  status st = ok();
};

read_result read_all(const journal& j, std::uint64_t from = 1) {
  read_result out;
  out.st = j.read(from, max_seq, [&](const recorded_event& r) {
    out.seqs.push_back(r.seq);
    return true;
  });
  return out;
}

std::vector<std::uint64_t> iota(std::uint64_t from, std::uint64_t to) {
  std::vector<std::uint64_t> out;
  for (auto s = from; s <= to; ++s)
    out.push_back(s);
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_SUITE_BEGIN("store");

TEST_CASE("a damaged record value is reported with its seq, never skipped") {
  temp_dir tmp;
  auto recs = fill(tmp.path(), 30);
  std::string damage;
  SUBCASE("truncated value") {
    raw_db db{tmp.path()};
    auto v = db.get(db.events(), seq_key(7));
    db.put(db.events(), seq_key(7), v.substr(0, v.size() / 2));
    damage = "";
  }
  SUBCASE("overwritten identifier") {
    raw_db db{tmp.path()};
    auto v = db.get(db.events(), seq_key(7));
    v.replace(4, 4, "XXXX");
    db.put(db.events(), seq_key(7), v);
    damage = "wrong file identifier 'XXXX'";
  }
  SUBCASE("garbage") {
    raw_db db{tmp.path()};
    db.put(db.events(), seq_key(7), std::string(64, '\xAB'));
    damage = "";
  }
  SUBCASE("a broken offset") {
    raw_db db{tmp.path()};
    auto v = db.get(db.events(), seq_key(7));
    v[0] = '\xF0'; // root offset far outside the buffer
    db.put(db.events(), seq_key(7), v);
    damage = "verification failed";
  }
  auto j = journal::open(tmp.path());
  REQUIRE_MESSAGE(j.has_value(), j.error_value().message);
  CHECK((*j)->last_seq() == recs.size());
  auto r = read_all(**j);
  REQUIRE_FALSE(r.st.has_value());
  CHECK(r.st.error_value().code == ec::corrupt_record);
  CHECK(r.st.error_value().message.starts_with("record at seq 7: "));
  CHECK(contains(r.st.error_value().message, damage));
  CHECK(r.seqs == iota(1, 6));
  // Records after the damaged one stay readable when asked for explicitly.
  auto after = read_all(**j, 8);
  CHECK(after.st.has_value());
  CHECK(after.seqs == iota(8, recs.size()));
  auto w = (*j)->load();
  REQUIRE_FALSE(w.has_value());
  CHECK(w.error_value().message.starts_with("record at seq 7: "));
}

TEST_CASE("a record whose envelope names another seq is corrupt") {
  temp_dir tmp;
  auto recs = fill(tmp.path(), 12);
  {
    raw_db db{tmp.path()};
    db.put(db.events(), seq_key(4), as_string(pack_event(recs[8])));
  }
  auto j = journal::open(tmp.path());
  REQUIRE(j.has_value());
  auto r = read_all(**j);
  REQUIRE_FALSE(r.st.has_value());
  CHECK(r.st.error_value().code == ec::corrupt_record);
  CHECK(r.st.error_value().message == "record at seq 4 carries seq 9");
}

TEST_CASE("a record missing in the middle is a gap naming its seq") {
  temp_dir tmp;
  auto recs = fill(tmp.path(), 25);
  {
    raw_db db{tmp.path()};
    db.del(db.events(), seq_key(10));
  }
  auto j = journal::open(tmp.path());
  REQUIRE(j.has_value());
  CHECK((*j)->last_seq() == recs.size());
  auto r = read_all(**j);
  REQUIRE_FALSE(r.st.has_value());
  CHECK(r.st.error_value().code == ec::corrupt_record);
  CHECK(r.st.error_value().message.starts_with("missing record at seq 10 "));
  CHECK(r.seqs == iota(1, 9));
  auto from_gap = read_all(**j, 10);
  REQUIRE_FALSE(from_gap.st.has_value());
  CHECK(from_gap.seqs.empty());
  auto w = (*j)->load();
  REQUIRE_FALSE(w.has_value());
  CHECK(w.error_value().message.starts_with("missing record at seq 10 "));
}

TEST_CASE("records missing at the start are a gap too") {
  temp_dir tmp;
  fill(tmp.path(), 10);
  {
    raw_db db{tmp.path()};
    db.del(db.events(), seq_key(1));
    db.del(db.events(), seq_key(2));
  }
  auto j = journal::open(tmp.path());
  REQUIRE(j.has_value());
  auto r = read_all(**j);
  REQUIRE_FALSE(r.st.has_value());
  CHECK(r.st.error_value().message.starts_with("missing record at seq 1 "));
}

TEST_CASE("a log cut at its end is reported with the lost seqs") {
  temp_dir tmp;
  auto recs = fill(tmp.path(), 20);
  auto n = recs.size();
  {
    auto j = journal::open(tmp.path());
    REQUIRE(j.has_value());
    REQUIRE((*j)->write_snapshot(volant::test::fold(recs)).has_value());
  }
  {
    raw_db db{tmp.path()};
    for (auto s = n - 2; s <= n; ++s)
      db.del(db.events(), seq_key(s));
  }
  SUBCASE("after a clean close the high-water mark catches it at open") {
    auto j = journal::open(tmp.path());
    REQUIRE_FALSE(j.has_value());
    CHECK(j.error_value().code == ec::corrupt_record);
    CHECK(contains(j.error_value().message,
                   "ends at seq " + std::to_string(n - 3) + " but seq "
                     + std::to_string(n) + " was durable"));
    CHECK(contains(j.error_value().message,
                   "last good seq " + std::to_string(n - 3)));
    auto s = journal::open_secondary(tmp.path(), tmp.sub("scratch"));
    REQUIRE_FALSE(s.has_value());
    CHECK(s.error_value().code == ec::corrupt_record);
  }
  SUBCASE("without a mark (a crash before any clean close) load catches it") {
    fs::remove(tmp.sub("volant-high-water"));
    auto j = journal::open(tmp.path());
    REQUIRE(j.has_value());
    CHECK((*j)->last_seq() == n - 3);
    auto w = (*j)->load();
    REQUIRE_FALSE(w.has_value());
    CHECK(w.error_value().code == ec::corrupt_record);
    CHECK(contains(w.error_value().message,
                   "snapshot at seq " + std::to_string(n)));
    CHECK(contains(w.error_value().message,
                   "ends at seq " + std::to_string(n - 3)));
  }
}

TEST_CASE("a damaged snapshot is reported with its seq") {
  temp_dir tmp;
  auto recs = fill(tmp.path(), 20);
  {
    auto j = journal::open(tmp.path());
    REQUIRE(j.has_value());
    REQUIRE((*j)->write_snapshot(volant::test::fold(recs)).has_value());
  }
  SUBCASE("garbage bytes") {
    raw_db db{tmp.path()};
    db.put(db.snapshots(), seq_key(recs.size()), "not a snapshot at all");
  }
  SUBCASE("a snapshot stored under the wrong seq") {
    raw_db db{tmp.path()};
    auto v = db.get(db.snapshots(), seq_key(recs.size()));
    db.del(db.snapshots(), seq_key(recs.size()));
    db.put(db.snapshots(), seq_key(recs.size() - 1), v);
  }
  auto j = journal::open(tmp.path());
  REQUIRE(j.has_value());
  auto snap = (*j)->read_snapshot();
  REQUIRE_FALSE(snap.has_value());
  CHECK(snap.error_value().code == ec::corrupt_record);
  CHECK(snap.error_value().message.starts_with("snapshot at seq "));
  CHECK_FALSE((*j)->load().has_value());
}

TEST_CASE("a flipped byte inside an SST file is reported by read with a seq") {
  temp_dir tmp;
  auto recs = fill(tmp.path(), 3000, 50);
  {
    raw_db db{tmp.path()};
    db.compact();
  }
  auto ssts = files_named(tmp.path(), "", ".sst");
  REQUIRE_FALSE(ssts.empty());
  auto biggest = *std::max_element(
    ssts.begin(), ssts.end(),
    [](const auto& a, const auto& b) { return fs::file_size(a) < fs::file_size(b); });
  auto size = fs::file_size(biggest);
  REQUIRE(size > 64 * 1024); // many data blocks
  {
    std::fstream f{biggest, std::ios::in | std::ios::out | std::ios::binary};
    f.seekg(static_cast<std::streamoff>(size / 3));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x5a);
    f.seekp(static_cast<std::streamoff>(size / 3));
    f.write(&c, 1);
  }
  auto j = journal::open(tmp.path());
  REQUIRE_MESSAGE(j.has_value(), j.error_value().message);
  auto r = read_all(**j);
  REQUIRE_FALSE(r.st.has_value());
  CHECK(r.st.error_value().code == ec::corrupt_record);
  INFO(r.st.error_value().message);
  REQUIRE(!r.seqs.empty());
  CHECK(r.seqs == iota(1, r.seqs.size()));
  CHECK(r.seqs.size() < recs.size());
  CHECK(contains(r.st.error_value().message,
                 "seq " + std::to_string(r.seqs.size() + 1)));
}

TEST_CASE("a damaged database is reported, never read as if whole") {
  temp_dir tmp;
  auto dir = tmp.sub("journal");
  auto recs = fill(dir, 200, 10);
  {
    raw_db db{dir};
    db.compact();
  }
  // Whether the open must fail, and words its message must hold.
  bool must_fail_open = true;
  std::string expect;
  SUBCASE("a truncated SST file") {
    auto ssts = files_named(dir, "", ".sst");
    REQUIRE_FALSE(ssts.empty());
    for (const auto& f : ssts)
      fs::resize_file(f, fs::file_size(f) / 2);
    expect = ".sst";
  }
  SUBCASE("a deleted SST file") {
    auto ssts = files_named(dir, "", ".sst");
    REQUIRE_FALSE(ssts.empty());
    fs::remove(ssts.front());
    expect = "No such file";
  }
  SUBCASE("a deleted MANIFEST") {
    for (const auto& f : files_named(dir, "MANIFEST-", ""))
      fs::remove(f);
    expect = "MANIFEST";
  }
  SUBCASE("a truncated MANIFEST") {
    // RocksDB treats a cut MANIFEST like a cut tail: it may recover the
    // older state. Either the open fails or every record reads back.
    must_fail_open = false;
    for (const auto& f : files_named(dir, "MANIFEST-", ""))
      fs::resize_file(f, fs::file_size(f) / 2);
  }
  SUBCASE("a deleted CURRENT") {
    fs::remove(fs::path{dir} / "CURRENT");
    expect = "no CURRENT file";
  }
  auto check_open_error = [&](const error& err) {
    INFO(err.message);
    CHECK((err.code == ec::corrupt_record || err.code == ec::io_error));
    CHECK(contains(err.message, dir));
    CHECK(contains(err.message, expect));
  };
  // Whatever opens must read everything back or report an error.
  auto check_reads = [&](const journal& j) {
    auto r = read_all(j);
    if (!r.st.has_value()) {
      INFO(r.st.error_value().message);
      CHECK((r.st.error_value().code == ec::corrupt_record
             || r.st.error_value().code == ec::io_error));
      CHECK(contains(r.st.error_value().message, "seq "));
    } else {
      CHECK(r.seqs == iota(1, recs.size()));
      CHECK(j.last_seq() == recs.size());
    }
  };
  auto j = journal::open(dir);
  if (must_fail_open) {
    REQUIRE_FALSE(j.has_value());
    check_open_error(j.error_value());
  } else if (!j.has_value()) {
    check_open_error(j.error_value());
  } else {
    check_reads(**j);
    j = make_error(ec::io_error, "closed"); // let the secondary try alone
  }
  // A reader (secondary) opens lazily: it fails at open or when reading.
  auto s = journal::open_secondary(dir, tmp.sub("scratch"));
  if (s.has_value())
    check_reads(**s);
  else
    CHECK(contains(s.error_value().message, dir));
}

TEST_CASE("a damaged write-ahead log") {
  // Events only in the WAL (never flushed): the usual state of a live journal.
  temp_dir tmp;
  auto recs = fill(tmp.path(), 100, 1, true);
  auto logs = files_named(tmp.path(), "", ".log");
  REQUIRE(logs.size() == 1);
  auto size = fs::file_size(logs.front());
  SUBCASE("a byte flipped in the middle fails the open") {
    {
      std::fstream f{logs.front(), std::ios::in | std::ios::out | std::ios::binary};
      f.seekg(static_cast<std::streamoff>(size / 2));
      char c = 0;
      f.read(&c, 1);
      c = static_cast<char>(c ^ 0x5a);
      f.seekp(static_cast<std::streamoff>(size / 2));
      f.write(&c, 1);
    }
    auto j = journal::open(tmp.path());
    REQUIRE_FALSE(j.has_value());
    INFO(j.error_value().message);
    CHECK(j.error_value().code == ec::corrupt_record);
  }
  SUBCASE("a cut tail after a crash loses only the unfinished batch") {
    // A crash leaves the mark of the last open (here: none) behind.
    fs::remove(tmp.sub("volant-high-water"));
    fs::resize_file(logs.front(), size - 10);
    auto j = journal::open(tmp.path());
    REQUIRE_MESSAGE(j.has_value(), j.error_value().message);
    CHECK((*j)->last_seq() == recs.size() - 1);
    auto r = read_all(**j);
    CHECK(r.st.has_value());
    CHECK(r.seqs == iota(1, recs.size() - 1));
  }
  SUBCASE("a cut tail of a cleanly closed journal is reported") {
    fs::resize_file(logs.front(), size - 10);
    auto j = journal::open(tmp.path());
    REQUIRE_FALSE(j.has_value());
    CHECK(j.error_value().code == ec::corrupt_record);
    CHECK(contains(j.error_value().message,
                   "seq " + std::to_string(recs.size()) + " is lost (last good seq "
                     + std::to_string(recs.size() - 1) + ")"));
    CHECK(contains(j.error_value().message, logs.front().string() + " was cut"));
  }
}

TEST_CASE("a journal written by a newer format is refused") {
  temp_dir tmp;
  fill(tmp.path(), 3);
  {
    raw_db db{tmp.path()};
    CHECK(db.get(db.meta(), "format") == "1");
    db.put(db.meta(), "format", "2");
  }
  auto j = journal::open(tmp.path());
  REQUIRE_FALSE(j.has_value());
  CHECK(j.error_value().code == ec::unsupported_version);
  CHECK(contains(j.error_value().message, "format '2'"));
}

TEST_CASE("a directory that is not a journal is not overwritten") {
  temp_dir tmp;
  {
    std::ofstream f{tmp.sub("notes.txt")};
    f << "precious";
  }
  auto j = journal::open(tmp.path());
  REQUIRE_FALSE(j.has_value());
  CHECK(j.error_value().code == ec::corrupt_record);
  CHECK(fs::exists(tmp.sub("notes.txt")));
  CHECK_FALSE(fs::exists(tmp.sub("CURRENT")));
}

TEST_SUITE_END();
