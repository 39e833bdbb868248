#include "guest/volume.hpp"

#include "guest/tools.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace volant::guest {

namespace {

namespace fs = std::filesystem;

/// An ext4 label (at most 16 bytes) after the mount path: "/srv/my data" ->
/// "my-data", for `blkid` in the guest.
std::string volume_label(const std::string& path) {
  auto name = fs::path(path).filename().string();
  std::string out;
  for (char c : name) {
    if (out.size() == 16)
      break;
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                 || (c >= '0' && c <= '9') || c == '_' || c == '.';
    out += plain ? c : '-';
  }
  return out.empty() ? "volant" : out;
}

/// Whether `path` has the ext2/3/4 superblock magic (0xEF53 at byte 1080).
bool has_ext4_magic(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  unsigned char magic[2] = {0, 0};
  bool found = ::pread(fd, magic, 2, 1080) == 2 && magic[0] == 0x53
               && magic[1] == 0xEF;
  ::close(fd);
  return found;
}

/// mke2fs in PATH, or where Debian puts it (a non-root PATH lacks /sbin).
std::string find_mke2fs() {
  if (have_tool("mke2fs"))
    return "mke2fs";
  for (const char* p : {"/usr/sbin/mke2fs", "/sbin/mke2fs"})
    if (::access(p, X_OK) == 0)
      return p;
  return {};
}

/// fsync of a file or directory; false (errno set) when it fails.
bool sync_path(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0)
    return false;
  bool synced = ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  errno = saved;
  return synced;
}

} // namespace

expected<bool> ensure_volume_image(const std::string& image,
                                   std::int64_t size_mib,
                                   const std::string& mount_path) {
  auto fail = [&](ec code, const std::string& what) {
    return make_error(code, "volume " + mount_path + ": " + what);
  };
  if (image.empty())
    return fail(ec::invalid_argument, "no image file");
  struct stat st {};
  if (::stat(image.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode))
      return fail(
          ec::invalid_argument,
          image
              + " is a directory (a volume of the process runtime?); a microVM "
                "needs an ext4 image file there");
    if (!S_ISREG(st.st_mode))
      return fail(ec::invalid_argument, image + " is not a regular file");
    // Attached read-write: never hand the guest a file that is not a
    // filesystem it would mount (and never reformat one that is).
    if (!has_ext4_magic(image))
      return fail(ec::invalid_argument, image + " is not an ext4 image");
    return false;
  }
  if (errno != ENOENT)
    return fail(ec::io_error,
                "cannot look at " + image + ": " + std::strerror(errno));
  // 16 TiB: ext4's limit with 4 KiB blocks and no 64bit feature.
  if (size_mib < 1 || size_mib > (std::int64_t{16} << 20))
    return fail(ec::invalid_argument,
                "size " + std::to_string(size_mib) + " MiB (1 MiB to 16 TiB)");
  auto mke2fs = find_mke2fs();
  if (mke2fs.empty())
    return fail(ec::not_found, "mke2fs not found (install e2fsprogs)");
  auto parent = fs::path(image).parent_path();
  std::error_code fs_err;
  if (!parent.empty())
    fs::create_directories(parent, fs_err);
  if (fs_err)
    return fail(ec::io_error,
                "cannot create " + parent.string() + ": " + fs_err.message());
  // Made under another name (what a crashed start left there goes first):
  // the image's name only ever names a whole filesystem.
  auto tmp = image + ".tmp";
  fs::remove(tmp, fs_err);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return fail(ec::io_error,
                "cannot create " + tmp + ": " + std::strerror(errno));
  bool sized = ::ftruncate(fd, static_cast<off_t>(size_mib) << 20) == 0;
  int saved = errno;
  ::close(fd);
  auto give_up = [&](const std::string& what) {
    fs::remove(tmp, fs_err);
    return fail(ec::io_error, "making " + image + ": " + what);
  };
  if (!sized)
    return give_up(std::string("truncate: ") + std::strerror(saved));
  if (auto made = run_tool({mke2fs, "-q", "-t", "ext4", "-F", "-E",
                            "root_owner=0:0", "-L", volume_label(mount_path),
                            tmp, std::to_string(size_mib) + "M"});
      !made)
    return give_up(made.error_value().message);
  if (!sync_path(tmp, O_RDONLY))
    return give_up(std::string("fsync: ") + std::strerror(errno));
  if (::rename(tmp.c_str(), image.c_str()) != 0)
    return give_up(std::string("rename: ") + std::strerror(errno));
  // The rename itself survives a crash once the directory is synced.
  static_cast<void>(sync_path(parent.empty() ? "." : parent.string(),
                              O_RDONLY | O_DIRECTORY));
  return true;
}

} // namespace volant::guest
