#pragma once

// Field visitors: `reflect(f, x)` calls `f("field", x.field)` for every field
// of a domain value or event, in declaration order, with the member's own name.
// The audit listing and the JSON codec are written once over these; a field
// missing here is a field missing from every export, so keep them complete when
// a struct grows.
//
// Included at the end of events.hpp: everything in types.hpp and events.hpp is
// visible here.

#include "events/events.hpp"

namespace volant {

// -- domain values (types.hpp) ------------------------------------------------

VOLANT_FIELDS(env_var) {
  f("key", x.key);
  f("value", x.value);
}

/// Every generic export (src/wire/json.cpp) writes this one as
/// {"key": ..., "value": "***"}: the sealed bytes never leave the daemon.
VOLANT_FIELDS(sealed_env_var) {
  f("key", x.key);
  f("sealed", x.sealed);
}

VOLANT_FIELDS(volume) {
  f("path", x.path);
  f("persistent", x.persistent);
  f("size_mib", x.size_mib);
}

VOLANT_FIELDS(volume_record) {
  f("id", x.id);
  f("deployment", x.deployment);
  f("index", x.index);
  f("path", x.path);
  f("size_mib", x.size_mib);
  f("vm", x.vm);
  f("created_at", x.created_at);
  f("purge", x.purge);
}

VOLANT_FIELDS(metric_target) {
  f("kind", x.kind);
  f("target", x.target);
}

VOLANT_FIELDS(scaling_rules) {
  f("stabilization_seconds", x.stabilization_seconds);
  f("max_percent", x.max_percent);
  f("max_vms", x.max_vms);
  f("period_seconds", x.period_seconds);
}

VOLANT_FIELDS(autoscaler_spec) {
  f("name", x.name);
  f("deployment", x.deployment);
  f("min_replicas", x.min_replicas);
  f("max_replicas", x.max_replicas);
  f("metrics", x.metrics);
  f("tolerance", x.tolerance);
  f("up", x.up);
  f("down", x.down);
}

VOLANT_FIELDS(quota_spec) {
  f("name", x.name);
  f("max_vms", x.max_vms);
  f("max_cpu", x.max_cpu);
  f("max_memory_mib", x.max_memory_mib);
}

VOLANT_FIELDS(http_check) {
  f("port", x.port);
  f("path", x.path);
}

VOLANT_FIELDS(tcp_check) {
  f("port", x.port);
}

VOLANT_FIELDS(process_check) {
  f("name", x.name);
}

/// No fields; present so that every probe alternative is reflectable.
VOLANT_FIELDS(no_check) {
  (void)f;
  (void)x;
}

VOLANT_FIELDS(health_check) {
  f("enabled", x.enabled);
  f("probe", x.probe);
  f("interval_seconds", x.interval_seconds);
  f("timeout_seconds", x.timeout_seconds);
  f("unhealthy_threshold", x.unhealthy_threshold);
}

VOLANT_FIELDS(workload_spec) {
  f("entrypoint", x.entrypoint);
  f("env", x.env);
  f("workdir", x.workdir);
}

VOLANT_FIELDS(guest_file) {
  f("path", x.path);
  f("content", x.content);
}

VOLANT_FIELDS(guest_spec) {
  f("debian_packages", x.debian_packages);
  f("oci_archive", x.oci_archive);
  f("directory", x.directory);
  f("rootfs", x.rootfs);
  f("files", x.files);
  f("format", x.format);
}

VOLANT_FIELDS(guest_image) {
  f("key", x.key);
  f("bytes", x.bytes);
  f("summary", x.summary);
}

VOLANT_FIELDS(plugin_manifest) {
  f("name", x.name);
  f("version", x.version);
  f("description", x.description);
  f("runtime", x.runtime);
  f("kernel", x.kernel);
  f("initramfs", x.initramfs);
  f("workload", x.workload);
  f("health", x.health);
  f("guest", x.guest);
  f("rootfs", x.rootfs);
  f("image", x.image);
  f("readiness", x.readiness);
}

VOLANT_FIELDS(plugin_ref) {
  f("name", x.name);
  f("version", x.version);
}

VOLANT_FIELDS(int_or_percent) {
  f("value", x.value);
  f("percent", x.percent);
}

VOLANT_FIELDS(update_strategy) {
  f("kind", x.kind);
  f("max_surge", x.max_surge);
  f("max_unavailable", x.max_unavailable);
  f("min_ready_seconds", x.min_ready_seconds);
  f("progress_deadline_seconds", x.progress_deadline_seconds);
  f("termination_grace_ms", x.termination_grace_ms);
  f("auto_revert", x.auto_revert);
  f("revision_history", x.revision_history);
  f("rollout_paused", x.rollout_paused);
}

VOLANT_FIELDS(vm_template) {
  f("plugin", x.plugin);
  f("cpu", x.cpu);
  f("memory_mib", x.memory_mib);
  f("vm_labels", x.vm_labels);
  f("env", x.env);
  f("secret_env", x.secret_env);
  f("volumes", x.volumes);
  f("health", x.health);
  f("readiness", x.readiness);
}

VOLANT_FIELDS(deployment_spec) {
  f("name", x.name);
  f("replicas", x.replicas);
  f("tmpl", x.tmpl);
  f("auto_restart", x.auto_restart);
  f("strategy", x.strategy);
  f("paused", x.paused);
  f("quota", x.quota);
  f("multi_host", x.multi_host);
}

VOLANT_FIELDS(driver_handle) {
  f("driver", x.driver);
  f("pid", x.pid);
  f("start_ticks", x.start_ticks);
  f("control", x.control);
}

VOLANT_FIELDS(vm_record) {
  f("name", x.name);
  f("deployment", x.deployment);
  f("index", x.index);
  f("host", x.host);
  f("ip", x.ip);
  f("revision", x.revision);
  f("cpu", x.cpu);
  f("memory_mib", x.memory_mib);
  f("status", x.status);
  f("handle", x.handle);
  f("restarts", x.restarts);
  f("last_exit_code", x.last_exit_code);
  f("last_error", x.last_error);
  f("backoff_ms", x.backoff_ms);
  f("created_at", x.created_at);
  f("started_at", x.started_at);
  f("ready_at", x.ready_at);
  f("incarnation", x.incarnation);
  f("not_before", x.not_before);
  f("replace_requested", x.replace_requested);
  f("terminate_at", x.terminate_at);
}

VOLANT_FIELDS(host_config) {
  f("id", x.id);
  f("pool_first", x.pool_first);
  f("pool_last", x.pool_last);
  f("cpu_total", x.cpu_total);
  f("memory_total_mib", x.memory_total_mib);
  f("max_vms", x.max_vms);
  f("max_replicas", x.max_replicas);
  f("cpu_overcommit_milli", x.cpu_overcommit_milli);
}

VOLANT_FIELDS(cluster_host) {
  f("name", x.name);
  f("cpu_total", x.cpu_total);
  f("memory_total_mib", x.memory_total_mib);
  f("cpu_overcommit_milli", x.cpu_overcommit_milli);
  f("draining", x.draining);
  f("lost", x.lost);
  f("since", x.since);
  f("subnet", x.subnet);
}

// -- events (events.hpp) ------------------------------------------------------

VOLANT_FIELDS(plugin_installed) {
  f("manifest", x.manifest);
  f("at", x.at);
}

VOLANT_FIELDS(plugin_removed) {
  f("name", x.name);
  f("version", x.version);
  f("at", x.at);
}

VOLANT_FIELDS(host_configured) {
  f("config", x.config);
  f("at", x.at);
}

VOLANT_FIELDS(deployment_created) {
  f("spec", x.spec);
  f("revision", x.revision);
  f("at", x.at);
}

VOLANT_FIELDS(deployment_scaled) {
  f("name", x.name);
  f("from", x.from);
  f("to", x.to);
  f("at", x.at);
  f("removed", x.removed);
  f("cause", x.cause);
  f("detail", x.detail);
}

VOLANT_FIELDS(deployment_updated) {
  f("name", x.name);
  f("tmpl", x.tmpl);
  f("strategy", x.strategy);
  f("revision", x.revision);
  f("at", x.at);
  f("in_place", x.in_place);
  f("reason", x.reason);
  f("revert_of", x.revert_of);
}

VOLANT_FIELDS(deployment_auto_restart_set) {
  f("name", x.name);
  f("enabled", x.enabled);
  f("at", x.at);
}

VOLANT_FIELDS(deployment_paused) {
  f("name", x.name);
  f("at", x.at);
}

VOLANT_FIELDS(deployment_resumed) {
  f("name", x.name);
  f("at", x.at);
}

VOLANT_FIELDS(deployment_deleted) {
  f("name", x.name);
  f("at", x.at);
  f("purge_volumes", x.purge_volumes);
}

VOLANT_FIELDS(vm_created) {
  f("name", x.name);
  f("deployment", x.deployment);
  f("index", x.index);
  f("host", x.host);
  f("ip", x.ip);
  f("revision", x.revision);
  f("cpu", x.cpu);
  f("memory_mib", x.memory_mib);
  f("at", x.at);
  f("restarts", x.restarts);
  f("backoff_ms", x.backoff_ms);
  f("reason", x.reason);
}

VOLANT_FIELDS(vm_started) {
  f("name", x.name);
  f("handle", x.handle);
  f("at", x.at);
  f("incarnation", x.incarnation);
}

VOLANT_FIELDS(vm_adopted) {
  f("name", x.name);
  f("handle", x.handle);
  f("at", x.at);
  f("incarnation", x.incarnation);
}

VOLANT_FIELDS(vm_ready) {
  f("name", x.name);
  f("at", x.at);
  f("incarnation", x.incarnation);
}

VOLANT_FIELDS(vm_unhealthy) {
  f("name", x.name);
  f("reason", x.reason);
  f("at", x.at);
  f("incarnation", x.incarnation);
}

VOLANT_FIELDS(vm_exited) {
  f("name", x.name);
  f("exit_code", x.exit_code);
  f("reason", x.reason);
  f("at", x.at);
  f("incarnation", x.incarnation);
}

VOLANT_FIELDS(vm_start_failed) {
  f("name", x.name);
  f("error", x.error);
  f("at", x.at);
  f("incarnation", x.incarnation);
}

VOLANT_FIELDS(vm_restart_scheduled) {
  f("name", x.name);
  f("reason", x.reason);
  f("backoff_ms", x.backoff_ms);
  f("at", x.at);
  f("incarnation", x.incarnation);
}

VOLANT_FIELDS(vm_stopped) {
  f("name", x.name);
  f("at", x.at);
  f("incarnation", x.incarnation);
}

VOLANT_FIELDS(vm_removed) {
  f("name", x.name);
  f("at", x.at);
}

VOLANT_FIELDS(actor_crashed) {
  f("actor", x.actor);
  f("reason", x.reason);
  f("count", x.count);
  f("at", x.at);
}

VOLANT_FIELDS(vm_paused) {
  f("name", x.name);
  f("at", x.at);
  f("incarnation", x.incarnation);
}

VOLANT_FIELDS(vm_resumed) {
  f("name", x.name);
  f("at", x.at);
  f("incarnation", x.incarnation);
}

VOLANT_FIELDS(vm_replace_requested) {
  f("name", x.name);
  f("at", x.at);
}

VOLANT_FIELDS(vm_recreated) {
  f("name", x.name);
  f("revision", x.revision);
  f("cpu", x.cpu);
  f("memory_mib", x.memory_mib);
  f("restarts", x.restarts);
  f("backoff_ms", x.backoff_ms);
  f("reason", x.reason);
  f("at", x.at);
}

VOLANT_FIELDS(vm_terminating) {
  f("name", x.name);
  f("reason", x.reason);
  f("grace_ms", x.grace_ms);
  f("at", x.at);
  f("incarnation", x.incarnation);
}

VOLANT_FIELDS(vm_not_ready) {
  f("name", x.name);
  f("reason", x.reason);
  f("at", x.at);
  f("incarnation", x.incarnation);
}

VOLANT_FIELDS(vm_drained) {
  f("name", x.name);
  f("lb", x.lb);
  f("at", x.at);
  f("incarnation", x.incarnation);
}

VOLANT_FIELDS(deployment_rollout) {
  f("name", x.name);
  f("revision", x.revision);
  f("phase", x.phase);
  f("updated", x.updated);
  f("replicas", x.replicas);
  f("reason", x.reason);
  f("at", x.at);
}

VOLANT_FIELDS(lb_spec) {
  f("name", x.name);
  f("deployment", x.deployment);
  f("port", x.port);
  f("listen", x.listen);
  f("algorithm", x.algorithm);
  f("health_check", x.health_check);
  f("health_path", x.health_path);
  f("target_port", x.target_port);
  f("drain_timeout_ms", x.drain_timeout_ms);
}

VOLANT_FIELDS(lb_created) {
  f("spec", x.spec);
  f("at", x.at);
}

VOLANT_FIELDS(lb_switched) {
  f("name", x.name);
  f("from", x.from);
  f("to", x.to);
  f("at", x.at);
}

VOLANT_FIELDS(lb_deleted) {
  f("name", x.name);
  f("at", x.at);
}

VOLANT_FIELDS(volume_created) {
  f("id", x.id);
  f("deployment", x.deployment);
  f("index", x.index);
  f("path", x.path);
  f("size_mib", x.size_mib);
  f("at", x.at);
}

VOLANT_FIELDS(volume_attached) {
  f("id", x.id);
  f("name", x.name);
  f("vm", x.vm);
  f("at", x.at);
}

VOLANT_FIELDS(volume_detached) {
  f("id", x.id);
  f("name", x.name);
  f("vm", x.vm);
  f("at", x.at);
}

VOLANT_FIELDS(volume_deleted) {
  f("id", x.id);
  f("name", x.name);
  f("reason", x.reason);
  f("at", x.at);
}

VOLANT_FIELDS(quota_set) {
  f("spec", x.spec);
  f("source", x.source);
  f("at", x.at);
}

VOLANT_FIELDS(quota_deleted) {
  f("name", x.name);
  f("source", x.source);
  f("at", x.at);
}

VOLANT_FIELDS(autoscaler_set) {
  f("spec", x.spec);
  f("at", x.at);
}

VOLANT_FIELDS(autoscaler_deleted) {
  f("name", x.name);
  f("at", x.at);
}

VOLANT_FIELDS(host_joined) {
  f("host", x.host);
  f("at", x.at);
}

VOLANT_FIELDS(host_lost) {
  f("name", x.name);
  f("reason", x.reason);
  f("at", x.at);
}

VOLANT_FIELDS(deployment_quota_set) {
  f("name", x.name);
  f("from", x.from);
  f("to", x.to);
  f("at", x.at);
}

VOLANT_FIELDS(journal_loss_accepted) {
  f("last_good_seq", x.last_good_seq);
  f("high_water_seq", x.high_water_seq);
  f("lost", x.lost);
  f("damage", x.damage);
  f("saved_to", x.saved_to);
  f("at", x.at);
}

} // namespace volant
