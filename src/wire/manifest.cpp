#include "wire/manifest.hpp"

#include "events/limits.hpp"
#include "events/validate.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <initializer_list>
#include <set>

namespace volant::wire {

namespace {

using json = nlohmann::json;

error bad(std::string_view field, std::string_view what) {
  return make_error(ec::invalid_manifest, std::string(field) + ": " + std::string(what));
}

std::string join(std::string_view prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : std::string(prefix) + "." + std::string(key);
}

/// Rejects keys outside `known`, naming the first unknown one.
status only_fields(const json& obj, std::string_view field,
                   std::initializer_list<std::string_view> known) {
  if (!obj.is_object())
    return bad(field.empty() ? "manifest" : field, "expected an object");
  for (const auto& [key, value] : obj.items()) {
    bool ok_ = false;
    for (auto k : known)
      ok_ = ok_ || k == key;
    if (!ok_)
      return bad(join(field, key), "unknown field");
  }
  return ok();
}

status get_string(const json& obj, std::string_view field, const char* key,
                  std::string& out, bool required) {
  auto it = obj.find(key);
  if (it == obj.end())
    return required ? status{bad(join(field, key), "required field is missing")} : ok();
  if (!it->is_string())
    return bad(join(field, key), "expected a string");
  out = it->get<std::string>();
  return ok();
}

template <class Int>
status get_uint(const json& obj, std::string_view field, const char* key, Int& out,
                std::uint64_t min, std::uint64_t max) {
  auto it = obj.find(key);
  if (it == obj.end())
    return ok();
  if (!it->is_number_integer() || it->get<std::int64_t>() < static_cast<std::int64_t>(min)
      || it->get<std::uint64_t>() > max)
    return bad(join(field, key), "expected an integer " + std::to_string(min) + "-"
                                   + std::to_string(max));
  out = static_cast<Int>(it->get<std::uint64_t>());
  return ok();
}

/// Reads the timing fields common to every probe kind.
status get_timing(const json& obj, std::string_view field, health_check& hc) {
  if (auto st = get_uint(obj, field, "interval_seconds", hc.interval_seconds, 1, 86400); !st)
    return st;
  if (auto st = get_uint(obj, field, "timeout_seconds", hc.timeout_seconds, 1, 86400); !st)
    return st;
  return get_uint(obj, field, "unhealthy_threshold", hc.unhealthy_threshold, 1, 1000);
}

status get_env(const json& obj, std::string_view field, std::vector<env_var>& out) {
  auto it = obj.find("env");
  if (it == obj.end())
    return ok();
  auto name = join(field, "env");
  if (it->is_object()) {
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string())
        return bad(join(name, k), "expected a string");
      out.push_back({k, v.get<std::string>()});
    }
  } else if (it->is_array()) {
    for (const auto& item : *it) {
      if (!item.is_string())
        return bad(name, "expected KEY=VALUE strings");
      auto var = parse_env(item.get<std::string>());
      if (!var)
        return bad(name, var.error_value().message);
      out.push_back(*var);
    }
  } else {
    return bad(name, "expected an object of strings or an array of KEY=VALUE");
  }
  // The variables are a set, kept in key order: the order manifest_to_json
  // prints them in (a JSON object), so that what `plugins show` prints reads
  // back as the same manifest (found by tests/fuzz, manifest target).
  std::stable_sort(out.begin(), out.end(),
                   [](const env_var& a, const env_var& b) { return a.key < b.key; });
  for (std::size_t i = 1; i < out.size(); ++i)
    if (out[i].key == out[i - 1].key)
      return bad(name, "variable '" + out[i].key + "' is given twice");
  return ok();
}

} // namespace

