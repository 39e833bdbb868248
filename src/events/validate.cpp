#include "events/validate.hpp"

#include "events/events.hpp"
#include "events/limits.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <set>
#include <string>

namespace volant {

namespace {

/// VM names are `<deployment>-<index>` and must themselves be DNS labels: a
/// deployment name leaves room for "-" and three digits.
constexpr std::size_t max_deployment_name = 63 - 4;

/// Label keys and values as Kubernetes: names up to 63, prefixes up to 253.
constexpr std::size_t max_label_name = 63;
constexpr std::size_t max_label_prefix = 253;

constexpr std::size_t max_version = 128;

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool is_alnum(char c) {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::string quoted(std::string_view text) {
  std::string out = "'";
  out += text;
  out += '\'';
  return out;
}

error fail(ec code, std::string message) {
  return make_error(code, std::move(message));
}

/// [A-Za-z0-9._-], alphanumeric at both ends, 1..max characters.
bool is_label_name(std::string_view s) {
  if (s.empty() || s.size() > max_label_name)
    return false;
  if (!is_alnum(s.front()) || !is_alnum(s.back()))
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return is_alnum(c) || c == '.' || c == '_' || c == '-';
  });
}

/// A DNS subdomain: dot-separated DNS labels, at most 253 characters.
bool is_dns_subdomain(std::string_view s) {
  if (s.empty() || s.size() > max_label_prefix)
    return false;
  while (true) {
    auto part = s.substr(0, s.find('.'));
    if (!validate_name(part, "label prefix"))
      return false;
    if (part.size() == s.size())
      return true;
    s.remove_prefix(part.size() + 1);
  }
}

status validate_label_key(std::string_view key, std::string_view token) {
  auto slash = key.find('/');
  auto name = slash == std::string_view::npos ? key : key.substr(slash + 1);
  bool prefix_ok = slash == std::string_view::npos
                   || is_dns_subdomain(key.substr(0, slash));
  if (!prefix_ok || !is_label_name(name))
    return fail(
        ec::invalid_label,
        "invalid label " + quoted(token) + ": key " + quoted(key)
            + " must be [prefix/]name with a name of 1-63 characters of "
              "[A-Za-z0-9._-] starting and ending with a letter or digit");
  return ok();
}

status validate_label_value(std::string_view value, std::string_view token) {
  if (!value.empty() && !is_label_name(value))
    return fail(ec::invalid_label,
                "invalid label " + quoted(token) + ": value " + quoted(value)
                    + " must be empty or 1-63 characters of [A-Za-z0-9._-] "
                      "starting and ending with a letter or digit");
  return ok();
}

bool is_env_key(std::string_view key) {
  if (key.empty() || is_digit(key.front()))
    return false;
  return std::all_of(key.begin(), key.end(),
                     [](char c) { return is_alnum(c) || c == '_'; });
}

status check_env_key(std::string_view key, std::string_view field) {
  if (!is_env_key(key))
    return fail(ec::invalid_env, std::string(field) + " key " + quoted(key)
                                     + " must match [A-Za-z_][A-Za-z0-9_]*");
  return ok();
}

status validate_env_list(const std::vector<env_var>& env,
                         std::string_view field) {
  std::set<std::string_view> seen;
  for (const auto& var : env) {
    if (auto st = check_env_key(var.key, field); !st)
      return st;
    if (!seen.insert(var.key).second)
      return fail(ec::invalid_env, std::string(field) + " key "
                                       + quoted(var.key) + " is given twice");
  }
  return ok();
}

/// Secret keys follow the env rules, are unique, are not also plain env (one
/// value per key, and a secret never shown as plain env), and carry a sealed
/// value (the core cannot check the seal itself: only its presence).
status validate_secret_env(const std::vector<sealed_env_var>& secrets,
                           const std::vector<env_var>& env) {
  std::set<std::string_view> seen;
  for (const auto& var : secrets) {
    if (auto st = check_env_key(var.key, "secret_env"); !st)
      return st;
    if (!seen.insert(var.key).second)
      return fail(ec::invalid_env, "secret_env key " + quoted(var.key)
                                       + " is given twice");
    if (var.sealed.empty())
      return fail(ec::invalid_env, "secret_env key " + quoted(var.key)
                                       + " has no sealed value");
    for (const auto& plain : env)
      if (plain.key == var.key)
        return fail(ec::invalid_env,
                    "key " + quoted(var.key)
                        + " is in both env and secret_env: give it once");
  }
  return ok();
}

/// Versions: 1-128 characters of [A-Za-z0-9._+-] (semver, "v2", "15").
bool is_version(std::string_view v) {
  if (v.empty() || v.size() > max_version)
    return false;
  return std::all_of(v.begin(), v.end(), [](char c) {
    return is_alnum(c) || c == '.' || c == '_' || c == '+' || c == '-';
  });
}

status validate_version(std::string_view version, std::string_view field,
                        ec code) {
  if (!is_version(version))
    return fail(code, std::string(field) + " " + quoted(version)
                          + " must be 1-128 characters of [A-Za-z0-9._+-]");
  return ok();
}

status validate_port(std::uint16_t port, const std::string& field) {
  if (port == 0)
    return fail(ec::invalid_health_check, field + " must be 1..65535, got 0");
  return ok();
}

status validate_probe(const probe_kind& probe, const std::string& field) {
  if (const auto* http = std::get_if<http_check>(&probe)) {
    if (auto st = validate_port(http->port, field + ".http.port"); !st)
      return st;
    if (http->path.empty() || http->path.front() != '/')
      return fail(ec::invalid_health_check,
                  field + ".http.path must start with " + "'/', got "
                      + quoted(http->path));
  } else if (const auto* tcp = std::get_if<tcp_check>(&probe)) {
    return validate_port(tcp->port, field + ".tcp.port");
  } else if (const auto* proc = std::get_if<process_check>(&probe)) {
    if (proc->name.empty())
      return fail(ec::invalid_health_check,
                  field + ".process.name must not be empty");
  }
  return ok();
}

status at_least_one(std::uint32_t value, const std::string& field) {
  if (value < 1)
    return fail(ec::invalid_health_check, field + " must be >= 1, got 0");
  return ok();
}

status validate_replicas(std::int64_t replicas, std::uint32_t max_replicas) {
  if (replicas < 0)
    return fail(ec::invalid_replicas,
                "replicas must be >= 0, got " + std::to_string(replicas));
  if (replicas > max_replicas)
    return fail(ec::replica_limit, "replicas " + std::to_string(replicas)
                                       + " exceeds the limit of "
                                       + std::to_string(max_replicas)
                                       + " per deployment");
  return ok();
}




status validate_volume_path(std::string_view path, std::string_view token) {
  auto bad = [&](const std::string& why) {
    return fail(ec::invalid_volume, "invalid volume " + quoted(token) + ": " + why);
  };
  if (path.empty() || path.front() != '/')
    return bad("the path must be absolute");
  if (path == "/")
    return bad("a volume cannot replace the whole root (/)");
  if (path.size() > 255)
    return bad("the path is longer than 255 characters");
  // Each segment a plain name: the path is a mount point, and a '..' or an
  // empty segment would name another place than the one the user reads.
  std::size_t at = 1;
  while (at <= path.size()) {
    auto end = std::min(path.find('/', at), path.size());
    auto seg = path.substr(at, end - at);
    if (seg.empty() && end != path.size())
      return bad("empty path segment (//)");
    if (seg == "." || seg == "..")
      return bad("'.' and '..' are not allowed in the path");
    at = end + 1;
  }
  for (char c : path)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == ':')
      return bad("the path contains ':' or a control character");
  return ok();
}

