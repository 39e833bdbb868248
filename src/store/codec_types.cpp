// FlatBuffers <-> domain values (see codec_types.hpp).

#include "store/codec_types.hpp"

#include <utility>
#include <variant>

namespace volant::store::detail {

// -- packing ------------------------------------------------------------------

off<flatbuffers::String> str(builder& b, const std::string& x) {
  return b.CreateString(x);
}

off<flatbuffers::Vector<off<fb::EnvVar>>> pack(builder& b,
                                               const std::vector<env_var>& xs) {
  std::vector<off<fb::EnvVar>> out;
  out.reserve(xs.size());
  for (const auto& x : xs)
    out.push_back(fb::CreateEnvVar(b, str(b, x.key), str(b, x.value)));
  return b.CreateVector(out);
}

off<flatbuffers::Vector<off<fb::SecretEnvVar>>>
pack(builder& b, const std::vector<sealed_env_var>& xs) {
  std::vector<off<fb::SecretEnvVar>> out;
  out.reserve(xs.size());
  for (const auto& x : xs)
    out.push_back(fb::CreateSecretEnvVar(b, str(b, x.key), str(b, x.sealed)));
  return b.CreateVector(out);
}

off<flatbuffers::Vector<off<fb::Label>>> pack(builder& b, const labels& xs) {
  std::vector<off<fb::Label>> out;
  out.reserve(xs.size());
  for (const auto& [k, v] : xs)
    out.push_back(fb::CreateLabel(b, str(b, k), str(b, v)));
  return b.CreateVector(out);
}

off<flatbuffers::Vector<off<fb::Volume>>> pack(builder& b,
                                               const std::vector<volume>& xs) {
  std::vector<off<fb::Volume>> out;
  out.reserve(xs.size());
  for (const auto& x : xs)
    out.push_back(fb::CreateVolume(b, str(b, x.path), x.persistent, x.size_mib));
  return b.CreateVector(out);
}

off<fb::HealthCheck> pack(builder& b, const health_check& x) {
  auto probe = std::visit(
      [&](const auto& p) -> off<void> {
        using P = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<P, no_check>)
          return fb::CreateNoCheck(b).Union();
        else if constexpr (std::is_same_v<P, http_check>)
          return fb::CreateHttpCheck(b, p.port, str(b, p.path)).Union();
        else if constexpr (std::is_same_v<P, tcp_check>)
          return fb::CreateTcpCheck(b, p.port).Union();
        else
          return fb::CreateProcessCheck(b, str(b, p.name)).Union();
      },
      x.probe);
  return fb::CreateHealthCheck(
      b, x.enabled, static_cast<fb::Probe>(x.probe.index() + 1), probe,
      x.interval_seconds, x.timeout_seconds, x.unhealthy_threshold);
}

off<fb::PluginManifest> pack(builder& b, const plugin_manifest& x) {
  std::vector<off<flatbuffers::String>> entry;
  entry.reserve(x.workload.entrypoint.size());
  for (const auto& arg : x.workload.entrypoint)
    entry.push_back(str(b, arg));
  auto entry_vec = b.CreateVector(entry);
  auto workload = fb::CreateWorkloadSpec(b, entry_vec, pack(b, x.workload.env),
                                         str(b, x.workload.workdir));
  auto health = pack(b, x.health);
  auto readiness = x.readiness.enabled ? pack(b, x.readiness) : off<fb::HealthCheck>{};
  std::vector<off<flatbuffers::String>> pkgs;
  for (const auto& p : x.guest.debian_packages)
    pkgs.push_back(str(b, p));
  auto pkgs_vec = b.CreateVector(pkgs);
  std::vector<off<fb::GuestFile>> files;
  for (const auto& f : x.guest.files)
    files.push_back(fb::CreateGuestFile(b, str(b, f.path), str(b, f.content)));
  auto files_vec = b.CreateVector(files);
  auto guest = fb::CreateGuestSpec(b, pkgs_vec, str(b, x.guest.oci_archive),
                                   str(b, x.guest.directory), str(b, x.guest.rootfs),
                                   files_vec, str(b, x.guest.format));
  auto image = fb::CreateGuestImage(b, str(b, x.image.key), x.image.bytes,
                                    str(b, x.image.summary));
  return fb::CreatePluginManifest(b, str(b, x.name), str(b, x.version),
                                  str(b, x.description), str(b, x.runtime),
                                  str(b, x.kernel), str(b, x.initramfs),
                                  workload, health, guest, str(b, x.rootfs), image,
                                  readiness);
}

fb::IntOrPercent pack(const int_or_percent& x) {
  return fb::IntOrPercent{x.value, x.percent};
}

