#include "samples.hpp"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <utility>
#include <variant>

namespace volant::test {

temp_dir::temp_dir() {
  char tmpl[] = "/tmp/volant-store-test-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

plugin_manifest sample_manifest(int n) {
  plugin_manifest m;
  m.name = "nginx" + std::to_string(n);
  m.version = "1." + std::to_string(n) + ".2";
  m.description = "a web server, ünïcode ok";
  m.runtime = "qemu";
  m.kernel = "/var/lib/volant/vmlinux";
  m.initramfs = "/var/lib/volant/initrd.gz";
  m.workload.entrypoint = {"/usr/sbin/nginx", "-g", "daemon off;",
                           "--listen=${VOLANT_IP}"};
  m.workload.env = {{"B", "2"}, {"A", "1"}, {"EMPTY", ""}};
  m.workload.workdir = "/srv";
  m.health.enabled = true;
  m.health.probe = http_check{static_cast<std::uint16_t>(8080 + n), "/healthz"};
  m.health.interval_seconds = 7;
  m.health.timeout_seconds = 3;
  m.health.unhealthy_threshold = 5;
  if (n % 2 == 1) { // a built guest (even n: none, as before guest images)
    m.guest.debian_packages = {"nginx", "python3"};
    m.guest.files = {{"/etc/nginx/sites-enabled/default", "server { listen 80; }\n"},
                     {"/srv/health", "ok\n"}};
    m.guest.format = "ext4";
    m.rootfs = "/var/cache/volant/guests/images/abc/rootfs.ext4";
    m.image = {"f1c39afc1763106c399ee88f9d16785b", 112197632, "nginx + 28 Debian packages, ext4"};
  }
  return m;
}

deployment_spec sample_spec(int n) {
  deployment_spec s;
  s.name = "web" + std::to_string(n);
  s.replicas = 7 + n;
  s.tmpl.plugin = {"nginx" + std::to_string(n), "1.0.2"};
  s.tmpl.cpu = 2;
  s.tmpl.memory_mib = 512;
  s.tmpl.vm_labels = {{"app", "web"}, {"tier", "frontend"}};
  s.tmpl.env = {{"Z", "last"}, {"A", "first"}};
  s.tmpl.secret_env = {{"DB", "vs1.0badc0de.c2VhbGVk"}, {"API", "vs1.0badc0de.AAAA"}};
  s.tmpl.volumes = {{"/data/a", true, 4096}, {"/data/b", false, 0}};
  health_check h;
  h.enabled = true;
  h.probe = tcp_check{443};
  h.interval_seconds = 2;
  h.timeout_seconds = 4;
  h.unhealthy_threshold = 6;
  s.tmpl.health = h;
  s.auto_restart = false;
  s.strategy.kind = strategy_kind::rolling;
  s.strategy.max_surge = {25, true};
  s.strategy.max_unavailable = {2, false};
  s.paused = true;
  s.quota = n == 0 ? "production" : "";
  s.multi_host = n == 0;
  return s;
}

vm_record sample_vm(int n) {
  vm_record vm;
  vm.name = "web1-" + std::to_string(n);
  vm.deployment = "web1";
  vm.index = static_cast<std::uint32_t>(n);
  vm.host = "host-a";
  vm.ip = 0xC0A87F02 + static_cast<std::uint32_t>(n);
  vm.revision = 3;
  vm.cpu = 2;
  vm.memory_mib = 256;
  vm.status = vm_status::unhealthy;
  vm.handle = {"qemu", 4242 + n, 99999ull + static_cast<std::uint64_t>(n),
               "/run/volant/qmp-" + std::to_string(n) + ".sock"};
  vm.restarts = 4;
  vm.last_exit_code = -9;
  vm.last_error = "killed by SIGKILL";
  vm.backoff_ms = 8000;
  vm.created_at = 1'700'000'000'000'000'001;
  vm.started_at = 1'700'000'000'000'000'002;
  vm.ready_at = 1'700'000'000'000'000'003;
  vm.incarnation = 11 + static_cast<std::uint64_t>(n);
  vm.not_before = 1'700'000'000'000'000'004;
  return vm;
}

namespace {

constexpr unix_nanos t0 = 1'764'000'000'123'456'789;

event sample(std::in_place_type_t<plugin_installed>) {
  return plugin_installed{sample_manifest(1), t0 + 1};
}
event sample(std::in_place_type_t<plugin_removed>) {
  return plugin_removed{"nginx", "1.2.3", t0 + 2};
}
event sample(std::in_place_type_t<host_configured>) {
  host_config c{"host-a", 0xC0A87F02, 0xC0A87FFE, 16, 65536, 50, 40};
  return host_configured{c, t0 + 3};
}
event sample(std::in_place_type_t<deployment_created>) {
  return deployment_created{sample_spec(1), 4, t0 + 4};
}
event sample(std::in_place_type_t<deployment_scaled>) {
  return deployment_scaled{"web1", 3, -2, t0 + 5, {1, 7}, "autoscaler web1-hpa",
                           "cpu 90 % of 70 % -> 4"};
}
event sample(std::in_place_type_t<deployment_updated>) {
  auto spec = sample_spec(2);
  health_check h;
  h.enabled = true;
  h.probe = process_check{"nginx: master"};
  spec.tmpl.health = h;
  update_strategy st{strategy_kind::rolling, {3, false}, {50, true}};
  st.min_ready_seconds = 5;
  st.progress_deadline_seconds = 120;
  st.termination_grace_ms = 1500;
  st.auto_revert = false;
  st.revision_history = 4;
  st.rollout_paused = true;
  return deployment_updated{"web1", spec.tmpl, st, 9, t0 + 6, false,
                            "automatic revert to revision 7", 8};
}
event sample(std::in_place_type_t<deployment_auto_restart_set>) {
  return deployment_auto_restart_set{"web1", false, t0 + 7};
}
event sample(std::in_place_type_t<deployment_paused>) {
  return deployment_paused{"web1", t0 + 8};
}
event sample(std::in_place_type_t<deployment_resumed>) {
  return deployment_resumed{"web1", t0 + 9};
}
event sample(std::in_place_type_t<deployment_deleted>) {
  return deployment_deleted{"web1", t0 + 10, true};
}
event sample(std::in_place_type_t<vm_created>) {
  return vm_created{"web1-3", "web1", 3,   "host-a", 0xC0A87F05,
                    2,        4,      768, t0 + 11,
                    3,        4000,   "not ready within 60 s after a restart"};
}
event sample(std::in_place_type_t<vm_started>) {
  return vm_started{"web1-3", sample_vm(3).handle, t0 + 12, 3};
}
event sample(std::in_place_type_t<vm_adopted>) {
  return vm_adopted{"web1-3", sample_vm(4).handle, t0 + 13, 3};
}
event sample(std::in_place_type_t<vm_ready>) {
  return vm_ready{"web1-3", t0 + 14, 3};
}
event sample(std::in_place_type_t<vm_unhealthy>) {
  return vm_unhealthy{"web1-3", "connection refused", t0 + 15, 3};
}
event sample(std::in_place_type_t<vm_exited>) {
  return vm_exited{"web1-3", -15, "terminated by SIGTERM", t0 + 16, 3};
}
event sample(std::in_place_type_t<vm_start_failed>) {
  return vm_start_failed{"web1-3", "no such file: /usr/sbin/nginx", t0 + 17, 4};
}
event sample(std::in_place_type_t<vm_restart_scheduled>) {
  return vm_restart_scheduled{"web1-3", "exited with 1", 16000, t0 + 18, 5};
}
event sample(std::in_place_type_t<vm_stopped>) {
  return vm_stopped{"web1-3", t0 + 19, 6};
}
event sample(std::in_place_type_t<vm_removed>) {
  return vm_removed{"web1-3", t0 + 20};
}
event sample(std::in_place_type_t<actor_crashed>) {
  return actor_crashed{"deployment web1", "std::bad_alloc", 3, t0 + 21};
}
event sample(std::in_place_type_t<vm_paused>) {
  return vm_paused{"web1-3", t0 + 22, 7};
}
event sample(std::in_place_type_t<vm_resumed>) {
  return vm_resumed{"web1-3", t0 + 23, 7};
}
event sample(std::in_place_type_t<vm_recreated>) {
  return vm_recreated{"web1-3", 4, 2, 512, 3, 4000, "recreated: HTTP 503 (again after a restart)",
                      t0 + 24};
}
event sample(std::in_place_type_t<journal_loss_accepted>) {
  return journal_loss_accepted{
      40, 50, 10, "the write-ahead log /d/journal/000012.log is missing",
      "/d/journal.before-repair-20261201T042100Z", t0 + 24};
}

event sample(std::in_place_type_t<vm_replace_requested>) {
  return vm_replace_requested{"web1-2", t0 + 26};
}

event sample(std::in_place_type_t<vm_terminating>) {
  return vm_terminating{"web1-2@4", "replaced by revision 4", 2000, t0 + 27, 12};
}

lb_spec sample_lb() {
  return {"web1-lb", "web1", 8080, "127.0.0.9", lb_algorithm::source, true, "/healthz", 80};
}

event sample(std::in_place_type_t<lb_created>) {
  return lb_created{sample_lb(), t0 + 29};
}

event sample(std::in_place_type_t<lb_switched>) {
  return lb_switched{"web1-lb", "web1", "web1-green", t0 + 30};
}

event sample(std::in_place_type_t<lb_deleted>) {
  return lb_deleted{"web1-lb", t0 + 31};
}

event sample(std::in_place_type_t<vm_not_ready>) {
  return vm_not_ready{"web1-2", "HTTP 503", t0 + 33, 12};
}

event sample(std::in_place_type_t<vm_drained>) {
  return vm_drained{"web1-2", "web1-lb", t0 + 32, 12};
}

event sample(std::in_place_type_t<deployment_rollout>) {
  return deployment_rollout{"web1", 4, rollout_phase::failed, 3, 6,
                            "no progress for 600 s (3 of 6 replicas updated)", t0 + 28};
}

event sample(std::in_place_type_t<volume_created>) {
  return volume_created{7, "pg", 2, "/var/lib/postgresql/data", 10240, t0 + 34};
}

event sample(std::in_place_type_t<volume_attached>) {
  return volume_attached{7, "pg-2:/var/lib/postgresql/data", "pg-2", t0 + 35};
}

event sample(std::in_place_type_t<volume_detached>) {
  return volume_detached{7, "pg-2:/var/lib/postgresql/data", "pg-2", t0 + 36};
}

event sample(std::in_place_type_t<volume_deleted>) {
  return volume_deleted{7, "pg-2:/var/lib/postgresql/data",
                        "deployment 'pg' deleted with --purge-volumes", t0 + 37};
}

event sample(std::in_place_type_t<quota_set>) {
  return quota_set{{"production", 100, 64, 128 * 1024}, "/etc/volant/quotas.yaml", t0 + 38};
}

event sample(std::in_place_type_t<quota_deleted>) {
  return quota_deleted{"development", "apply", t0 + 39};
}

event sample(std::in_place_type_t<deployment_quota_set>) {
  return deployment_quota_set{"pg", "", "production", t0 + 40};
}

autoscaler_spec sample_autoscaler() {
  autoscaler_spec a;
  a.name = "web1-hpa";
  a.deployment = "web1";
  a.min_replicas = 3;
  a.max_replicas = 20;
  a.metrics = {{metric_kind::cpu, 70}, {metric_kind::requests, 1000.5}};
  a.tolerance = 0.05;
  a.up = {0, -1, 4, 15};
  a.down = {120, 50, 2, 30};
  return a;
}

event sample(std::in_place_type_t<autoscaler_set>) {
  return autoscaler_set{sample_autoscaler(), t0 + 41};
}

event sample(std::in_place_type_t<autoscaler_deleted>) {
  return autoscaler_deleted{"web1-hpa", t0 + 42};
}

event sample(std::in_place_type_t<host_joined>) {
  return host_joined{cluster_host{"b", 8, 16384, 4000, true, false, t0 + 43, 0x7F4EB100}, t0 + 43};
}

event sample(std::in_place_type_t<host_lost>) {
  return host_lost{"c", "its lease expired", t0 + 44};
}

template <std::size_t... Is>
std::vector<event> all_samples(std::index_sequence<Is...>) {
  // A missing overload above is a compile error: every alternative has a sample.
  return {sample(std::in_place_type<std::variant_alternative_t<Is, event>>)...};
}

} // namespace

std::vector<event> every_event() {
  return all_samples(std::make_index_sequence<std::variant_size_v<event>>{});
}

world sample_world() {
  world w;
  w.host.configured = true;
  w.host.config = {"host-a", 0xC0A87F02, 0xC0A87FFE, 16, 65536, 50, 40};
  for (int i = 0; i < 3; ++i) {
    auto m = sample_manifest(i);
    w.plugins.by_name[m.name][m.version] = m;
    m.version = "2.0";
    m.health.probe = i == 0 ? probe_kind{no_check{}}
                            : probe_kind{process_check{"worker"}};
    w.plugins.by_name[m.name][m.version] = m;
  }
  for (int i = 0; i < 2; ++i) {
    auto s = sample_spec(i);
    if (i == 1)
      s.tmpl.health.reset();
    w.deployments[s.name] = {s, 5ull + static_cast<std::uint64_t>(i),
                             1'700'000'000'000'000'000 + i,
                             1'700'000'000'000'000'500 + i,
                             i == 0 ? std::set<std::uint32_t>{1, 4} : std::set<std::uint32_t>{}};
    if (i == 0) { // a reverted rollout, in snapshots too
      auto& d = w.deployments[s.name];
      d.rollout = {5, rollout_phase::failed, 1'700'000'000'000'000'100,
                   1'700'000'000'000'000'200, 2, "no progress for 600 s", 4};
      d.stable_revision = 3;
      d.stable_tmpl = sample_spec(1).tmpl;
    }
  }
  for (int i = 0; i < 6; ++i) {
    auto vm = sample_vm(i);
    vm.status = static_cast<vm_status>(i * 2 + (i == 5 ? 1 : 0)); // up to terminating
    if (i == 5)
      vm.terminate_at = 1'700'000'000'000'002'000;
    vm.replace_requested = i == 3;
    w.host.leases[vm.ip] = vm.name;
    w.host.memory_used_mib += vm.memory_mib;
    w.host.cpu_used += vm.cpu;
    w.vms[vm.name] = vm;
  }
  w.lbs["web1-lb"] = sample_lb();
  auto other = sample_lb();
  other.name = "api-lb";
  other.algorithm = lb_algorithm::least_conn;
  other.health_check = false;
  other.listen.clear();
  w.lbs["api-lb"] = other;
  w.volumes[3] = {3, "web1", 0, "/var/lib/data", 0, "web1-0", 1'700'000'000'000'000'300, false};
  w.volumes[9] = {9, "web1", 4, "/var/lib/data", 2048, "", 1'700'000'000'000'000'400, true};
  w.last_volume_id = 11;
  w.quotas["production"] = {"production", 100, 64, 131072};
  w.quotas["dev"] = {"dev", -1, 16, -1};
  w.autoscalers["web1-hpa"] = sample_autoscaler();
  w.hosts["a"] = {"a", 2, 8192, 0, false, false, 1'700'000'000'000'000'600};
  w.hosts["b"] = {"b", 8, 16384, 4000, true, false, 1'700'000'000'000'000'700, 0x7F4EB100};
  w.hosts["c"] = {"c", 4, 4096, 0, false, true, 1'700'000'000'000'000'800};
  w.last_seq = 123456;
  w.last_at = 1'764'000'000'999'999'999;
  w.last_incarnation = 17;
  return w;
}

std::vector<event> valid_history(int n) {
  std::vector<event> out;
  unix_nanos at = t0;
  auto next = [&] { return at += 1000; };
  host_config host{"local", 0x7F000102, 0x7F0001FE, 64, 1 << 20, 200, 100};
  out.push_back(host_configured{host, next()});
  for (int p = 0; p < 3; ++p)
    out.push_back(plugin_installed{sample_manifest(p), next()});
  std::vector<std::string> live; // VM names, in creation order
  std::uint32_t ip = host.pool_first;
  for (int d = 0; static_cast<int>(out.size()) < n; ++d) {
    auto spec = sample_spec(d % 3);
    spec.name = "dep" + std::to_string(d);
    spec.replicas = 3;
    out.push_back(deployment_created{spec, 1, next()});
    for (std::uint32_t i = 0; i < 3; ++i) {
      auto name = vm_name(spec.name, i);
      out.push_back(vm_created{name, spec.name, i, "local", ip++, 1, 1, 64,
                               next()});
      out.push_back(vm_started{name, {"process", 1000 + d, 5u + i, ""}, next()});
      out.push_back(vm_ready{name, next()});
      live.push_back(name);
    }
    out.push_back(deployment_scaled{spec.name, 3, 2, next()});
    out.push_back(vm_stopped{live.back(), next()});
    out.push_back(vm_removed{live.back(), next()});
    live.pop_back();
    if (d % 2 == 1) {
      out.push_back(vm_exited{live.front(), 1, "exit 1", next()});
      out.push_back(
        vm_restart_scheduled{live.front(), "exited", 1000, next()});
      out.push_back(deployment_paused{spec.name, next()});
      out.push_back(vm_paused{live.back(), next()});
      out.push_back(deployment_resumed{spec.name, next()});
      out.push_back(vm_resumed{live.back(), next()});
    }
    if (d % 4 == 3) {
      auto victim = "dep" + std::to_string(d - 1);
      out.push_back(deployment_deleted{victim, next()});
      for (auto it = live.begin(); it != live.end();)
        if (it->rfind(victim + "-", 0) == 0) {
          out.push_back(vm_removed{*it, next()});
          it = live.erase(it);
        } else {
          ++it;
        }
    }
  }
  return out;
}

world fold(const std::vector<recorded_event>& recs) {
  world w;
  for (const auto& r : recs)
    apply(w, r);
  return w;
}

} // namespace volant::test
