#include "fixture.hpp"

#include <map>
#include <optional>
#include <set>
#include <type_traits>
#include <variant>

using namespace volant;
using namespace volant::test;

namespace {

// -- samples with every field set to a non-default value ----------------------

host_config full_config() {
  return {"h1", ip(10), ip(20), 8, 4096, 50, 20};
}

plugin_manifest full_manifest() {
  plugin_manifest m;
  m.name = "nginx";
  m.version = "1.0.0";
  m.description = "web server";
  m.runtime = "qemu";
  m.kernel = "/boot/vmlinux";
  m.initramfs = "/boot/initramfs";
  m.workload = {{"/usr/sbin/nginx"}, {{"K", "V"}}, "/srv"};
  m.health = {true, tcp_check{5432}, 15, 3, 5};
  m.readiness = {true, http_check{80, "/ready"}, 2, 1, 1};
  return m;
}

deployment_spec full_spec() {
  deployment_spec s;
  s.name = "web";
  s.replicas = 3;
  s.tmpl = {{"nginx", "1.0.0"},
            2,
            256,
            {{"tier", "web"}},
            {{"K", "V"}},
            {{"/data", true, 2048}},
            health_check{true, http_check{8080, "/hz"}, 5, 2, 4},
            {{"S", "vs1.sealed"}},
            health_check{true, tcp_check{8081}, 3, 1, 2}};
  s.auto_restart = false;
  s.strategy = {strategy_kind::rolling, {2, true}, {1, false}};
  s.paused = true;
  s.quota = "production";
  return s;
}

driver_handle full_handle() {
  return {"qemu", 42, 7, "/run/web-0.qmp"};
}

vm_record full_vm() {
  vm_record vm;
  vm.name = "web-1";
  vm.deployment = "web";
  vm.index = 1;
  vm.host = "h1";
  vm.ip = ip(11);
  vm.revision = 2;
  vm.cpu = 2;
  vm.memory_mib = 256;
  vm.status = vm_status::ready;
  vm.handle = full_handle();
  vm.restarts = 3;
  vm.last_exit_code = -9;
  vm.last_error = "killed";
  vm.backoff_ms = 4000;
  vm.created_at = 10;
  vm.started_at = 20;
  vm.ready_at = 30;
  vm.incarnation = 5;
  vm.not_before = 40;
  vm.replace_requested = true;
  vm.terminate_at = 50;
  return vm;
}

/// One sample of each event, in variant order.
std::vector<event> all_events() {
  return {
      plugin_installed{full_manifest(), 1},
      plugin_removed{"nginx", "1.0.0", 2},
      host_configured{full_config(), 3},
      deployment_created{full_spec(), 4, 4},
      deployment_scaled{"web", 3, 5, 5, {1, 2}, "autoscaler web-hpa", "cpu 90 % of 70 % -> 5"},
      deployment_updated{"web", full_spec().tmpl, full_spec().strategy, 6, 6, true,
                         "rollout undo to revision 2", 5},
      deployment_auto_restart_set{"web", false, 7},
      deployment_paused{"web", 8},
      deployment_resumed{"web", 9},
      deployment_deleted{"web", 10, true},
      vm_created{"web-1", "web", 1, "h1", ip(11), 2, 2, 256, 11, 4, 8000,
                 "HTTP 503"},
      vm_started{"web-1", full_handle(), 12, 5},
      vm_adopted{"web-1", full_handle(), 13, 5},
      vm_ready{"web-1", 14, 5},
      vm_unhealthy{"web-1", "HTTP 503", 15, 5},
      vm_exited{"web-1", -9, "killed", 16, 5},
      vm_start_failed{"web-1", "no such file", 17, 6},
      vm_restart_scheduled{"web-1", "exited", 2000, 18, 5},
      vm_stopped{"web-1", 19, 5},
      vm_removed{"web-1", 20},
      actor_crashed{"deployment/web", "boom", 2, 21},
      vm_paused{"web-1", 22, 5},
      vm_resumed{"web-1", 23, 5},
      vm_recreated{"web-1", 3, 4, 512, 2, 1000, "revision 2 -> 3", 24},

      journal_loss_accepted{40, 50, 10, "000012.log is missing", "/saved", 25},
      vm_replace_requested{"web-1", 26},
      vm_terminating{"web-1@3", "replaced by revision 3", 2000, 27, 6},
      deployment_rollout{"web", 3, rollout_phase::complete, 3, 3, "", 28},
      lb_created{{"web-lb", "web", 8080, "127.0.0.9", lb_algorithm::least_conn, false,
                  "/hz", 81},
                 29},
      lb_switched{"web-lb", "web", "web-green", 30},
      lb_deleted{"web-lb", 31},
      vm_drained{"web-1@3", "web-lb", 32, 6},
      vm_not_ready{"web-1", "HTTP 503", 33, 5},
      volume_created{4, "web", 1, "/data", 2048, 34},
      volume_attached{4, "web-1:/data", "web-1", 35},
      volume_detached{4, "web-1:/data", "web-1", 36},
      volume_deleted{4, "web-1:/data", "deleted by the user", 37},
      quota_set{{"production", 100, 64, 131072}, "apply", 38},
      quota_deleted{"development", "/etc/volant/quotas.yaml", 39},
      deployment_quota_set{"web", "development", "production", 40},
      autoscaler_set{{"web-hpa", "web", 3, 20, {{metric_kind::cpu, 70}}, 0.2, {1, 50, 2, 10},
                      {60, -1, 3, 20}},
                     41},
      autoscaler_deleted{"web-hpa", 42},
      host_joined{{"h2", 8, 16384, 4000, true, false, 43, 0x0A080100}, 43},
      host_lost{"h3", "its lease expired", 44},
  };
}

/// Builds a T field by field from `src` through `reflect` alone: equal to `src`
/// only if reflect visits every field.
template <class T> T copy_through_reflect(const T& src) {
  T dst{};
  std::vector<void*> slots;
  reflect([&](std::string_view, auto& field) { slots.push_back(&field); }, dst);
  std::size_t i = 0;
  reflect(
      [&](std::string_view, const auto& field) {
        using F = std::remove_cvref_t<decltype(field)>;
        *static_cast<F*>(slots.at(i++)) = field;
      },
      src);
  return dst;
}

template <class T> std::vector<std::string> field_names(const T& x) {
  std::vector<std::string> out;
  reflect([&](std::string_view name, const auto&) { out.emplace_back(name); },
          x);
  return out;
}

template <class T> void check_reflect_complete(const T& sample) {
  CHECK(sample != T{});
  CHECK(copy_through_reflect(sample) == sample);
  auto names = field_names(sample);
  CHECK(std::set<std::string>(names.begin(), names.end()).size()
        == names.size());
}

template <class T> struct is_optional : std::false_type {};
template <class T> struct is_optional<std::optional<T>> : std::true_type {};
template <class T> struct is_variant : std::false_type {};
template <class... T> struct is_variant<std::variant<T...>> : std::true_type {};
template <class T> struct is_vector : std::false_type {};
template <class T> struct is_vector<std::vector<T>> : std::true_type {};
template <class T> struct is_map : std::false_type {};
template <class K, class V> struct is_map<std::map<K, V>> : std::true_type {};

/// A JSON-like dump written only over `reflect`, as the codecs are: compiles
/// only if every nested struct has a field visitor.
struct dumper {
  std::string out;

