// The volumes directory's sweep (runtime/volumes.hpp): what the log deleted
// goes, what it keeps stays, what it does not know is set aside, never deleted.

#include "runtime/volumes.hpp"

#include "support/process.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

TEST_CASE("sweep: deleted volumes' leftovers go, kept ones stay, unknown ones are set aside") {
  volant::test::temp_dir tmp;
  auto dir = tmp.path();
  for (auto name : {"2", "3.ext4", "4.ext4.tmp", "9", "12.ext4", "notes"})
    std::ofstream(fs::path(dir) / name) << "data";
  fs::create_directories(fs::path(dir) / "1" / "pgdata");
  std::ofstream(fs::path(dir) / "1" / "pgdata" / "f") << "rows";
  // The log knows ids up to 10 and keeps 2 and 4.
  auto swept = volant::runtime::sweep_volumes(dir, {2, 4}, 10);
  CHECK(fs::exists(fs::path(dir) / "2"));
  CHECK(fs::exists(fs::path(dir) / "4.ext4.tmp"));
  CHECK_FALSE(fs::exists(fs::path(dir) / "1"));
  CHECK_FALSE(fs::exists(fs::path(dir) / "3.ext4"));
  CHECK_FALSE(fs::exists(fs::path(dir) / "9"));
  CHECK(fs::exists(fs::path(dir) / "notes"));
  CHECK(swept.removed.size() == 3);
  // 12 is above every id the log has given: its events were lost, not its data.
  REQUIRE(swept.kept == std::vector<std::string>{"12.ext4"});
  CHECK_FALSE(fs::exists(fs::path(dir) / "12.ext4"));
  CHECK(fs::exists(fs::path(dir) / "lost+found" / "12.ext4"));
  CHECK(volant::runtime::sweep_volumes(dir, {2, 4}, 10).removed.empty());
}

TEST_CASE("a volume's size on disk: a directory walked, an image's allocation and size") {
  volant::test::temp_dir tmp;
  auto d = fs::path(tmp.path()) / "7";
  fs::create_directories(d / "sub");
  std::ofstream(d / "sub" / "f") << std::string(100000, 'x');
  auto use = volant::runtime::measure_volume(d.string());
  CHECK(use.exists);
  CHECK_FALSE(use.image);
  CHECK(use.used_bytes >= 100000);
  auto img = fs::path(tmp.path()) / "8.ext4";
  std::ofstream(img).close();
  fs::resize_file(img, 64u << 20); // sparse
  use = volant::runtime::measure_volume(img.string());
  CHECK(use.image);
  CHECK(use.capacity_bytes == 64u << 20);
  CHECK(use.used_bytes < (1u << 20));
  CHECK_FALSE(volant::runtime::measure_volume((fs::path(tmp.path()) / "none").string()).exists);
}
