// The fuzz targets without libFuzzer: every file of the target's seed corpus
// (VOLANT_FUZZ_CORPUS, tests/fuzz/corpus/<target>/) run through
// volant::fuzz::accepts, as one doctest case per target (meson suite `fuzz`).
// A seed named valid-* must be accepted and one named invalid-* rejected;
// other names (inputs libFuzzer found, crash-* reproducers) must only not
// crash. Built with the normal compiler, in seconds; scripts/fuzz.sh runs the
// same targets under libFuzzer.

#include "fuzz.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#ifndef VOLANT_FUZZ_TARGET
#error "VOLANT_FUZZ_TARGET names the target (tests/fuzz/meson.build)"
#endif

namespace fs = std::filesystem;

namespace {

std::vector<std::uint8_t> read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace

TEST_SUITE_BEGIN("fuzz");

TEST_CASE("every seed of the " VOLANT_FUZZ_TARGET " fuzz corpus runs through the "
          "target: valid-* accepted, invalid-* rejected, none crashes") {
  const char* dir = std::getenv("VOLANT_FUZZ_CORPUS");
  REQUIRE_MESSAGE(dir != nullptr, "VOLANT_FUZZ_CORPUS is not set");
  std::vector<fs::path> seeds;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file())
      seeds.push_back(entry.path());
  std::sort(seeds.begin(), seeds.end());
  int valid = 0, invalid = 0;
  for (const auto& seed : seeds) {
    auto name = seed.filename().string();
    INFO("seed " << seed.string());
    auto bytes = read_all(seed);
    bool accepted = volant::fuzz::accepts(bytes);
    if (name.starts_with("valid-")) {
      ++valid;
      CHECK_MESSAGE(accepted, name << " was rejected");
    } else if (name.starts_with("invalid-")) {
      ++invalid;
      CHECK_MESSAGE(!accepted, name << " was accepted");
    }
  }
  MESSAGE(VOLANT_FUZZ_TARGET ": " << seeds.size() << " seeds (" << valid << " valid, "
                                  << invalid << " invalid)");
  // A corpus without both kinds would not show that the target tells them apart.
  CHECK(valid > 0);
  CHECK(invalid > 0);
}

TEST_SUITE_END();
