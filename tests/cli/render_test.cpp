// Human output rendered from sample replies of volantd.

#include "cli/render.hpp"
#include "wire/json.hpp"

#include <doctest/doctest.h>

using namespace volant;
using namespace volant::cli;
using json = nlohmann::json;

namespace {

constexpr std::int64_t s = 1'000'000'000;
const unix_nanos now = *wire::parse_time("2026-11-28T12:00:00Z");

std::string ago(std::int64_t seconds) {
  return wire::format_time(now - seconds * s);
}

} // namespace

TEST_CASE("ages read like kubectl's") {
  CHECK(format_age(0) == "0s");
  CHECK(format_age(45) == "45s");
  CHECK(format_age(59) == "59s");
  CHECK(format_age(60) == "1m");
  CHECK(format_age(10 * 60 + 59) == "10m");
  CHECK(format_age(3599) == "59m");
  CHECK(format_age(3600) == "1h");
  CHECK(format_age(5 * 3600 + 1800) == "5h");
  CHECK(format_age(24 * 3600 - 1) == "23h");
  CHECK(format_age(3 * 86400) == "3d");
  CHECK(format_age(364 * 86400) == "364d");
  CHECK(format_age(400 * 86400) == "1y");
  CHECK(format_age(-1) == "0s");
  CHECK(format_age(-30) == "<invalid>");
}

TEST_CASE("ages of RFC 3339 times; null or malformed is '-'") {
  CHECK(age_of(ago(45), now) == "45s");
  CHECK(age_of(ago(600), now) == "10m");
  CHECK(age_of("2026-11-28T11:59:59.999999999Z", now) == "0s");
  CHECK(age_of(wire::format_time(now + s / 2), now) == "0s");
  CHECK(age_of(json(), now) == "-");
  CHECK(age_of("yesterday", now) == "-");
}

TEST_CASE("deployments list has the spec's columns and rows") {
  json reply = json::array({
      {{"name", "web"},
       {"plugin", "nginx"},
       {"desired", 5},
       {"current", 5},
       {"ready", 5},
       {"created_at", ago(600)},
       {"revision", 1},
       {"paused", false},
       {"auto_restart", true},
       {"blocked", ""}},
      {{"name", "api"},
       {"plugin", "flask"},
       {"desired", 10},
       {"current", 8},
       {"ready", 7},
       {"created_at", ago(300)}},
      {{"name", "worker"},
       {"plugin", {{"name", "celery"}, {"version", ""}}},
       {"desired", 20},
       {"current", 20},
       {"ready", 20},
       {"created_at", ago(3600)}},
  });
  CHECK(render_deployments(reply, now)
        == "NAME     PLUGIN   DESIRED   CURRENT   READY   AGE\n"
           "web      nginx    5         5         5       10m\n"
           "api      flask    10        8         7       5m\n"
           "worker   celery   20        20        20      1h\n");
  CHECK(render_deployments(json::array(), now)
        == "NAME   PLUGIN   DESIRED   CURRENT   READY   AGE\n");
}

