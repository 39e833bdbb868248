#pragma once

// Plugin manifests: the JSON of the spec's `nginx.manifest.json`, read into the
// core's `plugin_manifest` and validated. Every error names the field
// ("workload.health_check.http.port: expected an integer 1-65535").

#include "events/error.hpp"
#include "events/types.hpp"

#include <nlohmann/json_fwd.hpp>

#include <string_view>

namespace volant::wire {

/// Parses and validates a manifest. `health_check` may sit in `workload` (as in
/// the spec's nginx example) or at the top level, not both. Unknown fields are
/// errors.
expected<plugin_manifest> parse_manifest(std::string_view json_text);

/// Reads a `health_check` object (spec spelling, snake_case); `field` prefixes
/// field names in errors.
expected<health_check> parse_health_check(const nlohmann::json& j,
                                          std::string_view field);

/// The manifest as JSON in the spec's spelling (round-trips through
/// parse_manifest).
nlohmann::json manifest_to_json(const plugin_manifest& m);

} // namespace volant::wire
