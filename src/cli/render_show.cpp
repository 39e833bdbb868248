// The `show` renderers: one deployment, one VM, one plugin.

#include "cli/render.hpp"

#include "wire/json.hpp"
#include "wire/table.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>
#include <vector>

namespace volant::cli {

using json = nlohmann::json;

namespace {

constexpr std::size_t recent_events = 10;
constexpr std::size_t max_details = 100;

/// "Key:" padded to a common column, continuation lines indented to it.
class block {
public:
  void add(const std::string& key, const std::string& value) {
    lines_.emplace_back(key, value);
  }

  void add_many(const std::string& key,
                const std::vector<std::string>& values) {
    if (values.empty()) {
      add(key, "-");
      return;
    }
    for (std::size_t i = 0; i < values.size(); ++i)
      add(i == 0 ? key : std::string(), values[i]);
  }

  std::string render() const {
    std::size_t width = 0;
    for (const auto& [k, v] : lines_)
      width = std::max(width, k.size() + 1);
    std::string out;
    for (const auto& [k, v] : lines_) {
      auto head = k.empty() ? std::string() : k + ":";
      out += head + std::string(width - head.size() + 2, ' ') + v + "\n";
    }
    return out;
  }

private:
  std::vector<std::pair<std::string, std::string>> lines_;
};

std::string when(const json& obj, const char* key, unix_nanos now) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string())
    return "-";
  return it->get<std::string>() + " (" + age_of(*it, now) + " ago)";
}

std::string int_or_percent_text(const json& v) {
  if (!v.is_object())
    return v.is_null() ? "-"
                       : (v.is_string() ? v.get<std::string>() : v.dump());
  auto pct = flag(v, "percent");
  return field_text(v, "value", "0") + (pct ? "%" : "");
}

std::string strategy_text(const json& s) {
  if (!s.is_object())
    return "-";
  auto kind = field_text(s, "kind", "recreate");
  if (kind != "rolling")
    return kind;
  auto text = kind + " (max surge " + int_or_percent_text(member(s, "max_surge"))
              + ", max unavailable "
              + int_or_percent_text(member(s, "max_unavailable"));
  if (auto v = field_int(s, "min_ready_seconds", 0); v > 0)
    text += ", min ready " + std::to_string(v) + " s";
  text += ", progress deadline " + field_text(s, "progress_deadline_seconds", "600") + " s";
  auto grace = field_int(s, "termination_grace_ms", 2000);
  text += ", termination grace "
          + (grace % 1000 == 0 ? std::to_string(grace / 1000) + " s"
                               : std::to_string(grace) + " ms");
  if (member(s, "auto_revert").is_boolean() && !member(s, "auto_revert").get<bool>())
    text += ", no auto-revert";
  return text + ")";
}

/// "progressing: 2 of 6 updated (revision 4)", "complete (revision 3)", ...
std::string rollout_text(const json& r, const json& desired) {
  if (!r.is_object())
    return "-";
  auto phase = field_text(r, "phase", "-");
  auto revision = " (revision " + field_text(r, "revision") + ")";
  std::string text;
  if (phase == "progressing")
    text = "progressing: " + field_text(r, "updated", "0") + " of "
           + (desired.is_number() ? std::to_string(desired.get<std::int64_t>()) : "-")
           + " updated" + revision;
  else if (phase == "failed")
    text = "failed" + revision + ": " + field_text(r, "reason", "");
  else
    text = phase + revision;
  if (member(r, "paused").is_boolean() && member(r, "paused").get<bool>())
    text += ", paused (volar deployments rollout resume)";
  if (auto note = field_text(r, "note", ""); !note.empty() && note != "-")
    text += "; " + note;
  return text;
}

std::string shell_quote(const std::string& arg) {
  if (!arg.empty()
      && arg.find_first_of(" \t\n'\"\\$;&|<>()*?") == std::string::npos)
    return arg;
  std::string out = "'";
  for (char c : arg)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::vector<std::string> env_lines(const json& env) {
  std::vector<std::string> out;
  if (env.is_array()) {
    for (const auto& var : env)
      out.push_back(field_text(var, "key", "") + "="
                    + field_text(var, "value", ""));
  } else if (env.is_object()) {
    for (const auto& [k, v] : env.items())
      out.push_back(k + "="
                    + (v.is_string() ? v.get<std::string>() : v.dump()));
  }
  return out;
}

std::string vm_table(const json& vms, unix_nanos now) {
  bool backing_off = any_backoff(vms);
  std::vector<std::string> header = {"NAME", "IP", "STATUS", "REVISION", "RESTARTS"};
  if (backing_off)
    header.push_back("BACK-OFF");
  header.push_back("AGE");
  wire::table t(header);
  for (const auto& vm : vms) {
    std::vector<std::string> row = {field_text(vm, "name"), field_text(vm, "ip"),
                                    field_text(vm, "status"),
                                    field_text(vm, "revision", "-"),
                                    field_text(vm, "restarts", "0")};
    if (backing_off)
      row.push_back(backoff_text(vm));
    row.push_back(age_of(member(vm, "created_at"), now));
    t.add_row(std::move(row));
  }
  return t.render();
}

std::string event_table(const json& events, unix_nanos now) {
  wire::table t({"AGE", "EVENT", "OBJECT", "DETAILS"});
  auto first
      = events.size() > recent_events ? events.size() - recent_events : 0;
  for (std::size_t i = first; i < events.size(); ++i) {
    const auto& ev = events[i];
    auto details = ev.contains("fields") && ev["fields"].is_object()
                       ? wire::to_fields_line(ev["fields"])
                       : std::string();
    if (details.size() > max_details)
      details = details.substr(0, max_details - 3) + "...";
    t.add_row({age_of(member(ev, "at"), now), field_text(ev, "event"),
               field_text(ev, "id"), details});
  }
  return t.render();
}

} // namespace

