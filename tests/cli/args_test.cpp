// Command-line values -> request JSON, and the client-side validation that
// rejects bad input before any request.

#include "cli/args.hpp"
#include "wire/json.hpp"

#include <doctest/doctest.h>

using namespace volant;
using namespace volant::cli;
using json = nlohmann::json;

namespace {

create_args web() {
  create_args a;
  a.name = "web";
  a.plugin = "nginx";
  return a;
}

std::string create_error(const create_args& a) {
  auto spec = build_spec(a);
  REQUIRE_FALSE(spec.has_value());
  return spec.error_value().message;
}

} // namespace

TEST_CASE(
    "create: labels, env and volumes land in the spec JSON the daemon reads") {
  auto a = web();
  a.plugin = "postgres:15";
  a.replicas = 3;
  a.cpu = 4;
  a.memory = 8192;
  a.labels = {"env=production,tier=backend"};
  a.env = {"DATABASE_URL=postgresql://postgres@192.168.127.100/mydb",
           "LOG_LEVEL=info"};
  a.volumes = {"/var/lib/postgresql/data:persistent", "/srv/cache"};
  a.no_auto_restart = true;
  auto spec = build_spec(a);
  REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error_value().message));
  auto req = create_request(*spec);
  const auto& s = req.at("spec");
  CHECK(s["name"] == "web");
  CHECK(s["replicas"] == 3);
  CHECK(s["auto_restart"] == false);
  CHECK(s["tmpl"]["plugin"] == json{{"name", "postgres"}, {"version", "15"}});
  CHECK(s["tmpl"]["cpu"] == 4);
  CHECK(s["tmpl"]["memory_mib"] == 8192);
  CHECK(s["tmpl"]["vm_labels"]
        == json{{"env", "production"}, {"tier", "backend"}});
  CHECK(
      s["tmpl"]["env"]
      == json::array({{{"key", "DATABASE_URL"},
                       {"value", "postgresql://postgres@192.168.127.100/mydb"}},
                      {{"key", "LOG_LEVEL"}, {"value", "info"}}}));
  CHECK(s["tmpl"]["volumes"]
        == json::array(
            {{{"path", "/var/lib/postgresql/data"}, {"persistent", true}, {"size_mib", 0}},
             {{"path", "/srv/cache"}, {"persistent", false}, {"size_mib", 0}}}));
  CHECK(s["tmpl"]["health"].is_null());
  CHECK(s["strategy"]["kind"] == "recreate");
  // What the daemon decodes is what volar meant.
  auto decoded = wire::spec_from_json(s);
  REQUIRE(decoded.has_value());
  CHECK(*decoded == *spec);
}

TEST_CASE(
    "create: defaults are 1 replica, 1 CPU and 128 MiB with auto-restart") {
  auto spec = build_spec(web());
  REQUIRE(spec.has_value());
  CHECK(spec->replicas == 1);
  CHECK(spec->tmpl.cpu == 1);
  CHECK(spec->tmpl.memory_mib == 128);
  CHECK(spec->auto_restart);
}

TEST_CASE("create: bad input fails with the core's message") {
  auto a = web();
  a.replicas = -3;
  CHECK(create_error(a) == "replicas must be >= 0, got -3");
  a = web();
  a.labels = {"env=prod,tier"};
  CHECK(create_error(a) == "invalid label 'tier': expected key=value");
  a = web();
  a.env = {"1X=2"};
  CHECK(create_error(a)
        == "invalid env '1X=2': key '1X' must match [A-Za-z_][A-Za-z0-9_]*");
  a = web();
  a.env = {"A=1", "A=2"};
  CHECK(create_error(a) == "env key 'A' is given twice");
  a = web();
  a.labels = {"env=prod", "env=dev"};
  CHECK(create_error(a).find("is given twice") != std::string::npos);
  a = web();
  a.volumes = {"data:persistent"};
  CHECK(create_error(a)
        == "invalid volume 'data:persistent': the path must be absolute");
  a = web();
  a.cpu = 0;
  CHECK(create_error(a) == "cpu must be >= 1, got 0");
  a = web();
  a.memory = -5;
  CHECK(create_error(a) == "memory must be >= 1 MiB, got -5");
  a = web();
  a.name = "Web";
  CHECK(create_error(a).starts_with("deployment name 'Web' contains 'W'"));
  a = web();
  a.plugin = "nginx:";
  CHECK(create_error(a) == "plugin reference 'nginx:' has an empty version");
  a = web();
  a.replicas = 5'000'000'000;
  CHECK(create_error(a) == "replicas 5000000000 is out of range");
}

