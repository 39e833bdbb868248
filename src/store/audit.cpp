#include "store/audit.hpp"

#include "events/state.hpp"

#include <optional>
#include <string>

namespace volant::store {

expected<verify_report> verify(const journal& j) {
  verify_report report;
  auto snaps = j.snapshot_seqs();
  auto next_snap = snaps.begin();
  world folded;
  std::optional<error> mismatch;
  // Checks the snapshots up to `seq`, the record after `prev`.
  auto check_snapshots_at = [&](std::uint64_t prev, std::uint64_t seq) {
    for (; next_snap != snaps.end() && *next_snap <= seq; ++next_snap) {
      if (*next_snap != seq && *next_snap > prev) {
        mismatch = make_error(ec::corrupt_record,
                              "snapshot at seq " + std::to_string(*next_snap)
                                + " lies in the seqs of an accepted loss ("
                                + std::to_string(prev + 1) + ".."
                                + std::to_string(seq - 1) + ")");
        return false;
      }
      if (*next_snap != seq)
        continue; // a snapshot of the empty log (seq 0)
      auto snap = j.read_snapshot(seq);
      if (!snap) {
        mismatch = snap.error_value();
        return false;
      }
      if (!*snap || **snap != folded) {
        mismatch = make_error(ec::corrupt_record,
                              "snapshot at seq " + std::to_string(seq)
                                + " differs from the replay of the log");
        return false;
      }
      ++report.snapshots;
    }
    return true;
  };
  auto st = j.read(1, max_seq, [&](const recorded_event& rec) {
    if (report.events == 0)
      report.first_seq = rec.seq;
    const auto* loss = std::get_if<journal_loss_accepted>(&rec.ev);
    if (rec.seq != report.last_seq + 1
        && !(loss && loss->last_good_seq == report.last_seq
             && loss->high_water_seq + 1 == rec.seq)) {
      mismatch = make_error(ec::corrupt_record,
                            "seq " + std::to_string(report.last_seq + 1)
                              + " is missing (next record is seq "
                              + std::to_string(rec.seq) + ")");
      return false;
    }
    if (loss) {
      ++report.losses;
      report.lost += loss->lost;
    }
    apply(folded, rec);
    ++report.events;
    auto prev = report.last_seq;
    report.last_seq = rec.seq;
    return check_snapshots_at(prev, rec.seq);
  });
  if (!st)
    return st.error_value();
  if (mismatch)
    return *mismatch;
  if (next_snap != snaps.end())
    return make_error(ec::corrupt_record,
                      "snapshot at seq " + std::to_string(*next_snap)
                        + " is beyond the end of the log (last seq "
                        + std::to_string(report.last_seq) + ")");
  if (report.last_seq != j.last_seq())
    return make_error(ec::corrupt_record,
                      "log ends at seq " + std::to_string(report.last_seq)
                        + " but the journal reports seq "
                        + std::to_string(j.last_seq()));
  return report;
}

expected<std::uint64_t> seq_at_time(const journal& j, unix_nanos t) {
  std::uint64_t last = 0;
  auto st = j.read(1, max_seq, [&](const recorded_event& rec) {
    if (rec.at > t)
      return false;
    last = rec.seq;
    return true;
  });
  if (!st)
    return st.error_value();
  return last;
}

} // namespace volant::store
