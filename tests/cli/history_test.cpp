// `volar deployments rollout history`: revisions from the journal's events, and
// what each changed.

#include "cli/history.hpp"

#include <doctest/doctest.h>

using namespace volant::cli;
using json = nlohmann::json;

namespace {

json tmpl(const std::string& version, int memory, json env = json::array()) {
  return {{"plugin", {{"name", "web"}, {"version", version}}},
          {"cpu", 1},
          {"memory_mib", memory},
          {"env", std::move(env)},
          {"secret_env", json::array()},
          {"vm_labels", {{"tier", "web"}}},
          {"volumes", json::array()},
          {"health", nullptr}};
}

json created(const json& t, const std::string& at) {
  return {{"event", "deployment_created"},
          {"at", at},
          {"fields", {{"revision", 1}, {"spec", {{"name", "web"}, {"tmpl", t}}}}}};
}

json updated(const json& t, int revision, const std::string& at, bool in_place = false) {
  return {{"event", "deployment_updated"},
          {"at", at},
          {"fields", {{"revision", revision}, {"tmpl", t}, {"in_place", in_place}}}};
}

} // namespace

TEST_CASE("revisions: created, then each update with what it changed") {
  json events = {created(tmpl("1.0.0", 128), "t1"),
                 {{"event", "deployment_scaled"}, {"fields", {{"replicas", 5}}}},
                 updated(tmpl("2.0.0", 256, json::array({{{"key", "GEN"}, {"value", "2"}}})), 2, "t2"),
                 updated(tmpl("2.0.0", 256, json::array({{{"key", "GEN"}, {"value", "3"}}})), 3, "t3")};
  auto revs = revisions_of(events);
  REQUIRE(revs.size() == 3);
  CHECK(revs[0].number == 1);
  CHECK(revs[0].change == "created: plugin web:1.0.0, cpu 1, memory 128 MiB");
  CHECK(revs[1].change == "plugin web:1.0.0 -> web:2.0.0, memory 128 -> 256 MiB, env +GEN=2");
  CHECK(revs[2].change == "env GEN=2->3");
  CHECK(revs[2].at == "t3");
  auto text = render_history(revs, 10);
  CHECK(text.find("REVISION   CREATED   CHANGE") == 0);
  CHECK(text.find("3          t3        env GEN=2->3") != std::string::npos);
}

TEST_CASE("a delete ends a deployment's history; a new one of the name starts over") {
  json events = {created(tmpl("1.0.0", 128), "t1"), updated(tmpl("2.0.0", 128), 2, "t2"),
                 {{"event", "deployment_deleted"}, {"fields", {{"name", "web"}}}},
                 created(tmpl("3.0.0", 128), "t4")};
  auto revs = revisions_of(events);
  REQUIRE(revs.size() == 1);
  CHECK(revs[0].change == "created: plugin web:3.0.0, cpu 1, memory 128 MiB");
  events.push_back({{"event", "deployment_deleted"}, {"fields", {{"name", "web"}}}});
  CHECK(revisions_of(events).empty());
}

TEST_CASE("secret env changes are named by key only; health-only changes are in place") {
  auto a = tmpl("1.0.0", 128);
  auto b = a;
  b["secret_env"] = json::array({{{"key", "DB_PASSWORD"}, {"sealed", "v1:abc"}}});
  CHECK(describe_change(a, b) == "secret env +DB_PASSWORD");
  auto c = b;
  c["secret_env"][0]["sealed"] = "v1:def";
  CHECK(describe_change(b, c) == "secret env DB_PASSWORD changed");
  auto d = c;
  d["health"] = {{"enabled", true}};
  auto revs = revisions_of(json::array({created(c, "t1"), updated(d, 2, "t2", true)}));
  REQUIRE(revs.size() == 2);
  CHECK(revs[1].change == "health check (in place)");
  auto e = d;
  e["readiness"] = {{"enabled", false}};
  CHECK(describe_change(d, e) == "readiness check");
  CHECK(describe_change(a, a) == "no change");
}

TEST_CASE("only the last revisions are listed unless asked for all") {
  json events = json::array({created(tmpl("1.0.0", 128), "t1")});
  for (int i = 2; i <= 13; ++i)
    events.push_back(updated(tmpl("1.0.0", 128 * i), i, "t" + std::to_string(i)));
  auto revs = revisions_of(events);
  REQUIRE(revs.size() == 13);
  auto text = render_history(revs, 10);
  CHECK(text.find("\n4 ") != std::string::npos);
  CHECK(text.find("\n3 ") == std::string::npos);
  CHECK(text.find("(3 older revisions not shown: --all)") != std::string::npos);
  CHECK(render_history(revs, 13).find("older") == std::string::npos);
}
