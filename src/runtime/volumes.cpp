#include "runtime/volumes.hpp"

#include <sys/stat.h>

#include <charconv>
#include <filesystem>

namespace volant::runtime {

namespace fs = std::filesystem;

std::vector<std::string> sweep_volumes(const std::string& dir,
                                       const std::set<std::uint64_t>& keep) {
  std::vector<std::string> removed;
  std::error_code err;
  for (const auto& entry : fs::directory_iterator(dir, err)) {
    auto name = entry.path().filename().string();
    std::uint64_t id = 0;
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
    auto rest = std::string_view(end, name.data() + name.size() - end);
    bool ours = ec == std::errc{} && end != name.data()
                && (rest.empty() || rest == ".ext4" || rest == ".ext4.tmp");
    if (!ours || keep.contains(id))
      continue;
    std::error_code gone;
    fs::remove_all(entry.path(), gone);
    if (!gone)
      removed.push_back(name);
  }
  return removed;
}

volume_usage measure_volume(const std::string& source) {
  volume_usage out;
  struct stat st{};
  if (::lstat(source.c_str(), &st) != 0)
    return out;
  out.exists = true;
  if (S_ISREG(st.st_mode)) {
    out.image = true;
    out.capacity_bytes = static_cast<std::uint64_t>(st.st_size);
    out.used_bytes = static_cast<std::uint64_t>(st.st_blocks) * 512;
    return out;
  }
  out.used_bytes = static_cast<std::uint64_t>(st.st_blocks) * 512;
  std::error_code err;
  for (fs::recursive_directory_iterator it(source, fs::directory_options::skip_permission_denied,
                                           err),
       end;
       !err && it != end; it.increment(err)) {
    struct stat s{};
    if (::lstat(it->path().c_str(), &s) == 0)
      out.used_bytes += static_cast<std::uint64_t>(s.st_blocks) * 512;
  }
  return out;
}

} // namespace volant::runtime
