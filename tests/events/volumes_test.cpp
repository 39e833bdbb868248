// Persistent volumes and quotas in the pure core (issue 14, docs/volumes.md):
// one volume per (deployment, replica index, path), created at the first VM
// of its slot, attached to one VM at a time, kept across recreates, updates
// and scale-downs, deleted only on purpose; quota admission with the numbers.

#include "events/admission.hpp"
#include "events/explain.hpp"
#include "events/plan.hpp"

#include "fixture.hpp"

namespace volant {

using namespace volant::test;

namespace {

deployment_spec pg(std::int32_t replicas = 1) {
  auto s = spec("pg", replicas);
  s.tmpl.volumes = {{"/var/lib/postgresql/data", true, 0}, {"/tmp/scratch", false, 0}};
  return s;
}

template <class T> std::vector<T> of(const std::vector<event>& evs) {
  std::vector<T> out;
  for (const auto& ev : evs)
    if (const auto* x = std::get_if<T>(&ev))
      out.push_back(*x);
  return out;
}

const volume_record& volume_of(const harness& h, std::uint32_t index,
                               const std::string& path = "/var/lib/postgresql/data") {
  const auto* v = find_volume(h.w, "pg", index, path);
  REQUIRE(v != nullptr);
  return *v;
}

/// Stops and removes `name` the way the VM machine does.
void remove(harness& h, const std::string& name) {
  h.must(record_vm_stopped{name});
  h.must(remove_vm{name});
}

quota_spec quota(std::string name, std::int64_t vms, std::int64_t cpu, std::int64_t mem_mib) {
  return {std::move(name), vms, cpu, mem_mib};
}

} // namespace

TEST_CASE("volume options parse: persistent, ephemeral, sizes; bad ones are refused") {
  auto v = parse_volume("/var/lib/postgresql/data:persistent:10G");
  REQUIRE(v.has_value());
  CHECK(v->path == "/var/lib/postgresql/data");
  CHECK(v->persistent);
  CHECK(v->size_mib == 10 * 1024);
  CHECK(parse_volume("/data:persistent")->size_mib == 0);
  CHECK_FALSE(parse_volume("/scratch:ephemeral")->persistent);
  CHECK(parse_volume("/scratch:ephemeral:512M")->size_mib == 512);
  CHECK(parse_volume("/data:persistent:2GiB")->size_mib == 2048);
  for (auto bad : {"/data:persistant", "/data:persistent:10", "/data:persistent:0G",
                   "/data:persistent:10Q", "/", "/a/../b", "/a//b", "data", "/a/./b"}) {
    auto e = parse_volume(bad);
    REQUIRE_FALSE(e.has_value());
    CHECK(e.error_value().code == ec::invalid_volume);
    CHECK(contains(e.error_value().message, bad));
  }
  CHECK(contains(parse_volume("/data:persistant").error_value().message,
                 "PATH[:persistent|:ephemeral][:SIZE]"));
  auto twice = validate_volumes({{"/data", true, 0}, {"/data/", false, 0}});
  REQUIRE_FALSE(twice.has_value());
  CHECK(twice.error_value().message == "volume path '/data/' is given twice");
}

TEST_CASE("the first VM of a slot creates and attaches its persistent volume; scratch "
          "space is not recorded") {
  auto h = harness::ready();
  h.must(create_deployment{pg(2)});
  auto evs = h.must(create_vm{"pg", 0});
  REQUIRE(of<volume_created>(evs).size() == 1);
  CHECK(of<volume_created>(evs)[0].path == "/var/lib/postgresql/data");
  CHECK(of<volume_attached>(evs)[0].vm == "pg-0");
  CHECK(of<volume_attached>(evs)[0].name == "pg-0:/var/lib/postgresql/data");
  h.must(create_vm{"pg", 1});
  CHECK(h.w.volumes.size() == 2); // one per replica: never shared
  CHECK(volume_of(h, 0).vm == "pg-0");
  CHECK(volume_of(h, 1).vm == "pg-1");
  CHECK(volume_of(h, 0).id != volume_of(h, 1).id);
  CHECK(find_volume(h.w, "pg", 0, "/tmp/scratch") == nullptr);
  CHECK(find_volume(h.w, "pg-1:/var/lib/postgresql/data") == &volume_of(h, 1));
}

TEST_CASE("a recreate (new revision) keeps the slot's volume; scale 0 -> 1 finds it again") {
  auto h = harness::ready();
  h.must(install_plugin{nginx("2.0.0")});
  h.must(create_deployment{pg(1)});
  h.bring_up("pg", 1);
  auto id = volume_of(h, 0).id;
  update_deployment up;
  up.name = "pg";
  up.plugin = plugin_ref{"nginx", "2.0.0"};
  h.must(up);
  h.must(record_vm_stopped{"pg-0"});
  auto evs = h.must(recreate_vm{"pg-0", 0, h.dep("pg").revision, 0, 0, "revision 1 -> 2"});
  CHECK(of<volume_created>(evs).empty());
  CHECK(volume_of(h, 0).id == id);
  CHECK(volume_of(h, 0).vm == "pg-0");

  h.must(scale_deployment{"pg", 0});
  remove(h, "pg-0");
  CHECK(volume_of(h, 0).vm.empty()); // detached, kept
  CHECK(volume_of(h, 0).id == id);
  h.must(scale_deployment{"pg", 1});
  evs = h.must(create_vm{"pg", 0});
  CHECK(of<volume_created>(evs).empty());
  CHECK(of<volume_attached>(evs).size() == 1);
  CHECK(volume_of(h, 0).id == id);
}

TEST_CASE("a volume is never attached to two VMs: a surge candidate is refused while the "
          "old VM holds it") {
  auto h = harness::ready();
  auto s = pg(1);
  s.strategy.kind = strategy_kind::rolling;
  h.must(create_deployment{s});
  h.bring_up("pg", 1);
  update_deployment up;
  up.name = "pg";
  up.cpu = 2;
  h.must(up);
  auto e = h.fails(create_vm{"pg", 0, true});
  CHECK(e.code == ec::conflict);
  CHECK(e.message == "volume 'pg-0:/var/lib/postgresql/data' is still attached to VM 'pg-0'");
}

TEST_CASE("rollouts of deployments with persistent volumes never surge") {
  auto h = harness::ready();
  auto s = pg(2);
  s.strategy.kind = strategy_kind::rolling;
  s.strategy.max_surge = {1, false};
  s.strategy.max_unavailable = {1, false};
  h.must(create_deployment{s});
  h.bring_up("pg", 2);
  update_deployment up;
  up.name = "pg";
  up.cpu = 2;
  h.must(up);
  auto p = reconcile(h.w, "pg", h.now);
  CHECK(p.surge.empty());
  CHECK(p.create.empty());
}

TEST_CASE("an update that drops a persistent path detaches it at the recreate; the data "
          "is kept") {
  auto h = harness::ready();
  h.must(create_deployment{pg(1)});
  h.bring_up("pg", 1);
  update_deployment up;
  up.name = "pg";
  up.volumes = std::vector<volume>{{"/srv/new", true, 0}};
  h.must(up);
  h.must(record_vm_stopped{"pg-0"});
  auto evs = h.must(recreate_vm{"pg-0", 0, h.dep("pg").revision, 0, 0, "revision 1 -> 2"});
  CHECK(of<volume_detached>(evs).size() == 1);
  CHECK(of<volume_created>(evs).size() == 1);
  CHECK(volume_of(h, 0).vm.empty());
  CHECK(volume_of(h, 0, "/srv/new").vm == "pg-0");
}

TEST_CASE("delete without --purge-volumes keeps the volumes for a deployment of the same "
          "name") {
  auto h = harness::ready();
  h.must(create_deployment{pg(1)});
  h.bring_up("pg", 1);
  auto id = volume_of(h, 0).id;
  h.must(delete_deployment{"pg"});
  remove(h, "pg-0");
  REQUIRE(h.w.volumes.size() == 1);
  CHECK_FALSE(h.w.volumes.begin()->second.purge);
  h.must(create_deployment{pg(1)});
  h.must(create_vm{"pg", 0});
  CHECK(volume_of(h, 0).id == id);
}

TEST_CASE("delete --purge-volumes deletes each volume once its VM is gone, and a new "
          "deployment of the name starts empty") {
  auto h = harness::ready();
  h.must(create_deployment{pg(2)});
  h.bring_up("pg", 2);
  h.must(scale_deployment{"pg", 1});
  remove(h, "pg-1"); // detached, kept
  auto old0 = volume_of(h, 0).id;
  auto evs = h.must(delete_deployment{"pg", true});
  CHECK(of<volume_deleted>(evs).size() == 1); // pg-1's, detached already
  CHECK(h.w.volumes.size() == 1);
  CHECK(volume_of(h, 0).purge);
  evs = h.must(record_vm_stopped{"pg-0"});
  evs = h.must(remove_vm{"pg-0"});
  CHECK(of<volume_detached>(evs).size() == 1);
  REQUIRE(of<volume_deleted>(evs).size() == 1);
  CHECK(contains(of<volume_deleted>(evs)[0].reason, "--purge-volumes"));
  CHECK(h.w.volumes.empty());
  h.must(create_deployment{pg(1)});
  h.must(create_vm{"pg", 0});
  CHECK(volume_of(h, 0).id > old0); // ids are never reused
}

TEST_CASE("volumes delete: only a detached volume; unknown names are named") {
  auto h = harness::ready();
  h.must(create_deployment{pg(1)});
  h.bring_up("pg", 1);
  auto e = h.fails(delete_volume{"pg-0:/var/lib/postgresql/data"});
  CHECK(e.code == ec::conflict);
  CHECK(e.message == "volume 'pg-0:/var/lib/postgresql/data' is attached to VM 'pg-0': "
                     "scale deployment 'pg' down or delete it first");
  e = h.fails(delete_volume{"pg-7:/nope"});
  CHECK(e.code == ec::unknown_volume);
  h.must(scale_deployment{"pg", 0});
  remove(h, "pg-0");
  h.must(delete_volume{"pg-0:/var/lib/postgresql/data"});
  CHECK(h.w.volumes.empty());
}

TEST_CASE("volumes survive a replay of the log and a snapshot-free restart") {
  auto h = harness::ready();
  h.must(create_deployment{pg(2)});
  h.bring_up("pg", 2);
  h.must(scale_deployment{"pg", 1});
  remove(h, "pg-1");
  CHECK(replay(h.log) == h.w);
}

TEST_CASE("explain tells a VM's volumes and a deployment's purge") {
  auto h = harness::ready();
  h.must(create_deployment{pg(1)});
  h.bring_up("pg", 1);
  h.must(delete_deployment{"pg", true});
  remove(h, "pg-0");
  auto steps = [](const explanation& e) {
    std::string all;
    for (const auto& s : e.chain)
      all += s.text + "\n";
    return all;
  };
  auto vm = steps(explain(h.log, "pg-0"));
  CHECK(contains(vm, "volume pg-0:/var/lib/postgresql/data created"));
  CHECK(contains(vm, "volume pg-0:/var/lib/postgresql/data attached to pg-0"));
  CHECK(contains(vm, "volume pg-0:/var/lib/postgresql/data deleted: deployment 'pg' deleted "
                     "with --purge-volumes"));
  auto dep = steps(explain(h.log, "pg"));
  CHECK(contains(dep, "deleted pg with its volumes"));
  CHECK(contains(dep, "volume pg-0:/var/lib/postgresql/data detached from pg-0 (data kept)"));
}

// -- autoscalers (issue 15) ------------------------------------------------------------

TEST_CASE("autoscalers: set, changed, one per deployment, validated, deleted; a scale "
          "carries its cause") {
  auto h = harness::ready();
  h.must(create_deployment{spec("web", 3)});
  autoscaler_spec a;
  a.name = "web-hpa";
  a.deployment = "web";
  a.min_replicas = 3;
  a.max_replicas = 20;
  a.metrics = {{metric_kind::cpu, 70}};
  CHECK(of<autoscaler_set>(h.must(set_autoscaler{a})).size() == 1);
  CHECK(h.must(set_autoscaler{a}).empty()); // unchanged
  a.max_replicas = 10;
  h.must(set_autoscaler{a});
  CHECK(h.w.autoscalers.at("web-hpa").max_replicas == 10);
  auto other = a;
  other.name = "second";
  CHECK(h.fails(set_autoscaler{other}).message
        == "deployment 'web' has an autoscaler already: 'web-hpa'");
  auto bad = a;
  bad.max_replicas = 2;
  CHECK(h.fails(set_autoscaler{bad}).code == ec::invalid_autoscaler);
  bad = a;
  bad.metrics = {{metric_kind::cpu, 0}};
  CHECK(h.fails(set_autoscaler{bad}).message == "autoscaler 'web-hpa': cpu target must be > 0");
  bad = a;
  bad.deployment = "nope";
  CHECK(h.fails(set_autoscaler{bad}).code == ec::unknown_deployment);
  auto evs = h.must(scale_deployment{"web", 5, {}, "autoscaler web-hpa", "cpu 90 % of 70 % -> 5"});
  auto scaled = only<deployment_scaled>(evs);
  CHECK(scaled.cause == "autoscaler web-hpa");
  CHECK(scaled.detail == "cpu 90 % of 70 % -> 5");
  CHECK(contains(explain(h.log, "web").chain.back().text,
                 "scaled web 3 → 5 by autoscaler web-hpa (cpu 90 % of 70 % -> 5)"));
  h.must(delete_autoscaler{"web-hpa"});
  CHECK(h.w.autoscalers.empty());
  CHECK(h.fails(delete_autoscaler{"web-hpa"}).code == ec::unknown_autoscaler);
  CHECK(replay(h.log) == h.w);
}

// -- quotas ---------------------------------------------------------------------------

TEST_CASE("quotas: set, changed and removed as the file says; each change is an event") {
  auto h = harness::ready();
  auto evs = h.must(set_quotas{{quota("production", 100, 64, 128 * 1024),
                                quota("development", 20, 16, 32 * 1024)},
                               "/etc/volant/quotas.yaml",
                               true});
  CHECK(of<quota_set>(evs).size() == 2);
  evs = h.must(set_quotas{{quota("production", 100, 64, 128 * 1024),
                           quota("development", 20, 8, 32 * 1024)},
                          "/etc/volant/quotas.yaml",
                          true});
  REQUIRE(of<quota_set>(evs).size() == 1); // only the changed one
  CHECK(of<quota_set>(evs)[0].spec.max_cpu == 8);
  evs = h.must(set_quotas{{quota("production", 100, 64, 128 * 1024)}, "apply", true});
  REQUIRE(of<quota_deleted>(evs).size() == 1);
  CHECK(of<quota_deleted>(evs)[0].name == "development");
  CHECK(h.must(set_quotas{{quota("production", 100, 64, 128 * 1024)}, "apply", true}).empty());
  auto e = h.fails(set_quotas{{quota("a", 1, 1, 1), quota("a", 2, 2, 2)}, "apply", true});
  CHECK(e.code == ec::invalid_quota);
  e = h.fails(set_quotas{{quota("Bad_Name", 1, 1, 1)}, "apply", true});
  CHECK(e.code == ec::invalid_quota);
  e = h.fails(set_quotas{{quota("neg", -5, 1, 1)}, "apply", true});
  CHECK(e.message == "quota 'neg': max_vms must be >= 0");
}

TEST_CASE("quota admission, as a table: create, scale and update beyond a limit are "
          "refused with the numbers") {
  struct row {
    const char* what;
    quota_spec q;
    std::int32_t replicas;
    std::int32_t cpu;
    std::int64_t memory;
    const char* error; // empty: admitted
  };
  std::vector<row> rows = {
      {"fits", quota("p", 4, 8, 4096), 4, 2, 1024, ""},
      {"VMs", quota("p", 3, 64, 65536), 4, 1, 128, "quota p: need 4 VMs, 3 of 3 free"},
      {"CPU", quota("p", 10, 4, 65536), 2, 4, 128, "quota p: need 8 CPU, 4 of 4 free"},
      {"memory", quota("p", 10, 64, 1024), 3, 1, 512,
       "quota p: need 1536 MiB of memory, 1024 MiB of 1 GB free"},
      {"no limit", quota("p", -1, -1, -1), 10, 4, 256, ""},
  };
  for (const auto& r : rows) {
    CAPTURE(r.what);
    auto c = small_host();
    c.memory_total_mib = 1 << 20;
    c.pool_last = c.pool_first + 200;
    auto h = harness::ready(c);
    h.must(set_quotas{{r.q}, "apply", true});
    auto s = spec("web", r.replicas, r.memory);
    s.tmpl.cpu = r.cpu;
    s.quota = "p";
    if (std::string(r.error).empty()) {
      h.must(create_deployment{s});
    } else {
      auto e = h.fails(create_deployment{s});
      CHECK(e.code == ec::quota_exceeded);
      CHECK(e.message == r.error);
    }
  }
}

TEST_CASE("a quota counts every deployment in it; scale, update and joining are admitted "
          "against what is left") {
  auto h = harness::ready();
  h.must(set_quotas{{quota("production", 4, 6, 4096)}, "apply", true});
  auto a = spec("a", 2);
  a.tmpl.cpu = 2;
  a.quota = "production";
  h.must(create_deployment{a});
  auto b = spec("b", 1);
  b.quota = "production";
  h.must(create_deployment{b});
  CHECK(committed(h.w, "production").cpu == 5);
  CHECK(committed(h.w, "production").vms == 3);
  auto e = h.fails(scale_deployment{"a", 3});
  CHECK(e.message == "quota production: need 2 CPU, 1 of 6 free");
  h.must(scale_deployment{"b", 2}); // 1 CPU left: fits
  update_deployment up;
  up.name = "b";
  up.cpu = 2;
  e = h.fails(up);
  CHECK(e.code == ec::quota_exceeded);
  h.must(create_deployment{spec("c", 3)}); // not in the quota: not counted
  update_deployment join;
  join.name = "c";
  join.quota = "production";
  e = h.fails(join);
  CHECK(e.message == "quota production: need 3 VMs, 0 of 4 free");
  auto evs = h.must(scale_deployment{"c", 0});
  join.quota = std::string("production");
  h.must(scale_deployment{"b", 1});
  // c holds 3 VMs worth of nothing now that it wants 0: joining fits.
  evs = h.must(join);
  CHECK(of<deployment_quota_set>(evs).size() == 1);
  CHECK(h.dep("c").spec.quota == "production");
  e = h.fails(create_deployment{[] {
    auto s = spec("d", 1);
    s.quota = "nope";
    return s;
  }()});
  CHECK(e.code == ec::unknown_quota);
  CHECK(e.message == "quota 'nope' is not defined (see: volar quotas list)");
}

TEST_CASE("a rollout surge that does not fit the quota goes on in place when "
          "max-unavailable allows") {
  auto h = harness::ready();
  h.must(set_quotas{{quota("q", 2, 64, 65536)}, "apply", true});
  auto s = spec("web", 2);
  s.quota = "q";
  s.strategy.kind = strategy_kind::rolling;
  s.strategy.max_surge = {1, false};
  s.strategy.max_unavailable = {1, false};
  h.must(create_deployment{s});
  h.bring_up("web", 2);
  update_deployment up;
  up.name = "web";
  up.memory_mib = 256;
  h.must(up);
  auto p = reconcile(h.w, "web", h.now);
  CHECK(contains(p.note, "no room for surge VMs (quota q: need 1 VM, 0 of 2 free)"));
  CHECK(p.blocked.empty());
}

} // namespace volant