status check_volumes(const std::vector<volume>& volumes) {
  std::vector<std::string_view> seen;
  for (const auto& vol : volumes) {
    auto path = std::string_view(vol.path);
    if (path.size() > 1 && path.back() == '/')
      path.remove_suffix(1);
    if (auto st = validate_volume_path(vol.path, vol.path); !st)
      return st;
    if (vol.size_mib < 0 || vol.size_mib > (std::int64_t{16} << 20))
      return fail(ec::invalid_volume, "invalid volume " + quoted(vol.path)
                                          + ": size must be 1 MiB .. 16 TiB");
    if (std::find(seen.begin(), seen.end(), path) != seen.end())
      return fail(ec::invalid_volume,
                  "volume path " + quoted(vol.path) + " is given twice");
    seen.push_back(path);
  }
  return ok();
}

status validate_resources(const vm_template& tmpl) {
  if (tmpl.cpu < 1)
    return fail(ec::invalid_cpu,
                "cpu must be >= 1, got " + std::to_string(tmpl.cpu));
  if (tmpl.memory_mib < 1)
    return fail(ec::invalid_memory, "memory must be >= 1 MiB, got "
                                        + std::to_string(tmpl.memory_mib));
  return ok();
}

status validate_template(const vm_template& tmpl) {
  if (auto st = validate_plugin_ref(tmpl.plugin); !st)
    return st;
  if (auto st = validate_resources(tmpl); !st)
    return st;
  if (auto st = validate_labels(tmpl.vm_labels); !st)
    return st;
  if (auto st = validate_env_list(tmpl.env, "env"); !st)
    return st;
  if (auto st = validate_secret_env(tmpl.secret_env, tmpl.env); !st)
    return st;
  if (auto st = check_volumes(tmpl.volumes); !st)
    return st;
  if (tmpl.health)
    if (auto st = validate_health_check(*tmpl.health, "health_check"); !st)
      return st;
  if (tmpl.readiness)
    return validate_health_check(*tmpl.readiness, "readiness_check");
  return ok();
}

