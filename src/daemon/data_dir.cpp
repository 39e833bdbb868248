#include "daemon/data_dir.hpp"

#include "tls/credentials.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace volant {

namespace {

std::string octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

error refuse(const std::string& message) {
  return make_error(ec::io_error, message);
}

/// The owner of `st` is not this user: who it is, for the message.
std::string owner_problem(const std::string& what, const std::string& path,
                          const struct stat& st) {
  return what + " " + path + " is owned by uid " + std::to_string(st.st_uid)
         + ", not by volantd's user (uid " + std::to_string(::geteuid())
         + "): refusing to use it";
}

/// A directory of volantd's: this user's, not writable by group or others.
status check_dir(const std::string& what, const std::string& path,
                 const struct stat& st) {
  if (!S_ISDIR(st.st_mode))
    return refuse(what + " " + path + " is not a directory");
  if (st.st_uid != ::geteuid())
    return refuse(owner_problem(what, path, st)
                  + " (give a directory of your own)");
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    return refuse(what + " " + path + " is writable by group or others (mode "
                  + octal(st.st_mode)
                  + "): refusing to use it, and not changing it (make "
                    "it private with chmod 700, or give another --data-dir)");
  return ok();
}

} // namespace

status check_data_dir(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0)
    return refuse("cannot use data directory " + dir + ": "
                  + std::strerror(errno));
  return check_dir("data directory", dir, st);
}

status check_private_files(const std::string& dir) {
  tls::layout files{dir};
  struct stat st {};
  if (::stat(files.dir.c_str(), &st) == 0)
    if (auto s = check_dir("TLS directory", files.dir, st); !s)
      return s;
  for (const auto& path : {dir + "/token", files.ca_key(), files.server_key(),
                           files.client_key()}) {
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT)
        continue;
      return refuse("cannot check " + path + ": " + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
      return refuse(path + " is not a regular file");
    if (st.st_uid != ::geteuid())
      return refuse(owner_problem("secret", path, st));
    if ((st.st_mode & 077) != 0)
      return refuse(path + " is readable or writable by group or others (mode "
                    + octal(st.st_mode)
                    + "): refusing to use it, and not changing it "
                      "(chmod 600 "
                    + path + ")");
  }
  return ok();
}

status prepare_data_dir(const std::string& dir) {
  std::error_code err;
  if (std::filesystem::exists(dir, err)) {
    if (auto st = check_data_dir(dir); !st)
      return st;
    return check_private_files(dir);
  }
  std::filesystem::create_directories(dir, err);
  if (err)
    return refuse("cannot create data directory " + dir + ": " + err.message());
  // Ours, just made: private from the start.
  if (::chmod(dir.c_str(), 0700) != 0)
    return refuse("cannot make " + dir + " private: " + std::strerror(errno));
  return ok();
}

} // namespace volant