off<fb::UpdateStrategy> pack(builder& b, const update_strategy& x) {
  auto surge = pack(x.max_surge);
  auto unavailable = pack(x.max_unavailable);
  return fb::CreateUpdateStrategy(b, static_cast<fb::StrategyKind>(x.kind),
                                  &surge, &unavailable, x.min_ready_seconds,
                                  x.progress_deadline_seconds,
                                  x.termination_grace_ms, x.auto_revert,
                                  x.revision_history, x.rollout_paused);
}

off<fb::VmTemplate> pack(builder& b, const vm_template& x) {
  auto plugin
      = fb::CreatePluginRef(b, str(b, x.plugin.name), str(b, x.plugin.version));
  auto health = x.health ? pack(b, *x.health) : off<fb::HealthCheck>{};
  auto readiness = x.readiness ? pack(b, *x.readiness) : off<fb::HealthCheck>{};
  return fb::CreateVmTemplate(b, plugin, x.cpu, x.memory_mib,
                              pack(b, x.vm_labels), pack(b, x.env),
                              pack(b, x.volumes), health,
                              pack(b, x.secret_env), readiness);
}

off<fb::DeploymentSpec> pack(builder& b, const deployment_spec& x) {
  return fb::CreateDeploymentSpec(b, str(b, x.name), x.replicas,
                                  pack(b, x.tmpl), x.auto_restart,
                                  pack(b, x.strategy), x.paused,
                                  x.quota.empty() ? 0 : str(b, x.quota), x.multi_host);
}

off<fb::DriverHandle> pack(builder& b, const driver_handle& x) {
  return fb::CreateDriverHandle(b, str(b, x.driver), x.pid, x.start_ticks,
                                str(b, x.control));
}

off<fb::VmRecord> pack(builder& b, const vm_record& x) {
  return fb::CreateVmRecord(
      b, str(b, x.name), str(b, x.deployment), x.index, str(b, x.host), x.ip,
      x.revision, x.cpu, x.memory_mib, static_cast<fb::VmStatus>(x.status),
      pack(b, x.handle), x.restarts, x.last_exit_code, str(b, x.last_error),
      x.backoff_ms, x.created_at, x.started_at, x.ready_at, x.incarnation,
      x.not_before, x.replace_requested, x.terminate_at);
}

off<fb::LbSpec> pack(builder& b, const lb_spec& x) {
  return fb::CreateLbSpec(b, str(b, x.name), str(b, x.deployment), x.port,
                          str(b, x.listen), static_cast<fb::LbAlgorithm>(x.algorithm),
                          x.health_check, str(b, x.health_path), x.target_port,
                          x.drain_timeout_ms);
}

off<fb::VolumeRecord> pack(builder& b, const volume_record& x) {
  return fb::CreateVolumeRecord(b, x.id, str(b, x.deployment), x.index, str(b, x.path),
                                x.size_mib, str(b, x.vm), x.created_at, x.purge);
}

off<fb::QuotaSpec> pack(builder& b, const quota_spec& x) {
  return fb::CreateQuotaSpec(b, str(b, x.name), x.max_vms, x.max_cpu, x.max_memory_mib);
}

off<fb::ClusterHost> pack(builder& b, const cluster_host& x) {
  return fb::CreateClusterHost(b, str(b, x.name), x.cpu_total, x.memory_total_mib,
                               x.cpu_overcommit_milli, x.draining, x.lost, x.since, x.subnet);
}

off<fb::ScalingRules> pack(builder& b, const scaling_rules& x) {
  return fb::CreateScalingRules(b, x.stabilization_seconds, x.max_percent, x.max_vms,
                                x.period_seconds);
}

off<fb::AutoscalerSpec> pack(builder& b, const autoscaler_spec& x) {
  std::vector<off<fb::MetricTarget>> metrics;
  for (const auto& m : x.metrics)
    metrics.push_back(fb::CreateMetricTarget(b, static_cast<fb::MetricKind>(m.kind), m.target));
  auto up = pack(b, x.up);
  auto down = pack(b, x.down);
  return fb::CreateAutoscalerSpec(b, str(b, x.name), str(b, x.deployment), x.min_replicas,
                                  x.max_replicas, b.CreateVector(metrics), x.tolerance, up, down);
}

off<fb::HostConfig> pack(builder& b, const host_config& x) {
  return fb::CreateHostConfig(b, str(b, x.id), x.pool_first, x.pool_last,
                              x.cpu_total, x.memory_total_mib, x.max_vms,
                              x.max_replicas, x.cpu_overcommit_milli);
}

