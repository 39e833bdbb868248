#include "events/validate.hpp"

#include "events/events.hpp"
#include "events/limits.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace volant;

namespace {

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

/// The error of a failed status or expected, which must have failed.
template <class T> error failure(const T& result) {
  REQUIRE_FALSE(result.has_value());
  return result.error_value();
}

plugin_manifest good_manifest() {
  plugin_manifest m;
  m.name = "nginx";
  m.version = "1.0.0";
  m.workload.entrypoint = {"/usr/sbin/nginx"};
  m.health.enabled = true;
  m.health.probe = http_check{80, "/health"};
  return m;
}

deployment_spec good_spec() {
  deployment_spec s;
  s.name = "web";
  s.replicas = 3;
  s.tmpl.plugin = {"nginx", ""};
  return s;
}

} // namespace

TEST_CASE("valid DNS labels are accepted as names") {
  for (const std::string name : {"web", "a", "web-1", "0abc", "9"})
    CHECK(validate_name(name, "deployment name").has_value());
  CHECK(validate_name(std::string(63, 'x'), "deployment name").has_value());
}

TEST_CASE("an empty name is rejected with invalid_name") {
  auto e = failure(validate_name("", "deployment name"));
  CHECK(e.code == ec::invalid_name);
  CHECK(e.message == "deployment name must not be empty");
}

TEST_CASE("a name of 64 characters is too long") {
  auto e = failure(validate_name(std::string(64, 'a'), "plugin name"));
  CHECK(e.code == ec::invalid_name);
  CHECK(contains(e.message, "is too long (max 63 characters)"));
}

TEST_CASE("upper case, underscores and dots are not allowed in names") {
  for (auto name : {"Web", "my_app", "a.b", "web app"}) {
    auto e = failure(validate_name(name, "deployment name"));
    CHECK(e.code == ec::invalid_name);
    CHECK(contains(e.message, std::string("'") + name + "'"));
  }
}

TEST_CASE("a name must start and end with a letter or digit") {
  for (auto name : {"-web", "web-", "-"}) {
    auto e = failure(validate_name(name, "deployment name"));
    CHECK(e.code == ec::invalid_name);
    CHECK(contains(e.message, "must start and end with a letter or digit"));
  }
}

TEST_CASE("labels parse from k=v pairs separated by commas") {
  auto l = parse_labels("env=production,tier=backend,version=v1.0.0");
  REQUIRE(l.has_value());
  CHECK(*l
        == labels{
            {"env", "production"}, {"tier", "backend"}, {"version", "v1.0.0"}});
  CHECK(parse_labels("")->empty());
  CHECK(parse_labels("app.kubernetes.io/name=web")->at("app.kubernetes.io/name")
        == "web");
  CHECK(parse_labels("empty=")->at("empty").empty());
}

TEST_CASE("a label without '=' is rejected naming the token") {
  auto e = failure(parse_labels("env=prod,tier"));
  CHECK(e.code == ec::invalid_label);
  CHECK(e.message == "invalid label 'tier': expected key=value");
}

TEST_CASE("bad label keys and values are rejected naming the token") {
  for (auto text : {"=x", "-a=x", "a b=x", "a=b c", "a=-x", "/a=x", "A_/b=x"}) {
    auto e = failure(parse_labels(text));
    CHECK(e.code == ec::invalid_label);
    CHECK(contains(e.message, std::string("'") + text + "'"));
  }
}

TEST_CASE("a duplicate label key is rejected") {
  auto e = failure(parse_labels("a=1,a=2"));
  CHECK(e.code == ec::invalid_label);
  CHECK(contains(e.message, "given twice"));
}

TEST_CASE("env entries parse as KEY=VALUE and the value may contain '='") {
  auto v = parse_env("DATABASE_URL=postgresql://x?a=b");
  REQUIRE(v.has_value());
  CHECK(v->key == "DATABASE_URL");
  CHECK(v->value == "postgresql://x?a=b");
  CHECK(parse_env("_X=")->value.empty());
}