status validate_strategy(const update_strategy& strategy) {
  const auto& surge = strategy.max_surge;
  const auto& unavailable = strategy.max_unavailable;
  if (surge.value < 0 || unavailable.value < 0)
    return fail(ec::invalid_strategy,
                "max_surge and max_unavailable must be >= 0");
  if (unavailable.percent && unavailable.value > 100)
    return fail(ec::invalid_strategy, "max_unavailable must be <= 100%, got "
                                          + std::to_string(unavailable.value)
                                          + "%");
  if (strategy.kind == strategy_kind::rolling && surge.value == 0
      && unavailable.value == 0)
    return fail(ec::invalid_strategy, "a rolling update needs max_surge or "
                                      "max_unavailable above 0");
  if (strategy.min_ready_seconds < 0)
    return fail(ec::invalid_strategy, "min_ready_seconds must be >= 0, got "
                                          + std::to_string(strategy.min_ready_seconds));
  if (strategy.progress_deadline_seconds <= strategy.min_ready_seconds)
    return fail(ec::invalid_strategy,
                "progress_deadline_seconds (" + std::to_string(strategy.progress_deadline_seconds)
                    + ") must be greater than min_ready_seconds ("
                    + std::to_string(strategy.min_ready_seconds) + ")");
  if (strategy.termination_grace_ms < 0)
    return fail(ec::invalid_strategy, "termination_grace_ms must be >= 0, got "
                                          + std::to_string(strategy.termination_grace_ms));
  if (strategy.revision_history < 1)
    return fail(ec::invalid_strategy, "revision_history must be >= 1, got "
                                          + std::to_string(strategy.revision_history));
  return ok();
}

/// A Debian package name (Debian policy 5.6.1).
bool is_package_name(std::string_view s) {
  if (s.size() < 2 || s.size() > 128 || !is_lower_alnum(s[0]))
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return is_lower_alnum(c) || c == '+' || c == '-' || c == '.';
  });
}

