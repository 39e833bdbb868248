#pragma once

// The control endpoint's token: generated once per data directory, stored with
// mode 0600, compared in constant time.

#include "events/error.hpp"

#include <string>
#include <string_view>

namespace volant {

/// Whether `given` equals `expected`, in time that depends only on the length of
/// `expected` (never on where the first difference is).
bool token_equal(std::string_view given, std::string_view expected) noexcept;

/// Reads `path`, or creates it with 32 random bytes in hex and mode 0600.
expected<std::string> load_or_create_token(const std::string& path);

} // namespace volant