TEST_CASE("env entries without '=' or with a bad key are rejected") {
  auto e = failure(parse_env("NOVALUE"));
  CHECK(e.code == ec::invalid_env);
  CHECK(e.message == "invalid env 'NOVALUE': expected KEY=VALUE");
  for (auto text : {"1A=x", "=x", "A-B=x", "A B=x"}) {
    auto bad = failure(parse_env(text));
    CHECK(bad.code == ec::invalid_env);
    CHECK(contains(bad.message, "[A-Za-z_][A-Za-z0-9_]*"));
  }
}

TEST_CASE("volumes parse as an absolute path with an optional :persistent") {
  auto v = parse_volume("/var/lib/postgresql/data:persistent");
  REQUIRE(v.has_value());
  CHECK(v->path == "/var/lib/postgresql/data");
  CHECK(v->persistent);
  auto plain = parse_volume("/data");
  REQUIRE(plain.has_value());
  CHECK_FALSE(plain->persistent);
}

TEST_CASE("relative volume paths and unknown options are rejected") {
  auto e = failure(parse_volume("data:persistent"));
  CHECK(e.code == ec::invalid_volume);
  CHECK(contains(e.message, "must be absolute"));
  auto o = failure(parse_volume("/data:ro"));
  CHECK(o.code == ec::invalid_volume);
  CHECK(contains(o.message, "unknown option 'ro'"));
  CHECK(failure(parse_volume("")).code == ec::invalid_volume);
}

TEST_CASE("plugin references name a plugin and optionally a version") {
  CHECK(*parse_plugin_ref("nginx") == plugin_ref{"nginx", ""});
  CHECK(*parse_plugin_ref("nginx:v2") == plugin_ref{"nginx", "v2"});
  CHECK(*parse_plugin_ref("postgres:15") == plugin_ref{"postgres", "15"});
  CHECK(failure(parse_plugin_ref("Nginx")).code == ec::invalid_name);
  CHECK(failure(parse_plugin_ref("nginx:")).code == ec::invalid_argument);
  CHECK(failure(parse_plugin_ref("nginx:a b")).code == ec::invalid_argument);
}

TEST_CASE("counts and percentages parse for rollout parameters") {
  CHECK(*parse_int_or_percent("2") == int_or_percent{2, false});
  CHECK(*parse_int_or_percent("25%") == int_or_percent{25, true});
  for (auto text : {"", "%", "-1", "x", "2x", "1.5"})
    CHECK(failure(parse_int_or_percent(text)).code == ec::invalid_strategy);
}

TEST_CASE("strategies are recreate or rolling") {
  CHECK(*parse_strategy("recreate") == strategy_kind::recreate);
  CHECK(*parse_strategy("rolling") == strategy_kind::rolling);
  auto e = failure(parse_strategy("bluegreen"));
  CHECK(e.code == ec::invalid_strategy);
  CHECK(contains(e.message, "'bluegreen'"));
}

TEST_CASE("a complete manifest is valid") {
  CHECK(validate_manifest(good_manifest()).has_value());
  auto qemu = good_manifest();
  qemu.runtime = "qemu";
  qemu.workload.entrypoint.clear();
  qemu.kernel = "/k";
  qemu.initramfs = "/i";
  CHECK(validate_manifest(qemu).has_value());
}

TEST_CASE("manifest errors name the field") {
  auto m = good_manifest();
  m.name = "Bad";
  CHECK(failure(validate_manifest(m)).code == ec::invalid_name);

  m = good_manifest();
  m.version = "";
  auto v = failure(validate_manifest(m));
  CHECK(v.code == ec::invalid_manifest);
  CHECK(contains(v.message, "version"));

  m = good_manifest();
  m.runtime = "docker";
  auto r = failure(validate_manifest(m));
  CHECK(r.code == ec::invalid_manifest);
  CHECK(contains(r.message, "runtime 'docker'"));

  m = good_manifest();
  m.workload.entrypoint.clear();
  auto ep = failure(validate_manifest(m));
  CHECK(ep.code == ec::invalid_manifest);
  CHECK(contains(ep.message, "workload.entrypoint"));

  // qemu: a prepared initramfs or a guest to build; the kernel defaults to
  // the daemon's.
  m = good_manifest();
  m.runtime = "qemu";
  CHECK(contains(failure(validate_manifest(m)).message, "the qemu runtime needs a guest"));
  m.initramfs = "/i";
  CHECK(validate_manifest(m));
  m.initramfs = "";
  m.guest.debian_packages = {"nginx"};
  CHECK(validate_manifest(m));

  m = good_manifest();
  m.guest.debian_packages = {"nginx"};
  CHECK(contains(failure(validate_manifest(m)).message, "guest is for the qemu runtime only"));

  m = good_manifest();
  m.workload.env = {{"OK", "1"}, {"9BAD", "x"}};
  auto env = failure(validate_manifest(m));
  CHECK(env.code == ec::invalid_manifest);
  CHECK(contains(env.message, "workload.env[1].key '9BAD'"));
}

