#include "cli/render.hpp"

#include "wire/json.hpp"
#include "wire/table.hpp"

#include <cmath>
#include <cstdio>

namespace volant::cli {

using json = nlohmann::json;

namespace {

constexpr std::int64_t nanos_per_second = 1'000'000'000;

/// One decimal, ".0" dropped: 64 -> "64", 4.88 -> "4.9".
std::string one_decimal(double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", value);
  std::string s = buf;
  if (s.ends_with(".0"))
    s.resize(s.size() - 2);
  return s;
}

std::string cores(std::int64_t n) {
  return std::to_string(n) + (n == 1 ? " core" : " cores");
}

const json& list_of(const json& reply, const char* key) {
  // The protocol replies with arrays; an object wrapping the array under `key`
  // is accepted too.
  if (reply.is_object() && reply.contains(key))
    return reply.at(key);
  return reply;
}

std::string cpu_percent(const json& vm, unix_nanos now) {
  auto usage = vm.find("usage");
  if (usage == vm.end() || !usage->is_object()
      || !usage->contains("cpu_seconds"))
    return "-";
  auto started = vm.find("started_at");
  if (started == vm.end() || !started->is_string())
    return "-";
  auto t = wire::parse_time(started->get<std::string>());
  const auto& cpu = usage->at("cpu_seconds");
  if (!t || !cpu.is_number() || now <= *t)
    return "-";
  double wall = static_cast<double>(now - *t) / nanos_per_second;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", cpu.get<double>() / wall * 100.0);
  return buf;
}

std::string rss(const json& vm) {
  auto usage = vm.find("usage");
  if (usage == vm.end() || !usage->is_object())
    return "-";
  auto bytes = usage->find("rss_bytes");
  if (bytes == usage->end() || !bytes->is_number())
    return "-";
  auto mib = (bytes->get<std::int64_t>() + (1 << 19)) >> 20;
  return short_mib(mib);
}

} // namespace

const json& member(const json& obj, const char* key) {
  static const json null;
  if (!obj.is_object())
    return null;
  auto it = obj.find(key);
  return it == obj.end() ? null : *it;
}

bool flag(const json& obj, const char* key) {
  const auto& v = member(obj, key);
  return v.is_boolean() && v.get<bool>();
}

std::string field_text(const json& obj, const char* key,
                       const std::string& fallback) {
  if (!obj.is_object())
    return fallback;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null())
    return fallback;
  if (it->is_string())
    return it->get<std::string>().empty() ? fallback : it->get<std::string>();
  if (it->is_boolean())
    return it->get<bool>() ? "yes" : "no";
  return it->dump();
}

std::int64_t field_int(const json& obj, const char* key,
                       std::int64_t fallback) {
  if (!obj.is_object())
    return fallback;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number())
    return fallback;
  return it->get<std::int64_t>();
}

std::string format_age(std::int64_t s) {
  if (s < -1)
    return "<invalid>";
  if (s < 0)
    return "0s";
  if (s < 60)
    return std::to_string(s) + "s";
  if (s < 60 * 60)
    return std::to_string(s / 60) + "m";
  if (s < 24 * 60 * 60)
    return std::to_string(s / 3600) + "h";
  if (s < 365 * 24 * 60 * 60)
    return std::to_string(s / 86400) + "d";
  return std::to_string(s / (365 * 86400)) + "y";
}

std::string age_of(const json& time, unix_nanos now) {
  if (!time.is_string())
    return "-";
  auto t = wire::parse_time(time.get<std::string>());
  if (!t)
    return "-";
  auto diff = now - *t;
  // Floor division, so that 0.5 s in the future is "-1" (shown as "0s").
  auto secs = diff / nanos_per_second - (diff % nanos_per_second < 0 ? 1 : 0);
  return format_age(secs);
}

std::string short_mib(std::int64_t mib) {
  if (mib < 1024)
    return std::to_string(mib) + "Mi";
  return one_decimal(static_cast<double>(mib) / 1024.0) + "Gi";
}

std::string long_mib(std::int64_t mib) {
  if (mib < 1024)
    return std::to_string(mib) + " MiB";
  return one_decimal(static_cast<double>(mib) / 1024.0) + " GiB";
}

std::int64_t percent(double part, double whole) {
  if (whole <= 0)
    return 0;
  return static_cast<std::int64_t>(std::nearbyint(part / whole * 100.0));
}

std::string plugin_text(const json& plugin) {
  if (plugin.is_string())
    return plugin.get<std::string>().empty() ? "-" : plugin.get<std::string>();
  if (!plugin.is_object())
    return "-";
  auto name = field_text(plugin, "name");
  auto version = field_text(plugin, "version", "");
  return version.empty() ? name : name + ":" + version;
}