/// An absolute path without `..`, NUL or control characters.
bool is_clean_path(std::string_view p) {
  if (p.empty() || p.front() != '/' || p.size() > 4096)
    return false;
  if (std::any_of(p.begin(), p.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
    return false;
  std::size_t start = 0;
  while (start < p.size()) {
    auto end = p.find('/', start);
    if (end == std::string_view::npos)
      end = p.size();
    if (p.substr(start, end - start) == "..")
      return false;
    start = end + 1;
  }
  return true;
}

status check_guest(const guest_spec& g) {
  int sources = !g.debian_packages.empty() + !g.oci_archive.empty() + !g.directory.empty()
                + !g.rootfs.empty();
  if (sources > 1)
    return fail(ec::invalid_manifest, "guest: give one of debian_packages, oci_archive, "
                                      "directory, rootfs or initramfs");
  if (g.debian_packages.size() > 200)
    return fail(ec::invalid_manifest, "guest.debian_packages: at most 200 packages");
  for (std::size_t i = 0; i < g.debian_packages.size(); ++i)
    if (!is_package_name(g.debian_packages[i]))
      return fail(ec::invalid_manifest, "guest.debian_packages[" + std::to_string(i) + "] "
                                            + quoted(g.debian_packages[i])
                                            + " is not a Debian package name");
  for (auto [field, value] : {std::pair{"guest.oci_archive", &g.oci_archive},
                              {"guest.directory", &g.directory},
                              {"guest.rootfs", &g.rootfs}})
    if (!value->empty() && !is_clean_path(*value))
      return fail(ec::invalid_manifest, std::string(field) + " " + quoted(*value)
                                            + " must be an absolute path without '..'");
  if (g.files.size() > 256)
    return fail(ec::invalid_manifest, "guest.files: at most 256 files");
  for (const auto& f : g.files)
    if (!is_clean_path(f.path) || f.path == "/")
      return fail(ec::invalid_manifest, "guest.files: " + quoted(f.path)
                                            + " must be an absolute file path without '..'");
  if (!g.format.empty() && g.format != "ext4" && g.format != "initramfs")
    return fail(ec::invalid_manifest, "guest.format " + quoted(g.format)
                                          + " is unknown (expected ext4 or initramfs)");
  if (g.format == "initramfs" && !g.rootfs.empty())
    return fail(ec::invalid_manifest, "guest.format initramfs cannot hold a prepared rootfs");
  if (sources == 0 && (!g.files.empty() || !g.format.empty()))
    return fail(ec::invalid_manifest, "guest: files and format need a source "
                                      "(debian_packages, oci_archive or directory)");
  return ok();
}

status validate_runtime(const plugin_manifest& m) {
  if (m.runtime != "qemu" && !(m.guest == guest_spec{}))
    return fail(ec::invalid_manifest, "guest is for the qemu runtime only");
  if (m.runtime == "process") {
    if (m.workload.entrypoint.empty() || m.workload.entrypoint.front().empty())
      return fail(ec::invalid_manifest, "workload.entrypoint must not be empty "
                                        "for the process runtime");
  } else if (m.runtime == "qemu") {
    // The kernel defaults to the daemon's (--guest-kernel); the guest is
    // either declared (built at install) or a prepared initramfs.
    if (m.initramfs.empty() && m.guest.empty())
      return fail(ec::invalid_manifest,
                  "the qemu runtime needs a guest (guest.debian_packages, "
                  "guest.oci_archive, guest.directory, guest.rootfs or "
                  "guest.initramfs)");
    if (auto st = check_guest(m.guest); !st)
      return st;
  } else {
    return fail(ec::invalid_manifest,
                "runtime " + quoted(m.runtime)
                    + " is unknown (expected process or qemu)");
  }
  return ok();
}

/// Splits `a` into its next run of digits or of non-digits.
std::string_view next_run(std::string_view& s) {
  bool digits = is_digit(s.front());
  std::size_t n = 0;
  while (n < s.size() && is_digit(s[n]) == digits)
    ++n;
  auto run = s.substr(0, n);
  s.remove_prefix(n);
  return run;
}

int compare_numeric(std::string_view a, std::string_view b) {
  auto strip = [](std::string_view s) {
    while (s.size() > 1 && s.front() == '0')
      s.remove_prefix(1);
    return s;
  };
  a = strip(a);
  b = strip(b);
  if (a.size() != b.size())
    return a.size() < b.size() ? -1 : 1;
  auto c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

int sign(int c) {
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

} // namespace

std::string describe_bytes(std::size_t bytes) {
  auto text = std::to_string(bytes) + " bytes";
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0)
    return text + " (" + std::to_string(bytes >> 20) + " MiB)";
  if (bytes >= (1u << 10) && bytes % (1u << 10) == 0)
    return text + " (" + std::to_string(bytes >> 10) + " KiB)";
  return text;
}

status validate_deployment_name(std::string_view name) {
  if (name.size() > max_deployment_name)
    return fail(ec::invalid_name,
                "deployment name " + quoted(name) + " is too long (max "
                    + std::to_string(max_deployment_name) + " characters)");
  return validate_name(name, "deployment name");
}

status validate_plugin_ref(const plugin_ref& ref) {
  if (auto st = validate_name(ref.name, "plugin name"); !st)
    return st;
  if (!ref.version.empty())
    return validate_version(ref.version, "plugin version",
                            ec::invalid_argument);
  return ok();
}

status validate_labels(const labels& vm_labels) {
  if (vm_labels.size() > max_labels)
    return fail(ec::invalid_label,
                std::to_string(vm_labels.size()) + " labels: at most "
                    + std::to_string(max_labels) + " per object");
  for (const auto& [key, value] : vm_labels) {
    auto token = key + "=" + value;
    if (auto st = validate_label_key(key, token); !st)
      return st;
    if (auto st = validate_label_value(value, token); !st)
      return st;
  }
  return ok();
}

status validate_env_key(std::string_view key, std::string_view field) {
  return check_env_key(key, field);
}

status validate_name(std::string_view name, std::string_view what) {
  std::string prefix = std::string(what) + " ";
  if (name.empty())
    return fail(ec::invalid_name, prefix + "must not be empty");
  if (name.size() > 63)
    return fail(ec::invalid_name,
                prefix + quoted(name) + " is too long (max 63 characters)");
  for (char c : name)
    if (!is_lower_alnum(c) && c != '-')
      return fail(ec::invalid_name, prefix + quoted(name) + " contains "
                                        + quoted(std::string(1, c))
                                        + " (allowed: a-z, 0-9 and '-')");
  if (name.front() == '-' || name.back() == '-')
    return fail(ec::invalid_name,
                prefix + quoted(name)
                    + " must start and end with a letter or digit");
  return ok();
}

expected<labels> parse_labels(std::string_view text) {
  labels out;
  if (text.empty())
    return out;
  while (true) {
    auto token = text.substr(0, text.find(','));
    auto eq = token.find('=');
    if (eq == std::string_view::npos)
      return fail(ec::invalid_label,
                  "invalid label " + quoted(token) + ": expected key=value");
    auto key = token.substr(0, eq);
    auto value = token.substr(eq + 1);
    if (auto st = validate_label_key(key, token); !st)
      return st.error_value();
    if (auto st = validate_label_value(value, token); !st)
      return st.error_value();
    if (!out.emplace(std::string(key), std::string(value)).second)
      return fail(ec::invalid_label, "invalid label " + quoted(token) + ": key "
                                         + quoted(key) + " is given twice");
    if (out.size() > max_labels)
      return fail(ec::invalid_label, "more than " + std::to_string(max_labels)
                                         + " labels: at most "
                                         + std::to_string(max_labels)
                                         + " per object");
    if (token.size() == text.size())
      return out;
    text.remove_prefix(token.size() + 1);
  }
}

expected<env_var> parse_env(std::string_view text) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos)
    return fail(ec::invalid_env,
                "invalid env " + quoted(text) + ": expected KEY=VALUE");
  auto key = text.substr(0, eq);
  if (!is_env_key(key))
    return fail(ec::invalid_env, "invalid env " + quoted(text) + ": key "
                                     + quoted(key)
                                     + " must match [A-Za-z_][A-Za-z0-9_]*");
  return env_var{std::string(key), std::string(text.substr(eq + 1))};
}