TEST_CASE("vms list shows NAME DEPLOYMENT IP STATUS RESTARTS AGE") {
  json vms = json::array({
      {{"name", "web-0"},
       {"deployment", "web"},
       {"ip", "127.77.0.10"},
       {"status", "ready"},
       {"revision", 1},
       {"restarts", 0},
       {"cpu", 2},
       {"memory", 512},
       {"created_at", ago(45)},
       {"started_at", ago(40)}},
      {{"name", "web-1"},
       {"deployment", "web"},
       {"ip", "127.77.0.11"},
       {"status", "starting"},
       {"revision", 2},
       {"restarts", 2},
       {"cpu", 2},
       {"memory", 2048},
       {"created_at", ago(45)},
       {"started_at", nullptr}},
  });
  CHECK(render_vms(vms, now, false)
        == "NAME    DEPLOYMENT   IP            STATUS     REVISION   RESTARTS   AGE\n"
           "web-0   web          127.77.0.10   ready      1          0          45s\n"
           "web-1   web          127.77.0.11   starting   2          2          45s\n");
  CHECK(render_vms(vms, now, true)
        == "NAME    DEPLOYMENT   IP            STATUS     REVISION   RESTARTS   CPU   "
           "MEMORY   AGE\n"
           "web-0   web          127.77.0.10   ready      1          0          2     "
           "512Mi    45s\n"
           "web-1   web          127.77.0.11   starting   2          2          2     2Gi "
           "     45s\n");
  vms[0]["usage"] = {{"cpu_seconds", 10.0}, {"rss_bytes", 45 * 1024 * 1024}};
  vms[1]["usage"] = {{"cpu_seconds", 0}, {"rss_bytes", 0}};
  auto out = render_vms(vms, now, true);
  CHECK(out.starts_with(
      "NAME    DEPLOYMENT   IP            STATUS     REVISION   RESTARTS   CPU   "
      "MEMORY   CPU%    RSS    AGE\n"));
  CHECK(
      out.find(
          "web-0   web          127.77.0.10   ready      1          0          2     512Mi"
          "    25.0%   45Mi   45s\n")
      != std::string::npos);
  CHECK(out.find("2Gi      -       0Mi    45s\n") != std::string::npos);
}

TEST_CASE("debug resources prints the spec's lines, memory in binary units") {
  json reply = {{"cpu_total", 32},
                {"cpu_used", 20},
                {"memory_total_mib", 65536},
                {"memory_used_mib", 5120},
                {"vms", 12},
                {"max_vms", 100},
                {"max_replicas", 100},
                {"limits", {{"memory", true}, {"cpu", true}, {"note", ""}}}};
  CHECK(render_resources(reply)
        == "Total CPU: 32 cores\n"
           "Used CPU: 20 cores (62%)\n"
           "Available CPU: 12 cores\n"
           "\n"
           "Total Memory: 64 GiB\n"
           "Used Memory: 5 GiB (8%)\n"
           "Available Memory: 59 GiB\n"
           "\n"
           "VMs: 12 / 100\n");
  reply["memory_used_mib"] = 700;
  reply["limits"] = {{"memory", false}, {"cpu", false}, {"note", ""}};
  auto out = render_resources(reply);
  CHECK(out.find("Used Memory: 700 MiB (1%)\n") != std::string::npos);
  CHECK(out.find("Available Memory: 63.3 GiB\n") != std::string::npos);
  CHECK(out.ends_with(
      "Note: CPU and memory limits are not enforced on this host\n"));
  reply["limits"]["note"] = "cgroup v2 is not delegated to this user";
  CHECK(render_resources(reply).ends_with(
      "Note: cgroup v2 is not delegated to this user\n"));
  reply["qemu"] = {{"accelerator", "tcg"},
                   {"bridge", "vbr0 192.168.127.1/24"},
                   {"note", "TCG: kvm_pvm cannot boot stock kernels"}};
  CHECK(render_resources(reply).ends_with(
      "\nMicroVMs (qemu): accelerator tcg, bridge vbr0 192.168.127.1/24\n"
      "  TCG: kvm_pvm cannot boot stock kernels\n"));
}

TEST_CASE("percentages round half to even like the spec's examples") {
  CHECK(percent(20, 32) == 62);
  CHECK(percent(5, 64) == 8);
  CHECK(percent(1, 3) == 33);
  CHECK(percent(3, 0) == 0);
}

