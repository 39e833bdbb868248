#pragma once

// Private to src/store: FlatBuffers <-> the domain values of events/types.hpp,
// shared by the event and snapshot codecs (codec.cpp). Not for other layers:
// the generated headers stay inside src/store.
//
// Packing writes every string, vector and table field, even when empty, so that
// on unpack an absent one means a damaged or foreign record. Readers throw
// `decode_failure` naming the field by its path (e.g. `spec.tmpl.env[2].key`);
// codec.cpp turns it into a `volant::error` at the public boundary.

#include "events/error.hpp"
#include "events/autoscale.hpp"
#include "events/types.hpp"

#include "types_generated.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace volant::store::detail {

using builder = flatbuffers::FlatBufferBuilder;
template <class T> using off = flatbuffers::Offset<T>;
template <class T> using vec_of = flatbuffers::Vector<flatbuffers::Offset<T>>;

/// The persisted number of an enum value.
template <class E> constexpr std::uint8_t num(E x) {
  return static_cast<std::uint8_t>(x);
}

// -- packing ------------------------------------------------------------------

off<flatbuffers::String> str(builder& b, const std::string& x);
off<flatbuffers::Vector<off<fb::EnvVar>>> pack(builder& b,
                                               const std::vector<env_var>& xs);
off<flatbuffers::Vector<off<fb::SecretEnvVar>>>
pack(builder& b, const std::vector<sealed_env_var>& xs);
off<flatbuffers::Vector<off<fb::Label>>> pack(builder& b, const labels& xs);
off<flatbuffers::Vector<off<fb::Volume>>> pack(builder& b,
                                               const std::vector<volume>& xs);
off<fb::HealthCheck> pack(builder& b, const health_check& x);
off<fb::PluginManifest> pack(builder& b, const plugin_manifest& x);
fb::IntOrPercent pack(const int_or_percent& x);
off<fb::UpdateStrategy> pack(builder& b, const update_strategy& x);
off<fb::VmTemplate> pack(builder& b, const vm_template& x);
off<fb::DeploymentSpec> pack(builder& b, const deployment_spec& x);
off<fb::DriverHandle> pack(builder& b, const driver_handle& x);
off<fb::VmRecord> pack(builder& b, const vm_record& x);
off<fb::LbSpec> pack(builder& b, const lb_spec& x);
off<fb::VolumeRecord> pack(builder& b, const volume_record& x);
off<fb::QuotaSpec> pack(builder& b, const quota_spec& x);
off<fb::ClusterHost> pack(builder& b, const cluster_host& x);
off<fb::AutoscalerSpec> pack(builder& b, const autoscaler_spec& x);
off<fb::HostConfig> pack(builder& b, const host_config& x);

// -- unpacking ----------------------------------------------------------------

/// Where a reader is inside a record, e.g. `spec.tmpl.env[2].key`; rendered
/// only when an error is reported.
struct path {
  static constexpr std::size_t no_index = static_cast<std::size_t>(-1);
  const path* parent = nullptr;
  std::string_view name;
  /// Set for a vector element (then `name` is empty).
  std::size_t index = no_index;

  std::string str() const;
};

/// A decoding failure; `detail` completes "<record>: <detail>".
struct decode_failure {
  ec code;
  std::string detail;
};

/// Throws: the field at `at` is absent (ec::corrupt_record).
[[noreturn]] void missing(const path& at);

/// Throws: the field at `at` holds an impossible value (ec::corrupt_record).
[[noreturn]] void bad(const path& at, const std::string& why);

/// Throws: an enum or union tag this version does not know
/// (ec::unsupported_version).
[[noreturn]] void newer(const path& at, const std::string& what,
                        unsigned value);

/// `*x`, or throws `missing(at)`.
template <class T> const T& need(const T* x, const path& at) {
  if (x == nullptr)
    missing(at);
  return *x;
}

std::string get(const flatbuffers::String* s, const path& at);

/// Reads a vector of tables element by element with `f(table, element_path)`.
template <class T, class F>
void each(const vec_of<T>* v, const path& at, F&& f) {
  const auto& xs = need(v, at);
  for (flatbuffers::uoffset_t i = 0; i < xs.size(); ++i) {
    path elem{&at, {}, i};
    f(need(xs.Get(i), elem), elem);
  }
}

std::vector<env_var> get(const vec_of<fb::EnvVar>* v, const path& at);
std::vector<sealed_env_var> get(const vec_of<fb::SecretEnvVar>* v,
                                const path& at);
labels get(const vec_of<fb::Label>* v, const path& at);
std::vector<volume> get(const vec_of<fb::Volume>* v, const path& at);
health_check get(const fb::HealthCheck* t, const path& at);
plugin_manifest get(const fb::PluginManifest* t, const path& at);
plugin_ref get(const fb::PluginRef* t, const path& at);
int_or_percent get(const fb::IntOrPercent* t, const path& at);
update_strategy get(const fb::UpdateStrategy* t, const path& at);
vm_template get(const fb::VmTemplate* t, const path& at);
deployment_spec get(const fb::DeploymentSpec* t, const path& at);
driver_handle get(const fb::DriverHandle* t, const path& at);
vm_record get(const fb::VmRecord* t, const path& at);
lb_spec get(const fb::LbSpec* t, const path& at);
volume_record get(const fb::VolumeRecord* t, const path& at);
quota_spec get(const fb::QuotaSpec* t, const path& at);
cluster_host get(const fb::ClusterHost* t, const path& at);
autoscaler_spec get(const fb::AutoscalerSpec* t, const path& at);
host_config get(const fb::HostConfig* t, const path& at);

} // namespace volant::store::detail