status validate_volumes(const std::vector<volume>& volumes) {
  return check_volumes(volumes);
}

expected<std::int64_t> parse_size_mib(std::string_view text) {
  auto bad = [&] {
    return fail(ec::invalid_argument,
                "invalid size " + quoted(text) + " (expected a number with M, G or T, "
                                                 "e.g. 512M, 10G)");
  };
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
    ++digits;
  if (digits == 0 || digits > 12)
    return bad();
  std::int64_t n = std::stoll(std::string(text.substr(0, digits)));
  auto unit = text.substr(digits);
  if (unit.size() == 3 && (unit.substr(1) == "iB" || unit.substr(1) == "ib"))
    unit = unit.substr(0, 1);
  else if (unit.size() == 2 && (unit[1] == 'B' || unit[1] == 'b'))
    unit = unit.substr(0, 1);
  std::int64_t mib = 0;
  if (unit == "M" || unit == "m")
    mib = n;
  else if (unit == "G" || unit == "g")
    mib = n * 1024;
  else if (unit == "T" || unit == "t")
    mib = n * 1024 * 1024;
  else
    return bad();
  if (mib < 1)
    return bad();
  return mib;
}

expected<volume> parse_volume(std::string_view text) {
  auto usage = " (expected PATH[:persistent|:ephemeral][:SIZE])";
  volume out;
  auto path = text.substr(0, text.find(':'));
  auto rest = path.size() < text.size() ? text.substr(path.size() + 1)
                                        : std::string_view{};
  if (!rest.empty() || path.size() < text.size()) {
    auto kind = rest.substr(0, rest.find(':'));
    auto size = kind.size() < rest.size() ? rest.substr(kind.size() + 1)
                                          : std::string_view{};
    bool has_size = kind.size() < rest.size();
    if (kind != "persistent" && kind != "ephemeral")
      return fail(ec::invalid_volume, "invalid volume " + quoted(text)
                                          + ": unknown option " + quoted(rest)
                                          + usage);
    out.persistent = kind == "persistent";
    if (has_size) {
      auto mib = parse_size_mib(size);
      if (!mib)
        return fail(ec::invalid_volume, "invalid volume " + quoted(text) + ": "
                                            + mib.error_value().message);
      out.size_mib = *mib;
    }
  }
  if (auto st = validate_volume_path(path, text); !st)
    return st.error_value();
  out.path = std::string(path);
  return out;
}