TEST_CASE("deployment show: spec, blocked reason, VMs and events") {
  deployment_spec spec;
  spec.name = "web";
  spec.replicas = 5;
  spec.tmpl.plugin = {"nginx", "1.0.0"};
  spec.tmpl.cpu = 2;
  spec.tmpl.memory_mib = 4096;
  spec.tmpl.vm_labels = {{"tier", "frontend"}};
  spec.tmpl.env = {{"A", "1"}, {"B", "2"}};
  json d = {{"name", "web"},
            {"plugin", "nginx:1.0.0"},
            {"desired", 5},
            {"current", 1},
            {"ready", 1},
            {"created_at", ago(300)},
            {"revision", 1},
            {"paused", false},
            {"auto_restart", true},
            {"blocked", "insufficient memory: need 4096 MiB, 1024 MiB free"},
            {"spec", wire::encode_spec(spec)},
            {"vms", json::array({{{"name", "web-0"},
                                  {"ip", "127.77.0.10"},
                                  {"status", "ready"},
                                  {"restarts", 0},
                                  {"created_at", ago(290)}}})},
            {"events", json::array({{{"seq", 7},
                                     {"at", ago(290)},
                                     {"aggregate", "vm"},
                                     {"id", "web-0"},
                                     {"event", "vm_ready"},
                                     {"fields", {{"name", "web-0"}}}}})}};
  auto out = render_deployment(d, now);
  CHECK(out.find("Name:          web\n") != std::string::npos);
  CHECK(out.find("Plugin:        nginx:1.0.0\n") != std::string::npos);
  CHECK(out.find("Replicas:      5 desired, 1 current, 1 ready\n")
        != std::string::npos);
  CHECK(
      out.find(
          "Blocked:       insufficient memory: need 4096 MiB, 1024 MiB free\n")
      != std::string::npos);
  CHECK(out.find("Resources:     2 CPU, 4096 MiB per VM\n")
        != std::string::npos);
  CHECK(out.find("Env:           A=1\n               B=2\n")
        != std::string::npos);
  CHECK(out.find("Health check:  from the plugin\n") != std::string::npos);
  CHECK(out.find("Strategy:      recreate\n") != std::string::npos);
  CHECK(out.find("VMs:\nNAME    IP            STATUS   REVISION   RESTARTS   AGE\n"
                 "web-0   127.77.0.10   ready    -          0          4m\n")
        != std::string::npos);
  CHECK(out.find("Events:\nAGE   EVENT      OBJECT   DETAILS\n"
                 "4m    vm_ready   web-0    name=web-0\n")
        != std::string::npos);
  d["blocked"] = "";
  CHECK(render_deployment(d, now).find("Blocked:") == std::string::npos);
}

TEST_CASE("deployment show: a readiness override is shown, none otherwise") {
  deployment_spec spec;
  spec.name = "web";
  spec.tmpl.plugin = {"nginx", "1.0.0"};
  json d = {{"name", "web"}, {"spec", wire::encode_spec(spec)}};
  CHECK(render_deployment(d, now).find("Readiness") == std::string::npos);
  spec.tmpl.readiness = health_check{true, http_check{8080, "/ready"}, 1, 1, 2};
  d["spec"] = wire::encode_spec(spec);
  CHECK(render_deployment(d, now).find(
            "Readiness check:  http :8080/ready every 1s, timeout 1s, not ready "
            "after 2 failures\n")
        != std::string::npos);
  spec.tmpl.readiness = health_check{};
  spec.tmpl.readiness->enabled = false;
  d["spec"] = wire::encode_spec(spec);
  CHECK(render_deployment(d, now).find(
            "Readiness check:  none: the health check decides READY\n")
        != std::string::npos);
}

TEST_CASE("deployment show: volumes with their kind and size, and the quota") {
  deployment_spec spec;
  spec.name = "pg";
  spec.tmpl.plugin = {"postgres", "15"};
  spec.tmpl.volumes = {{"/var/lib/postgresql/data", true, 10240}, {"/tmp/x", false, 0}};
  json d = {{"name", "pg"}, {"spec", wire::encode_spec(spec)}};
  auto out = render_deployment(d, now);
  CHECK(out.find("/var/lib/postgresql/data (persistent, 10240 MiB)") != std::string::npos);
  CHECK(out.find("/tmp/x (scratch)") != std::string::npos);
  CHECK(out.find("Quota") == std::string::npos);
  spec.quota = "production";
  d["spec"] = wire::encode_spec(spec);
  CHECK(render_deployment(d, now).find("Quota:") != std::string::npos);
  CHECK(render_deployment(d, now).find("production (volar quotas show production)")
        != std::string::npos);
}

