#pragma once

// Running the host tools a guest build uses (dpkg-deb, mke2fs, apt-get, lz4,
// ldconfig): argument vectors, no shell, output captured for the error.

#include "events/error.hpp"

#include <string>
#include <vector>

namespace volant::guest {

/// Runs argv[0] (looked up in PATH) with stdin from /dev/null; its stdout (and
/// stderr, merged) on success. An error names the tool, its exit status and the
/// last lines it printed. `stdout_to` (optional) receives stdout instead, and
/// then only stderr is captured.
expected<std::string> run_tool(const std::vector<std::string>& argv,
                               const std::string& stdout_to = {});

/// Whether `tool` is an executable in PATH.
bool have_tool(const std::string& tool);

/// The whole content of the file at `path` (empty if it cannot be read).
std::string read_whole_file(const std::string& path);

} // namespace volant::guest