expected<health_check> parse_health_check(const json& j, std::string_view field) {
  if (auto st = only_fields(j, field, {"enabled", "http", "tcp", "process"}); !st)
    return st.error_value();
  health_check hc;
  hc.enabled = true;
  if (auto it = j.find("enabled"); it != j.end()) {
    if (!it->is_boolean())
      return bad(join(field, "enabled"), "expected true or false");
    hc.enabled = it->get<bool>();
  }
  int kinds = 0;
  if (auto it = j.find("http"); it != j.end()) {
    ++kinds;
    auto f = join(field, "http");
    if (auto st = only_fields(*it, f, {"port", "path", "interval_seconds",
                                       "timeout_seconds", "unhealthy_threshold"});
        !st)
      return st.error_value();
    http_check http;
    if (auto st = get_uint(*it, f, "port", http.port, 1, 65535); !st)
      return st.error_value();
    if (auto st = get_string(*it, f, "path", http.path, false); !st)
      return st.error_value();
    if (auto st = get_timing(*it, f, hc); !st)
      return st.error_value();
    hc.probe = http;
  }
  if (auto it = j.find("tcp"); it != j.end()) {
    ++kinds;
    auto f = join(field, "tcp");
    if (auto st = only_fields(*it, f, {"port", "interval_seconds", "timeout_seconds",
                                       "unhealthy_threshold"});
        !st)
      return st.error_value();
    if (!it->contains("port"))
      return bad(join(f, "port"), "required field is missing");
    tcp_check tcp;
    if (auto st = get_uint(*it, f, "port", tcp.port, 1, 65535); !st)
      return st.error_value();
    if (auto st = get_timing(*it, f, hc); !st)
      return st.error_value();
    hc.probe = tcp;
  }
  if (auto it = j.find("process"); it != j.end()) {
    ++kinds;
    auto f = join(field, "process");
    if (auto st = only_fields(*it, f, {"name", "interval_seconds", "timeout_seconds",
                                       "unhealthy_threshold"});
        !st)
      return st.error_value();
    process_check proc;
    if (auto st = get_string(*it, f, "name", proc.name, true); !st)
      return st.error_value();
    if (auto st = get_timing(*it, f, hc); !st)
      return st.error_value();
    hc.probe = proc;
  }
  if (kinds > 1)
    return bad(field, "give exactly one of http, tcp or process");
  if (kinds == 0 && hc.enabled)
    return bad(field, "enabled but none of http, tcp or process is given");
  if (auto st = validate_health_check(hc, field); !st)
    return st.error_value();
  return hc;
}

/// `guest`: what a microVM guest is made of (docs/guests.md). A prepared
/// initramfs goes to the manifest's `initramfs`.
status parse_guest(const json& g, plugin_manifest& m) {
  if (auto st = only_fields(g, "guest", {"debian_packages", "oci_archive", "directory",
                                         "rootfs", "initramfs", "files", "format"});
      !st)
    return st;
  if (auto it = g.find("debian_packages"); it != g.end()) {
    if (!it->is_array() || it->empty())
      return bad("guest.debian_packages", "expected a non-empty array of package names");
    for (const auto& p : *it) {
      if (!p.is_string())
        return bad("guest.debian_packages", "expected a non-empty array of package names");
      m.guest.debian_packages.push_back(p.get<std::string>());
    }
  }
  std::string initramfs;
  for (auto [key, out] : {std::pair{"oci_archive", &m.guest.oci_archive},
                          {"directory", &m.guest.directory},
                          {"rootfs", &m.guest.rootfs},
                          {"initramfs", &initramfs},
                          {"format", &m.guest.format}})
    if (auto st = get_string(g, "guest", key, *out, false); !st)
      return st;
  if (!initramfs.empty()) {
    if (!m.initramfs.empty())
      return bad("guest.initramfs", "given both here and as the top-level initramfs");
    if (!m.guest.empty())
      return bad("guest", "give one of debian_packages, oci_archive, directory, rootfs "
                          "or initramfs");
    m.initramfs = initramfs;
  }
  if (auto it = g.find("files"); it != g.end()) {
    if (!it->is_object())
      return bad("guest.files", "expected an object of path: content");
    for (const auto& [path, content] : it->items()) {
      if (!content.is_string())
        return bad("guest.files." + path, "expected a string");
      m.guest.files.push_back({path, content.get<std::string>()});
    }
  }
  return ok();
}

