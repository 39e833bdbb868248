#include "cli/args.hpp"

#include "events/events.hpp"
#include "events/validate.hpp"
#include "wire/json.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <limits>
#include <set>
#include <tuple>

namespace volant::cli {

namespace {

using json = nlohmann::json;

constexpr auto int32_max = std::numeric_limits<std::int32_t>::max();

error bad(ec code, std::string message) {
  return make_error(code, std::move(message));
}

/// The core's message for a negative count; the upper limit is the daemon's.
status check_replicas(std::int64_t replicas) {
  if (replicas < 0)
    return bad(ec::invalid_replicas,
               "replicas must be >= 0, got " + std::to_string(replicas));
  if (replicas > int32_max)
    return bad(ec::replica_limit,
               "replicas " + std::to_string(replicas) + " is out of range");
  return ok();
}

status check_cpu(std::int64_t cpu) {
  if (cpu < 1)
    return bad(ec::invalid_cpu, "cpu must be >= 1, got " + std::to_string(cpu));
  if (cpu > int32_max)
    return bad(ec::invalid_cpu,
               "cpu " + std::to_string(cpu) + " is out of range");
  return ok();
}

status check_memory(std::int64_t memory) {
  if (memory < 1)
    return bad(ec::invalid_memory,
               "memory must be >= 1 MiB, got " + std::to_string(memory));
  return ok();
}

error surge_needs_rolling() {
  return bad(ec::invalid_strategy,
             "--max-surge and --max-unavailable apply to --strategy rolling");
}

/// A whole number of seconds within int32 (the strategy's fields).
expected<std::int32_t> seconds_of(std::string_view text, std::string_view flag,
                                  bool allow_zero) {
  auto ms = parse_duration_ms(text, flag);
  if (!ms)
    return ms.error_value();
  if (*ms % 1000 != 0)
    return bad(ec::invalid_strategy,
               std::string(flag) + " must be whole seconds, got '" + std::string(text) + "'");
  if (*ms / 1000 > std::numeric_limits<std::int32_t>::max() || (*ms == 0 && !allow_zero))
    return bad(ec::invalid_strategy, std::string(flag) + " is out of range: '"
                                         + std::string(text) + "'");
  return static_cast<std::int32_t>(*ms / 1000);
}

/// Reads the rollout flags over `base`.
status apply_rollout(const rollout_args& r, update_strategy& base) {
  if (r.min_ready) {
    auto v = seconds_of(*r.min_ready, "--min-ready-seconds", true);
    if (!v)
      return v.error_value();
    base.min_ready_seconds = *v;
  }
  if (r.progress_deadline) {
    auto v = seconds_of(*r.progress_deadline, "--progress-deadline", false);
    if (!v)
      return v.error_value();
    base.progress_deadline_seconds = *v;
  }
  if (r.termination_grace) {
    auto v = parse_duration_ms(*r.termination_grace, "--termination-grace");
    if (!v)
      return v.error_value();
    if (*v > std::numeric_limits<std::int32_t>::max())
      return bad(ec::invalid_strategy, "--termination-grace is out of range");
    base.termination_grace_ms = static_cast<std::int32_t>(*v);
  }
  if (r.auto_revert)
    base.auto_revert = *r.auto_revert;
  if (r.revision_history) {
    if (*r.revision_history < 1 || *r.revision_history > 1000)
      return bad(ec::invalid_strategy, "--revision-history must be 1..1000, got "
                                           + std::to_string(*r.revision_history));
    base.revision_history = static_cast<std::int32_t>(*r.revision_history);
  }
  return ok();
}

/// Reads --strategy / --max-surge / --max-unavailable and the rollout flags
/// over `base`.
expected<update_strategy>
build_strategy(const std::optional<std::string>& kind,
               const std::optional<std::string>& surge,
               const std::optional<std::string>& unavail,
               update_strategy base, const rollout_args& rollout = {}) {
  if (auto st = apply_rollout(rollout, base); !st)
    return st.error_value();
  if (kind) {
    auto k = parse_strategy(*kind);
    if (!k)
      return k.error_value();
    base.kind = *k;
  }
  if ((surge || unavail) && base.kind != strategy_kind::rolling)
    return surge_needs_rolling();
  if (surge) {
    auto v = parse_int_or_percent(*surge);
    if (!v)
      return v.error_value();
    base.max_surge = *v;
  }
  if (unavail) {
    auto v = parse_int_or_percent(*unavail);
    if (!v)
      return v.error_value();
    base.max_unavailable = *v;
  }
  // The core's rules (e.g. a rolling update needs surge or unavailable > 0),
  // checked on a throwaway spec so that the message is the daemon's.
  deployment_spec probe;
  probe.name = "x";
  probe.tmpl.plugin.name = "x";
  probe.strategy = base;
  if (auto st = validate_spec(probe, int32_max); !st)
    return st.error_value();
  return base;
}

error bad_health(std::string message) {
  return bad(ec::invalid_health_check, std::move(message));
}

/// "1..65535" as the core words it; 0 is left to validate_health_check.
expected<std::uint16_t> port_of(std::int64_t port, const std::string& field) {
  if (port < 0 || port > 65535)
    return bad_health(field + " must be 1..65535, got " + std::to_string(port));
  return static_cast<std::uint16_t>(port);
}

expected<std::uint16_t> port_of(std::string_view text,
                                const std::string& field) {
  std::int64_t port = 0;
  auto [end, err]
      = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || err != std::errc{} || end != text.data() + text.size())
    return bad_health(field + " must be 1..65535, got '" + std::string(text)
                      + "'");
  return port_of(port, field);
}

expected<std::uint32_t> positive_of(const std::optional<std::int64_t>& value,
                                    std::uint32_t fallback,
                                    const std::string& field) {
  if (!value)
    return fallback;
  if (*value < 0 || *value > std::numeric_limits<std::uint32_t>::max())
    return bad_health(field + " must be >= 1, got " + std::to_string(*value));
  return static_cast<std::uint32_t>(*value); // 0 is the core's to reject
}

json check_to_json(const health_check& hc) {
  deployment_spec carrier;
  carrier.tmpl.health = hc;
  return wire::encode_spec(carrier)["tmpl"]["health"];
}

json strategy_to_json(const update_strategy& s) {
  return wire::to_json(s); // every field: the daemon starts from the defaults
}

} // namespace

