#include "actors/directory.hpp"

namespace volant {

std::string actor_path(const std::string& kind, const std::string& name) {
  return name.empty() ? kind : kind + "/" + name;
}

void actor_directory::enter(const std::string& kind, const std::string& name,
                            caf::actor_addr addr, std::int64_t now) {
  auto path = actor_path(kind, name);
  std::lock_guard guard{mutex_};
  auto restarts = crashes_.count(path) ? crashes_[path] : 0;
  entries_[path] = actor_entry{path, kind, name.empty() ? kind : name, std::move(addr), now,
                               restarts};
}

void actor_directory::leave(const std::string& path, const caf::actor_addr& addr,
                            bool crashed) {
  std::lock_guard guard{mutex_};
  if (crashed)
    ++crashes_[path];
  else
    crashes_.erase(path);
  if (auto it = entries_.find(path); it != entries_.end() && it->second.addr == addr)
    entries_.erase(it);
}

std::vector<actor_entry> actor_directory::list(const std::string& kind) const {
  std::lock_guard guard{mutex_};
  std::vector<actor_entry> out;
  for (const auto& [path, entry] : entries_)
    if (kind.empty() || entry.kind == kind)
      out.push_back(entry);
  return out;
}

std::optional<actor_entry> actor_directory::find(const std::string& path) const {
  std::lock_guard guard{mutex_};
  for (const auto& candidate :
       {path, "vm/" + path, "deployment/" + path, "probe/" + path})
    if (auto it = entries_.find(candidate); it != entries_.end())
      return it->second;
  return std::nullopt;
}

} // namespace volant
