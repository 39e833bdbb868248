// The sealer of secret env: round trips, determinism, binding to deployment and
// key, the key file's checks, and that nothing but one clean error comes out of
// a value that was sealed with another key or changed in any way.

#include "secrets/sealer.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

using namespace volant;
using volant::secrets::sealer;

namespace {

std::array<std::uint8_t, secrets::key_bytes> key_of(std::uint8_t fill) {
  std::array<std::uint8_t, secrets::key_bytes> k{};
  k.fill(fill);
  return k;
}

sealer make(std::uint8_t fill) {
  auto s = sealer::from_key(key_of(fill));
  REQUIRE(s.has_value());
  return std::move(*s);
}

/// A fresh directory under the test's temp dir, removed at the end.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    auto base = std::filesystem::temp_directory_path();
    std::mt19937_64 rng(std::random_device{}());
    path = base
           / ("volant-sealer-" + std::to_string(::getpid()) + "-"
              + std::to_string(rng()));
    std::filesystem::create_directories(path);
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  }
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string file(const std::string& name) const {
    return (path / name).string();
  }
};

unsigned mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

constexpr const char* secret = "hunter2-s3cr3t-value";

} // namespace

TEST_CASE(
    "a sealed value opens to the value it sealed and shows nothing of it") {
  auto s = make(1);
  auto sealed = s.seal("web", "DB_PASSWORD", secret);
  REQUIRE(sealed.has_value());
  CHECK(sealed->starts_with("vs1." + s.key_id() + "."));
  CHECK(sealed->find(secret) == std::string::npos);
  CHECK(sealed->find("DB_PASSWORD") == std::string::npos);
  auto opened = s.open("web", "DB_PASSWORD", *sealed);
  REQUIRE(opened.has_value());
  CHECK(*opened == secret);
  // Empty and binary values too.
  for (std::string v :
       {std::string(), std::string("a\0b=c\n", 6), std::string(5000, 'x')}) {
    auto sv = s.seal("web", "K", v);
    REQUIRE(sv.has_value());
    auto back = s.open("web", "K", *sv);
    REQUIRE(back.has_value());
    CHECK(*back == v);
  }
}

TEST_CASE("sealing is deterministic per deployment, key and value") {
  auto s = make(1);
  auto a = *s.seal("web", "K", "v1");
  CHECK(*s.seal("web", "K", "v1") == a);
  CHECK(*s.seal("web", "K", "v2") != a);
  CHECK(*s.seal("api", "K", "v1") != a);
  CHECK(*s.seal("web", "K2", "v1") != a);
  // A different key file seals the same value differently.
  CHECK(*make(2).seal("web", "K", "v1") != a);
}

TEST_CASE(
    "a value sealed for one deployment or key does not open for another") {
  auto s = make(1);
  auto sealed = *s.seal("web", "K", secret);
  for (auto [dep, key] :
       {std::pair{"api", "K"}, std::pair{"web", "K2"}, std::pair{"we", "bK"}}) {
    auto r = s.open(dep, key, sealed);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error_value().code == ec::secret_unreadable);
    CHECK(r.error_value().message.find(secret) == std::string::npos);
  }
}

TEST_CASE(
    "a value sealed with another key fails cleanly, naming both key ids") {
  auto mine = make(1);
  auto theirs = make(2);
  REQUIRE(mine.key_id() != theirs.key_id());
  auto sealed = *theirs.seal("web", "DB_PASSWORD", secret);
  auto r = mine.open("web", "DB_PASSWORD", sealed);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error_value().code == ec::secret_unreadable);
  const auto& msg = r.error_value().message;
  CHECK(msg.find("DB_PASSWORD") != std::string::npos);
  CHECK(msg.find("another key") != std::string::npos);
  CHECK(msg.find(theirs.key_id()) != std::string::npos);
  CHECK(msg.find(secret) == std::string::npos);
  // Relabelled with this key's id, it still does not open (the AEAD tag).
  auto forged = sealed;
  forged.replace(4, 8, mine.key_id());
  auto f = mine.open("web", "DB_PASSWORD", forged);
  REQUIRE_FALSE(f.has_value());
  CHECK(f.error_value().code == ec::secret_unreadable);
}