TEST_CASE("create: strategies are checked as the core checks them") {
  auto a = web();
  a.strategy = "rolling";
  a.max_surge = "25%";
  a.max_unavailable = "1";
  auto spec = build_spec(a);
  REQUIRE(spec.has_value());
  CHECK(spec->strategy.kind == strategy_kind::rolling);
  CHECK(spec->strategy.max_surge == int_or_percent{25, true});
  a.strategy = "bluegreen";
  CHECK(create_error(a).starts_with("strategy 'bluegreen' is unknown"));
  a.strategy.reset();
  CHECK(create_error(a)
        == "--max-surge and --max-unavailable apply to --strategy rolling");
  a.strategy = "rolling";
  a.max_surge = "0";
  a.max_unavailable = "0";
  CHECK(create_error(a)
        == "a rolling update needs max_surge or max_unavailable above 0");
  a.max_surge = "-1";
  CHECK(create_error(a).find("is not a count or a percentage")
        != std::string::npos);
}

TEST_CASE("scale --remove names the replicas to go; a malformed name is refused "
          "before any request") {
  auto req = scale_request("web", 3, {"web-1", "web-4"});
  REQUIRE(req.has_value());
  CHECK(*req == json{{"name", "web"}, {"replicas", 3}, {"remove", {"web-1", "web-4"}}});
  auto bad = scale_request("web", 3, {"../etc"});
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error_value().message.find("VM name") != std::string::npos);
}

TEST_CASE("scale: negative replicas are refused before any request") {
  auto req = scale_request("web", 10);
  REQUIRE(req.has_value());
  CHECK(*req == json{{"name", "web"}, {"replicas", 10}});
  auto bad = scale_request("web", -3);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error_value().message == "replicas must be >= 0, got -3");
  CHECK(bad.error_value().code == ec::invalid_replicas);
}

TEST_CASE("update: only what was given is sent") {
  update_args a;
  a.name = "web";
  a.plugin = "nginx:v2";
  a.cpu = 4;
  a.memory = 2048;
  auto req = update_request(a);
  REQUIRE(req.has_value());
  CHECK(*req
        == json{{"name", "web"},
                {"plugin", "nginx:v2"},
                {"cpu", 4},
                {"memory", 2048}});

  update_args b;
  b.name = "web";
  b.auto_restart = false;
  b.labels = std::vector<std::string>{"app=myapp,env=prod"};
  b.env = std::vector<std::string>{"A=1"};
  req = update_request(b);
  REQUIRE(req.has_value());
  CHECK(*req
        == json{{"name", "web"},
                {"auto_restart", false},
                {"labels", {{"app", "myapp"}, {"env", "prod"}}},
                {"env", json::array({{{"key", "A"}, {"value", "1"}}})}});

  update_args none;
  none.name = "web";
  auto empty = update_request(none);
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.error_value().message.starts_with("nothing to update"));
}

TEST_CASE("update: --volume replaces the list, --no-volumes empties it, --quota is sent") {
  update_args a;
  a.name = "pg";
  a.volumes = std::vector<std::string>{"/data:persistent:2G", "/scratch"};
  a.quota = "production";
  auto req = update_request(a);
  REQUIRE(req.has_value());
  CHECK((*req)["volumes"]
        == json::array({{{"path", "/data"}, {"persistent", true}, {"size_mib", 2048}},
                        {{"path", "/scratch"}, {"persistent", false}, {"size_mib", 0}}}));
  CHECK((*req)["quota"] == "production");
  update_args none;
  none.name = "pg";
  none.volumes = std::vector<std::string>{};
  none.quota = std::string{};
  req = update_request(none);
  REQUIRE(req.has_value());
  CHECK((*req)["volumes"] == json::array());
  CHECK((*req)["quota"] == "");
  update_args bad;
  bad.name = "pg";
  bad.volumes = std::vector<std::string>{"/data", "/data:persistent"};
  req = update_request(bad);
  REQUIRE_FALSE(req.has_value());
  CHECK(req.error_value().message == "volume path '/data' is given twice");
  bad.volumes.reset();
  bad.quota = "Not A Name";
  CHECK_FALSE(update_request(bad).has_value());
}