expected<std::int64_t> parse_duration_ms(std::string_view text, std::string_view flag) {
  auto fail = [&] {
    return bad(ec::invalid_argument,
               std::string(flag) + " must be a duration such as 30, 30s, 500ms, 10m or 1h, got '"
                   + std::string(text) + "'");
  };
  std::int64_t value = 0;
  auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || err != std::errc{} || value < 0)
    return fail();
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  std::int64_t scale = 0;
  if (unit.empty() || unit == "s")
    scale = 1000;
  else if (unit == "ms")
    scale = 1;
  else if (unit == "m")
    scale = 60'000;
  else if (unit == "h")
    scale = 3'600'000;
  else
    return fail();
  if (value > std::numeric_limits<std::int64_t>::max() / scale)
    return fail();
  return value * scale;
}

expected<labels> merge_labels(const std::vector<std::string>& args) {
  labels out;
  for (const auto& arg : args) {
    auto parsed = parse_labels(arg);
    if (!parsed)
      return parsed.error_value();
    for (auto& [key, value] : *parsed)
      if (!out.emplace(key, value).second)
        return bad(ec::invalid_label, "invalid label '" + key + "=" + value
                                          + "': key '" + key
                                          + "' is given twice");
  }
  return out;
}

expected<std::vector<env_var>>
parse_env_list(const std::vector<std::string>& args) {
  std::vector<env_var> out;
  std::set<std::string> seen;
  for (const auto& arg : args) {
    auto var = parse_env(arg);
    if (!var)
      return var.error_value();
    if (!seen.insert(var->key).second)
      return bad(ec::invalid_env, "env key '" + var->key + "' is given twice");
    out.push_back(std::move(*var));
  }
  return out;
}

expected<std::vector<env_var>>
parse_secret_env_list(const std::vector<std::string>& args,
                      const std::vector<env_var>& env) {
  std::vector<env_var> out;
  std::set<std::string> seen;
  for (const auto& arg : args) {
    env_var var;
    if (arg.find('=') == std::string::npos) {
      if (auto st = validate_env_key(arg, "secret env"); !st)
        return st.error_value();
      const char* value = std::getenv(arg.c_str());
      if (value == nullptr)
        return bad(ec::invalid_env, "secret env '" + arg
                                        + "' has no =VALUE and volar's environment "
                                          "has no " + arg);
      var = {arg, value};
    } else {
      auto parsed = parse_env(arg);
      if (!parsed) // the message quotes the argument: name the key only
        return bad(ec::invalid_env,
                   "invalid secret env: the key before '=' must match "
                   "[A-Za-z_][A-Za-z0-9_]*");
      var = std::move(*parsed);
    }
    if (!seen.insert(var.key).second)
      return bad(ec::invalid_env, "secret env key '" + var.key + "' is given twice");
    for (const auto& plain : env)
      if (plain.key == var.key)
        return bad(ec::invalid_env, "key '" + var.key
                                        + "' is in both env and secret env: give it once");
    out.push_back(std::move(var));
  }
  return out;
}

