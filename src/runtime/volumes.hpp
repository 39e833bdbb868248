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

/// Removes every entry of `dir` named after a volume id ("<id>", "<id>.ext4",
/// "<id>.ext4.tmp") whose id is not in `keep`; other names are left alone.
/// Returns the names removed.
std::vector<std::string> sweep_volumes(const std::string& dir,
                                       const std::set<std::uint64_t>& keep);

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