  template <class T> void value(const T& x) {
    if constexpr (std::is_same_v<T, std::string>) {
      out += '"' + x + '"';
    } else if constexpr (std::is_same_v<T, bool>) {
      out += x ? "true" : "false";
    } else if constexpr (std::is_enum_v<T>) {
      out += std::to_string(static_cast<long long>(x));
    } else if constexpr (std::is_arithmetic_v<T>) {
      out += std::to_string(x);
    } else if constexpr (is_optional<T>::value) {
      x ? value(*x) : void(out += "null");
    } else if constexpr (is_variant<T>::value) {
      std::visit([&](const auto& alt) { value(alt); }, x);
    } else if constexpr (is_vector<T>::value) {
      out += '[';
      for (const auto& item : x)
        value(item), out += ',';
      out += ']';
    } else if constexpr (is_map<T>::value) {
      out += '{';
      for (const auto& [k, v] : x)
        value(k), out += ':', value(v), out += ',';
      out += '}';
    } else {
      out += '{';
      reflect(
          [&](std::string_view name, const auto& field) {
            out += name;
            out += '=';
            value(field);
            out += ',';
          },
          x);
      out += '}';
    }
  }
};

} // namespace

// -- reflect ------------------------------------------------------------------

TEST_CASE("reflect visits every field of every domain value") {
  check_reflect_complete(env_var{"K", "V"});
  check_reflect_complete(volume{"/data", true, 512});
  check_reflect_complete(volume_record{3, "web", 1, "/data", 512, "web-1", 7, true});
  check_reflect_complete(quota_spec{"production", 100, 64, 131072});
  check_reflect_complete(http_check{8080, "/hz"});
  check_reflect_complete(tcp_check{5432});
  check_reflect_complete(process_check{"nginx"});
  check_reflect_complete(full_manifest().health);
  check_reflect_complete(full_manifest().workload);
  check_reflect_complete(full_manifest());
  check_reflect_complete(plugin_ref{"nginx", "v2"});
  check_reflect_complete(int_or_percent{25, true});
  check_reflect_complete(full_spec().strategy);
  check_reflect_complete(full_spec().tmpl);
  check_reflect_complete(full_spec());
  check_reflect_complete(full_handle());
  check_reflect_complete(full_vm());
  check_reflect_complete(full_config());
  CHECK(field_names(no_check{}).empty());
}