expected<plugin_ref> parse_plugin_ref(std::string_view text) {
  plugin_ref ref;
  auto colon = text.find(':');
  ref.name = std::string(text.substr(0, colon));
  if (colon != std::string_view::npos) {
    ref.version = std::string(text.substr(colon + 1));
    if (ref.version.empty())
      return fail(ec::invalid_argument,
                  "plugin reference " + quoted(text) + " has an empty version");
  }
  if (auto st = validate_plugin_ref(ref); !st)
    return st.error_value();
  return ref;
}

expected<int_or_percent> parse_int_or_percent(std::string_view text) {
  int_or_percent out;
  auto digits = text;
  if (!digits.empty() && digits.back() == '%') {
    out.percent = true;
    digits.remove_suffix(1);
  }
  auto [end, err] = std::from_chars(digits.data(),
                                    digits.data() + digits.size(), out.value);
  if (digits.empty() || err != std::errc{}
      || end != digits.data() + digits.size() || out.value < 0)
    return fail(ec::invalid_strategy, quoted(text) + " is not a count or a "
                                          + "percentage such as 2 or 25%");
  return out;
}

expected<strategy_kind> parse_strategy(std::string_view text) {
  if (text == "recreate")
    return strategy_kind::recreate;
  if (text == "rolling")
    return strategy_kind::rolling;
  return fail(ec::invalid_strategy,
              "strategy " + quoted(text)
                  + " is unknown (expected recreate or rolling)");
}