TEST_CASE(
    "every changed, cut or extended sealed value is refused with one error") {
  auto s = make(7);
  auto sealed = *s.seal("web", "TOKEN", secret);
  auto refused = [&](const std::string& text) {
    auto r = s.open("web", "TOKEN", text);
    if (r.has_value()) {
      // Only an unchanged payload may open (base64 padding bits aside: none
      // here).
      CHECK(text == sealed);
      return;
    }
    CHECK(r.error_value().code == ec::secret_unreadable);
    CHECK(r.error_value().message.find(secret) == std::string::npos);
  };
  std::size_t opened_changed = 0;
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    for (char c : {'A', 'z', '0', '-', '_', '.', '=', '\0', '\xff'}) {
      if (sealed[i] == c)
        continue;
      auto t = sealed;
      t[i] = c;
      auto r = s.open("web", "TOKEN", t);
      if (r.has_value()) {
        ++opened_changed; // a base64 character whose unused low bits changed
        CHECK(*r == secret);
        continue;
      }
      CHECK(r.error_value().code == ec::secret_unreadable);
    }
  }
  // Unpadded base64url has at most one trailing character with unused bits,
  // and libsodium rejects non-zero padding bits: nothing changed opens.
  CHECK(opened_changed == 0);
  for (std::size_t n = 0; n < sealed.size(); ++n)
    refused(sealed.substr(0, n));
  refused(sealed + "A");
  refused(sealed + "AAAA");
  for (const char* junk :
       {"", "***", "vs1.", "vs1.00000000.", "vs1.zzzzzzzz.AAAA",
        "vs2.00000000.AAAA", "plain value"})
    refused(junk);
}

TEST_CASE("the key file is made once with mode 0600 and read back") {
  temp_dir dir;
  auto path = secrets::key_path(dir.path.string());
  auto first = sealer::load_or_create(path);
  REQUIRE(first.has_value());
  CHECK(mode_of(path) == 0600);
  auto text = slurp(path);
  CHECK(text.size() == 65); // 64 hex digits and a newline
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  auto sealed = *first->seal("web", "K", secret);
  auto again = sealer::load_or_create(path);
  REQUIRE(again.has_value());
  CHECK(again->key_id() == first->key_id());
  CHECK(slurp(path) == text); // never replaced
  CHECK(*again->open("web", "K", sealed) == secret);
  auto loaded = sealer::load(path);
  REQUIRE(loaded.has_value());
  CHECK(loaded->key_id() == first->key_id());
}

TEST_CASE("a key file readable or writable by group or others is refused") {
  temp_dir dir;
  auto path = secrets::key_path(dir.path.string());
  REQUIRE(sealer::load_or_create(path).has_value());
  for (unsigned mode : {0640u, 0604u, 0620u, 0602u, 0660u, 0644u, 0610u}) {
    CAPTURE(mode);
    REQUIRE(::chmod(path.c_str(), mode) == 0);
    for (bool create : {false, true}) {
      auto r = create ? sealer::load_or_create(path) : sealer::load(path);
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error_value().code == ec::io_error);
      CHECK(r.error_value().message.find("group or others")
            != std::string::npos);
    }
    CHECK(mode_of(path) == mode); // refused, not chmod'ed
  }
  REQUIRE(::chmod(path.c_str(), 0400) == 0);
  CHECK(sealer::load(path).has_value());
}

TEST_CASE(
    "a key file that is not 64 hex digits, a symlink or missing is refused") {
  temp_dir dir;
  auto path = dir.file("secret.key");
  auto write = [&](const std::string& text) {
    std::filesystem::remove(path);
    std::ofstream(path) << text;
    REQUIRE(::chmod(path.c_str(), 0600) == 0);
  };
  for (std::string text :
       {std::string(), std::string(63, 'a'), std::string(66, 'a'),
        std::string(64, 'g'), std::string(64, 'a') + "x"}) {
    write(text);
    auto r = sealer::load_or_create(path);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error_value().message.find("hex digits") != std::string::npos);
  }
  write(std::string(64, 'a') + "\n");
  CHECK(sealer::load(path).has_value());
  auto link = dir.file("link.key");
  std::filesystem::create_symlink(path, link);
  CHECK_FALSE(sealer::load(link).has_value());
  CHECK_FALSE(sealer::load(dir.file("absent.key")).has_value());
}
