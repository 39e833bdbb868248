#include "events/undo.hpp"

#include <algorithm>
#include <set>

namespace volant {

void fold_revision(std::vector<revision_record>& revs, const std::string& name, const event& ev) {
  if (const auto* c = std::get_if<deployment_created>(&ev); c && c->spec.name == name) {
    revs.clear();
    revs.push_back({c->revision, c->spec.tmpl, c->at, c->spec.strategy.revision_history});
  } else if (const auto* u = std::get_if<deployment_updated>(&ev);
             u && u->name == name && !revs.empty()) {
    if (u->revision == revs.back().revision) // the strategy only: no new revision
      revs.back().keep = u->strategy.revision_history;
    else
      revs.push_back({u->revision, u->tmpl, u->at, u->strategy.revision_history});
  } else if (const auto* d = std::get_if<deployment_deleted>(&ev); d && d->name == name) {
    revs.clear();
  }
}

expected<update_deployment> undo_to(const std::vector<revision_record>& revs,
                                    const std::string& name,
                                    std::optional<std::uint64_t> to) {
  if (revs.empty())
    return make_error(ec::unknown_deployment, "deployment '" + name + "' does not exist");
  const auto& current = revs.back();
  const revision_record* target = nullptr;
  if (!to) {
    if (revs.size() < 2)
      return make_error(ec::conflict, "deployment '" + name + "' has no earlier revision (it is at "
                                          "revision " + std::to_string(current.revision) + ")");
    target = &revs[revs.size() - 2];
  } else {
    auto it = std::find_if(revs.begin(), revs.end(),
                           [&](const revision_record& r) { return r.revision == *to; });
    if (it == revs.end())
      return make_error(ec::invalid_argument,
                        "revision " + std::to_string(*to) + " is not in the history of '" + name
                            + "' (revisions " + std::to_string(revs.front().revision) + " to "
                            + std::to_string(current.revision) + ")");
    target = &*it;
    auto kept = static_cast<std::size_t>(std::max(current.keep, 1));
    if (static_cast<std::size_t>(revs.end() - it) > kept)
      return make_error(ec::invalid_argument,
                        "revision " + std::to_string(*to) + " of '" + name
                            + "' is older than the " + std::to_string(kept)
                            + " revisions kept (--revision-history)");
  }
  if (target->revision == current.revision)
    return make_error(ec::conflict, "deployment '" + name + "' is at revision "
                                        + std::to_string(current.revision) + " already");
  if (target->tmpl.volumes != current.tmpl.volumes)
    return make_error(ec::conflict, "revision " + std::to_string(target->revision) + " of '"
                                        + name + "' has other volumes: an undo cannot change them");
  const auto& t = target->tmpl;
  update_deployment u;
  u.name = name;
  u.plugin = t.plugin;
  u.cpu = t.cpu;
  u.memory_mib = t.memory_mib;
  u.vm_labels = t.vm_labels;
  u.env = t.env;
  // Sealed values are copied as they are: the undo never sees a secret.
  u.secret_env_set = t.secret_env;
  std::set<std::string> keep;
  for (const auto& s : t.secret_env)
    keep.insert(s.key);
  for (const auto& s : current.tmpl.secret_env)
    if (!keep.count(s.key))
      u.secret_env_remove.push_back(s.key);
  if (t.health)
    u.health = t.health;
  if (t.readiness)
    u.readiness = t.readiness;
  u.reason = "rollout undo to revision " + std::to_string(target->revision);
  return u;
}

} // namespace volant