std::string health_text(const json& h, bool detailed,
                        std::string_view failing) {
  if (h.is_string())
    return h.get<std::string>().empty() ? "none" : h.get<std::string>();
  if (!h.is_object())
    return "none";
  if (h.contains("enabled") && h["enabled"].is_boolean()
      && !h["enabled"].get<bool>())
    return "disabled";
  // The spec spelling nests the probe; the manifest spelling names it.
  const json* probe = nullptr;
  const json* timing = &h;
  std::string kind;
  if (auto p = h.find("probe"); p != h.end() && p->is_object()) {
    probe = &*p;
    kind = field_text(*p, "kind", "none");
  } else {
    for (const char* k : {"http", "tcp", "process"})
      if (auto p2 = h.find(k); p2 != h.end() && p2->is_object()) {
        probe = &*p2;
        timing = &*p2;
        kind = k;
      }
  }
  if (!probe || kind == "none")
    return "none";
  std::string out = kind;
  if (kind == "http")
    out += " :" + field_text(*probe, "port", "80")
           + field_text(*probe, "path", "/");
  else if (kind == "tcp")
    out += " :" + field_text(*probe, "port");
  else if (kind == "process")
    out += " " + field_text(*probe, "name");
  if (auto every = field_int(*timing, "interval_seconds", 0); every > 0)
    out += " every " + std::to_string(every) + "s";
  if (!detailed)
    return out;
  if (auto timeout = field_int(*timing, "timeout_seconds", 0); timeout > 0)
    out += ", timeout " + std::to_string(timeout) + "s";
  if (auto after = field_int(*timing, "unhealthy_threshold", 0); after > 0)
    out += ", " + std::string(failing) + " after " + std::to_string(after)
           + (after == 1 ? " failure" : " failures");
  return out;
}

std::string labels_text(const json& labels) {
  if (!labels.is_object() || labels.empty())
    return "-";
  std::string out;
  for (const auto& [k, v] : labels.items()) {
    if (!out.empty())
      out += ',';
    out += k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  }
  return out;
}

std::string render_deployments(const json& reply, unix_nanos now) {
  wire::table t({"NAME", "PLUGIN", "DESIRED", "CURRENT", "READY", "AGE"});
  for (const auto& d : list_of(reply, "deployments")) {
    json plugin = member(d, "plugin");
    if (plugin.is_null())
      plugin = member(member(member(d, "spec"), "tmpl"), "plugin");
    t.add_row({field_text(d, "name"), plugin_text(plugin),
               field_text(d, "desired"), field_text(d, "current"),
               field_text(d, "ready"), age_of(member(d, "created_at"), now)});
  }
  return t.render();
}

bool any_backoff(const json& vms) {
  for (const auto& vm : vms)
    if (vm.is_object() && field_int(vm, "backoff_ms") > 0)
      return true;
  return false;
}