TEST_CASE("update: the spec's rolling update example") {
  update_args a;
  a.name = "web";
  a.plugin = "nginx:v2";
  a.strategy = "rolling";
  a.max_surge = "2";
  a.max_unavailable = "1";
  CHECK_FALSE(update_needs_current_strategy(a));
  auto req = update_request(a);
  REQUIRE(req.has_value());
  // The whole strategy: the daemon decodes it over the defaults.
  CHECK((*req)["strategy"]
        == json{{"kind", "rolling"},
                {"max_surge", {{"value", 2}, {"percent", false}}},
                {"max_unavailable", {{"value", 1}, {"percent", false}}},
                {"min_ready_seconds", 0},
                {"progress_deadline_seconds", 600},
                {"termination_grace_ms", 2000},
                {"auto_revert", true},
                {"revision_history", 10},
                {"rollout_paused", false}});
}

TEST_CASE("update: the rollout flags merge with the current strategy") {
  update_args a;
  a.name = "web";
  a.rollout.min_ready = "5";
  a.rollout.progress_deadline = "2m";
  a.rollout.termination_grace = "500ms";
  a.rollout.auto_revert = false;
  a.rollout.revision_history = 3;
  CHECK(update_needs_current_strategy(a));
  update_strategy current;
  current.kind = strategy_kind::rolling;
  current.max_surge = {2, false};
  auto req = update_request(a, &current);
  REQUIRE(req.has_value());
  const auto& s = (*req)["strategy"];
  CHECK(s["kind"] == "rolling");
  CHECK(s["max_surge"]["value"] == 2);
  CHECK(s["min_ready_seconds"] == 5);
  CHECK(s["progress_deadline_seconds"] == 120);
  CHECK(s["termination_grace_ms"] == 500);
  CHECK(s["auto_revert"] == false);
  CHECK(s["revision_history"] == 3);
  a.rollout.progress_deadline = "1500ms";
  CHECK(update_request(a, &current).error_value().message
        == "--progress-deadline must be whole seconds, got '1500ms'");
  a.rollout.progress_deadline = "3"; // not above min-ready 5
  CHECK(update_request(a, &current).error_value().message
        == "progress_deadline_seconds (3) must be greater than min_ready_seconds (5)");
  a.rollout.progress_deadline = "soon";
  CHECK(update_request(a, &current).error_value().message
        == "--progress-deadline must be a duration such as 30, 30s, 500ms, 10m or 1h, "
           "got 'soon'");
}

TEST_CASE("rollout pause/resume send rollout_paused only") {
  update_args a;
  a.name = "web";
  a.rollout_paused = true;
  auto req = update_request(a);
  REQUIRE(req.has_value());
  CHECK(*req == json{{"name", "web"}, {"rollout_paused", true}});
}

TEST_CASE("durations: seconds by default, or s, ms, m, h") {
  CHECK(*parse_duration_ms("30", "--x") == 30000);
  CHECK(*parse_duration_ms("30s", "--x") == 30000);
  CHECK(*parse_duration_ms("250ms", "--x") == 250);
  CHECK(*parse_duration_ms("10m", "--x") == 600000);
  CHECK(*parse_duration_ms("1h", "--x") == 3600000);
  CHECK_FALSE(parse_duration_ms("-1", "--x"));
  CHECK_FALSE(parse_duration_ms("1d", "--x"));
  CHECK_FALSE(parse_duration_ms("", "--x"));
}

TEST_CASE("update: --max-surge alone merges with the current strategy") {
  update_args a;
  a.name = "web";
  a.max_surge = "3";
  CHECK(update_needs_current_strategy(a));
  update_strategy current;
  current.kind = strategy_kind::rolling;
  current.max_unavailable = {1, false};
  auto req = update_request(a, &current);
  REQUIRE(req.has_value());
  CHECK((*req)["strategy"]["max_surge"]["value"] == 3);
  CHECK((*req)["strategy"]["max_unavailable"]["value"] == 1);
  update_strategy recreate;
  auto bad = update_request(a, &recreate);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error_value().message
        == "--max-surge and --max-unavailable apply to --strategy rolling");
}

