#pragma once

// The one way volar reads a file the user names (a plugin manifest, a YAML
// Deployment, a credentials bundle): at most a limit, from a regular file or
// from stdin ("-"), never from a device, a FIFO or a directory.

#include "events/error.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace volant::cli {

/// The whole of `path` ("-": stdin), at most `limit` bytes. Refuses what is
/// not a regular file (`/dev/zero` would never end) and anything larger than
/// `limit`; `what` names the content in errors ("plugin manifest").
expected<std::string> read_input(const std::string& path, std::size_t limit,
                                 std::string_view what);

/// Reads `fd` to its end, at most `limit` bytes; `name` ("stdin", a path) and
/// `what` are for errors.
expected<std::string> read_limited(int fd, const std::string& name,
                                   std::size_t limit, std::string_view what);

} // namespace volant::cli
