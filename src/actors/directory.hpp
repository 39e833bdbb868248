#pragma once

// The live actors of volantd by path ("vm/web-0", "probe/web-0", "deployment/web",
// "controller", "journal", "api", "root"), for the remote shell's `ls` and
// `inspect`. Every actor enlists itself when it starts and leaves when it ends;
// the directory holds weak addresses only, so it never keeps an actor alive.
// Thread-safe: actors on every scheduler thread enter and leave.

#include <caf/actor_addr.hpp>

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace volant {

struct actor_entry {
  std::string path;      ///< "vm/web-0", or the kind alone for singletons
  std::string kind;      ///< "vm", "probe", "deployment", "controller", ...
  std::string name;      ///< "web-0", or the kind for singletons
  caf::actor_addr addr;
  std::int64_t started_at = 0; ///< Unix ns of this incarnation's start
  std::uint32_t restarts = 0;  ///< incarnations of this path that crashed before
};

class actor_directory {
public:
  /// Records the actor now at `kind`/`name` (empty name: a singleton).
  void enter(const std::string& kind, const std::string& name, caf::actor_addr addr,
             std::int64_t now);

  /// Forgets `addr` at `path` (a newer incarnation stays). `crashed`: its
  /// successor counts one more restart; else the count starts over.
  void leave(const std::string& path, const caf::actor_addr& addr, bool crashed);

  /// Entries of one kind ("" = all), ordered by path.
  std::vector<actor_entry> list(const std::string& kind = {}) const;

  /// The entry at `path`; a bare name ("web-0", "web") is tried as a VM, then a
  /// deployment, then a probe.
  std::optional<actor_entry> find(const std::string& path) const;

private:
  mutable std::mutex mutex_;
  std::map<std::string, actor_entry> entries_;
  std::map<std::string, std::uint32_t> crashes_; ///< by path, survives incarnations
};

/// "vm/web-0" (or "controller" for a singleton).
std::string actor_path(const std::string& kind, const std::string& name);

} // namespace volant
