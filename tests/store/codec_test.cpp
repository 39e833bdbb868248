// The FlatBuffers codec: round trips of every event and of snapshots, and the
// errors for damaged or foreign buffers (which name the record and the field).

#include "samples.hpp"

#include "store/codec.hpp"

#include "events_generated.h"
#include "snapshot_generated.h"

#include <doctest/doctest.h>

#include <limits>
#include <string>

using namespace volant;
using namespace volant::store;
using volant::test::every_event;

namespace {

recorded_event round_trip(const recorded_event& rec) {
  auto bytes = pack_event(rec);
  auto back = unpack_event(bytes);
  REQUIRE_MESSAGE(back.has_value(), back.error_value().message);
  return *back;
}

std::vector<std::uint8_t> finish(flatbuffers::FlatBufferBuilder& b,
                                 flatbuffers::Offset<fb::EventEnvelope> env) {
  fb::FinishEventEnvelopeBuffer(b, env);
  return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
}

/// An envelope around a hand-built body, as a damaged or newer writer would.
std::vector<std::uint8_t> envelope(flatbuffers::FlatBufferBuilder& b,
                                   fb::Event type,
                                   flatbuffers::Offset<void> body,
                                   std::uint16_t version = 1) {
  auto id = b.CreateString("web-1");
  return finish(b, fb::CreateEventEnvelope(b, version, 7, 42,
                                           fb::AggregateKind::vm, id, type,
                                           body));
}

} // namespace

TEST_SUITE_BEGIN("store");

TEST_CASE("every event type survives pack and unpack unchanged") {
  auto events = every_event();
  REQUIRE(events.size() == std::variant_size_v<event>);
  for (std::size_t i = 0; i < events.size(); ++i) {
    INFO("event " << kind_name(events[i]));
    CHECK(events[i].index() == i);
    recorded_event rec{1000 + i, 1'764'000'000'000'000'000 + static_cast<unix_nanos>(i),
                       events[i]};
    CHECK(round_trip(rec) == rec);
  }
}

TEST_CASE("events with every field at its default survive the round trip") {
  // Defaults are not stored by FlatBuffers: the schema defaults must match.
  [&]<std::size_t... Is>(std::index_sequence<Is...>) {
    (([&] {
       recorded_event rec{1, 0, event{std::in_place_index<Is>}};
       INFO("event " << kind_name(rec.ev));
       CHECK(round_trip(rec) == rec);
     }()),
     ...);
  }(std::make_index_sequence<std::variant_size_v<event>>{});
}

TEST_CASE("every health check probe kind and an absent override survive") {
  std::vector<probe_kind> probes{no_check{}, http_check{81, "/"},
                                 tcp_check{22}, process_check{"sshd"}};
  for (const auto& probe : probes) {
    auto m = volant::test::sample_manifest(0);
    m.health.probe = probe;
    recorded_event rec{1, 2, plugin_installed{m, 3}};
    CHECK(round_trip(rec) == rec);
  }
  auto spec = volant::test::sample_spec(0);
  spec.tmpl.health.reset();
  recorded_event rec{1, 2, deployment_created{spec, 1, 3}};
  auto back = round_trip(rec);
  CHECK(back == rec);
  CHECK_FALSE(std::get<deployment_created>(back.ev).spec.tmpl.health);
}

TEST_CASE("extreme numbers and empty strings survive the round trip") {
  vm_created e;
  e.name = "";
  e.index = std::numeric_limits<std::uint32_t>::max();
  e.ip = 0xFFFFFFFF;
  e.revision = std::numeric_limits<std::uint64_t>::max();
  e.cpu = std::numeric_limits<std::int32_t>::min();
  e.memory_mib = std::numeric_limits<std::int64_t>::min();
  e.at = std::numeric_limits<std::int64_t>::max();
  recorded_event rec{std::numeric_limits<std::uint64_t>::max(),
                     std::numeric_limits<std::int64_t>::min(), e};
  CHECK(round_trip(rec) == rec);
  std::string big(1 << 20, 'x');
  recorded_event huge{1, 1, vm_unhealthy{"a", big, 1}};
  CHECK(round_trip(huge) == huge);
}