std::string backoff_text(const json& vm) {
  auto ms = field_int(vm, "backoff_ms");
  if (ms <= 0)
    return "-";
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

std::string render_vms(const json& reply, unix_nanos now, bool resources) {
  const auto& list = list_of(reply, "vms");
  bool usage = false;
  for (const auto& vm : list)
    usage = usage
            || (vm.is_object() && vm.contains("usage")
                && vm["usage"].is_object());
  bool backing_off = any_backoff(list);
  // The spec's columns; DRIVER only once some VM is not a plain process.
  bool drivers = std::any_of(list.begin(), list.end(), [](const json& vm) {
    auto d = field_text(vm, "driver", "process");
    return d != "process" && d != "-" && !d.empty();
  });
  // HOST once VMs run on the hosts of a cluster (volantd --cluster).
  bool hosts = std::any_of(list.begin(), list.end(), [](const json& vm) {
    auto h = field_text(vm, "host", "local");
    return h != "local" && h != "-" && !h.empty();
  });
  std::vector<std::string> header
      = {"NAME", "DEPLOYMENT", "IP", "STATUS", "REVISION", "RESTARTS"};
  if (hosts)
    header.insert(header.begin() + 3, "HOST");
  if (drivers)
    header.push_back("DRIVER");
  if (backing_off)
    header.push_back("BACK-OFF");
  if (resources) {
    header.insert(header.end(), {"CPU", "MEMORY"});
    if (usage)
      header.insert(header.end(), {"CPU%", "RSS"});
  }
  header.push_back("AGE");
  wire::table t(header);
  for (const auto& vm : list) {
    std::vector<std::string> row
        = {field_text(vm, "name"), field_text(vm, "deployment"),
           field_text(vm, "ip"), field_text(vm, "status"),
           field_text(vm, "revision", "-"), field_text(vm, "restarts", "0")};
    if (hosts)
      row.insert(row.begin() + 3, field_text(vm, "host", "-"));
    if (drivers)
      row.push_back(field_text(vm, "driver", "process"));
    if (backing_off)
      row.push_back(backoff_text(vm));
    if (resources) {
      row.push_back(field_text(vm, "cpu"));
      auto mem = field_int(vm, "memory", -1);
      row.push_back(mem < 0 ? "-" : short_mib(mem));
      if (usage) {
        row.push_back(cpu_percent(vm, now));
        row.push_back(rss(vm));
      }
    }
    row.push_back(age_of(member(vm, "created_at"), now));
    t.add_row(std::move(row));
  }
  return t.render();
}

std::string render_plugins(const json& reply) {
  wire::table t({"NAME", "VERSION", "RUNTIME", "HEALTH", "DESCRIPTION"});
  for (const auto& p : list_of(reply, "plugins"))
    t.add_row({field_text(p, "name"), field_text(p, "version"),
               field_text(p, "runtime"), health_text(member(p, "health")),
               field_text(p, "description", "")});
  return t.render();
}

std::string render_resources(const json& r) {
  auto cpu_total = field_int(r, "cpu_total");
  auto cpu_used = field_int(r, "cpu_used");
  auto mem_total = field_int(r, "memory_total_mib");
  auto mem_used = field_int(r, "memory_used_mib");
  auto p = [](std::int64_t part, std::int64_t whole) {
    return " ("
           + std::to_string(
               percent(static_cast<double>(part), static_cast<double>(whole)))
           + "%)";
  };
  std::string out;
  out += "Total CPU: " + cores(cpu_total) + "\n";
  // vCPUs may be more than the cores (overcommitted): said so, never "0
  // available" while volantd still admits (issue 14).
  auto cpu_limit = field_int(r, "cpu_limit");
  auto cpu_committed = std::max(field_int(r, "cpu_committed"), cpu_used);
  bool over = cpu_used > cpu_total;
  if (over)
    out += "Used CPU: " + std::to_string(cpu_used) + " vCPUs of " + cores(cpu_total) + " ("
           + std::to_string(percent(static_cast<double>(cpu_used), static_cast<double>(cpu_total)))
           + "%, overcommitted)\n";
  else
    out += "Used CPU: " + cores(cpu_used) + p(cpu_used, cpu_total) + "\n";
  out += "Available CPU: " + cores(std::max<std::int64_t>(0, cpu_total - cpu_used));
  if (cpu_limit > 0)
    out += " (" + std::to_string(std::max<std::int64_t>(0, cpu_limit - cpu_committed))
           + " of " + std::to_string(cpu_limit) + " vCPUs admissible under --cpu-overcommit "
           + one_decimal(r.value("cpu_overcommit", 0.0)) + ")";
  else if (over)
    out += " (more vCPUs are admitted with a warning: volantd --cpu-overcommit RATIO sets "
           "a limit)";
  out += "\n\n";
  out += "Total Memory: " + long_mib(mem_total) + "\n";
  out += "Used Memory: " + long_mib(mem_used) + p(mem_used, mem_total) + "\n";
  out += "Available Memory: "
         + long_mib(std::max<std::int64_t>(0, mem_total - mem_used)) + "\n\n";
  auto vms = r.is_object() && r.contains("vms") && r["vms"].is_array()
                 ? static_cast<std::int64_t>(r["vms"].size())
                 : field_int(r, "vms");
  out += "VMs: " + std::to_string(vms) + " / " + field_text(r, "max_vms")
         + "\n";
  const json limits = member(r, "limits");
  auto note = field_text(limits, "note", "");
  auto off = [&](const char* key) {
    return limits.is_object() && limits.contains(key)
           && limits[key].is_boolean() && !limits[key].get<bool>();
  };
  if (note.empty() && (off("cpu") || off("memory"))) {
    note = off("cpu") && off("memory") ? "CPU and memory limits are"
           : off("cpu")                ? "CPU limits are"
                                       : "memory limits are";
    note += " not enforced on this host";
  }
  if (!note.empty())
    out += "Note: " + note + "\n";
  if (auto user = field_text(limits, "user", ""); !user.empty()) {
    auto pids = field_int(limits, "pids");
    out += "Workloads: run as " + user + ", "
           + (pids > 0 ? "at most " + std::to_string(pids) + " processes each"
                       : "processes not limited")
           + ", in " + field_text(limits, "run_dir", "-") + "\n";
  }
  if (const json qemu = member(r, "qemu"); qemu.is_object()) {
    out += "\nMicroVMs (qemu): accelerator " + field_text(qemu, "accelerator", "-")
           + ", bridge " + field_text(qemu, "bridge", "-") + "\n";
    if (auto why = field_text(qemu, "note", ""); !why.empty())
      out += "  " + why + "\n";
  }
  return out;
}

} // namespace volant::cli
