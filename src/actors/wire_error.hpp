#pragma once

// volant::error <-> caf::error. Errors cross the wire as CAF errors of category
// atom("volant"), code = the pinned ec number, context = one string message.

#include "events/error.hpp"

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace volant {

inline constexpr caf::atom_value error_category = caf::atom("volant");

inline caf::error to_caf(const error& err) {
  return caf::error(static_cast<std::uint8_t>(err.code), error_category,
                    caf::make_message(err.message));
}

/// A CAF error as ours: our category keeps code and text; CAF's own errors
/// (timeouts, broken connections) become io_error / daemon_unreachable.
error from_caf(const caf::error& err, const std::string& rendered);

} // namespace volant
