// volar's one file reader (src/cli/read_input.cpp): regular files and stdin up
// to a limit, never a device, a FIFO or a directory.

#include "cli/read_input.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <thread>

using namespace volant;
using volant::test::temp_dir;

namespace {

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE(
    "a regular file is read whole up to the limit, and refused above it") {
  temp_dir dir;
  std::ofstream(dir / "m.json") << std::string(1000, 'x');
  auto text = cli::read_input(dir / "m.json", 1000, "plugin manifest");
  REQUIRE(text.has_value());
  CHECK(text->size() == 1000);
  auto over = cli::read_input(dir / "m.json", 999, "plugin manifest");
  REQUIRE_FALSE(over.has_value());
  CHECK(over.error_value().message
        == dir / "m.json"
               + " is larger than 999 bytes, the limit of a plugin manifest");
}

TEST_CASE("devices, FIFOs and directories are refused without reading them") {
  temp_dir dir;
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
  for (const auto& [path, kind] :
       {std::pair<std::string, std::string>{"/dev/zero", "a character device"},
        {"/dev/null", "a character device"},
        {dir / "fifo", "a FIFO"},
        {dir.path(), "a directory"}}) {
    CAPTURE(path);
    auto r = cli::read_input(path, 1 << 20, "YAML manifest");
    REQUIRE_FALSE(r.has_value());
    CHECK(contains(r.error_value().message, "it is " + kind + ", not a file"));
  }
  auto missing = cli::read_input(dir / "nope", 10, "YAML manifest");
  REQUIRE_FALSE(missing.has_value());
  CHECK(contains(missing.error_value().message, "No such file or directory"));
}

TEST_CASE("a stream is read to its end, at most the limit") {
  ::signal(SIGPIPE, SIG_IGN);
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  std::thread writer([w = fds[1]] {
    std::string chunk(4096, 'y');
    for (int i = 0; i < 64; ++i)
      if (::write(w, chunk.data(), chunk.size()) < 0)
        break;
    ::close(w);
  });
  auto r = cli::read_limited(fds[0], "stdin", 10000, "plugin manifest");
  ::close(fds[0]); // the writer, blocked on a full pipe, gets EPIPE
  writer.join();
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error_value().message
        == "stdin is larger than 10000 bytes, the limit of a plugin manifest");

  REQUIRE(::pipe(fds) == 0);
  REQUIRE(::write(fds[1], "{}", 2) == 2);
  ::close(fds[1]);
  auto small = cli::read_limited(fds[0], "stdin", 10000, "plugin manifest");
  ::close(fds[0]);
  REQUIRE(small.has_value());
  CHECK(*small == "{}");
}