// -- unpacking ----------------------------------------------------------------

std::string path::str() const {
  std::string out = parent != nullptr ? parent->str() : std::string{};
  if (index != no_index) {
    out += '[';
    out += std::to_string(index);
    out += ']';
  } else if (!name.empty()) {
    if (!out.empty())
      out += '.';
    out += name;
  }
  return out;
}

void missing(const path& at) {
  throw decode_failure{ec::corrupt_record, "missing field '" + at.str() + "'"};
}

void bad(const path& at, const std::string& why) {
  throw decode_failure{ec::corrupt_record,
                       "bad field '" + at.str() + "': " + why};
}

void newer(const path& at, const std::string& what, unsigned value) {
  throw decode_failure{ec::unsupported_version,
                       "field '" + at.str() + "': unknown " + what + " "
                           + std::to_string(value)
                           + " (written by a newer volant?)"};
}

std::string get(const flatbuffers::String* s, const path& at) {
  return need(s, at).str();
}

std::vector<env_var> get(const vec_of<fb::EnvVar>* v, const path& at) {
  std::vector<env_var> out;
  each(v, at, [&](const fb::EnvVar& x, const path& p) {
    out.push_back({get(x.key(), {&p, "key"}), get(x.value(), {&p, "value"})});
  });
  return out;
}

std::vector<sealed_env_var> get(const vec_of<fb::SecretEnvVar>* v,
                                const path& at) {
  std::vector<sealed_env_var> out;
  each(v, at, [&](const fb::SecretEnvVar& x, const path& p) {
    out.push_back({get(x.key(), {&p, "key"}), get(x.sealed(), {&p, "sealed"})});
  });
  return out;
}

labels get(const vec_of<fb::Label>* v, const path& at) {
  labels out;
  each(v, at, [&](const fb::Label& x, const path& p) {
    auto key = get(x.key(), {&p, "key"});
    if (!out.emplace(key, get(x.value(), {&p, "value"})).second)
      bad(p, "duplicate label key '" + key + "'");
  });
  return out;
}

std::vector<volume> get(const vec_of<fb::Volume>* v, const path& at) {
  std::vector<volume> out;
  each(v, at, [&](const fb::Volume& x, const path& p) {
    out.push_back({get(x.path(), {&p, "path"}), x.persistent(), x.size_mib()});
  });
  return out;
}

namespace {

probe_kind get_probe(const fb::HealthCheck& x, const path& at) {
  auto tag = x.probe_type();
  if (tag == fb::Probe::NONE || x.probe() == nullptr)
    missing(at);
  switch (tag) {
  case fb::Probe::NoCheck:
    return no_check{};
  case fb::Probe::HttpCheck: {
    const auto* h = x.probe_as_HttpCheck();
    return http_check{h->port(), get(h->path(), {&at, "path"})};
  }
  case fb::Probe::TcpCheck:
    return tcp_check{x.probe_as_TcpCheck()->port()};
  case fb::Probe::ProcessCheck:
    return process_check{get(x.probe_as_ProcessCheck()->name(), {&at, "name"})};
  default:
    newer(at, "probe type tag", num(tag));
  }
}

} // namespace

health_check get(const fb::HealthCheck* t, const path& at) {
  const auto& x = need(t, at);
  health_check out;
  out.enabled = x.enabled();
  out.probe = get_probe(x, {&at, "probe"});
  out.interval_seconds = x.interval_seconds();
  out.timeout_seconds = x.timeout_seconds();
  out.unhealthy_threshold = x.unhealthy_threshold();
  return out;
}