std::string render_deployment(const json& d, unix_nanos now) {
  const json spec = member(d, "spec");
  const json tmpl = member(spec, "tmpl");
  block b;
  b.add("Name", field_text(d, "name"));
  json plugin = member(d, "plugin");
  if (plugin.is_null() && tmpl.is_object())
    plugin = member(tmpl, "plugin");
  b.add("Plugin", plugin_text(plugin));
  b.add("Replicas", field_text(d, "desired") + " desired, "
                        + field_text(d, "current") + " current, "
                        + field_text(d, "ready") + " ready");
  if (auto blocked = field_text(d, "blocked", ""); !blocked.empty())
    b.add("Blocked", blocked);
  auto mem = field_int(tmpl, "memory_mib", -1);
  b.add("Resources",
        field_text(tmpl, "cpu") + " CPU, "
            + (mem < 0 ? std::string("-") : std::to_string(mem) + " MiB")
            + " per VM");
  b.add("Labels", labels_text(member(tmpl, "vm_labels")));
  b.add_many("Env", env_lines(member(tmpl, "env")));
  // Keys only, whatever a daemon sent as the value.
  std::vector<std::string> secrets;
  for (const auto& var : member(tmpl, "secret_env"))
    secrets.push_back(field_text(var, "key", "") + "=***");
  if (!secrets.empty())
    b.add_many("Secret env", secrets);
  std::vector<std::string> volumes;
  for (const auto& v : member(tmpl, "volumes"))
    volumes.push_back(field_text(v, "path")
                      + (flag(v, "persistent") ? " (persistent" : " (scratch")
                      + (field_int(v, "size_mib") > 0
                             ? ", " + std::to_string(field_int(v, "size_mib")) + " MiB)"
                             : std::string(")")));
  b.add_many("Volumes", volumes);
  auto health = member(tmpl, "health");
  b.add("Health check", health.is_null() ? std::string("from the plugin")
                                         : health_text(health, true));
  // Only an override: else the plugin's (or the health check) decides READY.
  if (auto ready = member(tmpl, "readiness"); !ready.is_null()) {
    auto text = health_text(ready, true, "not ready");
    b.add("Readiness check",
          text == "disabled" ? "none: the health check decides READY" : text);
  }
  json auto_restart = member(d, "auto_restart").is_null()
                          ? member(spec, "auto_restart")
                          : member(d, "auto_restart");
  b.add("Auto-restart", auto_restart.is_boolean()
                            ? (auto_restart.get<bool>() ? "yes" : "no")
                            : "-");
  b.add("Strategy", strategy_text(member(spec, "strategy")));
  if (flag(spec, "multi_host"))
    b.add("Placement", "spread across hosts (--multi-host)");
  if (const auto& a = member(d, "autoscaler"); a.is_object()) {
    auto line = field_text(a, "name") + " (" + field_text(a, "min_replicas") + ".."
                + field_text(a, "max_replicas") + " replicas)";
    const auto& last = member(a, "last");
    line += last.is_object() ? "; last evaluation " + age_of(member(last, "at"), now) + " ago: "
                                   + field_text(last, "reason")
                             : std::string("; no evaluation yet");
    b.add("Autoscaler", line);
  }
  if (auto quota = field_text(spec, "quota", ""); !quota.empty())
    b.add("Quota", quota + " (volar quotas show " + quota + ")");
  json paused = member(d, "paused").is_null() ? member(spec, "paused")
                                              : member(d, "paused");
  b.add("Paused",
        paused.is_boolean() ? (paused.get<bool>() ? "yes" : "no") : "-");
  b.add("Revision", field_text(d, "revision"));
  if (member(d, "rollout").is_object())
    b.add("Rollout", rollout_text(member(d, "rollout"), member(d, "desired")));
  b.add("Created", when(d, "created_at", now));
  std::string out = b.render();
  auto vms = member(d, "vms");
  out += "\nVMs:\n";
  out += !vms.is_array() || vms.empty() ? std::string("  (none)\n")
                                        : vm_table(vms, now);
  auto events = member(d, "events");
  out += "\nEvents:\n";
  out += !events.is_array() || events.empty() ? std::string("  (none)\n")
                                              : event_table(events, now);
  return out;
}

