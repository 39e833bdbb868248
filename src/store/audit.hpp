#pragma once

// Audits over a journal, shared by `volant-replay` and the daemon's shell: the same
// fold everywhere, so that "state at seq N" means one thing.

#include "events/error.hpp"
#include "store/journal.hpp"

#include <cstdint>

namespace volant::store {

/// What `verify` checked.
struct verify_report {
  std::uint64_t events = 0;    ///< records decoded
  std::uint64_t first_seq = 0; ///< 0 when the log is empty
  std::uint64_t last_seq = 0;
  std::uint64_t snapshots = 0; ///< snapshots compared with the replay
  std::uint64_t losses = 0;    ///< journal_loss_accepted records
  std::uint64_t lost = 0;      ///< acknowledged events they say were lost
};

/// Decodes every record, checks that seqs are contiguous from 1 (but for the
/// gaps of accepted losses, each named by the `journal_loss_accepted` right
/// after it) and that every snapshot equals the fold of the log up to its seq.
/// The error names the first bad seq.
expected<verify_report> verify(const journal& j);

/// The last seq committed at or before `t` (0 when none was).
expected<std::uint64_t> seq_at_time(const journal& j, unix_nanos t);

} // namespace volant::store