TEST_CASE("an enabled health check without a probe is an error") {
  auto m = good_manifest();
  m.health.probe = no_check{};
  auto e = failure(validate_manifest(m));
  CHECK(e.code == ec::invalid_health_check);
  CHECK(contains(e.message, "health_check is enabled but names no probe"));
  m.health.enabled = false;
  CHECK(validate_manifest(m).has_value());
}

TEST_CASE("health check fields are range checked with the field named") {
  auto check = [](health_check hc, std::string_view field) {
    auto e = failure(validate_health_check(hc, "health_check"));
    CHECK(e.code == ec::invalid_health_check);
    CHECK(contains(e.message, field));
  };
  health_check hc;
  hc.enabled = true;
  hc.probe = http_check{0, "/health"};
  check(hc, "health_check.http.port must be 1..65535, got 0");
  hc.probe = http_check{80, "health"};
  check(hc, "health_check.http.path must start with '/'");
  hc.probe = tcp_check{0};
  check(hc, "health_check.tcp.port");
  hc.probe = process_check{""};
  check(hc, "health_check.process.name must not be empty");
  hc.probe = tcp_check{5432};
  CHECK(validate_health_check(hc, "health_check").has_value());
  auto zero = hc;
  zero.interval_seconds = 0;
  check(zero, "health_check.interval_seconds must be >= 1");
  zero = hc;
  zero.timeout_seconds = 0;
  check(zero, "health_check.timeout_seconds must be >= 1");
  zero = hc;
  zero.unhealthy_threshold = 0;
  check(zero, "health_check.unhealthy_threshold must be >= 1");
}

TEST_CASE("a timeout longer than the interval is allowed") {
  health_check hc;
  hc.enabled = true;
  hc.probe = tcp_check{80};
  hc.interval_seconds = 1;
  hc.timeout_seconds = 5;
  CHECK(validate_health_check(hc, "health").has_value());
}

TEST_CASE("a default spec is valid") {
  CHECK(validate_spec(good_spec(), 100).has_value());
}

TEST_CASE("a deployment name leaves room for the replica index") {
  auto s = good_spec();
  s.name = std::string(59, 'a');
  CHECK(validate_spec(s, 100).has_value());
  s.name = std::string(60, 'a');
  auto e = failure(validate_spec(s, 100));
  CHECK(e.code == ec::invalid_name);
  CHECK(e.message
        == "deployment name '" + s.name + "' is too long (max 59 characters)");
}

TEST_CASE("negative replicas and replicas over the limit are rejected") {
  auto s = good_spec();
  s.replicas = -3;
  auto neg = failure(validate_spec(s, 100));
  CHECK(neg.code == ec::invalid_replicas);
  CHECK(neg.message == "replicas must be >= 0, got -3");
  s.replicas = 150;
  auto over = failure(validate_spec(s, 100));
  CHECK(over.code == ec::replica_limit);
  CHECK(over.message == "replicas 150 exceeds the limit of 100 per deployment");
  s.replicas = 100;
  CHECK(validate_spec(s, 100).has_value());
  s.replicas = 0;
  CHECK(validate_spec(s, 100).has_value());
}

TEST_CASE("cpu below 1 and memory below 1 MiB are rejected") {
  auto s = good_spec();
  s.tmpl.cpu = 0;
  auto cpu = failure(validate_spec(s, 100));
  CHECK(cpu.code == ec::invalid_cpu);
  CHECK(cpu.message == "cpu must be >= 1, got 0");
  s = good_spec();
  s.tmpl.memory_mib = 0;
  auto mem = failure(validate_spec(s, 100));
  CHECK(mem.code == ec::invalid_memory);
  CHECK(mem.message == "memory must be >= 1 MiB, got 0");
}