TEST_CASE("unpack reads a record that is not 8-byte aligned") {
  recorded_event rec{5, 6, every_event()[3]};
  auto bytes = pack_event(rec);
  std::vector<std::uint8_t> shifted(bytes.size() + 1);
  std::copy(bytes.begin(), bytes.end(), shifted.begin() + 1);
  auto back = unpack_event({shifted.data() + 1, bytes.size()});
  REQUIRE(back.has_value());
  CHECK(*back == rec);
}

TEST_CASE("a snapshot of a non-trivial world survives pack and unpack") {
  auto w = volant::test::sample_world();
  auto back = unpack_snapshot(pack_snapshot(w));
  REQUIRE_MESSAGE(back.has_value(), back.error_value().message);
  CHECK(*back == w);
  CHECK(back->plugins.by_name.size() == 3);
  CHECK(back->vms.size() == 6);
  CHECK_FALSE(back->deployments.at("web1").spec.tmpl.health);
}

TEST_CASE("a snapshot of the empty world survives pack and unpack") {
  world w;
  auto back = unpack_snapshot(pack_snapshot(w));
  REQUIRE(back.has_value());
  CHECK(*back == w);
  // A plugin name with no versions left is kept as such.
  w.plugins.by_name["ghost"];
  back = unpack_snapshot(pack_snapshot(w));
  REQUIRE(back.has_value());
  CHECK(*back == w);
}

TEST_CASE("unpack rejects short buffers and wrong identifiers") {
  auto ev = pack_event({1, 2, every_event()[0]});
  auto snap = pack_snapshot(volant::test::sample_world());
  auto short_one = unpack_event(std::span(ev).first(5));
  REQUIRE_FALSE(short_one.has_value());
  CHECK(short_one.error_value().code == ec::corrupt_record);
  CHECK(short_one.error_value().message.find("truncated")
        != std::string::npos);
  auto swapped = unpack_event(snap);
  REQUIRE_FALSE(swapped.has_value());
  CHECK(swapped.error_value().code == ec::corrupt_record);
  CHECK(swapped.error_value().message
        == "envelope: wrong file identifier 'VSNP' (expected 'VEVT')");
  auto swapped2 = unpack_snapshot(ev);
  REQUIRE_FALSE(swapped2.has_value());
  CHECK(swapped2.error_value().message
        == "snapshot: wrong file identifier 'VEVT' (expected 'VSNP')");
  CHECK_FALSE(unpack_event({}).has_value());
  CHECK_FALSE(unpack_snapshot({}).has_value());
}

TEST_CASE("every truncation of a record is an error, never a crash") {
  // Cutting only trailing alignment padding leaves the record intact; any
  // other cut is reported.
  for (const auto& e : every_event()) {
    recorded_event rec{9, 9, e};
    auto bytes = pack_event(rec);
    std::size_t intact = 0;
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      auto r = unpack_event(std::span(bytes).first(n));
      if (r) {
        CHECK(*r == rec);
        ++intact;
      } else {
        CHECK(r.error_value().code == ec::corrupt_record);
      }
    }
    CHECK(intact < 4);
  }
  auto snap = pack_snapshot(volant::test::sample_world());
  for (std::size_t n = 0; n < snap.size(); n += 7)
    CHECK_FALSE(unpack_snapshot(std::span(snap).first(n)).has_value());
}