TEST_CASE("health checks summarise in both spellings") {
  CHECK(health_text(json{
            {"enabled", true},
            {"http",
             {{"port", 80}, {"path", "/health"}, {"interval_seconds", 10}}}})
        == "http :80/health every 10s");
  health_check hc{true, tcp_check{5432}, 15, 3, 3};
  deployment_spec spec;
  spec.tmpl.health = hc;
  CHECK(health_text(wire::encode_spec(spec)["tmpl"]["health"])
        == "tcp :5432 every 15s");
  // plugins show and deployments show give the whole check.
  CHECK(health_text(wire::encode_spec(spec)["tmpl"]["health"], true)
        == "tcp :5432 every 15s, timeout 3s, unhealthy after 3 failures");
  CHECK(health_text(json{{"enabled", true},
                         {"http",
                          {{"port", 80},
                           {"path", "/health"},
                           {"interval_seconds", 5},
                           {"timeout_seconds", 2},
                           {"unhealthy_threshold", 1}}}},
                    true)
        == "http :80/health every 5s, timeout 2s, unhealthy after 1 failure");
  CHECK(health_text(json{{"enabled", false}}) == "disabled");
  CHECK(health_text(json()) == "none");
}

TEST_CASE("plugins list and show") {
  json list = json::array({{{"name", "nginx"},
                            {"version", "1.0.0"},
                            {"runtime", "process"},
                            {"description", "web server"},
                            {"health", "http :80/health"}}});
  CHECK(render_plugins(list)
        == "NAME    VERSION   RUNTIME   HEALTH            DESCRIPTION\n"
           "nginx   1.0.0     process   http :80/health   web server\n");
  json manifest = {
      {"name", "nginx"},
      {"version", "1.0.0"},
      {"workload",
       {{"entrypoint", {"/usr/sbin/nginx", "-g", "daemon off;"}},
        {"health_check",
         {{"enabled", true}, {"http", {{"port", 80}, {"path", "/health"}}}}}}}};
  auto out = render_plugin(manifest);
  CHECK(out.find("Entrypoint:    /usr/sbin/nginx -g 'daemon off;'\n")
        != std::string::npos);
  CHECK(out.find("Health check:  http :80/health\n") != std::string::npos);
}

TEST_CASE("vm show lists its fields; odd replies do not throw") {
  json vm = {{"name", "web-0"},
             {"deployment", "web"},
             {"index", 0},
             {"ip", "127.77.0.10"},
             {"status", "ready"},
             {"plugin", "nginx"},
             {"labels", {{"tier", "frontend"}}},
             {"cpu", 1},
             {"memory", 128},
             {"restarts", 1},
             {"pid", 4242},
             {"driver", "process"},
             {"created_at", ago(120)},
             {"last_error", "exited with 1"}};
  auto out = render_vm(vm, now);
  CHECK(out.find("Labels:      tier=frontend\n") != std::string::npos);
  CHECK(out.find("Memory:      128 MiB\n") != std::string::npos);
  CHECK(out.find("Last error:  exited with 1\n") != std::string::npos);
  CHECK(out.find("Created:     " + ago(120) + " (2m ago)\n")
        != std::string::npos);
  CHECK_NOTHROW(render_vm(json::array(), now));
  CHECK_NOTHROW(render_deployment(json{{"spec", nullptr}, {"vms", 3}}, now));
  CHECK_NOTHROW(render_vms(json{{"vms", json::array({1, "x"})}}, now, true));
  CHECK_NOTHROW(render_resources(json::array()));
}