TEST_CASE("spec labels, env, volumes and plugin are validated") {
  auto s = good_spec();
  s.tmpl.vm_labels = {{"bad key", "x"}};
  CHECK(failure(validate_spec(s, 100)).code == ec::invalid_label);
  s = good_spec();
  s.tmpl.env = {{"1X", "y"}};
  CHECK(failure(validate_spec(s, 100)).code == ec::invalid_env);
  s.tmpl.env = {{"X", "1"}, {"X", "2"}};
  auto dup = failure(validate_spec(s, 100));
  CHECK(dup.code == ec::invalid_env);
  CHECK(contains(dup.message, "given twice"));
  s = good_spec();
  s.tmpl.volumes = {{"relative/path", true}};
  CHECK(failure(validate_spec(s, 100)).code == ec::invalid_volume);
  s = good_spec();
  s.tmpl.plugin = {"", ""};
  CHECK(failure(validate_spec(s, 100)).code == ec::invalid_name);
  s = good_spec();
  s.tmpl.health = health_check{true, no_check{}, 10, 1, 3};
  CHECK(failure(validate_spec(s, 100)).code == ec::invalid_health_check);
}

TEST_CASE("rolling strategies need room to make progress") {
  auto s = good_spec();
  s.strategy.kind = strategy_kind::rolling;
  s.strategy.max_surge = {0, false};
  s.strategy.max_unavailable = {0, false};
  CHECK(failure(validate_spec(s, 100)).code == ec::invalid_strategy);
  s.strategy.max_unavailable = {25, true};
  CHECK(validate_spec(s, 100).has_value());
  s.strategy.max_unavailable = {120, true};
  CHECK(failure(validate_spec(s, 100)).code == ec::invalid_strategy);
  s.strategy.max_unavailable = {-1, false};
  CHECK(failure(validate_spec(s, 100)).code == ec::invalid_strategy);
}

TEST_CASE("host configurations need an ordered pool and capacity") {
  host_config c;
  c.pool_first = 0x0A000001;
  c.pool_last = 0x0A0000FE;
  CHECK(validate_host_config(c).has_value());
  auto bad = [](host_config x, std::string_view text) {
    auto e = failure(validate_host_config(x));
    CHECK(e.code == ec::invalid_host_config);
    CHECK(contains(e.message, text));
  };
  auto x = c;
  x.pool_first = 0;
  bad(x, "pool");
  x = c;
  x.pool_first = 0x0A0000FF;
  bad(x, "is after the last");
  x = c;
  x.cpu_total = 0;
  bad(x, "cpu_total");
  x = c;
  x.memory_total_mib = 0;
  bad(x, "memory_total_mib");
  x = c;
  x.max_vms = 0;
  bad(x, "max_vms");
  x = c;
  x.max_replicas = 0;
  bad(x, "max_replicas");
  x = c;
  x.id = "";
  bad(x, "host id");
}

TEST_CASE("versions compare numerically where both are digits") {
  CHECK(compare_versions("1.10.0", "1.9.0") > 0);
  CHECK(compare_versions("1.9.0", "1.10.0") < 0);
  CHECK(compare_versions("v2", "v1") > 0);
  CHECK(compare_versions("v10", "v9") > 0);
  CHECK(compare_versions("1.0.0", "1.0.0") == 0);
  CHECK(compare_versions("1.0", "1.0.1") < 0);
  CHECK(compare_versions("15", "9") > 0);
  CHECK(compare_versions("01", "1") != 0); // total order: differ in spelling
  CHECK(compare_versions("01", "1") == -compare_versions("1", "01"));
}

TEST_CASE("IPv4 addresses round-trip through the dotted quad") {
  CHECK(to_string_ip(0xC0A87F01) == "192.168.127.1");
  CHECK(to_string_ip(0) == "0.0.0.0");
  CHECK(*parse_ipv4("192.168.127.1") == 0xC0A87F01u);
  CHECK(*parse_ipv4("255.255.255.255") == 0xFFFFFFFFu);
  for (auto text : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "a.b.c.d",
                    "1.2.3.4 ", "01.2.3.4", "-1.2.3.4", "+1.2.3.4"})
    CHECK_FALSE(parse_ipv4(text).has_value());
}