TEST_CASE("reflect visits every field of every event") {
  auto samples = all_events();
  REQUIRE(samples.size() == std::variant_size_v<event>);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    CAPTURE(kind_name(samples[i]));
    CHECK(samples[i].index() == i);
    std::visit([](const auto& e) { check_reflect_complete(e); }, samples[i]);
  }
}

TEST_CASE("reflect uses the members' own names") {
  CHECK(field_names(full_vm())
        == std::vector<std::string>{"name", "deployment", "index", "host", "ip",
                                    "revision", "cpu", "memory_mib", "status",
                                    "handle", "restarts", "last_exit_code",
                                    "last_error", "backoff_ms", "created_at",
                                    "started_at", "ready_at", "incarnation",
                                    "not_before", "replace_requested",
                                    "terminate_at"});
  CHECK(field_names(full_spec())
        == std::vector<std::string>{"name", "replicas", "tmpl", "auto_restart",
                                    "strategy", "paused", "quota", "multi_host"});
  CHECK(field_names(vm_exited{})
        == std::vector<std::string>{"name", "exit_code", "reason", "at",
                                    "incarnation"});
  CHECK(field_names(vm_recreated{})
        == std::vector<std::string>{"name", "revision", "cpu", "memory_mib",
                                    "restarts", "backoff_ms", "reason", "at"});
}

TEST_CASE("a codec written over reflect reaches nested values") {
  dumper d;
  for (const auto& ev : all_events())
    std::visit([&](const auto& e) { d.value(e); }, ev);
  CHECK(d.out.find("path=\"/hz\"") != std::string::npos);
  CHECK(d.out.find("vm_labels={\"tier\":\"web\",}") != std::string::npos);
  CHECK(d.out.find("control=\"/run/web-0.qmp\"") != std::string::npos);
}

// -- event names and aggregates -----------------------------------------------