plugin_manifest get(const fb::PluginManifest* t, const path& at) {
  const auto& x = need(t, at);
  plugin_manifest out;
  out.name = get(x.name(), {&at, "name"});
  out.version = get(x.version(), {&at, "version"});
  out.description = get(x.description(), {&at, "description"});
  out.runtime = get(x.runtime(), {&at, "runtime"});
  out.kernel = get(x.kernel(), {&at, "kernel"});
  out.initramfs = get(x.initramfs(), {&at, "initramfs"});
  path wp{&at, "workload"};
  const auto& w = need(x.workload(), wp);
  path ep{&wp, "entrypoint"};
  const auto& entry = need(w.entrypoint(), ep);
  for (flatbuffers::uoffset_t i = 0; i < entry.size(); ++i)
    out.workload.entrypoint.push_back(get(entry.Get(i), {&ep, {}, i}));
  out.workload.env = get(w.env(), {&wp, "env"});
  out.workload.workdir = get(w.workdir(), {&wp, "workdir"});
  out.health = get(x.health(), {&at, "health"});
  if (x.readiness() != nullptr) // optional: absent = none
    out.readiness = get(x.readiness(), {&at, "readiness"});
  // Optional: records written before guest images have none of these.
  if (const auto* g = x.guest()) {
    path gp{&at, "guest"};
    if (const auto* pkgs = g->debian_packages()) {
      path pp{&gp, "debian_packages"};
      for (flatbuffers::uoffset_t i = 0; i < pkgs->size(); ++i)
        out.guest.debian_packages.push_back(get(pkgs->Get(i), {&pp, {}, i}));
    }
    out.guest.oci_archive = get(g->oci_archive(), {&gp, "oci_archive"});
    out.guest.directory = get(g->directory(), {&gp, "directory"});
    out.guest.rootfs = get(g->rootfs(), {&gp, "rootfs"});
    if (const auto* files = g->files()) {
      path fp{&gp, "files"};
      for (flatbuffers::uoffset_t i = 0; i < files->size(); ++i) {
        path one{&fp, {}, i};
        const auto& f = need(files->Get(i), one);
        out.guest.files.push_back(
            {get(f.path(), {&one, "path"}), get(f.content(), {&one, "content"})});
      }
    }
    out.guest.format = get(g->format(), {&gp, "format"});
  }
  if (x.rootfs())
    out.rootfs = get(x.rootfs(), {&at, "rootfs"});
  if (const auto* img = x.image()) {
    path ip{&at, "image"};
    out.image.key = get(img->key(), {&ip, "key"});
    out.image.bytes = img->bytes();
    out.image.summary = get(img->summary(), {&ip, "summary"});
  }
  return out;
}

plugin_ref get(const fb::PluginRef* t, const path& at) {
  const auto& x = need(t, at);
  return {get(x.name(), {&at, "name"}), get(x.version(), {&at, "version"})};
}

int_or_percent get(const fb::IntOrPercent* t, const path& at) {
  const auto& x = need(t, at);
  return {x.value(), x.percent()};
}

update_strategy get(const fb::UpdateStrategy* t, const path& at) {
  const auto& x = need(t, at);
  update_strategy out;
  if (num(x.kind()) > num(fb::StrategyKind::MAX))
    newer({&at, "kind"}, "strategy kind", num(x.kind()));
  out.kind = static_cast<strategy_kind>(x.kind());
  out.max_surge = get(x.max_surge(), {&at, "max_surge"});
  out.max_unavailable = get(x.max_unavailable(), {&at, "max_unavailable"});
  out.min_ready_seconds = x.min_ready_seconds();
  out.progress_deadline_seconds = x.progress_deadline_seconds();
  out.termination_grace_ms = x.termination_grace_ms();
  out.auto_revert = x.auto_revert();
  out.revision_history = x.revision_history();
  out.rollout_paused = x.rollout_paused();
  return out;
}

vm_template get(const fb::VmTemplate* t, const path& at) {
  const auto& x = need(t, at);
  vm_template out;
  out.plugin = get(x.plugin(), {&at, "plugin"});
  out.cpu = x.cpu();
  out.memory_mib = x.memory_mib();
  out.vm_labels = get(x.vm_labels(), {&at, "vm_labels"});
  out.env = get(x.env(), {&at, "env"});
  out.volumes = get(x.volumes(), {&at, "volumes"});
  if (x.health() != nullptr) // optional: absent = the plugin's check
    out.health = get(x.health(), {&at, "health"});
  if (x.secret_env() != nullptr) // optional: absent in logs before secrets
    out.secret_env = get(x.secret_env(), {&at, "secret_env"});
  if (x.readiness() != nullptr) // optional: absent = the plugin's check
    out.readiness = get(x.readiness(), {&at, "readiness"});
  return out;
}

deployment_spec get(const fb::DeploymentSpec* t, const path& at) {
  const auto& x = need(t, at);
  deployment_spec out;
  out.name = get(x.name(), {&at, "name"});
  out.replicas = x.replicas();
  out.tmpl = get(x.tmpl(), {&at, "tmpl"});
  out.auto_restart = x.auto_restart();
  out.strategy = get(x.strategy(), {&at, "strategy"});
  out.paused = x.paused();
  if (x.quota() != nullptr) // appended: absent before quotas
    out.quota = x.quota()->str();
  out.multi_host = x.multi_host(); // appended: false before placement
  return out;
}

driver_handle get(const fb::DriverHandle* t, const path& at) {
  const auto& x = need(t, at);
  return {get(x.driver(), {&at, "driver"}), x.pid(), x.start_ticks(),
          get(x.control(), {&at, "control"})};
}

