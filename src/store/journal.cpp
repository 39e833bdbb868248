// The RocksDB journal. See journal.hpp for the contract; notes on the choices:
//
// - Group commit is leader/follower: every caller queues a request; whoever
// finds no
//   write in flight becomes the leader, takes *all* queued requests, numbers
//   them in queue order, writes one WriteBatch with `sync = true` and hands
//   each follower its committed records. The next leader is whoever is queued
//   when it finishes. Only the leader touches the next seq, so seqs are
//   gap-free without holding the mutex across the fsync; a failed write
//   consumes no seqs.
// - Commit times never go backwards in the log (`at` = max(now, previous at)),
// so a
//   time-based query can binary-search the seqs.
// - RocksDB silently creates a fresh database where CURRENT is missing; for a
// journal
//   that would look like data loss without an error, so `open` refuses a
//   non-empty directory without CURRENT.
// - RocksDB recovers from some damage by silently dropping data: a cut MANIFEST
//   can reopen as an older (even empty) database, and a secondary instance
//   skips missing table files. So the journal keeps its own high-water mark,
//   the file `volant-high-water` next to the database, rewritten (atomically,
//   synced) at each primary open and close: a database that ends before the
//   mark is reported as damaged instead of being read as a shorter log.
// - WAL recovery tolerates only an incomplete *tail* record (a write cut short
// by a
//   crash, never acknowledged); damage in the middle of the WAL fails the open.

#include "store/journal.hpp"

#include "store/codec.hpp"
#include "store/journal_testing.hpp"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <span>
#include <string_view>

#include <fcntl.h>
#include <unistd.h>

namespace volant::store {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view cf_events = "events";
constexpr std::string_view cf_snapshots = "snapshots";
constexpr std::string_view cf_meta = "meta";
constexpr std::string_view format_key = "format";
constexpr std::string_view format_value = "1";
constexpr const char* mark_file = "volant-high-water";

std::optional<std::uint64_t> parse_key(const rocksdb::Slice& key) {
  if (key.size() != 8)
    return std::nullopt;
  std::uint64_t seq = 0;
  for (std::size_t i = 0; i < 8; ++i)
    seq = (seq << 8) | static_cast<std::uint8_t>(key[i]);
  return seq;
}

std::span<const std::uint8_t> bytes_of(const rocksdb::Slice& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

rocksdb::Slice slice_of(const std::string& s) {
  return {s.data(), s.size()};
}

error from_status(const rocksdb::Status& s, const std::string& context) {
  auto code = s.IsCorruption() ? ec::corrupt_record : ec::io_error;
  return make_error(code, context + ": " + s.ToString());
}

unix_nanos now_nanos() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(system_clock::now().time_since_epoch())
      .count();
}

error errno_error(const std::string& what) {
  return make_error(ec::io_error, what + ": " + std::strerror(errno));
}

/// Replaces `dir/name` with `content` atomically and durably.
status write_durably(const std::string& dir, const std::string& name,
                     const std::string& content) {
  auto path = dir + "/" + name;
  auto tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return errno_error("cannot create " + tmp);
  const char* p = content.data();
  auto left = content.size();
  while (left > 0) {
    auto n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      auto err = errno_error("cannot write " + tmp);
      ::close(fd);
      return err;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    auto err = errno_error("cannot sync " + tmp);
    ::close(fd);
    return err;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return errno_error("cannot rename " + tmp);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return errno_error("cannot open " + dir);
  int rc = ::fsync(dfd);
  ::close(dfd);
  if (rc != 0)
    return errno_error("cannot sync " + dir);
  return ok();
}

/// The high-water mark stored in `dir` (0 when there is none yet).
expected<std::uint64_t> read_mark(const std::string& dir) {
  auto path = dir + "/" + mark_file;
  std::ifstream in{path};
  if (!in) {
    std::error_code err;
    if (!fs::exists(path, err))
      return std::uint64_t{0};
    return make_error(ec::io_error, "cannot read " + path);
  }
  std::uint64_t seq = 0;
  if (!(in >> seq))
    return make_error(ec::corrupt_record,
                      "malformed high-water mark in " + path);
  return seq;
}

/// One append() call waiting for its group commit.
struct request {
  std::vector<event> events;
  std::optional<expected<std::vector<recorded_event>>> result;
  std::condition_variable cv;
};

rocksdb::Options base_options() {
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.create_missing_column_families = true;
  opts.paranoid_checks = true;
  opts.wal_recovery_mode
      = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  opts.keep_log_file_num = 4;
  opts.max_open_files = -1; // also required by secondaries
  return opts;
}

} // namespace

struct journal::impl {
  std::string dir;
  bool secondary = false;
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::ColumnFamilyHandle* events = nullptr;
  rocksdb::ColumnFamilyHandle* snapshots = nullptr;
  rocksdb::ColumnFamilyHandle* meta = nullptr;