status validate_guest(const guest_spec& g) {
  return check_guest(g);
}

status validate_manifest(const plugin_manifest& m) {
  if (auto st = validate_name(m.name, "plugin name"); !st)
    return st;
  if (auto st = validate_version(m.version, "version", ec::invalid_manifest);
      !st)
    return st;
  if (m.description.size() > max_description_bytes)
    return fail(ec::invalid_manifest,
                "description is " + describe_bytes(m.description.size())
                    + ": at most " + describe_bytes(max_description_bytes));
  if (auto st = validate_runtime(m); !st)
    return st;
  for (std::size_t i = 0; i < m.workload.env.size(); ++i) {
    if (!is_env_key(m.workload.env[i].key))
      return fail(ec::invalid_manifest,
                  "workload.env[" + std::to_string(i) + "].key "
                      + quoted(m.workload.env[i].key)
                      + " must match [A-Za-z_][A-Za-z0-9_]*");
  }
  return validate_health_check(m.health, "health_check");
}

status validate_health_check(const health_check& check,
                             std::string_view field) {
  std::string f(field);
  if (check.enabled && std::holds_alternative<no_check>(check.probe))
    return fail(ec::invalid_health_check,
                f + " is enabled but names no probe (http, tcp or process)");
  if (auto st = validate_probe(check.probe, f); !st)
    return st;
  if (auto st = at_least_one(check.interval_seconds, f + ".interval_seconds");
      !st)
    return st;
  if (auto st = at_least_one(check.timeout_seconds, f + ".timeout_seconds");
      !st)
    return st;
  return at_least_one(check.unhealthy_threshold, f + ".unhealthy_threshold");
}

status validate_spec(const deployment_spec& spec, std::uint32_t max_replicas) {
  if (auto st = validate_deployment_name(spec.name); !st)
    return st;
  if (auto st = validate_replicas(spec.replicas, max_replicas); !st)
    return st;
  if (auto st = validate_template(spec.tmpl); !st)
    return st;
  if (!spec.quota.empty())
    if (auto st = validate_name(spec.quota, "quota"); !st)
      return st;
  return validate_strategy(spec.strategy);
}

status validate_host_config(const host_config& c) {
  auto bad = [](std::string message) {
    return fail(ec::invalid_host_config, std::move(message));
  };
  if (c.id.empty())
    return bad("host id must not be empty");
  if (c.pool_first == 0 || c.pool_last == 0)
    return bad("IP pool bounds must be set (got " + to_string_ip(c.pool_first)
               + " - " + to_string_ip(c.pool_last) + ")");
  if (c.pool_first > c.pool_last)
    return bad("IP pool first address " + to_string_ip(c.pool_first)
               + " is after the last " + to_string_ip(c.pool_last));
  if (c.cpu_total < 1)
    return bad("cpu_total must be >= 1, got " + std::to_string(c.cpu_total));
  if (c.memory_total_mib < 1)
    return bad("memory_total_mib must be >= 1, got "
               + std::to_string(c.memory_total_mib));
  if (c.max_vms < 1)
    return bad("max_vms must be >= 1, got 0");
  if (c.max_replicas < 1)
    return bad("max_replicas must be >= 1, got 0");
  return ok();
}

int compare_versions(std::string_view a, std::string_view b) {
  auto ra = a;
  auto rb = b;
  while (!ra.empty() && !rb.empty()) {
    bool da = is_digit(ra.front());
    bool db = is_digit(rb.front());
    auto x = next_run(ra);
    auto y = next_run(rb);
    int c = da && db ? compare_numeric(x, y) : sign(x.compare(y));
    if (c != 0)
      return c;
  }
  if (ra.empty() != rb.empty())
    return ra.empty() ? -1 : 1;
  // Equal run by run ("01" vs "1"): fall back to the spelling, for a total
  // order.
  return sign(a.compare(b));
}

} // namespace volant
