#include "runtime/volumes.hpp"

#include <sys/stat.h>

#include <charconv>
#include <filesystem>

namespace volant::runtime {

namespace fs = std::filesystem;

swept sweep_volumes(const std::string& dir, const std::set<std::uint64_t>& keep,
                    std::uint64_t last_id) {
  swept out;
  std::error_code err;
  std::vector<fs::path> entries;
  for (const auto& entry : fs::directory_iterator(dir, err))
    entries.push_back(entry.path());
  for (const auto& path : entries) {
    auto name = path.filename().string();
    std::uint64_t id = 0;
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
    auto rest = std::string_view(end, name.data() + name.size() - end);
    bool ours = ec == std::errc{} && end != name.data()
                && (rest.empty() || rest == ".ext4" || rest == ".ext4.tmp");
    if (!ours || keep.contains(id))
      continue;
    std::error_code done;
    if (id > last_id) {
      auto lost = fs::path(dir) / "lost+found";
      fs::create_directories(lost, done);
      fs::rename(path, lost / name, done);
      if (!done)
        out.kept.push_back(name);
      continue;
    }
    fs::remove_all(path, done);
    if (!done)
      out.removed.push_back(name);
  }
  return out;
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
