#include "events/error.hpp"

namespace volant {

std::string_view to_string(ec code) noexcept {
  switch (code) {
  case ec::invalid_name:
    return "invalid_name";
  case ec::invalid_replicas:
    return "invalid_replicas";
  case ec::replica_limit:
    return "replica_limit";
  case ec::host_vm_limit:
    return "host_vm_limit";
  case ec::invalid_cpu:
    return "invalid_cpu";
  case ec::invalid_memory:
    return "invalid_memory";
  case ec::invalid_label:
    return "invalid_label";
  case ec::invalid_env:
    return "invalid_env";
  case ec::invalid_volume:
    return "invalid_volume";
  case ec::unknown_plugin:
    return "unknown_plugin";
  case ec::duplicate_name:
    return "duplicate_name";
  case ec::insufficient_memory:
    return "insufficient_memory";
  case ec::unknown_deployment:
    return "unknown_deployment";
  case ec::unknown_vm:
    return "unknown_vm";
  case ec::invalid_manifest:
    return "invalid_manifest";
  case ec::plugin_in_use:
    return "plugin_in_use";
  case ec::ip_pool_exhausted:
    return "ip_pool_exhausted";
  case ec::invalid_argument:
    return "invalid_argument";
  case ec::conflict:
    return "conflict";
  case ec::unauthorized:
    return "unauthorized";
  case ec::corrupt_record:
    return "corrupt_record";
  case ec::io_error:
    return "io_error";
  case ec::daemon_unreachable:
    return "daemon_unreachable";
  case ec::unsupported_version:
    return "unsupported_version";
  case ec::invalid_strategy:
    return "invalid_strategy";
  case ec::invalid_health_check:
    return "invalid_health_check";
  case ec::invalid_host_config:
    return "invalid_host_config";
  case ec::not_found:
    return "not_found";
  case ec::secret_unreadable:
    return "secret_unreadable";
  case ec::unknown_lb:
    return "unknown_lb";
  case ec::insufficient_cpu:
    return "insufficient_cpu";
  case ec::unknown_volume:
    return "unknown_volume";
  case ec::unknown_quota:
    return "unknown_quota";
  case ec::quota_exceeded:
    return "quota_exceeded";
  case ec::invalid_quota:
    return "invalid_quota";
  case ec::unknown_autoscaler:
    return "unknown_autoscaler";
  case ec::invalid_autoscaler:
    return "invalid_autoscaler";
  }
  // A number this build does not know, e.g. sent by a newer peer.
  return "unknown_error";
}

error plugin_not_installed(const std::string& label) {
  return make_error(ec::unknown_plugin,
                    "plugin '" + label
                        + "' is not installed: install it with volar plugins install "
                          "--manifest FILE (examples/plugins/ has ready manifests; "
                          "installed ones: volar plugins list)");
}

} // namespace volant
