#pragma once

// The crash test hook: every actor answers `crash_atom` by throwing when the path
// names it, so the supervisor tree is tested with real crashes. The daemon only
// routes these when started with --enable-crash-hook.

#include <stdexcept>
#include <string>

namespace volant {

/// Thrown by an actor told to crash; its supervisor sees sec::runtime_error.
[[noreturn]] inline void crash_now(const std::string& path) {
  throw std::runtime_error("crash requested for " + path);
}

/// "vm/web-3" -> "web-3"; "" if `path` is not of `kind`.
inline std::string crash_target(const std::string& path, const std::string& kind) {
  auto prefix = kind + "/";
  return path.rfind(prefix, 0) == 0 ? path.substr(prefix.size()) : std::string{};
}

} // namespace volant
