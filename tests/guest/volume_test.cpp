// Volume images (src/guest/volume.cpp) made with the host's mke2fs and read
// back with dumpe2fs and the superblock itself; never remade. No root needed.

#include "guest/volume.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

using namespace volant;
using namespace volant::guest;
namespace fs = std::filesystem;

namespace {

template <class T> std::string why(const volant::expected<T>& e) {
  return e ? std::string() : e.error_value().message;
}

/// What a driver asks for: the image, the mount path, its size when made.
struct image_spec {
  std::string source;
  std::string path;
  std::int64_t size_mib = 0;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// `dumpe2fs -h` of `image` (e2fsprogs, in /sbin for Debian).
std::string dumpe2fs(const std::string& image) {
  auto r = volant::test::run("PATH=$PATH:/usr/sbin:/sbin dumpe2fs -h '" + image
                             + "'");
  REQUIRE_MESSAGE(r.exit_code == 0, "dumpe2fs " << image << ": " << r.err);
  return r.out;
}

/// A dumpe2fs field's value ("Block count:   4096" -> "4096").
std::string field(const std::string& text, const std::string& name) {
  auto lines = "\n" + text;
  auto at = lines.find("\n" + name + ":");
  if (at == std::string::npos)
    return {};
  auto start = lines.find_first_not_of(' ', at + name.size() + 2);
  return lines.substr(start, lines.find('\n', start) - start);
}

} // namespace

TEST_CASE("a missing volume image is made as an ext4 filesystem of its size, in "
          "new directories") {
  volant::test::temp_dir tmp;
  image_spec v{tmp / "vols/deep/db-0.img", "/srv/my data", 64};
  auto made = ensure_volume_image(v.source, v.size_mib, v.path);
  REQUIRE_MESSAGE(made, why(made));
  CHECK(*made);
  REQUIRE(fs::is_regular_file(v.source));
  CHECK(fs::file_size(v.source) == 64u << 20);
  CHECK_FALSE(fs::exists(v.source + ".tmp"));
  struct stat st {};
  REQUIRE(::stat(v.source.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600); // the guest's data, volantd's alone
  // The ext4 superblock: magic 0xEF53 at byte 1080.
  auto bytes = read_bytes(v.source);
  REQUIRE(bytes.size() > 1082);
  CHECK(static_cast<unsigned char>(bytes[1080]) == 0x53);
  CHECK(static_cast<unsigned char>(bytes[1081]) == 0xEF);
  auto info = dumpe2fs(v.source);
  CHECK(field(info, "Filesystem volume name") == "my-data");
  CHECK(field(info, "Filesystem features").find("has_journal")
        != std::string::npos);
  CHECK(field(info, "Filesystem features").find("extent") != std::string::npos);
  CHECK(std::stoll(field(info, "Block count"))
            * std::stoll(field(info, "Block size"))
        == std::int64_t{64} << 20);
}

TEST_CASE("an existing volume image is kept byte for byte, never made again") {
  volant::test::temp_dir tmp;
  image_spec v{tmp / "db-0.img", "/data", 32};
  REQUIRE(ensure_volume_image(v.source, v.size_mib, v.path));
  auto before = read_bytes(v.source);
  // Another size asked later does not reformat or resize it either.
  v.size_mib = 64;
  auto again = ensure_volume_image(v.source, v.size_mib, v.path);
  REQUIRE_MESSAGE(again, why(again));
  CHECK_FALSE(*again);
  CHECK(read_bytes(v.source) == before); // mke2fs would have written a new UUID
}

TEST_CASE("what a crashed start left half made is replaced, never mounted") {
  volant::test::temp_dir tmp;
  image_spec v{tmp / "db-0.img", "/data", 16};
  std::ofstream(v.source + ".tmp") << "half an image";
  auto made = ensure_volume_image(v.source, v.size_mib, v.path);
  REQUIRE_MESSAGE(made, why(made));
  CHECK(*made);
  CHECK_FALSE(fs::exists(v.source + ".tmp"));
  CHECK(fs::file_size(v.source) == 16u << 20);
}

TEST_CASE("a directory or a file that is not ext4 in the image's place is an "
          "error naming the volume") {
  volant::test::temp_dir tmp;
  // A process-runtime volume of the same name.
  image_spec dir{tmp / "vols/db-0", "/var/lib/db", 64};
  fs::create_directories(dir.source);
  auto r = ensure_volume_image(dir.source, dir.size_mib, dir.path);
  REQUIRE_FALSE(r);
  CHECK(r.error_value().message.find("volume /var/lib/db: ") == 0);
  CHECK(r.error_value().message.find(dir.source + " is a directory")
        != std::string::npos);
  CHECK(fs::is_directory(dir.source));

  image_spec text{tmp / "notes.img", "/notes", 64};
  std::ofstream(text.source) << "not a filesystem";
  r = ensure_volume_image(text.source, text.size_mib, text.path);
  REQUIRE_FALSE(r);
  CHECK(r.error_value().message.find("is not an ext4 image")
        != std::string::npos);
  CHECK(read_bytes(text.source) == "not a filesystem");

  image_spec empty{tmp / "zero.img", "/zero", 0};
  r = ensure_volume_image(empty.source, empty.size_mib, empty.path);
  REQUIRE_FALSE(r);
  CHECK(r.error_value().message.find("size 0 MiB") != std::string::npos);
  CHECK_FALSE(fs::exists(empty.source));
}
