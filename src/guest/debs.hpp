#pragma once

// Debian packages for guest images, offline: the local package cache (a
// directory of .deb files that `volar guest fetch` fills from Debian's
// archive), the control fields of each, and the dependency closure of a
// plugin's packages, resolved from that cache alone (docs/guests.md).

#include "events/error.hpp"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace volant::guest {

/// One .deb of the cache, as its control fields describe it.
struct deb_package {
  std::string name;
  std::string version;
  std::string file; ///< path of the .deb
  /// Depends and Pre-Depends: each group lists alternatives ("a | b").
  std::vector<std::vector<std::string>> depends;
  std::vector<std::string> provides;
  bool essential = false;
};

/// "Field: value" lines of a control file (continuation lines joined), by field.
std::map<std::string, std::string> parse_control(std::string_view text);

/// A Depends-style field as groups of alternative package names, without
/// version constraints or architecture qualifiers:
/// "libc6 (>= 2.34), debconf | debconf-2.0" -> {{libc6}, {debconf, debconf-2.0}}.
std::vector<std::vector<std::string>> parse_depends(std::string_view field);

/// The packages to unpack for `roots`: the roots and, transitively, their
/// Depends and Pre-Depends. Of a group of alternatives, one already chosen is
/// kept, else the first the cache has (by name, then by Provides). Ordered by
/// name. An error lists every package the cache lacks and the command that
/// fetches them.
expected<std::vector<deb_package>> closure(const std::vector<deb_package>& cache,
                                           const std::vector<std::string>& roots,
                                           const std::string& fetch_hint);

/// The packages in `dir` (every *.deb; of several versions of one package the
/// newest file). Control fields are read with dpkg-deb once per file and kept
/// in `dir/.volant-index`.
expected<std::vector<deb_package>> scan_cache(const std::string& dir);

/// Fills `dir` from Debian's archive with `packages` and their dependency
/// closure (apt-cache depends, apt-get download); needs the network. Returns
/// how many files were fetched.
expected<std::size_t> fetch_packages(const std::string& dir,
                                     const std::vector<std::string>& packages);

} // namespace volant::guest
