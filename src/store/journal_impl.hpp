#pragma once

// Private to src/store: the state behind `journal`, shared by journal.cpp
// (appends, reads, snapshots) and journal_open.cpp (opening, the high-water
// mark, accepting a loss).

#include "store/high_water.hpp"
#include "store/journal.hpp"

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace volant::store {

namespace detail {

/// One append() call waiting for its group commit.
struct request {
  std::vector<event> events;
  std::optional<expected<std::vector<recorded_event>>> result;
  std::condition_variable cv;
};

/// Options every instance opens the database with.
rocksdb::Options base_options();

error from_status(const rocksdb::Status& s, const std::string& context);

std::optional<std::uint64_t> parse_key(const rocksdb::Slice& key);

} // namespace detail

struct journal::impl {
  /// How often, at most, the background thread rewrites the high-water mark.
  static constexpr std::chrono::milliseconds mark_every{1000};

  std::string dir;
  bool secondary = false;
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::ColumnFamilyHandle* events = nullptr;
  rocksdb::ColumnFamilyHandle* snapshots = nullptr;
  rocksdb::ColumnFamilyHandle* meta = nullptr;

  std::atomic<std::uint64_t> last_seq{0};
  unix_nanos last_at = 0; ///< Primary only: set at open, then by each leader.

  std::mutex mtx;
  std::deque<detail::request*> queue; ///< Waiting requests, in arrival order.
  bool writing = false;               ///< A leader is committing.

  std::atomic<std::uint64_t> appends{0};
  std::atomic<std::uint64_t> events_written{0};
  std::atomic<std::uint64_t> syncs{0};
  std::atomic<std::uint64_t> last_sync_us{0};

  // The high-water mark (journal_open.cpp). `mark_mtx` serializes mark writes
  // and guards `mark`; readers of stats() use the two below and never wait for
  // a write in flight.
  std::mutex mark_mtx;
  detail::high_water mark;                ///< As last read or written.
  std::atomic<std::uint64_t> mark_seq{0}; ///< `mark.seq`, for stats()
  mutable std::mutex error_mtx;           ///< Guards `mark_error`.
  std::string mark_error; ///< Why the latest mark write failed, or "".
  std::mutex marker_mtx;  ///< Guards marker_stop.
  std::condition_variable marker_cv;
  bool marker_stop = false;
  std::thread marker; ///< Primary only: advances the mark.

  std::atomic<int> injected_failures{0}; ///< testing::fail_next_writes
  bool flush_on_close = true;            ///< testing::skip_flush_on_close
  bool mark_on_close = true;             ///< testing::crash_on_close
  std::atomic<bool> mark_held{false};    ///< testing::hold_high_water

  ~impl();

  error failure(const rocksdb::Status& s, const std::string& what) const {
    return detail::from_status(s, what + " (journal at " + dir + ")");
  }

  /// Reads the last seq (and commit time) from the end of the events family.
  status refresh_last();

  /// Checks (primary: writes) the format marker.
  status check_format();

  /// Numbers, encodes and durably writes every request of `batch`; returns each
  /// request's result in batch order. Called by the leader without the mutex.
  std::vector<expected<std::vector<recorded_event>>>
  commit(const std::vector<detail::request*>& batch);

  /// Raises the mark to the last committed seq if it is behind; never lowers
  /// it. Thread-safe.
  status advance_mark();

  /// The background thread's loop: advance_mark at most every `mark_every`.
  void run_marker();

  /// How an instance opens the database.
  enum class mode { primary, secondary, accept_loss };

  /// Opens the database in `dir`; `scratch` is a secondary's own directory.
  static expected<std::unique_ptr<impl>>
  open_db(const std::string& dir, const std::string& scratch, mode how);
};

} // namespace volant::store
