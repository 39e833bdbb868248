// The RocksDB journal: appends, reads and snapshots. See journal.hpp for the
// contract; opening, the high-water mark and accepting a loss are in
// journal_open.cpp. Notes on the choices:
//
// - Group commit is leader/follower: every caller queues a request; whoever finds
//   no write in flight becomes the leader, takes *all* queued requests, numbers
//   them in queue order, writes one WriteBatch with `sync = true` and hands each
//   follower its committed records. The next leader is whoever is queued when it
//   finishes. Only the leader touches the next seq, so seqs are gap-free without
//   holding the mutex across the fsync; a failed write consumes no seqs. The
//   high-water mark is not on this path: the leader only publishes `last_seq`
//   (after the synced write), which the mark's thread reads.
// - Commit times never go backwards in the log (`at` = max(now, previous at)), so
//   a time-based query can binary-search the seqs.

#include "store/journal.hpp"

#include "store/codec.hpp"
#include "store/journal_impl.hpp"
#include "store/journal_testing.hpp"

#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <span>
#include <string_view>

namespace volant::store {

namespace detail {

std::optional<std::uint64_t> parse_key(const rocksdb::Slice& key) {
  if (key.size() != 8)
    return std::nullopt;
  std::uint64_t seq = 0;
  for (std::size_t i = 0; i < 8; ++i)
    seq = (seq << 8) | static_cast<std::uint8_t>(key[i]);
  return seq;
}

error from_status(const rocksdb::Status& s, const std::string& context) {
  auto code = s.IsCorruption() ? ec::corrupt_record : ec::io_error;
  return make_error(code, context + ": " + s.ToString());
}

} // namespace detail

namespace {

using detail::parse_key;
using detail::request;

constexpr std::string_view format_key = "format";
constexpr std::string_view format_value = "1";

std::span<const std::uint8_t> bytes_of(const rocksdb::Slice& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

rocksdb::Slice slice_of(const std::string& s) {
  return {s.data(), s.size()};
}

unix_nanos now_nanos() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(system_clock::now().time_since_epoch())
      .count();
}

/// Whether `rec`, found at `seq` where `expect` was due, is the record of an
/// accepted loss whose gap covers [expect, seq).
bool bridges_gap(const recorded_event& rec, std::uint64_t seq,
                 std::uint64_t expect) {
  const auto* loss = std::get_if<journal_loss_accepted>(&rec.ev);
  return loss != nullptr && rec.seq == seq && loss->high_water_seq + 1 == seq
         && loss->last_good_seq < expect;
}

} // namespace

status journal::impl::refresh_last() {
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

status journal::impl::check_format() {
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

std::vector<expected<std::vector<recorded_event>>>
journal::impl::commit(const std::vector<request*>& batch) {
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

expected<std::vector<recorded_event>>
journal::import(const std::vector<std::pair<std::uint64_t, std::string>>& records) {
  auto& p = *impl_;
  if (p.secondary)
    return make_error(ec::conflict, "journal at " + p.dir + " is open read-only");
  std::unique_lock lock{p.mtx};
  auto seq = p.last_seq.load(std::memory_order_acquire);
  std::vector<recorded_event> out;
  rocksdb::WriteBatch wb;
  for (const auto& [at_seq, bytes] : records) {
    if (at_seq <= seq)
      continue;
    if (at_seq != seq + 1)
      return make_error(ec::corrupt_record, "record " + std::to_string(at_seq)
                                                + " does not follow seq "
                                                + std::to_string(seq) + " (a gap)");
    auto rec = unpack_event(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
    if (!rec)
      return make_error(rec.error_value().code, "record " + std::to_string(at_seq) + ": "
                                                    + rec.error_value().message);
    if (rec->seq != at_seq)
      return make_error(ec::corrupt_record, "record " + std::to_string(at_seq)
                                                + " holds seq " + std::to_string(rec->seq));
    auto key = seq_key(at_seq);
    if (auto s = wb.Put(p.events, slice_of(key), rocksdb::Slice{bytes.data(), bytes.size()});
        !s.ok())
      return p.failure(s, "cannot build the write batch");
    seq = at_seq;
    out.push_back(std::move(*rec));
  }
  if (out.empty())
    return out;
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (auto s = p.db->Write(wo, &wb); !s.ok())
    return p.failure(s, "cannot store " + std::to_string(out.size()) + " records");
  p.last_seq.store(seq, std::memory_order_release);
  p.last_at = std::max(p.last_at, out.back().at);
  p.syncs.fetch_add(1, std::memory_order_relaxed);
  p.events_written.fetch_add(out.size(), std::memory_order_relaxed);
  return out;
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
    if (*seq != expect) {
      // Damage, unless this is the record of an accepted loss naming the gap.
      auto rec = unpack_event(bytes_of(it->value()));
      if (!rec || !bridges_gap(*rec, *seq, expect))
        return missing();
      expect = *seq;
    }
    if (*seq > to)
      break;
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
  // The snapshot is stored; a failed mark write is kept in stats() and retried
  // by the background thread, not reported as a failed snapshot (which the
  // caller would retry with the whole state).
  (void)p.advance_mark();
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
  journal_stats out;
  out.appends = p.appends.load(std::memory_order_relaxed);
  out.events = p.events_written.load(std::memory_order_relaxed);
  out.syncs = p.syncs.load(std::memory_order_relaxed);
  out.last_sync_us = p.last_sync_us.load(std::memory_order_relaxed);
  out.high_water = p.mark_seq.load(std::memory_order_acquire);
  std::lock_guard lock{p.error_mtx};
  out.high_water_error = p.mark_error;
  return out;
}

void testing::fail_next_writes(journal& j, int n) {
  j.impl_->injected_failures.store(n);
}

void testing::skip_flush_on_close(journal& j) {
  j.impl_->flush_on_close = false;
}

void testing::crash_on_close(journal& j) {
  j.impl_->flush_on_close = false;
  j.impl_->mark_on_close = false;
}

void testing::hold_high_water(journal& j) {
  j.impl_->mark_held.store(true);
}

} // namespace volant::store