TEST_CASE("every event names its kind and its aggregate") {
  auto samples = all_events();
  std::vector<std::string> kinds;
  for (const auto& ev : samples)
    kinds.emplace_back(kind_name(ev));
  CHECK(kinds.front() == "plugin_installed");
  CHECK(kinds[24] == "journal_loss_accepted");
  CHECK(kinds[25] == "vm_replace_requested");
  CHECK(aggregate_of(samples[25]) == aggregate_id{aggregate_kind::vm, "web-1"});
  CHECK(kinds[26] == "vm_terminating");
  CHECK(aggregate_of(samples[26]) == aggregate_id{aggregate_kind::vm, "web-1@3"});
  CHECK(kinds[27] == "deployment_rollout");
  CHECK(aggregate_of(samples[27]) == aggregate_id{aggregate_kind::deployment, "web"});
  CHECK(kinds[30] == "lb_deleted");
  CHECK(aggregate_of(samples[30]) == aggregate_id{aggregate_kind::lb, "web-lb"});
  CHECK(kinds[31] == "vm_drained");
  CHECK(aggregate_of(samples[31]) == aggregate_id{aggregate_kind::vm, "web-1@3"});
  CHECK(kinds[32] == "vm_not_ready");
  CHECK(kinds[33] == "volume_created");
  CHECK(aggregate_of(samples[33]) == aggregate_id{aggregate_kind::volume, "web-1:/data"});
  CHECK(aggregate_of(samples[35]) == aggregate_id{aggregate_kind::volume, "web-1:/data"});
  CHECK(aggregate_of(samples[37]) == aggregate_id{aggregate_kind::quota, "production"});
  CHECK(aggregate_of(samples[38]) == aggregate_id{aggregate_kind::quota, "development"});
  CHECK(kinds[39] == "deployment_quota_set");
  CHECK(aggregate_of(samples[39]) == aggregate_id{aggregate_kind::deployment, "web"});
  CHECK(kinds[41] == "autoscaler_deleted");
  CHECK(aggregate_of(samples[40]) == aggregate_id{aggregate_kind::autoscaler, "web-hpa"});
  CHECK(kinds.back() == "host_lost");
  CHECK(aggregate_of(samples[42]) == aggregate_id{aggregate_kind::host, "h2"});
  CHECK(aggregate_of(samples[43]) == aggregate_id{aggregate_kind::host, "h3"});
  CHECK(deployment_of_vm("web-1@3") == "web");
  CHECK(deployment_of_vm("my-app-12") == "my-app");
  CHECK(slot_name("web-1@3") == "web-1");
  CHECK(slot_name("web-1") == "web-1");
  CHECK(std::set<std::string>(kinds.begin(), kinds.end()).size()
        == kinds.size());
  CHECK(aggregate_of(samples[0])
        == aggregate_id{aggregate_kind::plugin, "nginx"});
  CHECK(aggregate_of(samples[1])
        == aggregate_id{aggregate_kind::plugin, "nginx"});
  CHECK(aggregate_of(samples[2]) == aggregate_id{aggregate_kind::host, "h1"});
  for (std::size_t i = 3; i <= 9; ++i)
    CHECK(aggregate_of(samples[i])
          == aggregate_id{aggregate_kind::deployment, "web"});
  for (std::size_t i = 10; i <= 19; ++i)
    CHECK(aggregate_of(samples[i])
          == aggregate_id{aggregate_kind::vm, "web-1"});
  CHECK(aggregate_of(samples[20])
        == aggregate_id{aggregate_kind::system, "deployment/web"});
  CHECK(kinds[21] == "vm_paused");
  CHECK(kinds[22] == "vm_resumed");
  CHECK(kinds[23] == "vm_recreated");
  for (std::size_t i = 21; i <= 23; ++i)
    CHECK(aggregate_of(samples[i])
          == aggregate_id{aggregate_kind::vm, "web-1"});
  CHECK(kinds[24] == "journal_loss_accepted");
  CHECK(aggregate_of(samples[24])
        == aggregate_id{aggregate_kind::system, "journal"});
}

// -- apply --------------------------------------------------------------------

TEST_CASE("installing and removing plugins updates the registry") {
  world w;
  apply(w, plugin_installed{nginx("1.0.0"), 1});
  apply(w, plugin_installed{nginx("1.9.0"), 2});
  apply(w, plugin_installed{nginx("1.10.0"), 3});
  CHECK(w.plugins.by_name.at("nginx").size() == 3);
  apply(w, plugin_removed{"nginx", "1.9.0", 4});
  CHECK(w.plugins.by_name.at("nginx").size() == 2);
  apply(w, plugin_removed{"nginx", "", 5});
  CHECK(w.plugins.by_name.empty());
  apply(w, plugin_installed{nginx("1.0.0"), 6});
  apply(w, plugin_removed{"nginx", "1.0.0", 7});
  CHECK_FALSE(
      w.plugins.by_name.contains("nginx")); // last version takes the name
  auto before = w;
  apply(w, plugin_removed{"redis", "", 8});
  CHECK(w == before);
}

TEST_CASE("the registry finds the newest version numerically") {
  world w;
  for (auto v : {"1.9.0", "1.10.0", "1.2.0"})
    apply(w, plugin_installed{nginx(v), 1});
  REQUIRE(w.plugins.find({"nginx", ""}) != nullptr);
  CHECK(w.plugins.find({"nginx", ""})->version == "1.10.0");
  CHECK(w.plugins.find({"nginx", "1.9.0"})->version == "1.9.0");
  CHECK(w.plugins.find({"nginx", "2.0.0"}) == nullptr);
  CHECK(w.plugins.find({"redis", ""}) == nullptr);
}

TEST_CASE("configuring the host sets the configuration") {
  world w;
  CHECK_FALSE(w.host.configured);
  apply(w, host_configured{full_config(), 1});
  CHECK(w.host.configured);
  CHECK(w.host.config == full_config());
}