  std::atomic<std::uint64_t> last_seq{0};
  std::uint64_t mark = 0; ///< High-water mark as last read or written.
  unix_nanos last_at = 0; ///< Primary only: set at open, then by each leader.

  std::mutex mtx;
  std::deque<request*> queue; ///< Waiting requests, in arrival order.
  bool writing = false;       ///< A leader is committing.

  std::atomic<std::uint64_t> appends{0};
  std::atomic<std::uint64_t> events_written{0};
  std::atomic<std::uint64_t> syncs{0};
  std::atomic<std::uint64_t> last_sync_us{0};

  std::atomic<int> injected_failures{0}; ///< testing::fail_next_writes
  bool flush_on_close = true;            ///< testing::skip_flush_on_close

  ~impl() {
    if (!db)
      return;
    if (!secondary && last_seq.load() > mark)
      (void)write_durably(dir, mark_file,
                          std::to_string(last_seq.load()) + "\n");
    if (!secondary && flush_on_close) {
      // A clean close flushes the memtables, so the next open does not replay and
      // re-flush the whole WAL (seconds after a million events).
      rocksdb::FlushOptions flush;
      flush.wait = true;
      (void)db->Flush(flush, handles).PermitUncheckedError();
    }
    for (auto* h : handles)
      db->DestroyColumnFamilyHandle(h);
    db->Close().PermitUncheckedError();
  }

  error failure(const rocksdb::Status& s, const std::string& what) const {
    return from_status(s, what + " (journal at " + dir + ")");
  }

  /// Reads the last seq (and commit time) from the end of the events family.
  status refresh_last() {
    std::unique_ptr<rocksdb::Iterator> it{db->NewIterator({}, events)};
    it->SeekToLast();
    if (!it->status().ok())
      return failure(it->status(), "cannot read the last record");
    if (!it->Valid()) {
      last_seq.store(0, std::memory_order_release);
      return ok();
    }
    auto seq = parse_key(it->key());
    if (!seq)
      return make_error(ec::corrupt_record,
                        "malformed key of " + std::to_string(it->key().size())
                            + " bytes at the end of the log (journal at " + dir
                            + ")");
    // A damaged last record is reported by read(); here it only costs the
    // monotonic-time guard.
    if (!secondary)
      if (auto rec = unpack_event(bytes_of(it->value())))
        last_at = rec->at;
    last_seq.store(*seq, std::memory_order_release);
    return ok();
  }

  /// Checks (primary: writes) the format marker.
  status check_format() {
    std::string value;
    auto s = db->Get(
        {}, meta, rocksdb::Slice{format_key.data(), format_key.size()}, &value);
    if (s.IsNotFound()) {
      if (secondary)
        return ok();
      rocksdb::WriteOptions wo;
      wo.sync = true;
      s = db->Put(wo, meta,
                  rocksdb::Slice{format_key.data(), format_key.size()},
                  rocksdb::Slice{format_value.data(), format_value.size()});
      return s.ok() ? ok()
                    : status{failure(s, "cannot write the format marker")};
    }
    if (!s.ok())
      return failure(s, "cannot read the format marker");
    if (value != format_value)
      return make_error(ec::unsupported_version,
                        "journal at " + dir + " has format '" + value
                            + "'; this volant reads format '"
                            + std::string{format_value} + "'");
    return ok();
  }