TEST_CASE("flipped bytes give an error or a value, never a crash") {
  std::size_t errors = 0;
  std::size_t total = 0;
  for (const auto& e : every_event()) {
    auto bytes = pack_event({9, 9, e});
    for (std::size_t i = 0; i < bytes.size(); ++i)
      for (std::uint8_t mask : {0x01, 0x80, 0xff}) {
        auto copy = bytes;
        copy[i] ^= mask;
        auto r = unpack_event(copy);
        ++total;
        if (!r)
          ++errors;
      }
  }
  // Most flips land in offsets, identifiers or tags; some change only data.
  CHECK(errors > 0);
  CHECK(errors < total);
}

TEST_CASE("a missing field is named with its path") {
  SUBCASE("a top-level string") {
    flatbuffers::FlatBufferBuilder b;
    fb::VmCreatedBuilder vb{b};
    vb.add_index(3);
    auto body = vb.Finish();
    auto r = unpack_event(envelope(b, fb::Event::VmCreated, body.Union()));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error_value().code == ec::corrupt_record);
    CHECK(r.error_value().message
          == "event vm_created: missing field 'name'");
  }
  SUBCASE("a nested table") {
    flatbuffers::FlatBufferBuilder b;
    auto name = b.CreateString("web");
    fb::VmTemplateBuilder tb{b}; // no plugin
    tb.add_cpu(2);
    auto tmpl = tb.Finish();
    auto strategy = fb::CreateUpdateStrategy(b);
    auto spec = fb::CreateDeploymentSpec(b, name, 1, tmpl, true, strategy);
    auto body = fb::CreateDeploymentCreated(b, spec, 1, 5);
    auto r = unpack_event(
      envelope(b, fb::Event::DeploymentCreated, body.Union()));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error_value().message
          == "event deployment_created: missing field 'spec.tmpl.plugin'");
  }
  SUBCASE("a vector element's field") {
    flatbuffers::FlatBufferBuilder b;
    auto s = [&](const char* x) { return b.CreateString(x); };
    std::vector<flatbuffers::Offset<fb::EnvVar>> env{
      fb::CreateEnvVar(b, s("A"), s("1")), fb::CreateEnvVar(b, 0, s("2"))};
    auto env_vec = b.CreateVector(env);
    auto labels = b.CreateVector(std::vector<flatbuffers::Offset<fb::Label>>{});
    auto vols = b.CreateVector(std::vector<flatbuffers::Offset<fb::Volume>>{});
    auto plugin = fb::CreatePluginRef(b, s("nginx"), s(""));
    auto tmpl =
      fb::CreateVmTemplate(b, plugin, 1, 128, labels, env_vec, vols);
    fb::IntOrPercent one{1, false};
    auto strategy = fb::CreateUpdateStrategy(b, fb::StrategyKind::recreate,
                                             &one, &one);
    auto body = fb::CreateDeploymentUpdated(b, s("web"), tmpl, strategy, 2, 3);
    auto r = unpack_event(
      envelope(b, fb::Event::DeploymentUpdated, body.Union()));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error_value().message
          == "event deployment_updated: missing field 'tmpl.env[1].key'");
  }
  SUBCASE("the event itself") {
    flatbuffers::FlatBufferBuilder b;
    auto r = unpack_event(envelope(b, fb::Event::NONE, 0));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error_value().code == ec::corrupt_record);
    CHECK(r.error_value().message == "envelope: missing field 'event'");
  }
  SUBCASE("the format version") {
    flatbuffers::FlatBufferBuilder b;
    auto body = fb::CreateVmReady(b, b.CreateString("web-1"), 1);
    auto r = unpack_event(envelope(b, fb::Event::VmReady, body.Union(), 0));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error_value().code == ec::corrupt_record);
    CHECK(r.error_value().message == "envelope: missing field 'version'");
  }
}

