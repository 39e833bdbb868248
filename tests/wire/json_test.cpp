#include "wire/json.hpp"
#include "wire/table.hpp"

#include <doctest/doctest.h>

using namespace volant;

TEST_CASE("times format as RFC 3339 UTC and parse back to the nanosecond") {
  unix_nanos t = 1'764'324'000'123'456'789; // 2025-11-28T10:00:00.123456789Z
  auto text = wire::format_time(t);
  CHECK(text == "2025-11-28T10:00:00.123456789Z");
  CHECK(wire::parse_time(text) == t);
  CHECK(wire::parse_time("2025-11-28T10:00:00Z") == 1'764'324'000'000'000'000);
  CHECK(wire::parse_time("2025-11-28T10:00:00.5Z") == 1'764'324'000'500'000'000);
  CHECK_FALSE(wire::parse_time("2025-11-28 10:00:00"));
  CHECK_FALSE(wire::parse_time("2025-13-28T10:00:00Z"));
  CHECK_FALSE(wire::parse_time("yesterday"));
}

TEST_CASE("an event becomes an object of its fields with addresses and times spelled") {
  vm_created ev;
  ev.name = "web-3";
  ev.deployment = "web";
  ev.index = 3;
  ev.ip = *parse_ipv4("127.77.0.13");
  ev.memory_mib = 512;
  ev.at = 1'764'324'000'000'000'000;
  auto j = wire::to_json(event{ev});
  CHECK(j["name"] == "web-3");
  CHECK(j["ip"] == "127.77.0.13");
  CHECK(j["index"] == 3);
  CHECK(j["memory_mib"] == 512);
  CHECK(j["at"] == "2025-11-28T10:00:00.000000000Z");
}

TEST_CASE("a recorded event carries seq, aggregate and kind for audits") {
  recorded_event rec{7, 1'764'324'000'000'000'000, deployment_scaled{"web", 3, 10, 0}};
  auto j = wire::to_json(rec);
  CHECK(j["seq"] == 7);
  CHECK(j["aggregate"] == "deployment");
  CHECK(j["id"] == "web");
  CHECK(j["event"] == "deployment_scaled");
  CHECK(j["fields"]["to"] == 10);
  CHECK(wire::to_fields_line(j["fields"]) == "from=3 name=web to=10");
}

TEST_CASE("health checks show their kind and nested values") {
  plugin_manifest m;
  m.name = "nginx";
  m.health.enabled = true;
  m.health.probe = http_check{8080, "/healthz"};
  auto j = wire::to_json(m);
  CHECK(j["health"]["probe"]["kind"] == "http");
  CHECK(j["health"]["probe"]["port"] == 8080);
  CHECK(j["health"]["probe"]["path"] == "/healthz");
}

TEST_CASE("tables pad columns to the widest cell") {
  wire::table t({"NAME", "DESIRED"});
  t.add_row({"web", "5"});
  t.add_row({"worker", "20"});
  CHECK(t.render() == "NAME     DESIRED\nweb      5\nworker   20\n");
}