std::string render_vm(const json& vm, unix_nanos now) {
  block b;
  b.add("Name", field_text(vm, "name"));
  b.add("Deployment", field_text(vm, "deployment"));
  b.add("Index", field_text(vm, "index"));
  b.add("IP", field_text(vm, "ip"));
  b.add("Status", field_text(vm, "status"));
  b.add("Plugin", plugin_text(member(vm, "plugin")));
  b.add("Labels", labels_text(member(vm, "labels")));
  b.add("CPU", field_text(vm, "cpu"));
  auto mem = field_int(vm, "memory", -1);
  b.add("Memory", mem < 0 ? std::string("-") : std::to_string(mem) + " MiB");
  b.add("Restarts", field_text(vm, "restarts", "0"));
  b.add("Driver", field_text(vm, "driver"));
  b.add("PID", field_int(vm, "pid") > 0 ? field_text(vm, "pid") : "-");
  b.add("Revision", field_text(vm, "revision"));
  b.add("Created", when(vm, "created_at", now));
  b.add("Started", when(vm, "started_at", now));
  b.add("Ready", when(vm, "ready_at", now));
  if (auto err = field_text(vm, "last_error", ""); !err.empty())
    b.add("Last error", err);
  if (auto backoff = field_int(vm, "backoff_ms"); backoff > 0)
    b.add("Back-off", std::to_string(backoff) + " ms");
  if (auto usage = vm.find("usage"); usage != vm.end() && usage->is_object()) {
    b.add("CPU time", field_text(*usage, "cpu_seconds") + " s");
    auto bytes = field_int(*usage, "rss_bytes", -1);
    b.add("RSS",
          bytes < 0 ? std::string("-") : short_mib((bytes + (1 << 19)) >> 20));
  }
  if (auto probe = vm.find("probe"); probe != vm.end() && probe->is_object()) {
    // The live probe (never journaled sample by sample): verdict and the latest
    // checks, newest last.
    b.add("Health", field_text(*probe, "verdict", "unknown") + " ("
                      + field_text(*probe, "checks", "0") + " checks, "
                      + field_text(*probe, "failures_in_row", "0")
                      + " failing in a row)");
    std::vector<std::string> lines;
    const json samples = member(*probe, "samples");
    if (samples.is_array())
      for (const auto& s : samples) {
        auto line = field_text(s, "at", "-") + "  "
                    + (flag(s, "ok") ? std::string("ok  ") : std::string("FAIL"));
        if (s.contains("latency_ms") && s["latency_ms"].is_number()) {
          char buf[32];
          std::snprintf(buf, sizeof buf, "  %.1f ms", s["latency_ms"].get<double>());
          line += buf;
        }
        if (auto err = field_text(s, "error", ""); !err.empty())
          line += "  " + err;
        lines.push_back(line);
      }
    b.add_many("Recent checks", lines);
  }
  return b.render();
}

std::string render_plugin(const json& m) {
  block b;
  b.add("Name", field_text(m, "name"));
  b.add("Version", field_text(m, "version"));
  b.add("Runtime", field_text(m, "runtime", "process"));
  if (auto desc = field_text(m, "description", ""); !desc.empty())
    b.add("Description", desc);
  for (const char* key : {"kernel", "initramfs"})
    if (auto v = field_text(m, key, ""); !v.empty())
      b.add(key == std::string("kernel") ? "Kernel" : "Initramfs", v);
  if (auto v = field_text(m, "rootfs", ""); !v.empty())
    b.add("Root disk", v);
  const json image = member(m, "image");
  if (image.is_object() && !field_text(image, "summary", "").empty()) {
    auto bytes = image.value("bytes", std::int64_t{0});
    auto text = field_text(image, "summary", "") + " ("
                + std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB";
    if (auto key = field_text(image, "key", ""); !key.empty())
      text += ", sha256 " + key.substr(0, 16);
    b.add("Guest", text + ")");
  }
  const json wl = member(m, "workload");
  std::string entry;
  if (wl.is_object() && wl.contains("entrypoint")
      && wl["entrypoint"].is_array())
    for (const auto& arg : wl["entrypoint"])
      entry += (entry.empty() ? "" : " ")
               + shell_quote(arg.is_string() ? arg.get<std::string>()
                                             : arg.dump());
  b.add("Entrypoint", entry.empty() ? "-" : entry);
  if (auto dir = field_text(wl, "workdir", ""); !dir.empty())
    b.add("Workdir", dir);
  b.add_many("Env", env_lines(member(wl, "env")));
  json health = member(wl, "health_check");
  if (health.is_null())
    health = member(m, "health_check").is_null() ? member(m, "health")
                                                 : member(m, "health_check");
  b.add("Health check", health_text(health, true));
  return b.render();
}

} // namespace volant::cli