TEST_CASE("deployment events fold into the deployment state") {
  world w;
  auto s = full_spec();
  apply(w, deployment_created{s, 1, 100});
  auto created = deployment_state{s, 1, 100, 100};
  created.rollout = {1, rollout_phase::progressing, 100, 100};
  CHECK(w.deployments.at("web") == created);
  apply(w, deployment_created{spec("web", 9), 1, 101}); // duplicate: ignored
  CHECK(w.deployments.at("web").spec == s);

  apply(w, deployment_scaled{"web", 3, 5, 200});
  CHECK(w.deployments.at("web").spec.replicas == 5);
  CHECK(w.deployments.at("web").updated_at == 200);

  auto tmpl = s.tmpl;
  tmpl.cpu = 4;
  update_strategy strategy;
  apply(w, deployment_updated{"web", tmpl, strategy, 2, 300});
  const auto& d = w.deployments.at("web");
  CHECK(d.spec.tmpl == tmpl);
  CHECK(d.spec.strategy == strategy);
  CHECK(d.revision == 2);
  CHECK(d.created_at == 100);
  CHECK(d.updated_at == 300);

  apply(w, deployment_auto_restart_set{"web", true, 400});
  CHECK(w.deployments.at("web").spec.auto_restart);
  apply(w, deployment_resumed{"web", 500});
  CHECK_FALSE(w.deployments.at("web").spec.paused);
  apply(w, deployment_paused{"web", 600});
  CHECK(w.deployments.at("web").spec.paused);
  CHECK(w.deployments.at("web").updated_at == 600);
}

TEST_CASE("deleting a deployment keeps its VMs as orphans") {
  world w;
  apply(w, host_configured{small_host(), 1});
  apply(w, deployment_created{spec("web", 1), 1, 1});
  apply(w, vm_created{"web-0", "web", 0, "local", ip(10), 1, 1, 128, 2});
  apply(w, deployment_deleted{"web", 3});
  CHECK(w.deployments.empty());
  CHECK(w.vms.contains("web-0"));
  CHECK(orphans(w) == std::vector<std::string>{"web-0"});
}

TEST_CASE("deployment events for an absent deployment change nothing") {
  world w;
  auto before = w;
  apply(w, deployment_scaled{"x", 1, 2, 1});
  apply(w, deployment_updated{"x", {}, {}, 2, 1});
  apply(w, deployment_auto_restart_set{"x", false, 1});
  apply(w, deployment_paused{"x", 1});
  apply(w, deployment_resumed{"x", 1});
  apply(w, deployment_deleted{"x", 1});
  CHECK(w == before);
}

TEST_CASE("a created VM holds its lease, memory and cpu") {
  world w;
  apply(w, host_configured{small_host(), 1});
  apply(w, vm_created{"web-1", "web", 1, "local", ip(11), 2, 2, 256, 50});
  const auto& vm = w.vms.at("web-1");
  CHECK(vm.deployment == "web");
  CHECK(vm.index == 1);
  CHECK(vm.host == "local");
  CHECK(vm.ip == ip(11));
  CHECK(vm.revision == 2);
  CHECK(vm.cpu == 2);
  CHECK(vm.memory_mib == 256);
  CHECK(vm.status == vm_status::pending);
  CHECK(vm.created_at == 50);
  CHECK(w.host.leases == std::map<ipv4, std::string>{{ip(11), "web-1"}});
  CHECK(w.host.memory_used_mib == 256);
  CHECK(w.host.cpu_used == 2);
  CHECK(memory_free_mib(w) == 4096 - 256);

  auto before = w;
  apply(w, vm_created{"web-1", "web", 1, "local", ip(12), 2, 2, 256, 51});
  apply(w, vm_created{"web-2", "web", 2, "local", ip(11), 2, 2, 256, 52});
  CHECK(w == before); // a duplicate name or a leased address is ignored
}

TEST_CASE("VM lifecycle events set status, times and errors") {
  world w;
  apply(w, vm_created{"web-0", "web", 0, "local", ip(10), 1, 1, 128, 1});
  auto vm = [&]() -> const vm_record& { return w.vms.at("web-0"); };

  apply(w, vm_started{"web-0", full_handle(), 10, 1});
  CHECK(vm().status == vm_status::running);
  CHECK(vm().handle == full_handle());
  CHECK(vm().started_at == 10);
  CHECK(vm().incarnation == 1);

  apply(w, vm_ready{"web-0", 20});
  CHECK(vm().status == vm_status::ready);
  CHECK(vm().ready_at == 20);

  apply(w, vm_adopted{"web-0", {"qemu", 43, 8, ""}, 25});
  CHECK(vm().status == vm_status::ready); // adoption keeps a known status
  CHECK(vm().handle.pid == 43);

  apply(w, vm_unhealthy{"web-0", "HTTP 503", 30});
  CHECK(vm().status == vm_status::unhealthy);
  CHECK(vm().last_error == "HTTP 503");

  apply(w, vm_exited{"web-0", 137, "exit status 137", 40});
  CHECK(vm().status == vm_status::exited);
  CHECK(vm().last_exit_code == 137);
  CHECK(vm().last_error == "exit status 137");

  apply(w, vm_restart_scheduled{"web-0", "exited", 1000, 50});
  CHECK(vm().status == vm_status::restarting);
  CHECK(vm().restarts == 1);
  CHECK(vm().backoff_ms == 1000);

  apply(w, vm_start_failed{"web-0", "ENOENT", 60});
  CHECK(vm().status == vm_status::failed);
  CHECK(vm().last_error == "ENOENT");

  apply(w, vm_stopped{"web-0", 70});
  CHECK(vm().status == vm_status::stopped);
}

