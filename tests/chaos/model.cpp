#include "chaos/model.hpp"

#include <algorithm>
#include <sstream>

namespace volant::chaos {

namespace {

template <class T>
void set_or_add(std::set<T>& field, const T& value, bool certain) {
  if (certain)
    field = {value};
  else
    field.insert(value);
}

template <class T> std::string show(const std::set<T>& values) {
  std::ostringstream out;
  out << "{";
  bool first = true;
  for (const auto& v : values) {
    out << (first ? "" : ", ") << std::boolalpha << v;
    first = false;
  }
  out << "}";
  return out.str();
}

/// "alpha: paused false, acknowledged {true}" when `seen` is not in `allowed`.
template <class T>
void compare(std::vector<std::string>& out, const std::string& name,
             const char* field, const T& seen, const std::set<T>& allowed) {
  if (allowed.empty() || allowed.count(seen))
    return;
  std::ostringstream line;
  line << name << ": " << field << " is " << std::boolalpha << seen
       << ", the acknowledged commands allow only " << show(allowed);
  out.push_back(line.str());
}

int pick(std::mt19937_64& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

} // namespace

std::string to_string(op_kind k) {
  switch (k) {
  case op_kind::create:
    return "create";
  case op_kind::scale:
    return "scale";
  case op_kind::update:
    return "update";
  case op_kind::pause:
    return "pause";
  case op_kind::resume:
    return "resume";
  case op_kind::remove:
    return "delete";
  }
  return "?";
}

std::string op::args() const {
  auto gen_env = " --env CHAOS_GEN=" + std::to_string(gen);
  switch (kind) {
  case op_kind::create:
    // Every other deployment rolls its updates: surge VMs, terminating VMs
    // and in-place replacements among the crashes.
    return "deployments create " + deployment + " --plugin " + plugin
           + " --replicas " + std::to_string(replicas) + gen_env
           + (gen % 2 == 0 ? " --strategy rolling --max-surge 1 --max-unavailable 1 "
                             "--termination-grace 300ms"
                           : "");
  case op_kind::scale:
    return "deployments scale " + deployment + " --replicas "
           + std::to_string(replicas);
  case op_kind::update:
    return "deployments update " + deployment + gen_env
           + (cpu > 0 ? " --cpu " + std::to_string(cpu) : "");
  case op_kind::pause:
    return "deployments pause " + deployment;
  case op_kind::resume:
    return "deployments resume " + deployment;
  case op_kind::remove:
    return "deployments delete " + deployment + " --force";
  }
  return "";
}

bool expected_deployment::certain() const {
  if (exists.size() != 1)
    return false;
  if (!*exists.begin())
    return true;
  return replicas.size() == 1 && paused.size() == 1 && gen.size() == 1
         && cpu.size() == 1 && plugin.size() == 1;
}

void model::record(const op& o, bool ack) {
  auto& e = d_[o.deployment];
  switch (o.kind) {
  case op_kind::create:
    if (ack)
      e = expected_deployment{};
    set_or_add(e.exists, true, ack);
    set_or_add(e.replicas, o.replicas, ack);
    set_or_add(e.paused, false, ack);
    set_or_add(e.gen, o.gen, ack);
    set_or_add(e.cpu, 1, ack);
    set_or_add(e.plugin, o.plugin, ack);
    break;
  case op_kind::scale:
    if (ack)
      e.exists = {true};
    set_or_add(e.replicas, o.replicas, ack);
    break;
  case op_kind::update:
    if (ack)
      e.exists = {true};
    set_or_add(e.gen, o.gen, ack);
    if (o.cpu > 0)
      set_or_add(e.cpu, o.cpu, ack);
    break;
  case op_kind::pause:
  case op_kind::resume:
    if (ack)
      e.exists = {true};
    set_or_add(e.paused, o.kind == op_kind::pause, ack);
    break;
  case op_kind::remove:
    if (ack)
      e = expected_deployment{};
    else
      e.exists.insert(false);
    break;
  }
}

std::vector<std::string> model::violations(
    const std::map<std::string, observed_deployment>& seen) const {
  std::vector<std::string> out;
  for (const auto& name : names) {
    auto it = d_.find(name);
    expected_deployment e = it == d_.end() ? expected_deployment{} : it->second;
    auto s = seen.find(name);
    bool present = s != seen.end();
    if (!e.exists.count(present)) {
      out.push_back(name
                    + (present
                           ? ": listed, but its delete was acknowledged (or it "
                             "was never created)"
                           : ": not listed, but its create was acknowledged"));
      continue;
    }
    if (!present)
      continue;
    const auto& o = s->second;
    compare(out, name, "desired replicas", o.replicas, e.replicas);
    compare(out, name, "paused", o.paused, e.paused);
    compare(out, name, "CHAOS_GEN of the template", o.gen, e.gen);
    compare(out, name, "cpu", o.cpu, e.cpu);
    compare(out, name, "plugin", o.plugin, e.plugin);
  }
  for (const auto& [name, o] : seen)
    if (std::find(names.begin(), names.end(), name) == names.end())
      out.push_back(name + ": listed, but the harness never created it");
  return out;
}

void model::observe(const std::map<std::string, observed_deployment>& seen) {
  for (const auto& name : names) {
    auto& e = d_[name];
    e = expected_deployment{};
    auto s = seen.find(name);
    if (s == seen.end())
      continue;
    const auto& o = s->second;
    e.exists = {true};
    e.replicas = {o.replicas};
    e.paused = {o.paused};
    e.gen = {o.gen};
    e.cpu = {o.cpu};
    e.plugin = {o.plugin};
  }
}

op model::next_op(std::mt19937_64& rng, const std::string& name) {
  const auto& e = d_[name];
  op o;
  o.deployment = name;
  bool surely_absent = e.exists == std::set<bool>{false};
  bool surely_present = e.exists == std::set<bool>{true};
  if (surely_absent || (!surely_present && pick(rng, 0, 1) == 0)) {
    o.kind = op_kind::create;
    o.replicas = pick(rng, 0, 9) == 0 ? 0 : pick(rng, 1, max_replicas);
    o.plugin = plugins[static_cast<std::size_t>(pick(rng, 0, 1))];
    o.gen = next_gen_++;
    return o;
  }
  if (!surely_present) {
    o.kind = op_kind::remove;
    return o;
  }
  bool paused = e.paused == std::set<bool>{true};
  bool running = e.paused == std::set<bool>{false};
  // Weights: scale 30, update 25, pause 10 (30 resume while paused), delete 10.
  int roll = pick(rng, 0, 74);
  if (roll < 30) {
    o.kind = op_kind::scale;
    o.replicas = pick(rng, 0, max_replicas);
  } else if (roll < 55) {
    o.kind = op_kind::update;
    o.gen = next_gen_++;
    if (pick(rng, 0, 1) == 0)
      o.cpu = e.cpu == std::set<int>{2} ? 1 : 2;
  } else if (roll < 65) {
    o.kind = paused                 ? op_kind::resume
             : running              ? op_kind::pause
             : pick(rng, 0, 1) == 0 ? op_kind::pause
                                    : op_kind::resume;
  } else {
    o.kind = paused && pick(rng, 0, 2) > 0 ? op_kind::resume : op_kind::remove;
  }
  return o;
}

std::vector<op> model::next_batch(std::mt19937_64& rng) {
  auto order = names;
  std::shuffle(order.begin(), order.end(), rng);
  auto n
      = static_cast<std::size_t>(pick(rng, 1, static_cast<int>(names.size())));
  std::vector<op> out;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(next_op(rng, order[i]));
  return out;
}

} // namespace volant::chaos