TEST_CASE("update: bad values fail before any request") {
  update_args a;
  a.name = "web";
  a.cpu = 0;
  CHECK(update_request(a).error_value().message == "cpu must be >= 1, got 0");
  a.cpu.reset();
  a.labels = std::vector<std::string>{"env=prod,tier"};
  CHECK(update_request(a).error_value().message
        == "invalid label 'tier': expected key=value");
}

TEST_CASE("vms list: --deployment and --label become the request's filters") {
  auto req = vms_list_request("web", {"env=prod", "tier=backend"}, false);
  REQUIRE(req.has_value());
  CHECK(*req
        == json{{"deployment", "web"},
                {"labels", {{"env", "prod"}, {"tier", "backend"}}}});
  req = vms_list_request("", {}, true);
  REQUIRE(req.has_value());
  CHECK(*req == json{{"usage", true}});
  CHECK_FALSE(vms_list_request("", {"env"}, false).has_value());
}

TEST_CASE("plugin references split into name and version") {
  CHECK(*plugin_request("nginx") == json{{"name", "nginx"}});
  CHECK(*plugin_request("postgres:15")
        == json{{"name", "postgres"}, {"version", "15"}});
  CHECK_FALSE(plugin_request("Bad Name").has_value());
}

TEST_CASE("apply: an existing deployment gets only the fields that differ") {
  deployment_spec have;
  have.name = "web";
  have.replicas = 5;
  have.tmpl.plugin = {"nginx", "1.0.0"};
  have.tmpl.cpu = 2;
  have.tmpl.memory_mib = 1024;
  auto want = have;
  want.tmpl.plugin.version.clear(); // "plugin: nginx" matches any version
  want.replicas = 10;               // scaled separately
  CHECK(apply_update_request(want, have) == json{{"name", "web"}});
  want.tmpl.memory_mib = 2048;
  want.tmpl.vm_labels = {{"tier", "frontend"}};
  want.tmpl.health = health_check{true, http_check{80, "/health"}, 10, 1, 3};
  auto req = apply_update_request(want, have);
  CHECK(req["memory"] == 2048);
  CHECK(req["labels"] == json{{"tier", "frontend"}});
  CHECK(req["health"]["probe"]["kind"] == "http");
  CHECK_FALSE(req.contains("cpu"));
  CHECK_FALSE(req.contains("plugin"));
  want.tmpl.plugin.version = "2.0.0";
  CHECK(apply_update_request(want, have)["plugin"] == "nginx:2.0.0");
}

TEST_CASE("create: --health-* flags become spec.tmpl.health") {
  auto a = web();
  a.health.http = "8080";
  auto spec = build_spec(a);
  REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error_value().message));
  auto s = create_request(*spec).at("spec");
  CHECK(s["tmpl"]["health"]
        == json{
            {"enabled", true},
            {"probe", {{"kind", "http"}, {"port", 8080}, {"path", "/health"}}},
            {"interval_seconds", 10},
            {"timeout_seconds", 1},
            {"unhealthy_threshold", 3}});
  auto decoded = wire::spec_from_json(s);
  REQUIRE(decoded.has_value());
  CHECK(*decoded == *spec);

  a = web();
  a.health.http = "80:/ready";
  a.health.interval = 5;
  a.health.timeout = 2;
  a.health.threshold = 4;
  spec = build_spec(a);
  REQUIRE(spec.has_value());
  CHECK(spec->tmpl.health
        == health_check{true, http_check{80, "/ready"}, 5, 2, 4});

  a = web();
  a.health.tcp = 5432;
  spec = build_spec(a);
  REQUIRE(spec.has_value());
  s = create_request(*spec).at("spec");
  CHECK(s["tmpl"]["health"]["probe"] == json{{"kind", "tcp"}, {"port", 5432}});

  a = web();
  a.health.process = "celery";
  spec = build_spec(a);
  REQUIRE(spec.has_value());
  CHECK(spec->tmpl.health == health_check{true, process_check{"celery"}});

  a = web();
  a.health.disable = true;
  spec = build_spec(a);
  REQUIRE(spec.has_value());
  s = create_request(*spec).at("spec");
  CHECK(s["tmpl"]["health"]["enabled"] == false);
  CHECK(s["tmpl"]["health"]["probe"] == json{{"kind", "none"}});
}