TEST_CASE("a paused VM keeps its lease, capacity and readiness time") {
  world w;
  apply(w, host_configured{small_host(), 1});
  apply(w, vm_created{"web-0", "web", 0, "local", ip(10), 1, 2, 128, 1});
  auto vm = [&]() -> const vm_record& { return w.vms.at("web-0"); };
  apply(w, vm_started{"web-0", full_handle(), 10});
  apply(w, vm_ready{"web-0", 20});
  auto held = w.host;

  apply(w, vm_paused{"web-0", 30});
  CHECK(vm().status == vm_status::paused);
  CHECK(to_string(vm().status) == "paused");
  CHECK(w.host == held);
  CHECK(vm().ip == ip(10));
  CHECK(vm().handle == full_handle());

  apply(w, vm_resumed{"web-0", 40});
  CHECK(vm().status == vm_status::running); // until the probe says ready
  CHECK(vm().ready_at == 20);
  CHECK(vm().started_at == 10);
  CHECK(w.host == held);

  apply(w, vm_adopted{"web-0", full_handle(), 45});
  apply(w, vm_paused{"web-0", 50});
  apply(w, vm_adopted{"web-0", full_handle(), 55});
  CHECK(vm().status == vm_status::paused); // adoption keeps a frozen VM frozen
}

TEST_CASE("pause and resume events that do not fit the status change nothing") {
  world w;
  apply(w, vm_created{"web-0", "web", 0, "local", ip(10), 1, 1, 128, 1});
  auto before = w;
  apply(w, vm_paused{"web-0", 2}); // pending: nothing to freeze
  apply(w, vm_resumed{"web-0", 3}); // not paused
  CHECK(w == before);
  apply(w, vm_started{"web-0", full_handle(), 4});
  apply(w, vm_exited{"web-0", 1, "exit", 5});
  before = w;
  apply(w, vm_paused{"web-0", 6});
  CHECK(w == before);
  apply(w, vm_started{"web-0", full_handle(), 7});
  for (auto status : {vm_status::running, vm_status::unhealthy}) {
    w.vms.at("web-0").status = status;
    apply(w, vm_paused{"web-0", 8});
    CHECK(w.vms.at("web-0").status == vm_status::paused);
  }
}

TEST_CASE("adopting a pending VM marks it running") {
  world w;
  apply(w, vm_created{"web-0", "web", 0, "local", ip(10), 1, 1, 128, 1});
  apply(w, vm_adopted{"web-0", full_handle(), 5});
  CHECK(w.vms.at("web-0").status == vm_status::running);
  CHECK(w.vms.at("web-0").started_at == 5);
}

TEST_CASE("removing a VM releases its lease, memory and cpu") {
  world w;
  apply(w, host_configured{small_host(), 1});
  apply(w, vm_created{"web-0", "web", 0, "local", ip(10), 1, 2, 128, 1});
  apply(w, vm_created{"web-1", "web", 1, "local", ip(11), 1, 2, 128, 1});
  apply(w, vm_removed{"web-0", 2});
  CHECK_FALSE(w.vms.contains("web-0"));
  CHECK(w.host.leases == std::map<ipv4, std::string>{{ip(11), "web-1"}});
  CHECK(w.host.memory_used_mib == 128);
  CHECK(w.host.cpu_used == 2);
}

TEST_CASE("VM events for an absent VM change nothing") {
  world w;
  auto before = w;
  for (const auto& ev : all_events()) {
    if ((ev.index() >= 11 && ev.index() <= 19) || (ev.index() >= 21 && ev.index() <= 32))
      apply(w, ev);
  }
  CHECK(w == before);
}

