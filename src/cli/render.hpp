#pragma once

// Human output of volar: replies of volantd (docs/protocol.md) rendered as the
// spec's tables and key/value blocks. Pure: reply JSON and the current time in,
// text out. Missing or oddly typed fields render as "-" rather than failing, so
// that a newer daemon's reply still prints.

#include "events/types.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace volant::cli {

/// kubectl's short age: "45s", "10m", "5h", "3d", "2y"; "0s" for slightly
/// negative (clock skew), "<invalid>" below -1 s.
std::string format_age(std::int64_t seconds);

/// The age of an RFC 3339 time field at `now`; "-" when null or malformed.
std::string age_of(const nlohmann::json& time, unix_nanos now);

/// "512Mi" under 1 GiB and "1.5Gi" above (one decimal, ".0" dropped).
std::string short_mib(std::int64_t mib);

/// "512 MiB", "64 GiB", "4.9 GiB": debug resources' memory amounts.
std::string long_mib(std::int64_t mib);

/// `part` of `whole` in percent, rounded half to even (20/32 -> 62, 5/64 -> 8).
std::int64_t percent(double part, double whole);

/// "nginx" or "nginx:1.0.0" from a string or a {"name","version"} object.
std::string plugin_text(const nlohmann::json& plugin);

/// One-line summary of a health check in either spelling (manifest's
/// {"http": {...}} or the spec's {"probe": {"kind": ...}}), e.g.
/// "http :80/health every 10s"; "none" when disabled or absent. `failing`
/// names what the threshold's failures make a VM ("not ready" for a
/// readiness check).
std::string health_text(const nlohmann::json& health, bool detailed = false,
                        std::string_view failing = "unhealthy");

/// "k=v,k2=v2" from a labels object; "-" when empty.
std::string labels_text(const nlohmann::json& labels);

/// deployments.list -> NAME PLUGIN DESIRED CURRENT READY AGE.
std::string render_deployments(const nlohmann::json& list, unix_nanos now);

/// vms.list -> NAME DEPLOYMENT IP STATUS RESTARTS AGE; with `resources` also
/// CPU MEMORY, and CPU% (average since start) and RSS when the reply has usage.
/// Whether any VM of `vms` is waiting out a crash-loop back-off.
bool any_backoff(const nlohmann::json& vms);

/// A VM's current back-off for the BACK-OFF column: "4s", "1500ms" or "-".
std::string backoff_text(const nlohmann::json& vm);

std::string render_vms(const nlohmann::json& list, unix_nanos now,
                       bool resources);

/// plugins.list -> NAME VERSION RUNTIME HEALTH DESCRIPTION.
std::string render_plugins(const nlohmann::json& list);

/// debug.resources -> the spec's "Total CPU: 32 cores" block, "VMs: 12 / 100"
/// and a "Note:" line when limits are not enforced.
std::string render_resources(const nlohmann::json& reply);

/// deployments.show -> spec, blocked reason, VM table and recent events.
std::string render_deployment(const nlohmann::json& show, unix_nanos now);

/// vms.show -> one "Key: value" line per field.
std::string render_vm(const nlohmann::json& vm, unix_nanos now);

/// plugins.show (a manifest) -> a summary block.
std::string render_plugin(const nlohmann::json& manifest);

/// obj[key], or null when `obj` is not an object or has no such key.
const nlohmann::json& member(const nlohmann::json& obj, const char* key);

/// obj[key] is the boolean true.
bool flag(const nlohmann::json& obj, const char* key);

/// Field helpers shared by the renderers: the value as text, or `fallback`.
std::string field_text(const nlohmann::json& obj, const char* key,
                       const std::string& fallback = "-");
std::int64_t field_int(const nlohmann::json& obj, const char* key,
                       std::int64_t fallback = 0);

} // namespace volant::cli
