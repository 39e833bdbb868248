#pragma once

// Test seams of the journal, for tests/store only: failures that a real disk
// produces rarely and at random.

#include "store/journal.hpp"

namespace volant::store::testing {

/// Makes the next `n` synced writes of `j` fail as an I/O error would, without
/// writing anything.
void fail_next_writes(journal& j, int n);

/// Makes closing `j` skip the memtable flush, leaving the events in the write-ahead
/// log as a crash (kill -9) does. The close still advances the high-water mark.
void skip_flush_on_close(journal& j);

/// Makes closing `j` do what kill -9 does to it: no flush, and no high-water
/// mark written beyond what the background thread already wrote.
void crash_on_close(journal& j);

/// Stops the background thread of `j` from advancing the high-water mark, as if
/// the crash came before its next tick; snapshots and a clean close still do.
void hold_high_water(journal& j);

} // namespace volant::store::testing
