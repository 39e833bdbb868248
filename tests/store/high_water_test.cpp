// The high-water mark: acknowledged events that a damaged write-ahead log lost
// are reported at open (never a silent start with fewer events), a torn tail is
// not, and an accepted loss is recorded so that the journal opens again.

#include "raw_db.hpp"
#include "samples.hpp"

#include "store/audit.hpp"
#include "store/codec.hpp"
#include "store/journal.hpp"
#include "store/journal_testing.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <thread>

using namespace volant;
using namespace volant::store;
using volant::test::files_named;
using volant::test::raw_db;
using volant::test::temp_dir;
namespace fs = std::filesystem;

namespace {

/// The seq in the journal's high-water mark file (0 when there is none).
std::uint64_t mark_of(const std::string& dir) {
  std::ifstream in{dir + "/volant-high-water"};
  std::uint64_t seq = 0;
  in >> seq;
  return seq;
}

/// Waits until the mark reaches `seq` (the background thread writes it about
/// once a second); false after 20 s.
bool mark_reaches(const std::string& dir, std::uint64_t seq) {
  for (int i = 0; i < 1000; ++i) {
    if (mark_of(dir) >= seq)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

/// Appends exactly `n` events of a valid history, from its `skip`th on,
/// `chunk` per call.
std::vector<recorded_event> append_history(journal& j, std::size_t n,
                                           std::size_t chunk = 5,
                                           std::size_t skip = 0) {
  auto history = volant::test::valid_history(static_cast<int>(n + skip));
  REQUIRE(history.size() >= n + skip);
  std::vector<recorded_event> out;
  for (auto i = skip; i < skip + n; i += chunk) {
    auto end = std::min(skip + n, i + chunk);
    auto recs = j.append({history.begin() + static_cast<std::ptrdiff_t>(i),
                          history.begin() + static_cast<std::ptrdiff_t>(end)});
    REQUIRE(recs.has_value());
    out.insert(out.end(), recs->begin(), recs->end());
  }
  return out;
}

std::vector<std::uint64_t> seqs_of(const journal& j) {
  std::vector<std::uint64_t> out;
  auto st = j.read(1, max_seq, [&](const recorded_event& r) {
    out.push_back(r.seq);
    return true;
  });
  REQUIRE_MESSAGE(st.has_value(), st.error_value().message);
  return out;
}

std::vector<std::uint64_t> iota(std::uint64_t from, std::uint64_t to) {
  std::vector<std::uint64_t> out;
  for (auto s = from; s <= to; ++s)
    out.push_back(s);
  return out;
}

std::string bytes_of(const fs::path& p) {
  std::ifstream in{p, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, {}};
}

void zero_from(const fs::path& p, std::uintmax_t from) {
  std::fstream f{p, std::ios::in | std::ios::out | std::ios::binary};
  f.seekp(static_cast<std::streamoff>(from));
  std::string zeros(fs::file_size(p) - from, '\0');
  f.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
}

/// The number after "last good seq " in `message`, or -1.
long long last_good_in(const std::string& message) {
  std::smatch m;
  if (!std::regex_search(message, m, std::regex{"last good seq ([0-9]+)"}))
    return -1;
  return std::stoll(m[1].str());
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_SUITE_BEGIN("store");

namespace {

enum class marked { by_thread_then_kill9, by_clean_close_without_flush };
enum class damage { cut_in_half, zeroed_from_the_middle, deleted };

/// Acknowledged appends, the mark advanced as `how` says, the WAL damaged:
/// the open fails, names the WAL and the last good seq, and changes nothing.
void check_refused(marked how, damage what_damage) {
  temp_dir tmp;
  const auto dir = tmp.path();
  std::uint64_t n = 0;
  {
    auto j = journal::open(dir);
    REQUIRE(j.has_value());
    n = append_history(**j, 60).size();
    if (how == marked::by_thread_then_kill9) {
      REQUIRE_MESSAGE(mark_reaches(dir, n),
                      "the mark stayed at " << mark_of(dir) << " of " << n);
      testing::crash_on_close(**j);
    } else {
      testing::skip_flush_on_close(**j);
    }
  }
  CHECK(mark_of(dir) == n);
  auto logs = files_named(dir, "", ".log");
  REQUIRE(logs.size() == 1);
  const auto wal = logs.front();
  auto size = fs::file_size(wal);
  std::string what;
  switch (what_damage) {
  case damage::cut_in_half:
    fs::resize_file(wal, size / 2);
    what = wal.string() + " was cut (" + std::to_string(size / 2) + " of "
           + std::to_string(size) + " bytes left)";
    break;
  case damage::zeroed_from_the_middle:
    zero_from(wal, size / 2);
    what = wal.string() + " (or another database file) is damaged";
    break;
  case damage::deleted:
    fs::remove(wal);
    what = wal.string() + " is missing";
    break;
  }
  auto before = fs::exists(wal) ? bytes_of(wal) : std::string{};
  auto files_before = files_named(dir, "", "");
  auto j = journal::open(dir);
  REQUIRE_FALSE(j.has_value());
  const auto& err = j.error_value();
  INFO(err.message);
  CHECK(err.code == ec::corrupt_record);
  CHECK(contains(err.message, "journal at " + dir));
  CHECK(contains(err.message, what));
  auto good = last_good_in(err.message);
  CHECK(good >= 0);
  CHECK(good < static_cast<long long>(n));
  if (what_damage == damage::deleted)
    CHECK(good == 0); // every event was in that log
  else
    CHECK(good > 0);
  CHECK(contains(err.message, "seqs " + std::to_string(good + 1) + ".."
                                  + std::to_string(n) + " are lost"));
  // Nothing changed: the damaged log is still there as it was, for a look.
  CHECK(files_named(dir, "", "") == files_before);
  if (what_damage != damage::deleted)
    CHECK(bytes_of(wal) == before);
  CHECK(mark_of(dir) == n);
  // The refusal holds, and a reader says the same.
  auto again = journal::open(dir);
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error_value().message == err.message);
  auto reader = journal::open_secondary(dir, tmp.sub("scratch"));
  REQUIRE_FALSE(reader.has_value());
  CHECK(reader.error_value().code == ec::corrupt_record);
  CHECK(contains(reader.error_value().message,
                 "last good seq " + std::to_string(good)));
}

} // namespace

TEST_CASE("acknowledged events lost with a cut, zeroed or deleted write-ahead "
          "log fail the open, naming the log and the last good seq") {
  for (auto how :
       {marked::by_thread_then_kill9, marked::by_clean_close_without_flush})
    for (auto what : {damage::cut_in_half, damage::zeroed_from_the_middle,
                      damage::deleted}) {
      CAPTURE(static_cast<int>(how));
      CAPTURE(static_cast<int>(what));
      check_refused(how, what);
    }
}

TEST_CASE("a torn tail after kill -9 still opens: only records newer than the "
          "mark can go") {
  temp_dir tmp;
  const auto dir = tmp.path();
  {
    auto j = journal::open(dir);
    REQUIRE(j.has_value());
    append_history(**j, 40);
    REQUIRE(mark_reaches(dir, 40));
    // The crash comes before the next tick: seq 41 is newer than the mark, as
    // a record whose write kill -9 interrupted is.
    testing::hold_high_water(**j);
    append_history(**j, 1, 1, 40);
    testing::crash_on_close(**j);
  }
  CHECK(mark_of(dir) == 40);
  auto logs = files_named(dir, "", ".log");
  REQUIRE(logs.size() == 1);
  fs::resize_file(logs.front(), fs::file_size(logs.front()) - 10);
  auto j = journal::open(dir);
  REQUIRE_MESSAGE(j.has_value(), j.error_value().message);
  CHECK((*j)->last_seq() == 40);
  CHECK(seqs_of(**j) == iota(1, 40));
  auto next = (*j)->append({vm_ready{"x", 1}});
  REQUIRE(next.has_value());
  CHECK(next->front().seq == 41);
}

TEST_CASE("a snapshot and a clean close advance the high-water mark at once") {
  temp_dir tmp;
  const auto dir = tmp.path();
  auto j = journal::open(dir);
  REQUIRE(j.has_value());
  testing::hold_high_water(**j); // only the snapshot and the close move it now
  auto recs = append_history(**j, 30);
  CHECK(mark_of(dir) == 0);
  REQUIRE((*j)->write_snapshot(volant::test::fold(recs)).has_value());
  CHECK(mark_of(dir) == recs.size());
  CHECK((*j)->stats().high_water == recs.size());
  CHECK((*j)->stats().high_water_error.empty());
  auto more = append_history(**j, 5, 5, recs.size());
  CHECK(mark_of(dir) == recs.size());
  j = make_error(ec::io_error, "closed");
  CHECK(mark_of(dir) == recs.size() + more.size());
}

TEST_CASE("the high-water mark follows concurrent appends, never ahead of them "
          "and never backwards") {
  temp_dir tmp;
  const auto dir = tmp.path();
  auto j = journal::open(dir);
  REQUIRE(j.has_value());
  auto history = volant::test::valid_history(400);
  std::atomic<bool> done{false};
  std::thread writer{[&] {
    for (const auto& ev : history)
      if (!(*j)->append({ev}))
        break;
    done = true;
  }};
  std::vector<std::uint64_t> marks;
  bool ahead = false;
  auto sample = [&] {
    auto m = mark_of(dir);
    ahead = ahead || m > (*j)->last_seq(); // read after the mark: only grows
    if (marks.empty() || marks.back() != m)
      marks.push_back(m);
  };
  while (!done) {
    sample();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  writer.join();
  REQUIRE((*j)->last_seq() == history.size());
  // The thread catches up with no snapshot and no close.
  CHECK(mark_reaches(dir, history.size()));
  sample();
  CHECK(marks.back() == history.size());
  CHECK_FALSE(ahead);
  CHECK(std::is_sorted(marks.begin(), marks.end()));
  j = make_error(ec::io_error, "closed");
  CHECK(mark_of(dir) == history.size());
}

TEST_CASE("accepting a loss records it after the lost seqs, and the journal "
          "opens, reads and verifies again") {
  temp_dir tmp;
  const auto dir = tmp.path();
  {
    auto j = journal::open(dir); // seqs 1..30 end up in table files
    REQUIRE(j.has_value());
    append_history(**j, 30);
  }
  {
    auto j = journal::open(dir); // 31..50 only in the write-ahead log
    REQUIRE(j.has_value());
    append_history(**j, 20, 5, 30);
    testing::skip_flush_on_close(**j);
  }
  REQUIRE(mark_of(dir) == 50);
  auto wal = files_named(dir, "", ".log").back();
  auto size = fs::file_size(wal);
  fs::resize_file(wal, size / 2);
  REQUIRE_FALSE(journal::open(dir).has_value());

  auto found = journal::find_loss(dir);
  REQUIRE_MESSAGE(found.has_value(), found.error_value().message);
  CHECK(found->damaged);
  auto good = found->last_good_seq;
  CHECK(good >= 30);
  CHECK(good < 50);
  CHECK(found->high_water_seq == 50);
  CHECK(found->lost == 50 - good);
  CHECK(contains(found->damage, "was cut"));
  CHECK(fs::file_size(wal) == size / 2); // find_loss changes nothing

  auto accepted = journal::accept_loss(dir);
  REQUIRE_MESSAGE(accepted.has_value(), accepted.error_value().message);
  CHECK(accepted->last_good_seq == good);
  CHECK(accepted->lost == 50 - good);
  REQUIRE(accepted->recorded.has_value());
  CHECK(accepted->recorded->seq == 51);
  // The damaged log is kept, as it was, beside the journal.
  REQUIRE(fs::exists(accepted->saved_to + "/" + wal.filename().string()));
  CHECK(fs::file_size(accepted->saved_to + "/" + wal.filename().string())
        == size / 2);
  CHECK(mark_of(dir) == 51); // past the old mark, never below it

  auto j = journal::open(dir);
  REQUIRE_MESSAGE(j.has_value(), j.error_value().message);
  CHECK((*j)->last_seq() == 51);
  auto expect = iota(1, good);
  expect.push_back(51);
  CHECK(seqs_of(**j) == expect);
  std::optional<recorded_event> loss;
  REQUIRE((*j)->read(51, 51, [&](const recorded_event& r) {
    loss = r;
    return true;
  }));
  REQUIRE(loss.has_value());
  auto* x = std::get_if<journal_loss_accepted>(&loss->ev);
  REQUIRE(x != nullptr);
  CHECK(x->last_good_seq == good);
  CHECK(x->high_water_seq == 50);
  CHECK(x->lost == 50 - good);
  CHECK(contains(x->damage, wal.string()));
  CHECK(x->saved_to == accepted->saved_to);
  // Reading from inside the gap, or up to it, is not an error either.
  CHECK((*j)->read(good + 1, 50, [](const recorded_event&) { return true; }));
  auto w = (*j)->load();
  REQUIRE_MESSAGE(w.has_value(), w.error_value().message);
  CHECK(w->last_seq == 51);
  auto report = verify(**j);
  REQUIRE_MESSAGE(report.has_value(), report.error_value().message);
  CHECK(report->losses == 1);
  CHECK(report->lost == 50 - good);
  CHECK(report->last_seq == 51);
  auto next = (*j)->append({vm_ready{"x", 1}});
  REQUIRE(next.has_value());
  CHECK(next->front().seq == 52);
  j = make_error(ec::io_error, "closed");

  // A whole journal is left alone.
  auto whole = journal::accept_loss(dir);
  REQUIRE(whole.has_value());
  CHECK_FALSE(whole->damaged);
  CHECK_FALSE(whole->recorded.has_value());

  SUBCASE("any other gap is still damage") {
    {
      raw_db db{dir};
      db.del(db.events(), seq_key(5));
    }
    auto r = journal::open(dir);
    REQUIRE(r.has_value());
    auto st
        = (*r)->read(1, max_seq, [](const recorded_event&) { return true; });
    REQUIRE_FALSE(st.has_value());
    CHECK(contains(st.error_value().message, "missing record at seq 5 "));
  }
  SUBCASE("a loss record bridges only the gap it names") {
    {
      raw_db db{dir};
      auto forged = *loss;
      std::get<journal_loss_accepted>(forged.ev).high_water_seq = 49;
      db.put(db.events(), seq_key(51), [&] {
        auto b = pack_event(forged);
        return std::string(b.begin(), b.end());
      }());
    }
    auto r = journal::open(dir);
    REQUIRE(r.has_value());
    auto st
        = (*r)->read(1, max_seq, [](const recorded_event&) { return true; });
    REQUIRE_FALSE(st.has_value());
    CHECK(contains(st.error_value().message,
                   "missing record at seq " + std::to_string(good + 1) + " "));
  }
}

TEST_CASE("accepting a loss drops the snapshots past it") {
  temp_dir tmp;
  const auto dir = tmp.path();
  {
    auto j = journal::open(dir);
    REQUIRE(j.has_value());
    auto recs = append_history(**j, 30);
    std::vector<recorded_event> first10(recs.begin(), recs.begin() + 10);
    REQUIRE((*j)->write_snapshot(volant::test::fold(first10)).has_value());
    REQUIRE((*j)->write_snapshot(volant::test::fold(recs)).has_value());
  }
  { // Records 21..30 gone from the table files behind the journal's back.
    raw_db db{dir};
    for (std::uint64_t s = 21; s <= 30; ++s)
      db.del(db.events(), seq_key(s));
  }
  REQUIRE_FALSE(journal::open(dir).has_value());
  auto accepted = journal::accept_loss(dir);
  REQUIRE_MESSAGE(accepted.has_value(), accepted.error_value().message);
  CHECK(accepted->last_good_seq == 20);
  CHECK(accepted->lost == 10);
  CHECK(accepted->snapshots_dropped == 1);
  CHECK(contains(accepted->damage, "dropped 1 snapshot(s) past seq 20"));
  auto j = journal::open(dir);
  REQUIRE_MESSAGE(j.has_value(), j.error_value().message);
  CHECK((*j)->snapshot_seqs() == std::vector<std::uint64_t>{10});
  auto report = verify(**j);
  REQUIRE_MESSAGE(report.has_value(), report.error_value().message);
  CHECK(report->snapshots == 1);
  CHECK(report->last_seq == 31);
}

TEST_CASE("damage inside the write-ahead log that strict recovery refuses can "
          "be accepted too") {
  temp_dir tmp;
  const auto dir = tmp.path();
  {
    auto j = journal::open(dir);
    REQUIRE(j.has_value());
    append_history(**j, 60, 1);
    testing::skip_flush_on_close(**j);
  }
  auto wal = files_named(dir, "", ".log").front();
  auto size = fs::file_size(wal);
  {
    std::fstream f{wal, std::ios::in | std::ios::out | std::ios::binary};
    f.seekg(static_cast<std::streamoff>(size / 2));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x5a);
    f.seekp(static_cast<std::streamoff>(size / 2));
    f.write(&c, 1);
  }
  auto refused = journal::open(dir);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error_value().code == ec::corrupt_record);
  auto accepted = journal::accept_loss(dir);
  REQUIRE_MESSAGE(accepted.has_value(), accepted.error_value().message);
  CHECK(accepted->damaged);
  CHECK(accepted->last_good_seq > 0);
  CHECK(accepted->last_good_seq < 60);
  CHECK(accepted->lost == 60 - accepted->last_good_seq);
  CHECK(contains(accepted->damage, "Corruption"));
  auto j = journal::open(dir);
  REQUIRE_MESSAGE(j.has_value(), j.error_value().message);
  CHECK((*j)->last_seq() == 61);
  CHECK(verify(**j).has_value());
}

TEST_SUITE_END();
