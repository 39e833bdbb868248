#pragma once

// The fuzz targets of tests/fuzz. Each target is one file defining
// `LLVMFuzzerTestOneInput` (libFuzzer's entry point) and `volant::fuzz::accepts`,
// the code under test run on one input with its invariants asserted. Built with
// `-Dfuzz=true` (clang) a target is a libFuzzer binary (scripts/fuzz.sh); built
// with the normal compiler it links replay_main.cpp, which runs every file of
// tests/fuzz/corpus/<target>/ through it as a doctest case (suite `fuzz`).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace volant::fuzz {

/// Runs the target's code on `input`: true when it was accepted (decoded,
/// parsed), false when it was rejected with an error. A broken invariant
/// aborts (VOLANT_FUZZ_ASSERT), and so does any crash or uncaught exception.
bool accepts(std::span<const std::uint8_t> input);

/// The input as text (the parsers take text; any bytes are allowed).
inline std::string_view text_of(std::span<const std::uint8_t> input) {
  return {reinterpret_cast<const char*>(input.data()), input.size()};
}

/// Says which invariant broke and aborts: libFuzzer keeps the input as a crash,
/// the replay test fails.
[[noreturn]] inline void violated(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: fuzz invariant violated: %s\n", file, line, what);
  std::abort();
}

} // namespace volant::fuzz

/// Asserts an invariant of the code under test in every build type.
#define VOLANT_FUZZ_ASSERT(cond)                                               \
  ((cond) ? void() : ::volant::fuzz::violated(#cond, __FILE__, __LINE__))
