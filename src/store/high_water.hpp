#pragma once

// Private to src/store: the journal's high-water mark file and the files of
// RocksDB's write-ahead log, for journal.cpp and journal_open.cpp.
//
// The file `volant-high-water` in the database directory holds one line,
// "<seq> <wal> <bytes>": the highest seq known durable when it was written, and
// the write-ahead log that was current then with its size (the last two are
// absent in marks written by older builds). It is replaced atomically (write a
// temporary file, fsync, rename, fsync the directory), so it never holds a
// torn value.

#include "events/error.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace volant::store::detail {

inline constexpr const char* mark_file = "volant-high-water";

/// One high-water mark.
struct high_water {
  std::uint64_t seq = 0; ///< 0: no mark yet
  std::string wal;       ///< e.g. "000012.log"; empty if unknown
  std::uint64_t wal_bytes = 0;
};

/// The mark stored in `dir` (seq 0 when there is none yet).
expected<high_water> read_high_water(const std::string& dir);

/// Replaces the mark in `dir` atomically and durably.
status write_high_water(const std::string& dir, const high_water& mark);

/// Replaces `dir/name` with `content` atomically and durably.
status write_durably(const std::string& dir, const std::string& name,
                     const std::string& content);

/// A write-ahead log file of the database in `dir`.
struct wal_file {
  std::string name; ///< e.g. "000012.log"
  std::uint64_t bytes = 0;
};

/// The write-ahead logs (`*.log`) in `dir`, oldest first.
std::vector<wal_file> wal_files(const std::string& dir);

/// The error for a database that recovers only to `last` (`wals` as they were
/// before it was opened): one line naming the last good seq, the lost seqs and
/// the write-ahead log that held them. `refused` is RocksDB's reason when its
/// strict recovery refused the WAL (then `last` may be past the mark).
error lost_tail(const std::string& dir, const high_water& mark,
                std::uint64_t last, const std::vector<wal_file>& wals,
                const std::string& refused = {});

/// What was found about the write-ahead log of a lost tail, e.g. "the
/// write-ahead log D/000012.log is missing".
std::string wal_damage(const std::string& dir, const high_water& mark,
                       const std::vector<wal_file>& wals);

} // namespace volant::store::detail