TEST_CASE("a template written before secret env reads with none; a bad one names its path") {
  auto build = [](bool with_secrets, bool missing_sealed) {
    flatbuffers::FlatBufferBuilder b;
    auto s = [&](const char* x) { return b.CreateString(x); };
    auto env = b.CreateVector(std::vector<flatbuffers::Offset<fb::EnvVar>>{});
    auto labels = b.CreateVector(std::vector<flatbuffers::Offset<fb::Label>>{});
    auto vols = b.CreateVector(std::vector<flatbuffers::Offset<fb::Volume>>{});
    flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::SecretEnvVar>>> secrets;
    if (with_secrets)
      secrets = b.CreateVector(std::vector<flatbuffers::Offset<fb::SecretEnvVar>>{
        fb::CreateSecretEnvVar(b, s("DB"), missing_sealed ? 0 : s("vs1.x"))});
    auto plugin = fb::CreatePluginRef(b, s("nginx"), s(""));
    auto tmpl = fb::CreateVmTemplate(b, plugin, 1, 128, labels, env, vols, 0, secrets);
    fb::IntOrPercent one{1, false};
    auto strategy = fb::CreateUpdateStrategy(b, fb::StrategyKind::recreate, &one, &one);
    auto body = fb::CreateDeploymentUpdated(b, s("web"), tmpl, strategy, 2, 3);
    return unpack_event(envelope(b, fb::Event::DeploymentUpdated, body.Union()));
  };
  auto old = build(false, false);
  REQUIRE(old.has_value());
  CHECK(std::get<deployment_updated>(old->ev).tmpl.secret_env.empty());
  auto now = build(true, false);
  REQUIRE(now.has_value());
  CHECK(std::get<deployment_updated>(now->ev).tmpl.secret_env
        == std::vector<sealed_env_var>{{"DB", "vs1.x"}});
  auto bad = build(true, true);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error_value().message
        == "event deployment_updated: missing field 'tmpl.secret_env[0].sealed'");
}

TEST_CASE("a plugin record written before guest images reads with an empty guest") {
  flatbuffers::FlatBufferBuilder b;
  auto s = [&](const char* x) { return b.CreateString(x); };
  std::vector<flatbuffers::Offset<flatbuffers::String>> entry{s("/bin/app")};
  auto entry_vec = b.CreateVector(entry);
  auto env = b.CreateVector(std::vector<flatbuffers::Offset<fb::EnvVar>>{});
  auto workload = fb::CreateWorkloadSpec(b, entry_vec, env, s(""));
  auto health = fb::CreateHealthCheck(b, false, fb::Probe::NoCheck, fb::CreateNoCheck(b).Union());
  // The fields up to `health` only, as the writer of that time did.
  auto manifest = fb::CreatePluginManifest(b, s("old"), s("1.0.0"), s(""), s("qemu"),
                                           s("/k"), s("/i"), workload, health);
  auto body = fb::CreatePluginInstalled(b, manifest, 5);
  auto r = unpack_event(envelope(b, fb::Event::PluginInstalled, body.Union()));
  REQUIRE_MESSAGE(r.has_value(), r.error_value().message);
  const auto& m = std::get<plugin_installed>(r->ev).manifest;
  CHECK(m.name == "old");
  CHECK(m.initramfs == "/i");
  CHECK(m.guest == guest_spec{});
  CHECK(m.rootfs.empty());
  CHECK(m.image == guest_image{});
}

