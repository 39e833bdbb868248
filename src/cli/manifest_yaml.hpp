#pragma once

// `volar apply -f FILE`: the spec's "Deployment Manifest (YAML)" read into the
// one deployment_spec type that the CLI flags also build. Pure: text in, spec
// or an error naming the field out.
//
//   apiVersion: volant.io/v1
//   kind: Deployment
//   metadata: {name, labels}
//   spec:
//     replicas, plugin ("nginx" or "nginx:v2"), resources {cpu, memory (MiB, or
//     "512Mi" / "2Gi")}, labels, env ({KEY: value} or [{name, value}]),
//     secretEnv (as env; volantd stores it sealed and shows "***"),
//     volumes (["/path:persistent:10G"] or [{path, persistent, size}]), quota, autoRestart,
//     strategy {type: recreate|rolling (or Recreate|RollingUpdate), maxSurge,
//     maxUnavailable}, networking {mode: bridge},
//     healthCheck {enabled, http {port, path, intervalSeconds, timeoutSeconds,
//     unhealthyThreshold} | tcp {port, ...} | process {name, ...}}
//
// metadata.labels and spec.labels both land on every VM (spec.labels win on a
// key given in both). Unknown fields are errors.

#include "events/autoscale.hpp"
#include "events/error.hpp"
#include "events/types.hpp"

#include <cstddef>
#include <string_view>
#include <vector>

namespace volant::cli {

/// Parses one YAML document of kind Deployment and validates the result as the
/// daemon would (except the per-deployment replica limit). Text that is not
/// UTF-8, other kinds, several deployments, unknown fields and bad values are
/// errors (ec::invalid_argument or
/// the core's code), e.g. "spec.resources.cpu: expected an integer, got 'two'".
expected<deployment_spec> deployment_from_yaml(std::string_view text);

/// A Deployment manifest: its spec, and spec.secretEnv apart, in clear (only
/// volantd seals it; the spec never holds it). Errors about secretEnv name
/// keys, never values.
struct deployment_document {
  deployment_spec spec;
  std::vector<env_var> secret_env;
  /// The guide's quota file instead (no kind, a top-level `quotas:` list of
  /// {name, max_vms, max_cpu, max_memory_gb}): then `spec` is unused.
  bool is_quotas = false;
  std::vector<quota_spec> quotas;
  /// The guide's HorizontalPodAutoscaler instead (issue 15): then `spec` is
  /// unused. spec {deploymentRef, minReplicas, maxReplicas, metrics [{type:
  /// cpu|memory|requests, target {averageUtilization | averageValue}}],
  /// tolerance, behavior {scaleUp|scaleDown {stabilizationWindowSeconds,
  /// policies [{type: Percent|Pods, value, periodSeconds}]}}}.
  bool is_autoscaler = false;
  autoscaler_spec autoscaler;
};

/// The guide's quota document (`quotas: [{name, max_vms, max_cpu,
/// max_memory_gb}]`; an absent limit is none); errors name the field
/// ("quotas[1].max_cpu: ..."). volantd's --quotas FILE reads it too.
expected<std::vector<quota_spec>> quotas_from_yaml(std::string_view text);

/// As deployment_from_yaml, with spec.secretEnv.
expected<deployment_document> deployment_document_from_yaml(std::string_view text);

/// At most this many deployments in one stream (`---` separated).
inline constexpr std::size_t max_yaml_documents = 64;

/// Every Deployment of a multi-document stream, in order (`volar apply -f`);
/// empty documents are skipped, and two documents may not name the same
/// deployment. Nothing is returned unless every document is valid; an error in
/// one of several names it: "document 2 (line 12): spec.replicas: ...".
expected<std::vector<deployment_document>>
deployment_documents_from_yaml(std::string_view text);

} // namespace volant::cli
