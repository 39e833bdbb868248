#pragma once

// Parsing and validation of user input: names, labels, env, volumes, plugin
// references, manifests, specs. Every error names the offending field or token.

#include "events/error.hpp"
#include "events/types.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace volant {

/// DNS-label rules (RFC 1123): 1-63 chars of [a-z0-9-], starting and ending with an
/// alphanumeric. `what` names the thing in the error ("deployment name").
status validate_name(std::string_view name, std::string_view what);

/// A deployment name: a DNS label short enough that `<name>-<index>` is one too.
status validate_deployment_name(std::string_view name);

/// A plugin reference: a plugin name and, when not empty, a version of
/// 1-128 characters of [A-Za-z0-9._+-].
status validate_plugin_ref(const plugin_ref& ref);

/// At most `max_labels` (src/events/limits.hpp), each key and value valid.
status validate_labels(const labels& vm_labels);

/// "k=v,k2=v2" -> labels. Keys: optional DNS-subdomain prefix + '/' + name of
/// [A-Za-z0-9._-] (as Kubernetes); values may be empty; duplicate keys rejected.
expected<labels> parse_labels(std::string_view text);

/// An env key: [A-Za-z_][A-Za-z0-9_]*; `field` names it in the error ("env").
status validate_env_key(std::string_view key, std::string_view field);

/// "KEY=VALUE" -> env_var. KEY: [A-Za-z_][A-Za-z0-9_]*; VALUE may contain '='.
expected<env_var> parse_env(std::string_view text);

/// "PATH[:persistent|:ephemeral][:SIZE]" -> volume (docs/volumes.md): PATH
/// absolute, plain segments; SIZE as parse_size_mib. No option: ephemeral.
expected<volume> parse_volume(std::string_view text);

/// "512M", "10G", "1T" (also "10GiB", "10GB": binary units) -> MiB.
expected<std::int64_t> parse_size_mib(std::string_view text);

/// Each path valid (absolute, plain segments, not "/"), none twice, sizes sane.
status validate_volumes(const std::vector<volume>& volumes);

/// "nginx" or "nginx:v2" -> plugin_ref.
expected<plugin_ref> parse_plugin_ref(std::string_view text);

/// "25%" or "2" -> int_or_percent (non-negative).
expected<int_or_percent> parse_int_or_percent(std::string_view text);

/// "recreate" | "rolling".
expected<strategy_kind> parse_strategy(std::string_view text);

/// Validates a manifest; the error names the field, e.g. "workload.entrypoint".
status validate_manifest(const plugin_manifest& manifest);

/// Validates a microVM guest declaration (one source, package names, clean
/// absolute paths).
status validate_guest(const guest_spec& guest);

/// Validates a health check; `field` prefixes field names in errors.
status validate_health_check(const health_check& check, std::string_view field);

/// Validates a deployment spec against the per-deployment replica limit.
status validate_spec(const deployment_spec& spec, std::uint32_t max_replicas);

/// Validates a host configuration (pool non-empty and ordered, capacity >= 1).
status validate_host_config(const host_config& config);

/// Orders versions numerically where both are digits ("1.10.0" > "1.9.0", "v2" >
/// "v1"); negative, zero or positive like strcmp.
int compare_versions(std::string_view a, std::string_view b);

} // namespace volant