TEST_CASE("vm show lists the live probe's verdict and latest checks") {
  json vm = {{"name", "web-0"},
             {"status", "unhealthy"},
             {"probe",
              {{"verdict", "unhealthy"},
               {"checks", 7},
               {"failures_in_row", 3},
               {"samples",
                json::array({json{{"at", "2026-11-28T10:00:01Z"}, {"ok", true},
                                  {"latency_ms", 1.25}, {"error", ""}},
                             json{{"at", "2026-11-28T10:00:02Z"}, {"ok", false},
                                  {"latency_ms", 0.5},
                                  {"error", "connection refused"}}})}}}};
  auto out = render_vm(vm, now);
  CHECK(out.find("unhealthy (7 checks, 3 failing in a row)\n") != std::string::npos);
  CHECK(out.find("2026-11-28T10:00:01Z  ok    1.2 ms\n") != std::string::npos);
  CHECK(out.find("2026-11-28T10:00:02Z  FAIL  0.5 ms  connection refused\n")
        != std::string::npos);
  // Without a probe (no health check, or not running) there is no such section.
  CHECK(render_vm(json{{"name", "web-1"}}, now).find("Recent checks") == std::string::npos);
}

TEST_CASE("vms list shows a DRIVER column once a VM is a microVM") {
  auto plain = json::array({json{{"name", "web-0"}, {"driver", "process"}}});
  CHECK(render_vms(plain, now, false).find("DRIVER") == std::string::npos);
  auto mixed = json::array({json{{"name", "web-0"}, {"driver", "process"}},
                            json{{"name", "vm-0"}, {"driver", "qemu"}}});
  auto out = render_vms(mixed, now, false);
  CHECK(out.find("DRIVER") != std::string::npos);
  CHECK(out.find("qemu") != std::string::npos);
}

TEST_CASE("vms list shows a BACK-OFF column while a VM backs off") {
  auto reply = json::array(
    {json{{"name", "web-0"}, {"deployment", "web"}, {"ip", "127.77.0.1"},
          {"status", "restarting"}, {"restarts", 4}, {"backoff_ms", 4000}},
     json{{"name", "web-1"}, {"deployment", "web"}, {"ip", "127.77.0.2"},
          {"status", "ready"}, {"restarts", 0}, {"backoff_ms", 0}}});
  auto text = render_vms(reply, 0, false);
  CHECK(text.find("RESTARTS   BACK-OFF") != std::string::npos);
  CHECK(text.find("4          4s") != std::string::npos);
  CHECK(text.find("0          -") != std::string::npos);
  CHECK(backoff_text(json{{"backoff_ms", 1500}}) == "1500ms");
  CHECK_FALSE(any_backoff(json::array({json{{"backoff_ms", 0}}})));
}

TEST_CASE("deployment show: its autoscaler, with the last evaluation's reason") {
  deployment_spec spec;
  spec.name = "web";
  spec.tmpl.plugin = {"nginx", "1.0.0"};
  json d = {{"name", "web"}, {"spec", wire::encode_spec(spec)}};
  CHECK(render_deployment(d, now).find("Autoscaler") == std::string::npos);
  d["autoscaler"] = {{"name", "web-hpa"}, {"min_replicas", 3}, {"max_replicas", 20},
                     {"last", nullptr}};
  CHECK(render_deployment(d, now).find("Autoscaler:    web-hpa (3..20 replicas); no "
                                       "evaluation yet\n")
        != std::string::npos);
  d["autoscaler"]["last"] = {{"at", ago(12)},
                             {"reason", "cpu 92 % of 70 % -> 5; scale-up limited to 4"}};
  CHECK(render_deployment(d, now).find("Autoscaler:    web-hpa (3..20 replicas); last "
                                       "evaluation 12s ago: cpu 92 % of 70 % -> 5; "
                                       "scale-up limited to 4\n")
        != std::string::npos);
}
