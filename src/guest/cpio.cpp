#include "guest/cpio.hpp"

#include "guest/tools.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <sys/stat.h>

#include <algorithm>
#include <vector>

namespace volant::guest {

namespace fs = std::filesystem;

void cpio_writer::archive_deleter::operator()(archive* a) const {
  archive_write_free(a);
}

cpio_writer::cpio_writer(const std::string& path) : a_(archive_write_new()) {
  archive_write_set_format_cpio_newc(a_.get());
  open_ = archive_write_open_filename(a_.get(), path.c_str()) == ARCHIVE_OK;
}

cpio_writer::~cpio_writer() = default;

std::string cpio_writer::error() {
  const char* text = archive_error_string(a_.get());
  return text != nullptr ? text : "?";
}

void cpio_writer::dir(const std::string& name, mode_t perm) {
  entry(name, AE_IFDIR, perm, {});
}

void cpio_writer::file(const std::string& name, const std::string& content, mode_t perm) {
  entry(name, AE_IFREG, perm, content);
}

void cpio_writer::device(const std::string& name, unsigned major_, unsigned minor_, mode_t perm) {
  auto* e = archive_entry_new();
  archive_entry_set_pathname(e, name.c_str());
  archive_entry_set_filetype(e, AE_IFCHR);
  archive_entry_set_perm(e, perm);
  archive_entry_set_rdevmajor(e, major_);
  archive_entry_set_rdevminor(e, minor_);
  archive_entry_set_size(e, 0); // newc wants a size on every entry
  failed_ |= archive_write_header(a_.get(), e) < ARCHIVE_WARN;
  archive_entry_free(e);
}

void cpio_writer::tree(const fs::path& root) {
  std::error_code ec_;
  std::vector<fs::path> all;
  for (auto it = fs::recursive_directory_iterator(root, ec_); it != fs::recursive_directory_iterator();
       it.increment(ec_))
    all.push_back(it->path());
  std::sort(all.begin(), all.end());
  for (const auto& p : all) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0)
      continue;
    auto name = p.lexically_relative(root).string(); // never through a symlink
    auto* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, 0); // newc wants a size on every entry
    archive_entry_set_perm(e, st.st_mode & 07777);
    archive_entry_set_uid(e, st.st_uid);
    archive_entry_set_gid(e, st.st_gid);
    archive_entry_set_mtime(e, st.st_mtime, 0);
    std::string content;
    if (S_ISDIR(st.st_mode)) {
      archive_entry_set_filetype(e, AE_IFDIR);
    } else if (S_ISLNK(st.st_mode)) {
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_symlink(e, fs::read_symlink(p, ec_).c_str());
    } else if (S_ISREG(st.st_mode)) {
      archive_entry_set_filetype(e, AE_IFREG);
      content = read_whole_file(p);
      archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    } else {
      archive_entry_free(e);
      continue;
    }
    failed_ |= archive_write_header(a_.get(), e) < ARCHIVE_WARN;
    if (!content.empty())
      failed_ |= archive_write_data(a_.get(), content.data(), content.size()) < 0;
    archive_entry_free(e);
  }
}

bool cpio_writer::close() {
  failed_ |= archive_write_close(a_.get()) < ARCHIVE_WARN;
  return ok();
}

void cpio_writer::entry(const std::string& name, unsigned type, mode_t perm,
                        const std::string& content) {
  auto* e = archive_entry_new();
  archive_entry_set_pathname(e, name.c_str());
  archive_entry_set_filetype(e, type);
  archive_entry_set_perm(e, perm);
  archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
  failed_ |= archive_write_header(a_.get(), e) < ARCHIVE_WARN;
  if (!content.empty())
    failed_ |= archive_write_data(a_.get(), content.data(), content.size()) < 0;
  archive_entry_free(e);
}

} // namespace volant::guest
