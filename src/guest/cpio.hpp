#pragma once

// A newc cpio archive (an initramfs) written with libarchive: entries one by
// one, or a whole directory tree as root-owned entries with their own modes.

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>

struct archive;

namespace volant::guest {

class cpio_writer {
public:
  explicit cpio_writer(const std::string& path);
  ~cpio_writer();
  cpio_writer(const cpio_writer&) = delete;
  cpio_writer& operator=(const cpio_writer&) = delete;

  bool ok() const { return open_ && !failed_; }
  std::string error();

  void dir(const std::string& name, mode_t perm = 0755);
  void file(const std::string& name, const std::string& content, mode_t perm = 0644);
  void device(const std::string& name, unsigned major_, unsigned minor_, mode_t perm);

  /// Every file, directory and symlink under `root`, as root-owned entries
  /// with their own modes (what mke2fs -d would store).
  void tree(const std::filesystem::path& root);

  bool close();

private:
  void entry(const std::string& name, unsigned type, mode_t perm, const std::string& content);

  struct archive_deleter {
    void operator()(archive* a) const;
  };
  std::unique_ptr<archive, archive_deleter> a_;
  bool open_ = false;
  bool failed_ = false;
};

} // namespace volant::guest