json env_to_json(const std::vector<env_var>& env) {
  auto arr = json::array();
  for (const auto& var : env)
    arr.push_back({{"key", var.key}, {"value", var.value}});
  return arr;
}

json int_or_percent_to_json(const int_or_percent& v) {
  return {{"value", v.value}, {"percent", v.percent}};
}

std::string check_word(check_kind kind) {
  return kind == check_kind::readiness ? "readiness" : "health";
}

bool health_args::given() const {
  return http || tcp || process || interval || timeout || threshold || disable;
}

expected<std::optional<health_check>> build_health(const health_args& a,
                                                   check_kind kind) {
  if (!a.given())
    return std::optional<health_check>{};
  const int kinds = (a.http ? 1 : 0) + (a.tcp ? 1 : 0) + (a.process ? 1 : 0);
  const bool timing = a.interval || a.timeout || a.threshold;
  const auto word = check_word(kind);
  const auto flag = "--" + word + "-";
  if (a.disable && (kinds > 0 || timing))
    return bad_health("--no-" + word + "-check cannot be combined with other "
                      + flag + "* flags");
  if (kinds > 1)
    return bad_health("give at most one of " + flag + "http, " + flag
                      + "tcp and " + flag + "process");
  health_check hc;
  if (a.disable) {
    // Probe none: the plugin's check is switched off (a readiness check so
    // switched off leaves READY to the health check).
    hc.enabled = false;
    return std::optional<health_check>{hc};
  }
  if (kinds == 0)
    return bad_health(flag + "interval, " + flag + "timeout and " + flag
                      + "threshold need " + flag + "http, " + flag + "tcp or "
                      + flag + "process");
  const std::string f = word + "_check";
  hc.enabled = true;
  if (a.http) {
    std::string_view text = *a.http;
    auto colon = text.find(':');
    http_check http;
    auto port = port_of(text.substr(0, colon), f + ".http.port");
    if (!port)
      return port.error_value();
    http.port = *port;
    if (colon != std::string_view::npos)
      http.path = std::string(text.substr(colon + 1));
    hc.probe = std::move(http);
  } else if (a.tcp) {
    auto port = port_of(*a.tcp, f + ".tcp.port");
    if (!port)
      return port.error_value();
    hc.probe = tcp_check{*port};
  } else {
    hc.probe = process_check{*a.process};
  }
  auto interval
      = positive_of(a.interval, hc.interval_seconds, f + ".interval_seconds");
  if (!interval)
    return interval.error_value();
  hc.interval_seconds = *interval;
  auto timeout
      = positive_of(a.timeout, hc.timeout_seconds, f + ".timeout_seconds");
  if (!timeout)
    return timeout.error_value();
  hc.timeout_seconds = *timeout;
  auto threshold = positive_of(a.threshold, hc.unhealthy_threshold,
                               f + ".unhealthy_threshold");
  if (!threshold)
    return threshold.error_value();
  hc.unhealthy_threshold = *threshold;
  if (auto st = validate_health_check(hc, f); !st)
    return st.error_value();
  return std::optional<health_check>{std::move(hc)};
}

expected<deployment_spec> build_spec(const create_args& a) {
  deployment_spec spec;
  spec.name = a.name;
  if (auto st = validate_name(a.name, "deployment name"); !st)
    return st.error_value();
  if (auto st = check_replicas(a.replicas); !st)
    return st.error_value();
  spec.replicas = static_cast<std::int32_t>(a.replicas);
  auto plugin = parse_plugin_ref(a.plugin);
  if (!plugin)
    return plugin.error_value();
  spec.tmpl.plugin = *plugin;
  if (auto st = check_cpu(a.cpu); !st)
    return st.error_value();
  spec.tmpl.cpu = static_cast<std::int32_t>(a.cpu);
  if (auto st = check_memory(a.memory); !st)
    return st.error_value();
  spec.tmpl.memory_mib = a.memory;
  auto lbls = merge_labels(a.labels);
  if (!lbls)
    return lbls.error_value();
  spec.tmpl.vm_labels = std::move(*lbls);
  auto env = parse_env_list(a.env);
  if (!env)
    return env.error_value();
  spec.tmpl.env = std::move(*env);
  for (const auto& text : a.volumes) {
    auto vol = parse_volume(text);
    if (!vol)
      return vol.error_value();
    spec.tmpl.volumes.push_back(std::move(*vol));
  }
  spec.quota = a.quota;
  spec.multi_host = a.multi_host;
  spec.auto_restart = !a.no_auto_restart;
  auto strategy = build_strategy(a.strategy, a.max_surge, a.max_unavailable,
                                 update_strategy{}, a.rollout);
  if (!strategy)
    return strategy.error_value();
  spec.strategy = *strategy;
  auto health = build_health(a.health);
  if (!health)
    return health.error_value();
  spec.tmpl.health = std::move(*health);
  auto readiness = build_health(a.readiness, check_kind::readiness);
  if (!readiness)
    return readiness.error_value();
  spec.tmpl.readiness = std::move(*readiness);
  if (auto st = validate_spec(spec, int32_max); !st)
    return st.error_value();
  return spec;
}