vm_record get(const fb::VmRecord* t, const path& at) {
  const auto& x = need(t, at);
  vm_record out;
  out.name = get(x.name(), {&at, "name"});
  out.deployment = get(x.deployment(), {&at, "deployment"});
  out.index = x.index();
  out.host = get(x.host(), {&at, "host"});
  out.ip = x.ip();
  out.revision = x.revision();
  out.cpu = x.cpu();
  out.memory_mib = x.memory_mib();
  if (num(x.status()) > num(fb::VmStatus::MAX))
    newer({&at, "status"}, "VM status", num(x.status()));
  out.status = static_cast<vm_status>(x.status());
  out.handle = get(x.handle(), {&at, "handle"});
  out.restarts = x.restarts();
  out.last_exit_code = x.last_exit_code();
  out.last_error = get(x.last_error(), {&at, "last_error"});
  out.backoff_ms = x.backoff_ms();
  out.created_at = x.created_at();
  out.started_at = x.started_at();
  out.ready_at = x.ready_at();
  out.incarnation = x.incarnation();
  out.not_before = x.not_before();
  out.replace_requested = x.replace_requested();
  out.terminate_at = x.terminate_at();
  return out;
}

lb_spec get(const fb::LbSpec* t, const path& at) {
  const auto& x = need(t, at);
  lb_spec out;
  out.name = get(x.name(), {&at, "name"});
  out.deployment = get(x.deployment(), {&at, "deployment"});
  out.port = x.port();
  out.listen = get(x.listen(), {&at, "listen"});
  if (num(x.algorithm()) > num(fb::LbAlgorithm::MAX))
    newer({&at, "algorithm"}, "load balancer algorithm", num(x.algorithm()));
  out.algorithm = static_cast<lb_algorithm>(x.algorithm());
  out.health_check = x.health_check();
  out.health_path = get(x.health_path(), {&at, "health_path"});
  out.target_port = x.target_port();
  out.drain_timeout_ms = x.drain_timeout_ms();
  return out;
}

volume_record get(const fb::VolumeRecord* t, const path& at) {
  const auto& x = need(t, at);
  volume_record out;
  out.id = x.id();
  out.deployment = get(x.deployment(), {&at, "deployment"});
  out.index = x.index();
  out.path = get(x.path(), {&at, "path"});
  out.size_mib = x.size_mib();
  out.vm = get(x.vm(), {&at, "vm"});
  out.created_at = x.created_at();
  out.purge = x.purge();
  return out;
}

quota_spec get(const fb::QuotaSpec* t, const path& at) {
  const auto& x = need(t, at);
  return {get(x.name(), {&at, "name"}), x.max_vms(), x.max_cpu(), x.max_memory_mib()};
}

cluster_host get(const fb::ClusterHost* t, const path& at) {
  const auto& x = need(t, at);
  return {get(x.name(), {&at, "name"}), x.cpu_total(), x.memory_total_mib(),
          x.cpu_overcommit_milli(), x.draining(), x.lost(), x.since(), x.subnet()};
}

scaling_rules get(const fb::ScalingRules* t, const path& at) {
  const auto& x = need(t, at);
  return {x.stabilization_seconds(), x.max_percent(), x.max_vms(), x.period_seconds()};
}

autoscaler_spec get(const fb::AutoscalerSpec* t, const path& at) {
  const auto& x = need(t, at);
  autoscaler_spec out;
  out.name = get(x.name(), {&at, "name"});
  out.deployment = get(x.deployment(), {&at, "deployment"});
  out.min_replicas = x.min_replicas();
  out.max_replicas = x.max_replicas();
  each(x.metrics(), {&at, "metrics"}, [&](const fb::MetricTarget& m, const path& p) {
    if (num(m.kind()) > num(fb::MetricKind::MAX))
      newer({&p, "kind"}, "metric kind", num(m.kind()));
    out.metrics.push_back({static_cast<metric_kind>(m.kind()), m.target()});
  });
  out.tolerance = x.tolerance();
  out.up = get(x.up(), {&at, "up"});
  out.down = get(x.down(), {&at, "down"});
  return out;
}

host_config get(const fb::HostConfig* t, const path& at) {
  const auto& x = need(t, at);
  host_config out;
  out.id = get(x.id(), {&at, "id"});
  out.pool_first = x.pool_first();
  out.pool_last = x.pool_last();
  out.cpu_total = x.cpu_total();
  out.memory_total_mib = x.memory_total_mib();
  out.max_vms = x.max_vms();
  out.max_replicas = x.max_replicas();
  out.cpu_overcommit_milli = x.cpu_overcommit_milli();
  return out;
}

} // namespace volant::store::detail
