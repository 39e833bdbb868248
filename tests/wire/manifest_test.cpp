// Plugin manifests (wire::parse_manifest, manifest_to_json): what `plugins
// show` prints reads back as the manifest that was installed.

#include "wire/manifest.hpp"

#include <nlohmann/json.hpp>

#include <doctest/doctest.h>

#include <string>

using namespace volant;

namespace {

plugin_manifest must_parse(const std::string& text) {
  auto m = wire::parse_manifest(text);
  REQUIRE_MESSAGE(m.has_value(), (m ? "" : m.error_value().message));
  return *m;
}

std::string error_of(const std::string& text) {
  auto m = wire::parse_manifest(text);
  REQUIRE_FALSE(m.has_value());
  return m.error_value().message;
}

} // namespace

TEST_CASE("a manifest's env is kept in key order whichever way it was given") {
  auto from_array = must_parse(
      R"({"name":"p","version":"1","workload":{"entrypoint":["/p"],"env":["B=1","A=2"]}})");
  auto from_object = must_parse(
      R"({"name":"p","version":"1","workload":{"entrypoint":["/p"],"env":{"B":"1","A":"2"}}})");
  auto want = std::vector<env_var>{{"A", "2"}, {"B", "1"}};
  CHECK(from_array.workload.env == want);
  CHECK(from_object.workload.env == want);
}

TEST_CASE("a variable given twice in a manifest's env is an error") {
  CHECK(error_of(R"({"name":"p","version":"1","workload":{"entrypoint":["/p"],)"
                 R"("env":["A=1","B=0","A=2"]}})")
        == "workload.env: variable 'A' is given twice");
}

TEST_CASE("what manifest_to_json prints parses back to the same manifest") {
  // The fuzz target's invariant on a case it found: ["B=1","A=2"] came back
  // as A, B and compared unequal.
  for (const char* text :
       {R"({"name":"p","version":"1","workload":{"entrypoint":["/p"],"env":["B=1","A=2"]}})",
        R"({"name":"q","version":"2.0.0","description":"d","runtime":"qemu",)"
        R"("kernel":"/k","initramfs":"/i","workload":{},"health_check":)"
        R"({"tcp":{"port":8080,"interval_seconds":3,"timeout_seconds":2,"unhealthy_threshold":4}}})",
        R"({"name":"r","version":"1","workload":{"entrypoint":["/r"],"workdir":"/srv",)"
        R"("health_check":{"enabled":false,"process":{"name":"r"}}}})"}) {
    INFO(text);
    auto m = must_parse(text);
    auto again = wire::parse_manifest(wire::manifest_to_json(m).dump());
    REQUIRE_MESSAGE(again.has_value(), (again ? "" : again.error_value().message));
    CHECK(*again == m);
  }
}

TEST_CASE("readiness_check: the shape of health_check, at the top level or in "
          "workload, printed back by manifest_to_json") {
  auto m = must_parse(
      R"({"name":"p","version":"1","workload":{"entrypoint":["/p"],)"
      R"("health_check":{"tcp":{"port":80}},)"
      R"("readiness_check":{"http":{"port":80,"path":"/ready","interval_seconds":2}}}})");
  CHECK(m.health.enabled);
  CHECK(m.readiness.enabled);
  CHECK(m.readiness.interval_seconds == 2);
  CHECK(std::get<http_check>(m.readiness.probe).path == "/ready");
  auto again = wire::parse_manifest(wire::manifest_to_json(m).dump());
  REQUIRE(again.has_value());
  CHECK(*again == m);
  auto top = must_parse(R"({"name":"p","version":"1","workload":{"entrypoint":["/p"]},)"
                        R"("readiness_check":{"tcp":{"port":81}}})");
  CHECK(std::get<tcp_check>(top.readiness.probe).port == 81);
  CHECK_FALSE(top.health.enabled);
  CHECK(error_of(R"({"name":"p","version":"1","workload":{"entrypoint":["/p"],)"
                 R"("readiness_check":{"tcp":{"port":81}}},"readiness_check":{"tcp":{"port":82}}})")
        == "readiness_check: given both at the top level and in workload");
  CHECK(error_of(R"({"name":"p","version":"1","workload":{"entrypoint":["/p"],)"
                 R"("readiness_check":{"http":{"port":0,"path":"/"}}}})")
            .rfind("workload.readiness_check.http.port", 0) == 0);
}
