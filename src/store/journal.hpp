#pragma once

// The journal: an append-only event log in RocksDB.
//
// Column families: `events` (key: big-endian u64 seq -> EventEnvelope bytes),
// `snapshots` (key: big-endian u64 seq of the last folded event -> Snapshot bytes)
// and `meta` (small string keys: "format" -> "1").
//
// `append` is group-committed: every call queued while a synced write is in flight
// goes out with the next one, in a single WriteBatch with `sync = true`; each call
// returns only once its events are durable, with gap-free, strictly increasing
// seqs in queue order, and commit times (`recorded_event::at`) that never go
// backwards. Reads verify every record and report the first bad one by seq;
// nothing is ever skipped.
//
// Durability and recovery: the high-water mark. RocksDB recovers its write-ahead
// log (WAL) to the last whole record, so that a kill -9 in the middle of a write
// (a torn record nobody was told about) costs nothing but that record. The same
// recovery reads a WAL that was cut, zeroed or deleted as a shorter log. So the
// journal keeps its own record of what it acknowledged: the file
// `volant-high-water` in the database directory holds the highest seq known
// durable (with the WAL current then). A primary advances it off the append
// path: a background thread rewrites it (write, fsync, rename) at most once a
// second when the log grew, and `write_snapshot` and a clean close advance it at
// once. It never goes backwards and never runs ahead of what is durable.
//
// The window: opening (primary or secondary) checks the recovered last seq
// against the mark. Events acknowledged more than about one second (one mark
// interval plus one mark write) before a crash are covered: if damage to the
// WAL (or to other database files: a cut MANIFEST, lost table files) loses any
// of them, the open fails with ec::corrupt_record naming the WAL, the last good
// seq and the lost seqs, and changes nothing on disk (a primary checks with a
// read-only open first, because RocksDB's own recovery would replace the
// damaged WAL). Events acknowledged within that last second before a crash are
// not covered: damage that loses only them can look like a torn record (a cut,
// zeros from a record boundary on), and then the journal opens without them;
// damage that RocksDB's strict recovery refuses (a bad checksum inside the WAL)
// is refused wherever it is. After a clean close or a snapshot, everything
// before it is covered.
//
// `accept_loss` (volant-replay repair --accept-loss) goes on knowingly: it keeps
// copies of the WALs, recovers what RocksDB can, and appends a
// `journal_loss_accepted` event at seq mark + 1. The lost seqs stay a gap that
// only this record bridges (`read` reports any other gap), so a seq never names
// two events and the mark never goes backwards.
//
// Errors: ec::io_error (disk, open), ec::corrupt_record (damaged record or
// database, lost acknowledged records; names the seq where known),
// ec::unsupported_version (written by a newer volant), ec::conflict (a write on
// a secondary, a snapshot ahead of the log).

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
  std::uint64_t high_water = 0;    ///< the durable high-water mark
  std::string high_water_error;    ///< why the latest mark write failed, or ""
};

/// What a journal lost, as `find_loss` and `accept_loss` report it.
struct loss_report {
  std::uint64_t last_good_seq = 0;  ///< the recovered log ends here
  std::uint64_t high_water_seq = 0; ///< the journal had acknowledged up to here
  std::uint64_t lost = 0;           ///< acknowledged records missing
  std::string damage;               ///< what was found, one line
  bool damaged = false;             ///< whether there is anything to accept
  std::uint64_t snapshots_dropped = 0; ///< accept_loss: snapshots past the loss
  std::string saved_to;             ///< accept_loss: copies of the WALs
  std::optional<recorded_event> recorded; ///< accept_loss: the event appended
};

class journal;

namespace testing {
void fail_next_writes(journal& j, int n); // see journal_testing.hpp
void skip_flush_on_close(journal& j);     // see journal_testing.hpp
void crash_on_close(journal& j);          // see journal_testing.hpp
void hold_high_water(journal& j);         // see journal_testing.hpp
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

  /// What `open` would find lost in `dir`, without changing anything: records
  /// below the high-water mark missing, or a WAL that RocksDB's strict
  /// recovery refuses. `damaged` is false for a whole journal. Errors: the
  /// database cannot be read even by point-in-time recovery, or is not there.
  static expected<loss_report> find_loss(const std::string& dir);

  /// Accepts the loss `find_loss` reports and makes `dir` open again: copies the
  /// WAL files to `<dir>.before-repair-<time>/`, recovers to the last whole
  /// record, drops snapshots past it, appends `journal_loss_accepted` at seq
  /// max(last good, mark) + 1 and advances the mark to it. A whole journal is
  /// left alone (`damaged` false). Needs the database to itself (no volantd).
  static expected<loss_report> accept_loss(const std::string& dir);

  ~journal();
  journal(const journal&) = delete;
  journal& operator=(const journal&) = delete;

  /// Appends `events` atomically, stamped with the current time; blocks until they
  /// are durable (fsynced) and returns them as committed. Thread-safe. On a
  /// failed write nothing is committed and no seq is consumed (ec::io_error).
  expected<std::vector<recorded_event>> append(std::vector<event> events);

  /// Stores records committed elsewhere, as they are (a cluster host's copy
  /// of the cluster log, issue 16): `records` are (seq, envelope bytes) in
  /// order. Those at or below `last_seq()` are skipped (already here); the
  /// rest must follow it without a gap and decode, or nothing is stored
  /// (ec::corrupt_record naming the seq). Synced like an append; returns the
  /// records stored, decoded. Thread-safe; a journal is either a copy
  /// (import) or a log of its own (append), never both.
  expected<std::vector<recorded_event>>
  import(const std::vector<std::pair<std::uint64_t, std::string>>& records);
  /// The seq of the last committed event (0 when empty).
  std::uint64_t last_seq() const;

  /// Calls `visit` for each record with seq in [from, to] in order until it returns
  /// false. A record that fails verification stops the read with ec::corrupt_record
  /// naming its seq; a gap in the seqs likewise, except the gap of an accepted
  /// loss, which the `journal_loss_accepted` record right after it names.
  status read(std::uint64_t from, std::uint64_t to,
              const std::function<bool(const recorded_event&)>& visit) const;

  /// Stores `w` as the snapshot at `w.last_seq` (synced) and advances the
  /// high-water mark; ec::conflict when `w.last_seq` is beyond the log. A failed
  /// mark write does not fail the stored snapshot: it shows in `stats()` and the
  /// background thread retries it.
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
  friend void testing::crash_on_close(journal& j);
  friend void testing::hold_high_water(journal& j);
  explicit journal(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// Encodes a seq as the 8-byte big-endian key.
std::string seq_key(std::uint64_t seq);

} // namespace volant::store