json create_request(const deployment_spec& spec,
                    const std::vector<env_var>& secrets) {
  json out = {{"spec", wire::encode_spec(spec)}};
  if (!secrets.empty())
    out["secret_env"] = env_to_json(secrets);
  return out;
}

bool update_needs_current_strategy(const update_args& a) {
  return !a.strategy && (a.max_surge || a.max_unavailable || a.rollout.given());
}

expected<json> update_request(const update_args& a,
                              const update_strategy* current) {
  auto req = name_request(a.name, "deployment name");
  if (!req)
    return req;
  json& out = *req;
  if (a.plugin) {
    auto ref = parse_plugin_ref(*a.plugin);
    if (!ref)
      return ref.error_value();
    out["plugin"] = *a.plugin;
  }
  if (a.cpu) {
    if (auto st = check_cpu(*a.cpu); !st)
      return st.error_value();
    out["cpu"] = *a.cpu;
  }
  if (a.memory) {
    if (auto st = check_memory(*a.memory); !st)
      return st.error_value();
    out["memory"] = *a.memory;
  }
  if (a.labels) {
    auto lbls = merge_labels(*a.labels);
    if (!lbls)
      return lbls.error_value();
    out["labels"] = *lbls;
  }
  if (a.volumes) {
    vm_template tmpl;
    for (const auto& text : *a.volumes) {
      auto vol = parse_volume(text);
      if (!vol)
        return vol.error_value();
      tmpl.volumes.push_back(std::move(*vol));
    }
    if (auto st = validate_volumes(tmpl.volumes); !st)
      return st.error_value();
    deployment_spec spec;
    spec.tmpl = std::move(tmpl);
    out["volumes"] = wire::encode_spec(spec)["tmpl"]["volumes"];
  }
  if (a.quota) {
    if (!a.quota->empty())
      if (auto st = validate_name(*a.quota, "quota"); !st)
        return st.error_value();
    out["quota"] = *a.quota;
  }
  std::vector<env_var> plain;
  if (a.env) {
    auto env = parse_env_list(*a.env);
    if (!env)
      return env.error_value();
    out["env"] = env_to_json(*env);
    plain = std::move(*env);
  }
  if (!a.secret_env.empty()) {
    auto secrets = parse_secret_env_list(a.secret_env, plain);
    if (!secrets)
      return secrets.error_value();
    out["secret_env"] = env_to_json(*secrets);
  }
  if (!a.secret_env_remove.empty()) {
    auto removed = json::array();
    for (const auto& key : a.secret_env_remove) {
      if (auto st = validate_env_key(key, "--secret-env-remove"); !st)
        return st.error_value();
      if (out.contains("secret_env"))
        for (const auto& set : out["secret_env"])
          if (set["key"] == key)
            return bad(ec::invalid_env, "secret env key '" + key
                                            + "' is both set and removed");
      removed.push_back(key);
    }
    out["secret_env_remove"] = removed;
  }
  if (a.auto_restart)
    out["auto_restart"] = *a.auto_restart;
  if (a.strategy || a.max_surge || a.max_unavailable || a.rollout.given()) {
    update_strategy base;
    if (update_needs_current_strategy(a) && current)
      base = *current;
    else if (update_needs_current_strategy(a) && (a.max_surge || a.max_unavailable))
      return surge_needs_rolling();
    auto s = build_strategy(a.strategy, a.max_surge, a.max_unavailable, base, a.rollout);
    if (!s)
      return s.error_value();
    out["strategy"] = strategy_to_json(*s);
  }
  if (a.rollout_paused)
    out["rollout_paused"] = *a.rollout_paused;
  for (auto [key, args, kind] :
       {std::tuple{"health", &a.health, check_kind::health},
        {"readiness", &a.readiness, check_kind::readiness}}) {
    auto check = build_health(*args, kind);
    if (!check)
      return check.error_value();
    if (*check)
      out[key] = check_to_json(**check);
  }
  if (out.size() == 1)
    return bad(
        ec::invalid_argument,
        "nothing to update: give at least one of --plugin, --cpu, --memory, "
        "--labels, --env, --secret-env, --secret-env-remove, --auto-restart, "
        "--no-auto-restart, --strategy, "
        "--max-surge, --max-unavailable, --min-ready-seconds, --progress-deadline, "
        "--termination-grace, --auto-revert, --no-auto-revert, --revision-history, "
        "--health-http, --health-tcp, "
        "--health-process, --no-health-check, --readiness-http, --readiness-tcp, "
        "--readiness-process or --no-readiness-check");
  return req;
}

