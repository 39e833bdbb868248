#pragma once

// Persistent volumes on the host's disk (issue 14, docs/volumes.md): what is
// left of deleted ones is removed, and what each one holds is measured. The
// drivers make them (process_driver.cpp: directories; qemu_driver.cpp: ext4
// images); the journal decides which exist.

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace volant::runtime {

/// What sweep_volumes did.
struct swept {
  std::vector<std::string> removed; ///< deleted volumes' leftovers
  std::vector<std::string> kept;    ///< moved to `<dir>/lost+found`
};

/// Goes through the entries of `dir` named after a volume id ("<id>",
/// "<id>.ext4", "<id>.ext4.tmp"); other names are left alone. An id in `keep`
/// stays. An id up to `last_id` that is not in `keep` was deleted: its
/// leftovers are removed. An id above `last_id` is one the log does not know
/// (its events were lost, e.g. an accepted journal loss): never deleted, it is
/// moved to `<dir>/lost+found` for an operator to look at.
swept sweep_volumes(const std::string& dir, const std::set<std::uint64_t>& keep,
                    std::uint64_t last_id);

/// What a volume's directory or image holds on disk.
struct volume_usage {
  bool exists = false;
  bool image = false;             ///< an ext4 image (microVM), else a directory
  std::uint64_t used_bytes = 0;   ///< blocks allocated on the host
  std::uint64_t capacity_bytes = 0; ///< an image's size; 0 for a directory
};

/// Measures `source` (a directory, walked, or an image file).
volume_usage measure_volume(const std::string& source);

} // namespace volant::runtime
