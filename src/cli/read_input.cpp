#include "cli/read_input.hpp"

#include "events/limits.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace volant::cli {

namespace {

std::string kind_of(mode_t mode) {
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISCHR(mode))
    return "a character device";
  if (S_ISBLK(mode))
    return "a block device";
  if (S_ISFIFO(mode))
    return "a FIFO";
  if (S_ISSOCK(mode))
    return "a socket";
  return "not a regular file";
}

error too_large(const std::string& name, std::string_view what,
                std::size_t limit) {
  return make_error(ec::invalid_argument,
                    name + " is larger than " + describe_bytes(limit)
                        + ", the limit of a " + std::string(what));
}

} // namespace

expected<std::string> read_limited(int fd, const std::string& name,
                                   std::size_t limit, std::string_view what) {
  std::string out;
  char buf[65536];
  while (true) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return make_error(ec::io_error,
                        "cannot read " + name + ": " + std::strerror(errno));
    if (n == 0)
      return out;
    if (out.size() + static_cast<std::size_t>(n) > limit)
      return too_large(name, what, limit);
    out.append(buf, static_cast<std::size_t>(n));
  }
}

expected<std::string> read_input(const std::string& path, std::size_t limit,
                                 std::string_view what) {
  if (path == "-")
    return read_limited(STDIN_FILENO, "stdin", limit, what);
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0)
    return make_error(ec::io_error,
                      "cannot read " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    auto why = std::string(std::strerror(errno));
    ::close(fd);
    return make_error(ec::io_error, "cannot read " + path + ": " + why);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(ec::invalid_argument,
                      "cannot read " + path + ": it is " + kind_of(st.st_mode)
                          + ", not a file (give a file, or - for stdin)");
  }
  if (static_cast<std::size_t>(st.st_size) > limit) {
    ::close(fd);
    return too_large(path, what, limit);
  }
  auto text = read_limited(fd, path, limit, what);
  ::close(fd);
  return text;
}

} // namespace volant::cli
