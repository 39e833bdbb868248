#pragma once

// JSON views of core values for audits, the CLI's --json and the shell. Generic over
// the `reflect` field visitors of src/events/reflect.hpp, with two naming
// conventions the whole code base follows: a field named `at` or ending in `_at`
// holds Unix nanoseconds and is rendered as an RFC 3339 UTC time; a field named
// `ip`, `pool_first` or `pool_last` holds an IPv4 address and is rendered dotted.
// A secret env variable (sealed_env_var) is always {"key": K, "value": "***"}.

#include "events/events.hpp"
#include "events/state.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace volant::wire {

/// What every view shows in place of a secret env value (and its sealed bytes).
inline constexpr std::string_view secret_mask = "***";

/// RFC 3339 UTC with nanoseconds, e.g. "2026-11-28T10:00:00.000000001Z".
std::string format_time(unix_nanos t);

/// Parses "2026-11-28T10:00:00Z" (optionally with a fraction); nullopt if malformed.
std::optional<unix_nanos> parse_time(std::string_view text);

/// The fields of an event as an object (no type name).
nlohmann::json to_json(const event& ev);

/// One audit line: {"seq", "at", "aggregate", "id", "event", "fields"}.
nlohmann::json to_json(const recorded_event& rec);

nlohmann::json to_json(const vm_record& vm);
nlohmann::json to_json(const deployment_state& d);
nlohmann::json to_json(const plugin_manifest& m);
nlohmann::json to_json(const host_state& h);
nlohmann::json to_json(const health_check& h);
nlohmann::json to_json(const update_strategy& s);
nlohmann::json to_json(const quota_spec& q);
nlohmann::json to_json(const volume_record& v);

/// The whole state: host, plugins, deployments, vms, last_seq, last_at.
nlohmann::json to_json(const world& w);

/// Decodes a deployment spec from the field names of types.hpp (the inverse of
/// the encoding above); errors name the field (ec::invalid_argument).
expected<deployment_spec> spec_from_json(const nlohmann::json& j);

/// Decodes an update strategy ({"kind", "max_surge": {"value","percent"}, ...}).
expected<update_strategy> strategy_from_json(const nlohmann::json& j);

/// Decodes a health check (types.hpp spelling, `probe.kind` selects the
/// variant); errors name `field` ("health", "readiness").
expected<health_check> health_from_json(const nlohmann::json& j,
                                        const std::string& field = "health");

/// Decodes volumes ([{"path", "persistent", "size_mib"}]) and a quota
/// ({"name", "max_vms", "max_cpu", "max_memory_mib"}), types.hpp spelling.
expected<std::vector<volume>> volumes_from_json(const nlohmann::json& j);
expected<quota_spec> quota_from_json(const nlohmann::json& j);
/// An autoscaler in types spelling ({"name","deployment","min_replicas",...}).
expected<autoscaler_spec> autoscaler_from_json(const nlohmann::json& j);
nlohmann::json to_json(const autoscaler_spec& a);

/// A deployment spec in the field names of types.hpp (what spec_from_json reads).
nlohmann::json encode_spec(const deployment_spec& spec);

/// `key=value` pairs of an object's top-level fields for one-line listings;
/// nested values in compact JSON.
std::string to_fields_line(const nlohmann::json& object);

} // namespace volant::wire
