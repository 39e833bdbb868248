// Opening a journal, its high-water mark, and accepting a loss. See journal.hpp
// for the contract; notes on the choices:
//
// - RocksDB silently creates a fresh database where CURRENT is missing; for a
//   journal that would look like data loss without an error, so `open` refuses
//   a non-empty directory without CURRENT.
// - RocksDB recovers from some damage by silently dropping data: a cut, zeroed
//   or deleted write-ahead log reads as a shorter log, a cut MANIFEST can
//   reopen as an older (even empty) database, a secondary skips missing table
//   files. So the journal keeps its own high-water mark (high_water.hpp),
//   checked at every open: a database that ends before it is reported, not read
//   as a shorter log.
// - WAL recovery stays tolerant of a torn *tail* record (kill -9 in the middle
//   of a write nobody was told about). Absolute consistency would refuse that
//   ordinary crash; the mark is what tells a torn tail from a lost one.
// - A primary's open replays the WAL into new table files and deletes it, the
//   evidence with it. So when a WAL holds data the primary first recovers
//   read-only and checks the mark; a loss fails the open with nothing changed.
//   That costs a second replay of the WAL after a crash (none after a clean
//   close, which flushes), bounded by the memtable size.
// - The mark is advanced off the append path by one thread per primary, at most
//   once per `impl::mark_every`, and at each snapshot and clean close. Each
//   write is a whole-file replace (write, fsync, rename, fsync of the
//   directory): appenders never wait for it, and it never holds a torn value.

#include "store/journal_impl.hpp"

#include "store/journal_testing.hpp"

#include <rocksdb/env.h>
#include <rocksdb/transaction_log.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstdarg>
#include <ctime>
#include <filesystem>
#include <string_view>

