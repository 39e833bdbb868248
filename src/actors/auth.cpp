#include "actors/auth.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace volant {

bool token_equal(std::string_view given, std::string_view expected) noexcept {
  unsigned diff = given.size() != expected.size() ? 1u : 0u;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    auto g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0u;
    diff |= g ^ static_cast<unsigned char>(expected[i]);
  }
  return diff == 0 && !expected.empty();
}

expected<std::string> load_or_create_token(const std::string& path) {
  if (std::ifstream in(path); in) {
    std::string token;
    std::getline(in, token);
    if (token.size() >= 32)
      return token;
    return make_error(ec::io_error, "the token in " + path
                                      + " is too short; delete it to get a new one");
  }
  unsigned char raw[32];
  if (getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw))
    return make_error(ec::io_error, "getrandom: " + std::string(std::strerror(errno)));
  static const char* hex = "0123456789abcdef";
  std::string token;
  for (auto b : raw) {
    token += hex[b >> 4];
    token += hex[b & 15];
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return make_error(ec::io_error,
                      "cannot create " + path + ": " + std::strerror(errno));
  auto line = token + "\n";
  bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  fchmod(fd, 0600);
  ::fsync(fd);
  ::close(fd);
  if (!written)
    return make_error(ec::io_error, "cannot write " + path);
  return token;
}

} // namespace volant