TEST_CASE("create: conflicting --health-* flags are refused") {
  auto a = web();
  a.health.http = "80";
  a.health.tcp = 80;
  CHECK(create_error(a)
        == "give at most one of --health-http, --health-tcp and "
           "--health-process");
  a = web();
  a.health.process = "x";
  a.health.disable = true;
  CHECK(create_error(a)
        == "--no-health-check cannot be combined with other --health-* flags");
  a = web();
  a.health.disable = true;
  a.health.interval = 5;
  CHECK(create_error(a)
        == "--no-health-check cannot be combined with other --health-* flags");
  a = web();
  a.health.threshold = 2;
  CHECK(create_error(a)
        == "--health-interval, --health-timeout and --health-threshold need "
           "--health-http, --health-tcp or --health-process");
}

TEST_CASE("create: bad --health-* values fail with the core's message") {
  auto a = web();
  a.health.http = "0";
  CHECK(create_error(a) == "health_check.http.port must be 1..65535, got 0");
  a.health.http = "70000:/x";
  CHECK(create_error(a)
        == "health_check.http.port must be 1..65535, got 70000");
  a.health.http = "web:/x";
  CHECK(create_error(a)
        == "health_check.http.port must be 1..65535, got 'web'");
  a.health.http = "80:health";
  CHECK(create_error(a)
        == "health_check.http.path must start with '/', got 'health'");
  a = web();
  a.health.tcp = 0;
  CHECK(create_error(a) == "health_check.tcp.port must be 1..65535, got 0");
  a.health.tcp = -1;
  CHECK(create_error(a) == "health_check.tcp.port must be 1..65535, got -1");
  a = web();
  a.health.process = "";
  CHECK(create_error(a) == "health_check.process.name must not be empty");
  a = web();
  a.health.tcp = 80;
  a.health.interval = 0;
  CHECK(create_error(a) == "health_check.interval_seconds must be >= 1, got 0");
  a.health.interval.reset();
  a.health.timeout = -2;
  CHECK(create_error(a) == "health_check.timeout_seconds must be >= 1, got -2");
  a.health.timeout.reset();
  a.health.threshold = 0;
  CHECK(create_error(a)
        == "health_check.unhealthy_threshold must be >= 1, got 0");
  auto spec = build_spec(a);
  REQUIRE_FALSE(spec.has_value());
  CHECK(spec.error_value().code == ec::invalid_health_check);
}

TEST_CASE("update: --health-* flags are sent as \"health\"") {
  update_args a;
  a.name = "web";
  a.health.tcp = 80;
  a.health.interval = 3;
  auto req = update_request(a);
  REQUIRE_MESSAGE(req.has_value(), (req ? "" : req.error_value().message));
  CHECK(req->size() == 2);
  // What the daemon's update_from decodes is what volar meant.
  auto hc = wire::health_from_json((*req)["health"]);
  REQUIRE(hc.has_value());
  CHECK(*hc == health_check{true, tcp_check{80}, 3, 1, 3});

  update_args off;
  off.name = "web";
  off.health.disable = true;
  req = update_request(off);
  REQUIRE(req.has_value());
  hc = wire::health_from_json((*req)["health"]);
  REQUIRE(hc.has_value());
  CHECK_FALSE(hc->enabled);

  update_args bad;
  bad.name = "web";
  bad.health.http = "80:/ok";
  bad.health.timeout = 0;
  CHECK(update_request(bad).error_value().message
        == "health_check.timeout_seconds must be >= 1, got 0");
  bad.health.timeout.reset();
  bad.health.http.reset();
  bad.health.interval = 5;
  CHECK(update_request(bad).error_value().message.starts_with(
      "--health-interval, --health-timeout and --health-threshold need"));
}