  /// Numbers, encodes and durably writes every request of `batch`; returns each
  /// request's result in batch order. Called by the leader without the mutex.
  std::vector<expected<std::vector<recorded_event>>>
  commit(const std::vector<request*>& batch) {
    std::vector<expected<std::vector<recorded_event>>> results;
    results.reserve(batch.size());
    auto fail_all = [&](const error& err) {
      results.clear();
      for (std::size_t i = 0; i < batch.size(); ++i)
        results.emplace_back(err);
      return results;
    };
    try {
      auto seq = last_seq.load(std::memory_order_acquire);
      auto at = std::max(now_nanos(), last_at);
      std::vector<std::vector<recorded_event>> out(batch.size());
      rocksdb::WriteBatch wb;
      std::size_t n = 0;
      for (std::size_t i = 0; i < batch.size(); ++i) {
        out[i].reserve(batch[i]->events.size());
        for (auto& ev : batch[i]->events) {
          recorded_event rec{++seq, at, std::move(ev)};
          auto key = seq_key(rec.seq);
          auto bytes = pack_event(rec);
          auto s = wb.Put(
              events, slice_of(key),
              rocksdb::Slice{reinterpret_cast<const char*>(bytes.data()),
                             bytes.size()});
          if (!s.ok())
            return fail_all(failure(s, "cannot build the write batch"));
          out[i].push_back(std::move(rec));
          ++n;
        }
      }
      rocksdb::WriteOptions wo;
      wo.sync = true;
      auto t0 = std::chrono::steady_clock::now();
      auto s
          = injected_failures.load() > 0 && injected_failures.fetch_sub(1) > 0
                ? rocksdb::Status::IOError("injected failure")
                : db->Write(wo, &wb);
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - t0);
      if (!s.ok()) {
        auto err = failure(s, "cannot append " + std::to_string(n) + " events");
        err.code = ec::io_error;
        return fail_all(err);
      }
      last_seq.store(seq, std::memory_order_release);
      last_at = at;
      syncs.fetch_add(1, std::memory_order_relaxed);
      last_sync_us.store(static_cast<std::uint64_t>(us.count()),
                         std::memory_order_relaxed);
      appends.fetch_add(batch.size(), std::memory_order_relaxed);
      events_written.fetch_add(n, std::memory_order_relaxed);
      for (auto& o : out)
        results.emplace_back(std::move(o));
      return results;
    } catch (const std::exception& e) {
      return fail_all(make_error(ec::io_error, std::string{"cannot append: "}
                                                   + e.what() + " (journal at "
                                                   + dir + ")"));
    }
  }

  /// Opens the database; `scratch` non-empty opens a secondary instance.
  static expected<std::unique_ptr<impl>> open_db(const std::string& dir,
                                                 const std::string& scratch) {
    auto p = std::make_unique<impl>();
    p->dir = dir;
    p->secondary = !scratch.empty();
    // Read before the database: a primary running concurrently only raises it.
    auto mark = read_mark(dir);
    if (!mark)
      return mark.error_value();
    p->mark = *mark;
    auto opts = base_options();
    std::vector<std::string> names;
    auto listed = rocksdb::DB::ListColumnFamilies(opts, dir, &names);
    if (p->secondary) {
      if (!listed.ok())
        return p->failure(listed, "cannot open the journal for reading");
      if (std::find(names.begin(), names.end(), cf_events) == names.end())
        return make_error(ec::corrupt_record,
                          "not a volant journal (no 'events' column family): "
                              + dir);
    }
    for (auto want : {cf_events, cf_snapshots, cf_meta})
      if (std::find(names.begin(), names.end(), want) == names.end())
        names.emplace_back(want);
    if (std::find(names.begin(), names.end(), rocksdb::kDefaultColumnFamilyName)
        == names.end())
      names.emplace_back(rocksdb::kDefaultColumnFamilyName);
    std::vector<rocksdb::ColumnFamilyDescriptor> descs;
    for (const auto& name : names)
      descs.emplace_back(name, rocksdb::ColumnFamilyOptions{opts});
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s;
    if (p->secondary)
      s = rocksdb::DB::OpenAsSecondary(opts, dir, scratch, descs, &p->handles,
                                       &raw);
    else
      s = rocksdb::DB::Open(opts, dir, descs, &p->handles, &raw);
    if (!s.ok())
      return p->failure(s, "cannot open the journal");
    p->db.reset(raw);
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i] == cf_events)
        p->events = p->handles[i];
      else if (names[i] == cf_snapshots)
        p->snapshots = p->handles[i];
      else if (names[i] == cf_meta)
        p->meta = p->handles[i];
    }
    if (p->secondary && (p->snapshots == nullptr || p->meta == nullptr))
      return make_error(ec::corrupt_record,
                        "not a volant journal (column families missing): "
                            + dir);
    if (auto st = p->check_format(); !st)
      return st.error_value();
    if (auto st = p->refresh_last(); !st)
      return st.error_value();
    auto last = p->last_seq.load();
    if (last < p->mark)
      return make_error(
          ec::corrupt_record,
          "journal at " + dir + " ends at seq " + std::to_string(last)
              + " but held seq " + std::to_string(p->mark)
              + " before: records from seq " + std::to_string(last + 1)
              + " on are lost (damaged or missing database files)");
    if (!p->secondary && last > p->mark) {
      if (auto st = write_durably(dir, mark_file, std::to_string(last) + "\n");
          !st)
        return st.error_value();
      p->mark = last;
    }
    return p;
  }
};