TEST_CASE("a start takes the run number it names; an old log's start the next") {
  world w;
  apply(w, vm_created{"web-0", "web", 0, "local", ip(10), 1, 1, 128, 1});
  auto vm = [&]() -> const vm_record& { return w.vms.at("web-0"); };
  CHECK(vm().incarnation == 0);
  apply(w, vm_started{"web-0", full_handle(), 10, 3});
  CHECK(vm().incarnation == 3);
  CHECK(w.last_incarnation == 3);
  apply(w, vm_exited{"web-0", 1, "exit status 1", 11, 3});
  apply(w, vm_started{"web-0", full_handle(), 12}); // no number: the next
  CHECK(vm().incarnation == 4);
  CHECK(w.last_incarnation == 4);
}

TEST_CASE("a failed start uses up its run number") {
  world w;
  apply(w, vm_created{"web-0", "web", 0, "local", ip(10), 1, 1, 128, 1});
  apply(w, vm_start_failed{"web-0", "ENOENT", 2, 1});
  CHECK(w.vms.at("web-0").incarnation == 1);
  CHECK(w.last_incarnation == 1);
  apply(w, vm_start_failed{"web-0", "ENOENT", 3}); // old log: no number
  CHECK(w.vms.at("web-0").incarnation == 1);
}