json apply_update_request(const deployment_spec& want,
                          const deployment_spec& have,
                          const std::vector<env_var>& secrets) {
  json out = {{"name", want.name}};
  const auto& w = want.tmpl;
  const auto& h = have.tmpl;
  if (w.plugin.name != h.plugin.name
      || (!w.plugin.version.empty() && w.plugin.version != h.plugin.version))
    out["plugin"] = w.plugin.version.empty()
                        ? w.plugin.name
                        : w.plugin.name + ":" + w.plugin.version;
  if (w.cpu != h.cpu)
    out["cpu"] = w.cpu;
  if (w.memory_mib != h.memory_mib)
    out["memory"] = w.memory_mib;
  if (w.vm_labels != h.vm_labels)
    out["labels"] = w.vm_labels;
  if (w.env != h.env)
    out["env"] = env_to_json(w.env);
  if (!secrets.empty())
    out["secret_env"] = env_to_json(secrets);
  auto removed = json::array();
  for (const auto& var : h.secret_env)
    if (std::none_of(secrets.begin(), secrets.end(),
                     [&](const env_var& s) { return s.key == var.key; }))
      removed.push_back(var.key);
  if (!removed.empty())
    out["secret_env_remove"] = removed;
  if (want.auto_restart != have.auto_restart)
    out["auto_restart"] = want.auto_restart;
  if (want.strategy != have.strategy)
    out["strategy"] = strategy_to_json(want.strategy);
  if (want.quota != have.quota)
    out["quota"] = want.quota;
  if (w.volumes != h.volumes || w.health != h.health
      || w.readiness != h.readiness) {
    auto tmpl = wire::encode_spec(want)["tmpl"];
    if (w.volumes != h.volumes)
      out["volumes"] = tmpl["volumes"];
    if (w.health != h.health)
      out["health"] = tmpl["health"];
    if (w.readiness != h.readiness)
      out["readiness"] = tmpl["readiness"];
  }
  return out;
}

expected<json> scale_request(const std::string& name, std::int64_t replicas,
                             const std::vector<std::string>& remove) {
  auto req = name_request(name, "deployment name");
  if (!req)
    return req;
  if (auto st = check_replicas(replicas); !st)
    return st.error_value();
  (*req)["replicas"] = replicas;
  for (const auto& vm : remove) {
    if (auto st = validate_name(vm, "VM name"); !st)
      return st.error_value();
    (*req)["remove"].push_back(vm);
  }
  return req;
}

expected<json> name_request(const std::string& name, std::string_view what) {
  if (auto st = validate_name(name, what); !st)
    return st.error_value();
  return json{{"name", name}};
}

expected<json> vms_list_request(const std::string& deployment,
                                const std::vector<std::string>& label_args,
                                bool usage) {
  json req = json::object();
  if (!deployment.empty()) {
    if (auto st = validate_name(deployment, "deployment name"); !st)
      return st.error_value();
    req["deployment"] = deployment;
  }
  auto lbls = merge_labels(label_args);
  if (!lbls)
    return lbls.error_value();
  if (!lbls->empty())
    req["labels"] = *lbls;
  if (usage)
    req["usage"] = true;
  return req;
}

expected<json> plugin_request(const std::string& text) {
  auto ref = parse_plugin_ref(text);
  if (!ref)
    return ref.error_value();
  json req = {{"name", ref->name}};
  if (!ref->version.empty())
    req["version"] = ref->version;
  return req;
}

} // namespace volant::cli
