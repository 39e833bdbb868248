#pragma once

// The journal: an append-only event log in RocksDB.
//
// Column families: `events` (key: big-endian u64 seq -> EventEnvelope bytes),
// `snapshots` (key: big-endian u64 seq of the last folded event -> Snapshot bytes)
// and `meta` (small string keys: "format" -> "1"). Next to the database, the file
// `volant-high-water` holds the last seq seen at the latest open or close of a
// primary; a database that ends before it (a damaged MANIFEST, lost files) fails
// to open with ec::corrupt_record instead of reading as a shorter log.
//
// `append` is group-committed: every call queued while a synced write is in flight
// goes out with the next one, in a single WriteBatch with `sync = true`; each call
// returns only once its events are durable, with gap-free, strictly increasing
// seqs in queue order, and commit times (`recorded_event::at`) that never go
// backwards. Reads verify every record and report the first bad one by seq;
// nothing is ever skipped.
//
// Errors: ec::io_error (disk, open), ec::corrupt_record (damaged record or
// database; names the seq where known), ec::unsupported_version (written by a
// newer volant), ec::conflict (a write on a secondary, a snapshot ahead of the
// log).

#include "events/error.hpp"
#include "events/events.hpp"
#include "events/state.hpp"

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace volant::store {

inline constexpr std::uint64_t max_seq = std::numeric_limits<std::uint64_t>::max();

/// Append statistics for inspection (shell, benchmarks).
struct journal_stats {
  std::uint64_t appends = 0;       ///< append() calls completed
  std::uint64_t events = 0;        ///< events written
  std::uint64_t syncs = 0;         ///< synced WriteBatches (group commits)
  std::uint64_t last_sync_us = 0;  ///< duration of the latest synced write
};

class journal;

namespace testing {
void fail_next_writes(journal& j, int n); // see journal_testing.hpp
void skip_flush_on_close(journal& j);     // see journal_testing.hpp
} // namespace testing

class journal {
public:
  /// Opens (creating if needed) the database in directory `dir` for writing.
  /// Refuses a non-empty directory without a database in it.
  static expected<std::unique_ptr<journal>> open(const std::string& dir);

  /// Opens `dir` read-only while another process may hold it open for writing
  /// (a RocksDB secondary instance; `scratch_dir` holds its own info log).
  static expected<std::unique_ptr<journal>>
  open_secondary(const std::string& dir, const std::string& scratch_dir);

  ~journal();
  journal(const journal&) = delete;
  journal& operator=(const journal&) = delete;

  /// Appends `events` atomically, stamped with the current time; blocks until they
  /// are durable (fsynced) and returns them as committed. Thread-safe. On a
  /// failed write nothing is committed and no seq is consumed (ec::io_error).
  expected<std::vector<recorded_event>> append(std::vector<event> events);

  /// The seq of the last committed event (0 when empty).
  std::uint64_t last_seq() const;

  /// Calls `visit` for each record with seq in [from, to] in order until it returns
  /// false. A record that fails verification stops the read with ec::corrupt_record
  /// naming its seq; a gap in the seqs likewise.
  status read(std::uint64_t from, std::uint64_t to,
              const std::function<bool(const recorded_event&)>& visit) const;

  /// Stores `w` as the snapshot at `w.last_seq` (synced); ec::conflict when
  /// `w.last_seq` is beyond the log.
  status write_snapshot(const world& w);

  /// The newest snapshot with seq <= `at_most`, if any (verified).
  expected<std::optional<world>> read_snapshot(std::uint64_t at_most = max_seq) const;

  /// Seqs of all stored snapshots, ascending.
  std::vector<std::uint64_t> snapshot_seqs() const;

  /// The state as of seq `at_most`: the newest snapshot at or before it plus the
  /// tail of the log, folded with `volant::apply`.
  expected<world> load(std::uint64_t at_most = max_seq) const;

  /// Secondary instances: pick up what the primary wrote since. No-op on a primary.
  status catch_up();

  /// Whether this instance is a read-only secondary.
  bool read_only() const noexcept;

  journal_stats stats() const;

  struct impl;

private:
  friend void testing::fail_next_writes(journal& j, int n);
  friend void testing::skip_flush_on_close(journal& j);
  explicit journal(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// Encodes a seq as the 8-byte big-endian key.
std::string seq_key(std::uint64_t seq);

} // namespace volant::store