TEST_CASE("a restart records its back-off as the earliest next start") {
  world w;
  apply(w, vm_created{"web-0", "web", 0, "local", ip(10), 1, 1, 128, 1});
  apply(w, vm_started{"web-0", full_handle(), 10, 1});
  apply(w, vm_exited{"web-0", 1, "exit status 1", 20, 1});
  apply(w, vm_restart_scheduled{"web-0", "exit status 1", 2000, 30, 1});
  CHECK(w.vms.at("web-0").not_before == 30 + 2'000'000'000);
}

TEST_CASE("a new VM of a reused name numbers its runs above every recorded run") {
  world w;
  apply(w, host_configured{small_host(), 1});
  apply(w, vm_created{"web-0", "web", 0, "local", ip(10), 1, 1, 128, 1});
  apply(w, vm_created{"api-0", "api", 0, "local", ip(11), 1, 1, 128, 1});
  apply(w, vm_started{"api-0", full_handle(), 2, 7});
  apply(w, vm_started{"web-0", full_handle(), 3, 2});
  apply(w, vm_exited{"web-0", 0, "", 4, 2});
  apply(w, vm_removed{"web-0", 5});
  CHECK(w.last_incarnation == 7); // removing a VM forgets no run number
  apply(w, vm_created{"web-0", "web", 0, "local", ip(10), 1, 1, 128, 6});
  CHECK(w.vms.at("web-0").incarnation == 7);
  apply(w, vm_started{"web-0", full_handle(), 7});
  CHECK(w.vms.at("web-0").incarnation == 8);
}

TEST_CASE("a recreated VM keeps its name, index, IP and lease and takes the new "
          "revision's cpu and memory") {
  world w;
  apply(w, host_configured{small_host(), 1});
  apply(w, vm_created{"web-1", "web", 1, "local", ip(11), 1, 1, 128, 1});
  apply(w, vm_started{"web-1", full_handle(), 10, 1});
  apply(w, vm_ready{"web-1", 11, 1});
  apply(w, vm_exited{"web-1", 1, "exit status 1", 12, 1});
  apply(w, vm_restart_scheduled{"web-1", "exit status 1", 1000, 13, 1});
  apply(w, vm_recreated{"web-1", 2, 3, 512, 0, 0, "revision 1 -> 2", 20});
  const auto& vm = w.vms.at("web-1");
  CHECK(vm.index == 1);
  CHECK(vm.ip == ip(11));
  CHECK(w.host.leases == std::map<ipv4, std::string>{{ip(11), "web-1"}});
  CHECK(vm.revision == 2);
  CHECK(vm.cpu == 3);
  CHECK(vm.memory_mib == 512);
  CHECK(w.host.memory_used_mib == 512);
  CHECK(w.host.cpu_used == 3);
  CHECK(vm.status == vm_status::pending);
  CHECK(vm.handle == driver_handle{});
  CHECK(vm.restarts == 0);
  CHECK(vm.backoff_ms == 0);
  CHECK(vm.last_error == "revision 1 -> 2");
  CHECK(vm.created_at == 20);
  CHECK(vm.started_at == 0);
  CHECK(vm.ready_at == 0);
  CHECK(vm.not_before == 20);
  CHECK(vm.incarnation == 1); // its next run is 2: numbers are never reused

  // A recreate for a failure carries restarts and back-off over.
  apply(w, vm_recreated{"web-1", 2, 1, 64, 3, 4000, "recreated: HTTP 503", 30});
  CHECK(w.vms.at("web-1").restarts == 3);
  CHECK(w.vms.at("web-1").backoff_ms == 4000);
  CHECK(w.vms.at("web-1").not_before == 30 + 4'000'000'000);
  CHECK(w.host.memory_used_mib == 64);
  CHECK(w.host.cpu_used == 1);
}

TEST_CASE("an old log's recreate (vm_created with a reason) still carries "
          "restarts and back-off") {
  world w;
  apply(w, host_configured{small_host(), 1});
  apply(w, vm_created{"web-0", "web", 0, "local", ip(10), 1, 1, 128, 50, 4,
                      2000, "HTTP 503"});
  const auto& vm = w.vms.at("web-0");
  CHECK(vm.restarts == 4);
  CHECK(vm.backoff_ms == 2000);
  CHECK(vm.last_error == "HTTP 503");
  CHECK(vm.not_before == 50 + 2'000'000'000);
}

TEST_CASE("a VM's own record folds its events as the world does") {
  world w;
  apply(w, host_configured{small_host(), 1});
  std::vector<event> evs{
    vm_created{"web-0", "web", 0, "local", ip(10), 1, 1, 128, 1},
    vm_started{"web-0", full_handle(), 2, 1},
    vm_ready{"web-0", 3, 1},
    vm_paused{"web-0", 4, 1},
    vm_resumed{"web-0", 5, 1},
    vm_unhealthy{"web-0", "HTTP 503", 6, 1},
    vm_restart_scheduled{"web-0", "HTTP 503", 0, 7, 1},
    vm_started{"web-0", full_handle(), 8, 2},
    vm_exited{"web-0", 1, "exit status 1", 9, 2},
    vm_recreated{"web-0", 1, 2, 256, 2, 1000, "recreated: exit status 1", 10},
    vm_start_failed{"web-0", "ENOENT", 11, 3},
    vm_adopted{"web-0", full_handle(), 12, 3},
    vm_stopped{"web-0", 13, 3},
    actor_crashed{"vm/web-0", "boom", 1, 14}, // not the record's: no change
  };
  volant::apply(w, evs.front());
  auto rec = w.vms.at("web-0");
  for (std::size_t i = 1; i < evs.size(); ++i) {
    CAPTURE(kind_name(evs[i]));
    volant::apply(w, evs[i]);
    volant::apply(rec, evs[i]);
    CHECK(rec == w.vms.at("web-0"));
  }
}

TEST_CASE("an actor crash is audit only") {
  world w;
  apply(w, host_configured{small_host(), 1});
  auto before = w;
  apply(w, actor_crashed{"vm/web-0", "boom", 1, 2});
  CHECK(w == before);
}

TEST_CASE("an accepted journal loss is audit only: nothing is undone or guessed") {
  world w;
  apply(w, host_configured{small_host(), 1});
  apply(w, deployment_created{full_spec(), 1, 2});
  auto before = w;
  apply(w, journal_loss_accepted{2, 9, 7, "000012.log is missing", "/saved", 3});
  CHECK(w == before);
  apply(w, recorded_event{10, 4321, journal_loss_accepted{2, 9, 7, "", "", 4}});
  CHECK(w.last_seq == 10);
  CHECK(w.deployments.at("web").spec.paused);
}

TEST_CASE("applying a record stamps its seq and time") {
  world w;
  apply(w, recorded_event{7, 1234, actor_crashed{"a", "b", 1, 1}});
  CHECK(w.last_seq == 7);
  CHECK(w.last_at == 1234);
}

TEST_CASE("vms_of lists a deployment's VMs by index") {
  world w;
  for (std::uint32_t i : {10u, 2u, 0u})
    apply(w, vm_created{vm_name("web", i), "web", i, "local", ip(10 + i), 1, 1,
                        1, 1});
  apply(w, vm_created{"db-0", "db", 0, "local", ip(30), 1, 1, 1, 1});
  auto vms = vms_of(w, "web");
  REQUIRE(vms.size() == 3);
  CHECK(vms[0]->name == "web-0");
  CHECK(vms[1]->name == "web-2");
  CHECK(vms[2]->name == "web-10");
  CHECK(vm_name("web", 3) == "web-3");
}
