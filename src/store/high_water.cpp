#include "store/high_water.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

namespace volant::store::detail {
namespace {

namespace fs = std::filesystem;

error errno_error(const std::string& what) {
  return make_error(ec::io_error, what + ": " + std::strerror(errno));
}

} // namespace

status write_durably(const std::string& dir, const std::string& name,
                     const std::string& content) {
  auto path = dir + "/" + name;
  auto tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return errno_error("cannot create " + tmp);
  const char* p = content.data();
  auto left = content.size();
  while (left > 0) {
    auto n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      auto err = errno_error("cannot write " + tmp);
      ::close(fd);
      return err;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    auto err = errno_error("cannot sync " + tmp);
    ::close(fd);
    return err;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return errno_error("cannot rename " + tmp);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return errno_error("cannot open " + dir);
  int rc = ::fsync(dfd);
  ::close(dfd);
  if (rc != 0)
    return errno_error("cannot sync " + dir);
  return ok();
}

expected<high_water> read_high_water(const std::string& dir) {
  auto path = dir + "/" + mark_file;
  std::ifstream in{path};
  if (!in) {
    std::error_code err;
    if (!fs::exists(path, err))
      return high_water{};
    return make_error(ec::io_error, "cannot read " + path);
  }
  std::string line;
  std::getline(in, line);
  std::istringstream fields{line};
  high_water mark;
  if (!(fields >> mark.seq))
    return make_error(ec::corrupt_record,
                      "malformed high-water mark in " + path);
  // Older marks hold the seq alone.
  if (fields >> mark.wal && !(fields >> mark.wal_bytes))
    return make_error(ec::corrupt_record,
                      "malformed high-water mark in " + path);
  return mark;
}

status write_high_water(const std::string& dir, const high_water& mark) {
  auto line = std::to_string(mark.seq);
  if (!mark.wal.empty())
    line += " " + mark.wal + " " + std::to_string(mark.wal_bytes);
  return write_durably(dir, mark_file, line + "\n");
}

std::vector<wal_file> wal_files(const std::string& dir) {
  std::vector<wal_file> out;
  std::error_code err;
  for (const auto& e : fs::directory_iterator(dir, err)) {
    auto name = e.path().filename().string();
    if (!name.ends_with(".log") || !e.is_regular_file(err))
      continue;
    out.push_back({name, static_cast<std::uint64_t>(e.file_size(err))});
  }
  // RocksDB numbers them with leading zeros: the name order is the age order.
  std::sort(out.begin(), out.end(), [](const wal_file& a, const wal_file& b) {
    return a.name.size() != b.name.size() ? a.name.size() < b.name.size()
                                          : a.name < b.name;
  });
  return out;
}

std::string wal_damage(const std::string& dir, const high_water& mark,
                       const std::vector<wal_file>& wals) {
  if (mark.wal.empty()) {
    if (wals.empty())
      return "no write-ahead log is left in " + dir;
    return "the write-ahead log " + dir + "/" + wals.back().name
           + " or another database file is damaged";
  }
  auto path = dir + "/" + mark.wal;
  auto it = std::find_if(wals.begin(), wals.end(),
                         [&](const wal_file& w) { return w.name == mark.wal; });
  if (it == wals.end())
    return "the write-ahead log " + path + " is missing";
  if (it->bytes < mark.wal_bytes)
    return "the write-ahead log " + path + " was cut ("
           + std::to_string(it->bytes) + " of " + std::to_string(mark.wal_bytes)
           + " bytes left)";
  return "the write-ahead log " + path
         + " (or another database file) is damaged";
}

error lost_tail(const std::string& dir, const high_water& mark,
                std::uint64_t last, const std::vector<wal_file>& wals,
                const std::string& refused) {
  auto why = wal_damage(dir, mark, wals)
             + (refused.empty() ? "" : " (RocksDB: " + refused + ")");
  auto how_to = "; volant-replay repair --accept-loss goes on without them and "
                "records the loss";
  if (last >= mark.seq)
    return make_error(
        ec::corrupt_record,
        "journal at " + dir
            + " has a damaged write-ahead log: it recovers to seq "
            + std::to_string(last) + " (last good seq " + std::to_string(last)
            + "), past the high-water mark (seq " + std::to_string(mark.seq)
            + "), but records after it may be lost: " + why + how_to);
  auto first_lost = last + 1;
  auto range = first_lost == mark.seq
                   ? "seq " + std::to_string(mark.seq) + " is"
                   : "seqs " + std::to_string(first_lost) + ".."
                         + std::to_string(mark.seq) + " are";
  return make_error(
      ec::corrupt_record,
      "journal at " + dir + " lost acknowledged records: it ends at seq "
          + std::to_string(last) + " but seq " + std::to_string(mark.seq)
          + " was durable (" + dir + "/" + mark_file + "); " + range
          + " lost (last good seq " + std::to_string(last) + "): " + why
          + how_to);
}

} // namespace volant::store::detail