TEST_CASE("records from a newer volant are unsupported_version, not corrupt") {
  SUBCASE("an unknown event type tag") {
    flatbuffers::FlatBufferBuilder b;
    auto body = fb::CreateVmReady(b, b.CreateString("web-1"), 1);
    auto r = unpack_event(
      envelope(b, static_cast<fb::Event>(57), body.Union()));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error_value().code == ec::unsupported_version);
    CHECK(r.error_value().message
          == "unknown event type tag 57 (written by a newer volant?)");
  }
  SUBCASE("a newer envelope version") {
    flatbuffers::FlatBufferBuilder b;
    auto body = fb::CreateVmReady(b, b.CreateString("web-1"), 1);
    auto r = unpack_event(envelope(b, fb::Event::VmReady, body.Union(), 2));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error_value().code == ec::unsupported_version);
    CHECK(r.error_value().message.find("version 2") != std::string::npos);
  }
  SUBCASE("an unknown probe kind") {
    flatbuffers::FlatBufferBuilder b;
    auto probe = fb::CreateTcpCheck(b, 1);
    auto health = fb::CreateHealthCheck(b, true, static_cast<fb::Probe>(9),
                                        probe.Union());
    // Rebuild a valid template around the foreign health check.
    auto s = [&](const std::string& x) { return b.CreateString(x); };
    auto plugin = fb::CreatePluginRef(b, s("nginx"), s(""));
    auto labels = b.CreateVector(std::vector<flatbuffers::Offset<fb::Label>>{});
    auto env = b.CreateVector(std::vector<flatbuffers::Offset<fb::EnvVar>>{});
    auto vols = b.CreateVector(std::vector<flatbuffers::Offset<fb::Volume>>{});
    auto tmpl = fb::CreateVmTemplate(b, plugin, 1, 128, labels, env, vols,
                                     health);
    fb::IntOrPercent one{1, false};
    auto strategy = fb::CreateUpdateStrategy(b, fb::StrategyKind::recreate,
                                             &one, &one);
    auto body = fb::CreateDeploymentUpdated(b, s("web"), tmpl, strategy, 2, 3);
    auto r = unpack_event(
      envelope(b, fb::Event::DeploymentUpdated, body.Union()));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error_value().code == ec::unsupported_version);
    CHECK(r.error_value().message
          == "event deployment_updated: field 'tmpl.health.probe': unknown "
             "probe type tag 9 (written by a newer volant?)");
  }
  SUBCASE("an unknown VM status in a snapshot") {
    auto w = volant::test::sample_world();
    w.vms.begin()->second.status = static_cast<vm_status>(200);
    auto r = unpack_snapshot(pack_snapshot(w));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error_value().code == ec::unsupported_version);
    CHECK(r.error_value().message
          == "snapshot: field 'vms[0].record.status': unknown VM status 200 "
             "(written by a newer volant?)");
  }
}

TEST_CASE("a snapshot with a duplicate key is corrupt and says which") {
  flatbuffers::FlatBufferBuilder b;
  auto w = volant::test::sample_world();
  // Build a snapshot whose VM list names the same VM twice.
  auto good = pack_snapshot(w);
  auto snap = fb::GetSnapshot(good.data());
  std::vector<flatbuffers::Offset<fb::VmEntry>> vms;
  for (int i = 0; i < 2; ++i) {
    auto rec = fb::CreateVmRecord(
      b, b.CreateString("web-0"), b.CreateString("web"), 0,
      b.CreateString("local"), 1, 1, 1, 1, fb::VmStatus::ready,
      fb::CreateDriverHandle(b, b.CreateString("process"), 1, 1,
                             b.CreateString("")),
      0, 0, b.CreateString(""));
    vms.push_back(fb::CreateVmEntry(b, b.CreateString("web-0"), rec));
  }
  auto vm_vec = b.CreateVector(vms);
  auto host = fb::CreateHostState(
    b, true,
    fb::CreateHostConfig(b, b.CreateString("local"), 1, 2),
    b.CreateVector(std::vector<flatbuffers::Offset<fb::Lease>>{}));
  auto plugins =
    b.CreateVector(std::vector<flatbuffers::Offset<fb::PluginVersions>>{});
  auto deps =
    b.CreateVector(std::vector<flatbuffers::Offset<fb::DeploymentState>>{});
  fb::FinishSnapshotBuffer(
    b, fb::CreateSnapshot(b, 1, host, plugins, deps, vm_vec, snap->last_seq(),
                          snap->last_at()));
  auto r = unpack_snapshot({b.GetBufferPointer(), b.GetSize()});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error_value().code == ec::corrupt_record);
  CHECK(r.error_value().message
        == "snapshot: bad field 'vms[1]': duplicate VM 'web-0'");
}

TEST_SUITE_END();