TEST_CASE("create: --readiness-* flags become spec.tmpl.readiness, apart from "
          "the health check") {
  auto a = web();
  a.health.tcp = 80;
  a.readiness.http = "80:/ready";
  a.readiness.interval = 1;
  a.readiness.threshold = 1;
  auto spec = build_spec(a);
  REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error_value().message));
  CHECK(spec->tmpl.readiness
        == health_check{true, http_check{80, "/ready"}, 1, 1, 1});
  CHECK(spec->tmpl.health == health_check{true, tcp_check{80}});
  auto s = create_request(*spec).at("spec");
  CHECK(s["tmpl"]["readiness"]["probe"]
        == json{{"kind", "http"}, {"port", 80}, {"path", "/ready"}});
  auto decoded = wire::spec_from_json(s);
  REQUIRE(decoded.has_value());
  CHECK(*decoded == *spec);

  // Without readiness flags the plugin's readiness check applies.
  spec = build_spec(web());
  REQUIRE(spec.has_value());
  CHECK_FALSE(spec->tmpl.readiness.has_value());

  // --no-readiness-check: the plugin's is switched off, the health check
  // decides READY.
  a = web();
  a.readiness.disable = true;
  spec = build_spec(a);
  REQUIRE(spec.has_value());
  REQUIRE(spec->tmpl.readiness.has_value());
  CHECK_FALSE(spec->tmpl.readiness->enabled);
  CHECK_FALSE(spec->tmpl.health.has_value());
}

TEST_CASE("create: conflicting or bad --readiness-* flags are refused, naming "
          "the readiness flags and fields") {
  auto a = web();
  a.readiness.http = "80";
  a.readiness.tcp = 80;
  CHECK(create_error(a)
        == "give at most one of --readiness-http, --readiness-tcp and "
           "--readiness-process");
  a = web();
  a.readiness.process = "x";
  a.readiness.disable = true;
  CHECK(create_error(a)
        == "--no-readiness-check cannot be combined with other --readiness-* "
           "flags");
  a = web();
  a.readiness.timeout = 2;
  CHECK(create_error(a)
        == "--readiness-interval, --readiness-timeout and --readiness-threshold "
           "need --readiness-http, --readiness-tcp or --readiness-process");
  // A health flag and a readiness flag of another kind do not conflict.
  a = web();
  a.health.process = "nginx";
  a.readiness.tcp = 80;
  CHECK(build_spec(a).has_value());
  a = web();
  a.readiness.http = "0:/ready";
  CHECK(create_error(a) == "readiness_check.http.port must be 1..65535, got 0");
  a.readiness.http = "80:ready";
  CHECK(create_error(a)
        == "readiness_check.http.path must start with '/', got 'ready'");
  a = web();
  a.readiness.tcp = 80;
  a.readiness.threshold = 0;
  CHECK(create_error(a)
        == "readiness_check.unhealthy_threshold must be >= 1, got 0");
  CHECK(build_spec(a).error_value().code == ec::invalid_health_check);
}

TEST_CASE("update: --readiness-* flags are sent as \"readiness\"") {
  update_args a;
  a.name = "web";
  a.readiness.http = "8080:/ready";
  auto req = update_request(a);
  REQUIRE_MESSAGE(req.has_value(), (req ? "" : req.error_value().message));
  CHECK(req->size() == 2);
  CHECK_FALSE(req->contains("health"));
  auto hc = wire::health_from_json((*req)["readiness"], "readiness");
  REQUIRE(hc.has_value());
  CHECK(*hc == health_check{true, http_check{8080, "/ready"}});

  update_args off;
  off.name = "web";
  off.readiness.disable = true;
  req = update_request(off);
  REQUIRE(req.has_value());
  hc = wire::health_from_json((*req)["readiness"], "readiness");
  REQUIRE(hc.has_value());
  CHECK_FALSE(hc->enabled);

  update_args bad;
  bad.name = "web";
  bad.readiness.interval = 5;
  CHECK(update_request(bad).error_value().message.starts_with(
      "--readiness-interval, --readiness-timeout and --readiness-threshold need"));
  update_args none;
  none.name = "web";
  CHECK(update_request(none).error_value().message.ends_with(
      "--readiness-process or --no-readiness-check"));
}

TEST_CASE("apply: a changed readiness check is sent as \"readiness\"") {
  deployment_spec have;
  have.name = "web";
  have.tmpl.plugin = {"nginx", "1.0.0"};
  auto want = have;
  want.tmpl.readiness = health_check{true, http_check{80, "/ready"}, 1, 1, 1};
  auto req = apply_update_request(want, have);
  CHECK(req["readiness"]["probe"]["path"] == "/ready");
  CHECK_FALSE(req.contains("health"));
  CHECK(apply_update_request(want, want) == json{{"name", "web"}});
}