expected<plugin_manifest> parse_manifest(std::string_view json_text) {
  if (json_text.size() > max_manifest_bytes)
    return make_error(ec::invalid_manifest,
                      "manifest is " + describe_bytes(json_text.size()) + ": at most "
                          + describe_bytes(max_manifest_bytes));
  json j = json::parse(json_text, nullptr, false);
  if (j.is_discarded())
    return make_error(ec::invalid_manifest, "manifest is not valid JSON");
  if (auto st = only_fields(j, "", {"name", "version", "description", "runtime",
                                    "kernel", "initramfs", "workload", "health_check",
                                    "readiness_check", "guest"});
      !st)
    return st.error_value();
  plugin_manifest m;
  for (auto [key, out, required] :
       {std::tuple{"name", &m.name, true}, {"version", &m.version, true},
        {"description", &m.description, false}, {"runtime", &m.runtime, false},
        {"kernel", &m.kernel, false}, {"initramfs", &m.initramfs, false}})
    if (auto st = get_string(j, "", key, *out, required); !st)
      return st.error_value();
  auto wl = j.find("workload");
  if (wl == j.end())
    return bad("workload", "required field is missing");
  if (auto st = only_fields(*wl, "workload",
                            {"entrypoint", "env", "workdir", "health_check",
                             "readiness_check"});
      !st)
    return st.error_value();
  if (auto it = wl->find("entrypoint"); it != wl->end()) {
    if (!it->is_array())
      return bad("workload.entrypoint", "expected an array of strings");
    for (const auto& arg : *it) {
      if (!arg.is_string())
        return bad("workload.entrypoint", "expected an array of strings");
      m.workload.entrypoint.push_back(arg.get<std::string>());
    }
  }
  if (auto st = get_env(*wl, "workload", m.workload.env); !st)
    return st.error_value();
  if (auto st = get_string(*wl, "workload", "workdir", m.workload.workdir, false); !st)
    return st.error_value();
  // health_check (restarts) and readiness_check (load balancers and DNS), the
  // same shape, each at the top level or in workload.
  for (auto [key, out] : {std::pair{"health_check", &m.health},
                          std::pair{"readiness_check", &m.readiness}}) {
    auto inner = wl->find(key);
    auto outer = j.find(key);
    if (inner != wl->end() && outer != j.end())
      return bad(key, "given both at the top level and in workload");
    if (inner != wl->end() || outer != j.end()) {
      bool in_workload = inner != wl->end();
      auto hc = parse_health_check(in_workload ? *inner : *outer,
                                   in_workload ? "workload." + std::string(key)
                                               : std::string(key));
      if (!hc)
        return hc.error_value();
      *out = *hc;
    }
  }
  if (auto it = j.find("guest"); it != j.end())
    if (auto st = parse_guest(*it, m); !st)
      return st.error_value();
  if (auto st = validate_manifest(m); !st)
    return st.error_value();
  return m;
}

json manifest_to_json(const plugin_manifest& m) {
  json wl = {{"entrypoint", m.workload.entrypoint}};
  if (!m.workload.env.empty()) {
    json env = json::object();
    for (const auto& v : m.workload.env)
      env[v.key] = v.value;
    wl["env"] = env;
  }
  if (!m.workload.workdir.empty())
    wl["workdir"] = m.workload.workdir;
  for (auto [key, check] : {std::pair{"health_check", &m.health},
                            std::pair{"readiness_check", &m.readiness}}) {
    if (!check->enabled && std::holds_alternative<no_check>(check->probe))
      continue;
    json hc = {{"enabled", check->enabled}};
    json timing = {{"interval_seconds", check->interval_seconds},
                   {"timeout_seconds", check->timeout_seconds},
                   {"unhealthy_threshold", check->unhealthy_threshold}};
    if (auto* h = std::get_if<http_check>(&check->probe)) {
      timing["port"] = h->port;
      timing["path"] = h->path;
      hc["http"] = timing;
    } else if (auto* t = std::get_if<tcp_check>(&check->probe)) {
      timing["port"] = t->port;
      hc["tcp"] = timing;
    } else if (auto* p = std::get_if<process_check>(&check->probe)) {
      timing["name"] = p->name;
      hc["process"] = timing;
    }
    wl[key] = hc;
  }
  json out = {{"name", m.name}, {"version", m.version}, {"runtime", m.runtime},
              {"workload", wl}};
  if (!m.description.empty())
    out["description"] = m.description;
  if (!m.kernel.empty())
    out["kernel"] = m.kernel;
  if (!m.initramfs.empty())
    out["initramfs"] = m.initramfs;
  if (!(m.guest == guest_spec{})) {
    json g = json::object();
    if (!m.guest.debian_packages.empty())
      g["debian_packages"] = m.guest.debian_packages;
    for (auto [key, value] : {std::pair{"oci_archive", &m.guest.oci_archive},
                              {"directory", &m.guest.directory},
                              {"rootfs", &m.guest.rootfs},
                              {"format", &m.guest.format}})
      if (!value->empty())
        g[key] = *value;
    if (!m.guest.files.empty()) {
      json files = json::object();
      for (const auto& f : m.guest.files)
        files[f.path] = f.content;
      g["files"] = files;
    }
    out["guest"] = g;
  }
  if (!m.rootfs.empty())
    out["rootfs"] = m.rootfs;
  if (!m.image.key.empty())
    out["image"] = {{"key", m.image.key}, {"bytes", m.image.bytes},
                    {"summary", m.image.summary}};
  return out;
}

} // namespace volant::wire