namespace volant::store {

namespace detail {

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

} // namespace detail

namespace {

namespace fs = std::filesystem;
using namespace detail;

constexpr std::string_view cf_events = "events";
constexpr std::string_view cf_snapshots = "snapshots";
constexpr std::string_view cf_meta = "meta";

/// An info log that drops everything: a read-only check must not rotate the
/// database's own LOG files.
class quiet_logger : public rocksdb::Logger {
public:
  using rocksdb::Logger::Logv;
  void Logv(const char*, va_list) override {}
};

bool has(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

/// The last seq RocksDB recovers from `dir` with `opts`, read-only: nothing in
/// the directory changes. `names` are its column families.
expected<std::uint64_t> recovered_last(const std::string& dir,
                                       const std::vector<std::string>& names,
                                       rocksdb::Options opts) {
  if (!has(names, cf_events))
    return std::uint64_t{0};
  opts.info_log = std::make_shared<quiet_logger>();
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (const auto& name : names)
    descs.emplace_back(name, rocksdb::ColumnFamilyOptions{opts});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::OpenForReadOnly(opts, dir, descs, &handles, &raw);
  if (!s.ok())
    return from_status(s, "cannot open the journal (journal at " + dir + ")");
  std::unique_ptr<rocksdb::DB> db{raw};
  auto* events = handles[static_cast<std::size_t>(
      std::find(names.begin(), names.end(), cf_events) - names.begin())];
  std::uint64_t last = 0;
  std::optional<error> err;
  {
    std::unique_ptr<rocksdb::Iterator> it{db->NewIterator({}, events)};
    it->SeekToLast();
    if (!it->status().ok())
      err = from_status(it->status(),
                        "cannot read the last record (journal at " + dir + ")");
    else if (it->Valid())
      last = parse_key(it->key()).value_or(0);
  }
  for (auto* h : handles)
    db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  db->Close().PermitUncheckedError();
  if (err)
    return *err;
  return last;
}

/// RocksDB's own words in an error of recovered_last, without our context.
std::string rocksdb_words(const error& err) {
  auto colon = err.message.find("): ");
  return colon == std::string::npos ? err.message
                                    : err.message.substr(colon + 3);
}

/// Recovers `dir` read-only, as its open will, and checks the result against
/// `mark`: an error naming the WAL and the last good seq when records the mark
/// covers are lost, or when the strict recovery refuses the WAL (then
/// point-in-time recovery, read-only too, finds the last good seq).
status check_recovery(const std::string& dir,
                      const std::vector<std::string>& names,
                      const rocksdb::Options& opts, const high_water& mark,
                      const std::vector<wal_file>& wals) {
  auto strict = recovered_last(dir, names, opts);
  if (strict) {
    if (*strict < mark.seq)
      return lost_tail(dir, mark, *strict, wals);
    return ok();
  }
  if (strict.error_value().code != ec::corrupt_record)
    return strict.error_value();
  auto lenient_opts = opts;
  lenient_opts.wal_recovery_mode
      = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  auto lenient = recovered_last(dir, names, lenient_opts);
  if (!lenient)
    return strict.error_value();
  return lost_tail(dir, mark, *lenient, wals,
                   rocksdb_words(strict.error_value()));
}

/// "20261201T042100Z"
std::string utc_stamp() {
  auto t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", std::gmtime(&t));
  return buf;
}

/// Copies what RocksDB's recovery replaces (WALs, MANIFEST, CURRENT, OPTIONS)
/// and the mark into a new directory next to `dir`; returns its path.
expected<std::string> save_recovery_files(const std::string& dir) {
  auto base = dir + ".before-repair-" + utc_stamp();
  auto out = base;
  std::error_code err;
  for (int n = 2; fs::exists(out, err); ++n)
    out = base + "-" + std::to_string(n);
  fs::create_directories(out, err);
  if (err)
    return make_error(ec::io_error,
                      "cannot create " + out + ": " + err.message());
  for (const auto& e : fs::directory_iterator(dir, err)) {
    auto name = e.path().filename().string();
    if (!(name.ends_with(".log") || name.starts_with("MANIFEST-")
          || name.starts_with("OPTIONS-") || name == "CURRENT"
          || name == mark_file))
      continue;
    fs::copy_file(e.path(), fs::path{out} / name, err);
    if (err)
      return make_error(ec::io_error, "cannot copy " + e.path().string()
                                          + " to " + out + ": "
                                          + err.message());
  }
  if (err)
    return make_error(ec::io_error,
                      "cannot list " + dir + ": " + err.message());
  return out;
}

unix_nanos now_nanos() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(system_clock::now().time_since_epoch())
      .count();
}

} // namespace

journal::impl::~impl() {
  if (marker.joinable()) {
    {
      std::lock_guard lock{marker_mtx};
      marker_stop = true;
    }
    marker_cv.notify_all();
    marker.join();
  }
  if (!db)
    return;
  if (!secondary && mark_on_close)
    (void)advance_mark();
  if (!secondary && flush_on_close) {
    // A clean close flushes the memtables, so the next open does not replay and
    // re-flush the whole WAL (seconds after a million events).
    rocksdb::FlushOptions flush;
    flush.wait = true;
    (void)db->Flush(flush, handles).PermitUncheckedError();
  }
  for (auto* h : handles)
    db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  db->Close().PermitUncheckedError();
}

status journal::impl::advance_mark() {
  std::lock_guard lock{mark_mtx};
  // The seq first, then the WAL: the WAL named holds it or is newer.
  auto seq = last_seq.load(std::memory_order_acquire);
  if (seq <= mark.seq)
    return ok();
  high_water next{seq, {}, 0};
  std::unique_ptr<rocksdb::LogFile> wal;
  if (db->GetCurrentWalFile(&wal).ok() && wal) {
    next.wal = fs::path{wal->PathName()}.filename().string();
    next.wal_bytes = wal->SizeFileBytes();
  }
  auto st = write_high_water(dir, next);
  std::lock_guard error_lock{error_mtx};
  if (!st) {
    mark_error = st.error_value().message;
    return st;
  }
  mark = std::move(next);
  mark_seq.store(mark.seq, std::memory_order_release);
  mark_error.clear();
  return ok();
}

void journal::impl::run_marker() {
  std::unique_lock lock{marker_mtx};
  while (!marker_cv.wait_for(lock, mark_every, [&] { return marker_stop; })) {
    lock.unlock();
    if (!mark_held.load())
      (void)advance_mark(); // a failure is in mark_error; the next tick retries
    lock.lock();
  }
}

expected<std::unique_ptr<journal::impl>>
journal::impl::open_db(const std::string& dir, const std::string& scratch,
                       mode how) {
  auto p = std::make_unique<impl>();
  p->dir = dir;
  p->secondary = how == mode::secondary;
  // Read before the database: a primary running concurrently only raises it,
  // and only to seqs already durable.
  auto mark = read_high_water(dir);
  if (!mark)
    return mark.error_value();
  p->mark = *mark;
  p->mark_seq = mark->seq;
  auto opts = base_options();
  if (how == mode::accept_loss)
    opts.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  std::vector<std::string> names;
  auto listed = rocksdb::DB::ListColumnFamilies(opts, dir, &names);
  if (p->secondary) {
    if (!listed.ok())
      return p->failure(listed, "cannot open the journal for reading");
    if (!has(names, cf_events))
      return make_error(ec::corrupt_record,
                        "not a volant journal (no 'events' column family): "
                            + dir);
  }
  // A WAL with data, or none at all (a clean close leaves an empty one):
  // check read-only first, while nothing is changed yet.
  auto wals = wal_files(dir); // as they are before RocksDB recovers them
  if (how == mode::primary && listed.ok() && p->mark.seq > 0
      && (wals.empty()
          || std::any_of(wals.begin(), wals.end(),
                         [](const wal_file& w) { return w.bytes > 0; }))) {
    if (auto st = check_recovery(dir, names, opts, p->mark, wals); !st)
      return st.error_value();
  }
  for (auto want : {cf_events, cf_snapshots, cf_meta})
    if (!has(names, want))
      names.emplace_back(want);
  if (!has(names, rocksdb::kDefaultColumnFamilyName))
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
  if (!s.ok()) {
    // Refused by RocksDB's strict recovery (a reader, or a primary without a
    // mark yet): say what is lost and where, too.
    if (s.IsCorruption() && how != mode::accept_loss)
      if (auto st = check_recovery(dir, names, opts, p->mark, wals); !st)
        return st.error_value();
    return p->failure(s, "cannot open the journal");
  }
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
                      "not a volant journal (column families missing): " + dir);
  if (auto st = p->check_format(); !st)
    return st.error_value();
  if (auto st = p->refresh_last(); !st)
    return st.error_value();
  if (how == mode::accept_loss)
    return p;
  auto last = p->last_seq.load();
  if (last < p->mark.seq)
    return lost_tail(dir, p->mark, last, wals);
  if (how == mode::primary) {
    if (auto st = p->advance_mark(); !st)
      return st.error_value();
    p->marker = std::thread{[raw_p = p.get()] { raw_p->run_marker(); }};
  }
  return p;
}

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
  auto p = impl::open_db(dir, {}, impl::mode::primary);
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
  auto p = impl::open_db(dir, scratch_dir, impl::mode::secondary);
  if (!p)
    return p.error_value();
  return std::unique_ptr<journal>{new journal{std::move(*p)}};
}

