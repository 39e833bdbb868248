#pragma once

// Test seams of the journal, for tests/store only: failures that a real disk
// produces rarely and at random.

#include "store/journal.hpp"

namespace volant::store::testing {

/// Makes the next `n` synced writes of `j` fail as an I/O error would, without
/// writing anything.
void fail_next_writes(journal& j, int n);

/// Makes closing `j` skip the memtable flush, leaving the events in the write-ahead
/// log as a crash (kill -9) does.
void skip_flush_on_close(journal& j);

} // namespace volant::store::testing
