#pragma once

// volantd's data directory holds the token, the CA's and its own keys and the
// journal: nobody but volantd's user may change it, nor read the secrets in
// it. An existing directory or file that breaks this is refused with one line,
// never repaired (a chmod of `--data-dir /tmp` would break the machine).

#include "events/error.hpp"

#include <string>

namespace volant {

/// An existing data directory: a directory owned by this (effective) user,
/// not writable by group or others.
status check_data_dir(const std::string& dir);

/// The secrets volantd reads from an existing data directory: the token and
/// the TLS keys (and their directory) must be this user's, and the files
/// neither readable nor writable by group or others. Missing files pass (they
/// are created private).
status check_private_files(const std::string& dir);

/// Creates the data directory `dir` (and its parents) if missing, mode 0700;
/// an existing one is checked as check_data_dir, then its secrets as
/// check_private_files. Nothing is changed when it fails.
status prepare_data_dir(const std::string& dir);

} // namespace volant