expected<loss_report> journal::find_loss(const std::string& dir) {
  std::error_code err;
  if (!fs::exists(fs::path{dir} / "CURRENT", err))
    return make_error(ec::not_found, "no journal in " + dir);
  auto mark = read_high_water(dir);
  if (!mark)
    return mark.error_value();
  auto wals = wal_files(dir);
  auto opts = base_options();
  std::vector<std::string> names;
  if (auto s = rocksdb::DB::ListColumnFamilies(opts, dir, &names); !s.ok())
    return from_status(s, "cannot open the journal (journal at " + dir + ")");
  loss_report r;
  r.high_water_seq = mark->seq;
  auto strict = recovered_last(dir, names, opts);
  if (strict) {
    r.last_good_seq = *strict;
    if (*strict < mark->seq) {
      r.damaged = true;
      r.lost = mark->seq - *strict;
      r.damage = wal_damage(dir, *mark, wals);
    }
    return r;
  }
  if (strict.error_value().code != ec::corrupt_record)
    return strict.error_value();
  // Damage inside the WAL, which the strict recovery refuses: point-in-time
  // recovery keeps the records before it.
  opts.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  auto lenient = recovered_last(dir, names, opts);
  if (!lenient)
    return lenient.error_value();
  r.damaged = true;
  r.last_good_seq = *lenient;
  r.lost = mark->seq > *lenient ? mark->seq - *lenient : 0;
  r.damage = wal_damage(dir, *mark, wals)
             + " (RocksDB: " + rocksdb_words(strict.error_value()) + ")";
  return r;
}

expected<loss_report> journal::accept_loss(const std::string& dir) {
  auto found = find_loss(dir);
  if (!found || !found->damaged)
    return found;
  auto r = std::move(*found);
  auto saved = save_recovery_files(dir);
  if (!saved)
    return saved.error_value();
  r.saved_to = *saved;
  auto opened = impl::open_db(dir, {}, impl::mode::accept_loss);
  if (!opened)
    return opened.error_value();
  journal j{std::move(*opened)};
  auto& p = *j.impl_;
  auto last = p.last_seq.load();
  r.last_good_seq = last;
  r.lost = p.mark.seq > last ? p.mark.seq - last : 0;
  // Snapshots past the loss folded events the log no longer has.
  rocksdb::WriteBatch drop;
  {
    std::unique_ptr<rocksdb::Iterator> it{p.db->NewIterator({}, p.snapshots)};
    for (it->Seek(seq_key(last + 1)); it->Valid(); it->Next()) {
      if (auto s = drop.Delete(p.snapshots, it->key()); !s.ok())
        return p.failure(s, "cannot drop the snapshots past seq "
                                + std::to_string(last));
      ++r.snapshots_dropped;
    }
    if (!it->status().ok())
      return p.failure(it->status(), "cannot list the snapshots");
  }
  if (r.snapshots_dropped > 0) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    if (auto s = p.db->Write(wo, &drop); !s.ok())
      return p.failure(s, "cannot drop the snapshots past seq "
                              + std::to_string(last));
    r.damage += "; dropped " + std::to_string(r.snapshots_dropped)
                + " snapshot(s) past seq " + std::to_string(last);
  }
  // The lost seqs are never reused: the record goes right after the mark.
  p.last_seq.store(std::max(last, p.mark.seq));
  auto recs = j.append({journal_loss_accepted{
      last, p.mark.seq, r.lost, r.damage, r.saved_to, now_nanos()}});
  if (!recs)
    return recs.error_value();
  r.recorded = recs->front();
  if (auto st = p.advance_mark(); !st)
    return st.error_value();
  return r;
}

} // namespace volant::store