TEST_CASE("every error code has a stable spelling") {
  CHECK(to_string(ec::invalid_name) == "invalid_name");
  CHECK(to_string(ec::insufficient_memory) == "insufficient_memory");
  CHECK(to_string(ec::not_found) == "not_found");
  CHECK(to_string(ec::secret_unreadable) == "secret_unreadable");
  for (int i = 1; i <= 29; ++i)
    CHECK(to_string(static_cast<ec>(i)) != "unknown_error");
  CHECK(to_string(static_cast<ec>(200)) == "unknown_error");
}

TEST_CASE("statuses, strategies and aggregate kinds have names") {
  CHECK(to_string(vm_status::ready) == "ready");
  CHECK(to_string(vm_status::restarting) == "restarting");
  CHECK(to_string(strategy_kind::rolling) == "rolling");
  CHECK(to_string(aggregate_kind::deployment) == "deployment");
}

TEST_CASE("a plugin description is at most 4 KiB") {
  auto m = good_manifest();
  m.description = std::string(4096, 'd');
  CHECK(validate_manifest(m));
  m.description += 'd';
  auto err = failure(validate_manifest(m));
  CHECK(err.code == ec::invalid_manifest);
  CHECK(contains(err.message, "description is 4097 bytes: at most 4096 bytes (4 KiB)"));
}

TEST_CASE("an object has at most 64 labels, given as a spec or as k=v pairs") {
  auto spec = good_spec();
  for (int i = 0; i < 64; ++i)
    spec.tmpl.vm_labels["k" + std::to_string(i)] = "v";
  CHECK(validate_spec(spec, 100));
  spec.tmpl.vm_labels["k64"] = "v";
  auto err = failure(validate_spec(spec, 100));
  CHECK(err.code == ec::invalid_label);
  CHECK(contains(err.message, "65 labels: at most 64 per object"));
  std::string pairs;
  for (int i = 0; i < 65; ++i)
    pairs += (i ? "," : "") + std::string("k") + std::to_string(i) + "=v";
  CHECK(failure(parse_labels(pairs)).code == ec::invalid_label);
  CHECK(parse_labels(pairs.substr(0, pairs.rfind(','))));
}

TEST_CASE("limits are spelled in bytes and in KiB or MiB") {
  CHECK(describe_bytes(1 << 20) == "1048576 bytes (1 MiB)");
  CHECK(describe_bytes(256 << 10) == "262144 bytes (256 KiB)");
  CHECK(describe_bytes(1000) == "1000 bytes");
}

TEST_CASE("a guest declaration names one source, Debian package names and clean absolute paths") {
  auto msg = [](const guest_spec& g) { return failure(validate_guest(g)).message; };
  CHECK(validate_guest(guest_spec{}));
  guest_spec g;
  g.debian_packages = {"nginx", "python3", "libstdc++6", "g++-12"};
  g.files = {{"/etc/nginx/sites-enabled/default", "server {}"}};
  CHECK(validate_guest(g));
  g.oci_archive = "/images/app.tar";
  CHECK(contains(msg(g), "give one of debian_packages, oci_archive"));
  g = {};
  g.debian_packages = {"Nginx"};
  CHECK(contains(msg(g), "guest.debian_packages[0] 'Nginx' is not a Debian package name"));
  g.debian_packages = {"nginx; rm -rf /"};
  CHECK(contains(msg(g), "is not a Debian package name"));
  g = {};
  g.directory = "relative/dir";
  CHECK(contains(msg(g), "guest.directory 'relative/dir' must be an absolute path"));
  g.directory = "/srv/../etc";
  CHECK(contains(msg(g), "without '..'"));
  g = {};
  g.debian_packages = {"nginx"};
  g.files = {{"/etc/../../x", ""}};
  CHECK(contains(msg(g), "guest.files: '/etc/../../x'"));
  g.files = {{"etc/x", ""}};
  CHECK(contains(msg(g), "must be an absolute file path"));
  g.files = {};
  g.format = "squashfs";
  CHECK(contains(msg(g), "guest.format 'squashfs' is unknown"));
  g = {};
  g.files = {{"/etc/x", "y"}};
  CHECK(contains(msg(g), "files and format need a source"));
}