std::string seq_key(std::uint64_t seq) {
  std::string key(8, '\0');
  for (int i = 7; i >= 0; --i) {
    key[static_cast<std::size_t>(i)] = static_cast<char>(seq & 0xff);
    seq >>= 8;
  }
  return key;
}

journal::journal(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

journal::~journal() = default;

expected<std::unique_ptr<journal>> journal::open(const std::string& dir) {
  std::error_code err;
  if (fs::exists(dir, err) && !fs::exists(fs::path{dir} / "CURRENT", err)
      && !fs::is_empty(dir, err))
    return make_error(
        ec::corrupt_record,
        "journal at " + dir
            + " is damaged or not a journal: the directory is not "
              "empty but has no CURRENT file; refusing to create a "
              "new database over it");
  fs::create_directories(dir, err);
  if (err)
    return make_error(ec::io_error, "cannot create journal directory " + dir
                                        + ": " + err.message());
  auto p = impl::open_db(dir, {});
  if (!p)
    return p.error_value();
  return std::unique_ptr<journal>{new journal{std::move(*p)}};
}

expected<std::unique_ptr<journal>>
journal::open_secondary(const std::string& dir,
                        const std::string& scratch_dir) {
  if (scratch_dir.empty())
    return make_error(ec::invalid_argument,
                      "a secondary journal needs a scratch directory");
  std::error_code err;
  fs::create_directories(scratch_dir, err);
  if (err)
    return make_error(ec::io_error, "cannot create scratch directory "
                                        + scratch_dir + ": " + err.message());
  auto p = impl::open_db(dir, scratch_dir);
  if (!p)
    return p.error_value();
  return std::unique_ptr<journal>{new journal{std::move(*p)}};
}

expected<std::vector<recorded_event>>
journal::append(std::vector<event> events) {
  auto& p = *impl_;
  if (p.secondary)
    return make_error(ec::conflict,
                      "journal at " + p.dir + " is open read-only");
  if (events.empty())
    return std::vector<recorded_event>{};
  request req;
  req.events = std::move(events);
  std::unique_lock lock{p.mtx};
  p.queue.push_back(&req);
  req.cv.wait(lock, [&] { return req.result.has_value() || !p.writing; });
  if (req.result)
    return std::move(*req.result);
  // Leader: take everything queued, ourselves included.
  p.writing = true;
  std::vector<request*> batch(p.queue.begin(), p.queue.end());
  p.queue.clear();
  lock.unlock();
  auto results = p.commit(batch);
  lock.lock();
  for (std::size_t i = 0; i < batch.size(); ++i)
    batch[i]->result = std::move(results[i]);
  p.writing = false;
  for (auto* r : batch)
    if (r != &req)
      r->cv.notify_one();
  if (!p.queue.empty())
    p.queue.front()->cv.notify_one(); // the next leader
  return std::move(*req.result);
}

std::uint64_t journal::last_seq() const {
  return impl_->last_seq.load(std::memory_order_acquire);
}

status
journal::read(std::uint64_t from, std::uint64_t to,
              const std::function<bool(const recorded_event&)>& visit) const {
  auto& p = *impl_;
  from = std::max<std::uint64_t>(from, 1);
  if (from > to)
    return ok();
  auto last = last_seq();
  std::unique_ptr<rocksdb::Iterator> it{p.db->NewIterator({}, p.events)};
  auto expect = from;
  auto missing = [&] {
    return make_error(ec::corrupt_record, "missing record at seq "
                                              + std::to_string(expect)
                                              + " (journal at " + p.dir + ")");
  };
  for (it->Seek(seq_key(from)); it->Valid(); it->Next()) {
    auto seq = parse_key(it->key());
    if (!seq)
      return make_error(ec::corrupt_record,
                        "malformed key of " + std::to_string(it->key().size())
                            + " bytes where seq " + std::to_string(expect)
                            + " was expected (journal at " + p.dir + ")");
    if (*seq > to)
      break;
    if (*seq != expect)
      return missing();
    auto rec = unpack_event(bytes_of(it->value()));
    if (!rec)
      return make_error(rec.error_value().code,
                        "record at seq " + std::to_string(*seq) + ": "
                            + rec.error_value().message);
    if (rec->seq != *seq)
      return make_error(ec::corrupt_record,
                        "record at seq " + std::to_string(*seq)
                            + " carries seq " + std::to_string(rec->seq));
    if (!visit(*rec))
      return ok();
    if (expect == to)
      return ok();
    ++expect;
  }
  if (!it->status().ok())
    return p.failure(it->status(),
                     "cannot read the record at seq " + std::to_string(expect));
  if (expect <= std::min(to, last))
    return missing();
  return ok();
}

status journal::write_snapshot(const world& w) {
  auto& p = *impl_;
  if (p.secondary)
    return make_error(ec::conflict,
                      "journal at " + p.dir + " is open read-only");
  if (w.last_seq > last_seq())
    return make_error(ec::conflict,
                      "snapshot at seq " + std::to_string(w.last_seq)
                          + " is ahead of the log, which ends at seq "
                          + std::to_string(last_seq()));
  auto bytes = pack_snapshot(w);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  auto s = p.db->Put(wo, p.snapshots, slice_of(seq_key(w.last_seq)),
                     rocksdb::Slice{reinterpret_cast<const char*>(bytes.data()),
                                    bytes.size()});
  if (!s.ok()) {
    auto err = p.failure(s, "cannot write the snapshot at seq "
                                + std::to_string(w.last_seq));
    err.code = ec::io_error;
    return err;
  }
  return ok();
}

expected<std::optional<world>>
journal::read_snapshot(std::uint64_t at_most) const {
  auto& p = *impl_;
  std::unique_ptr<rocksdb::Iterator> it{p.db->NewIterator({}, p.snapshots)};
  it->SeekForPrev(seq_key(at_most));
  if (!it->status().ok())
    return p.failure(it->status(), "cannot read the snapshot at or before seq "
                                       + std::to_string(at_most));
  if (!it->Valid())
    return std::optional<world>{};
  auto seq = parse_key(it->key());
  if (!seq)
    return make_error(ec::corrupt_record, "malformed snapshot key of "
                                              + std::to_string(it->key().size())
                                              + " bytes (journal at " + p.dir
                                              + ")");
  auto w = unpack_snapshot(bytes_of(it->value()));
  if (!w)
    return make_error(w.error_value().code, "snapshot at seq "
                                                + std::to_string(*seq) + ": "
                                                + w.error_value().message);
  if (w->last_seq != *seq)
    return make_error(ec::corrupt_record, "snapshot at seq "
                                              + std::to_string(*seq)
                                              + " holds the state at seq "
                                              + std::to_string(w->last_seq));
  return std::optional<world>{std::move(*w)};
}

std::vector<std::uint64_t> journal::snapshot_seqs() const {
  auto& p = *impl_;
  std::vector<std::uint64_t> out;
  std::unique_ptr<rocksdb::Iterator> it{p.db->NewIterator({}, p.snapshots)};
  for (it->SeekToFirst(); it->Valid(); it->Next())
    if (auto seq = parse_key(it->key()))
      out.push_back(*seq);
  return out;
}

expected<world> journal::load(std::uint64_t at_most) const {
  auto snap = read_snapshot(at_most);
  if (!snap)
    return snap.error_value();
  world w = snap->value_or(world{});
  if (w.last_seq > last_seq())
    return make_error(ec::corrupt_record,
                      "snapshot at seq " + std::to_string(w.last_seq)
                          + " is ahead of the log, which ends at seq "
                          + std::to_string(last_seq())
                          + " (truncated journal at " + impl_->dir + "?)");
  if (w.last_seq >= at_most)
    return w;
  auto st = read(w.last_seq + 1, at_most, [&](const recorded_event& rec) {
    apply(w, rec);
    return true;
  });
  if (!st)
    return st.error_value();
  return w;
}

status journal::catch_up() {
  auto& p = *impl_;
  if (!p.secondary)
    return ok();
  auto s = p.db->TryCatchUpWithPrimary();
  if (!s.ok())
    return p.failure(s, "cannot catch up with the primary");
  return p.refresh_last();
}

bool journal::read_only() const noexcept {
  return impl_->secondary;
}

journal_stats journal::stats() const {
  const auto& p = *impl_;
  return {p.appends.load(std::memory_order_relaxed),
          p.events_written.load(std::memory_order_relaxed),
          p.syncs.load(std::memory_order_relaxed),
          p.last_sync_us.load(std::memory_order_relaxed)};
}

void testing::fail_next_writes(journal& j, int n) {
  j.impl_->injected_failures.store(n);
}

void testing::skip_flush_on_close(journal& j) {
  j.impl_->flush_on_close = false;
}

} // namespace volant::store
