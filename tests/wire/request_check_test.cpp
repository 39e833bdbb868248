// The api's edge check (src/wire/request_check.cpp): a table of malformed
// arguments with at least one row for every verb the api dispatches, each
// refused with one error that names the argument; well-formed requests as
// volar sends them pass. The same table runs against a real volantd in
// tests/e2e/security_requests_test.cpp.

#include "events/limits.hpp"
#include "wire/manifest.hpp"
#include "wire/request_check.hpp"
#include "wire/requests.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>

using namespace volant;

namespace {

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

struct row {
  std::string verb;
  std::string args;
  ec code;
  std::string says; ///< a part of the error message
};

// clang-format off
const row malformed[] = {
  {"ping", "[]", ec::invalid_argument, "not a JSON object"},
  {"plugins.install", "{}", ec::invalid_argument, "missing argument 'manifest'"},
  {"plugins.install", R"({"manifest":"nginx.json"})", ec::invalid_argument, "argument 'manifest' must be an object"},
  {"plugins.list", "5", ec::invalid_argument, "not a JSON object"},
  {"plugins.show", R"({"name":5})", ec::invalid_argument, "argument 'name' must be a string"},
  {"plugins.show", R"({"name":"nginx","version":7})", ec::invalid_argument, "argument 'version' must be a string"},
  {"plugins.remove", R"({"name":"../nginx"})", ec::invalid_name, "argument 'name': plugin name"},
  {"deployments.create", R"({"spec":[]})", ec::invalid_argument, "argument 'spec' must be an object"},
  {"deployments.create", R"({"spec":{"name":"../web"}})", ec::invalid_name, "argument 'spec.name'"},
  {"deployments.scale", R"({"name":"web","replicas":"many"})", ec::invalid_argument, "argument 'replicas' must be an integer"},
  {"deployments.scale", R"({"name":"web","replicas":2,"remove":"web-1"})", ec::invalid_argument, "argument 'remove' must be a list of VM names"},
  {"deployments.scale", R"({"name":"web","replicas":2,"remove":["web-1",3]})", ec::invalid_argument, "argument 'remove[1]' must be a string"},
  {"deployments.scale", R"({"name":"web","replicas":2,"remove":["../x"]})", ec::invalid_name, "argument 'remove[0]': VM name"},
  {"deployments.update", R"({"name":"web","env":[{"key":5}]})", ec::invalid_argument, "argument 'env[0].key' must be a string"},
  {"deployments.update", R"({"name":"web","env":{"A":"1"}})", ec::invalid_argument, "argument 'env' must be an array"},
  {"deployments.update", R"({"name":"web","labels":{"a":1}})", ec::invalid_label, "argument 'labels'"},
  {"deployments.update", R"({"name":"web","cpu":"2"})", ec::invalid_argument, "argument 'cpu' must be an integer"},
  {"deployments.pause", R"({"name":"Web!"})", ec::invalid_name, "argument 'name': deployment name"},
  {"deployments.resume", "{}", ec::invalid_argument, "missing argument 'name'"},
  {"deployments.delete", R"({"name":null})", ec::invalid_argument, "argument 'name' must be a string, got null"},
  {"deployments.list", "[1]", ec::invalid_argument, "not a JSON object"},
  {"deployments.show", R"({"name":"web","events":-1})", ec::invalid_argument, "argument 'events' must be an integer 0..10000, got -1"},
  {"vms.list", R"({"labels":{"tier":1}})", ec::invalid_label, "argument 'labels'"},
  {"vms.list", R"({"usage":"yes"})", ec::invalid_argument, "argument 'usage' must be true or false"},
  {"vms.show", R"({"name":"web-0/../x"})", ec::invalid_name, "argument 'name': VM name"},
  {"vms.delete", R"({"name":"web-0/../x"})", ec::invalid_name, "argument 'name': VM name"},
  {"vms.logs", R"({"name":"web-0","max":-5})", ec::invalid_argument, "argument 'max' must be an integer 0..1048576, got -5"},
  {"vms.logs", R"({"name":"../../../../etc/passwd\u0000"})", ec::invalid_name, R"(VM name "../../../../etc/passwd\u0000" contains a control character)"},
  {"vms.logs", R"({"name":"../../../../etc/passwd"})", ec::invalid_name, "VM name '../../../../etc/passwd' contains '.'"},
  {"debug.resources", R"("all")", ec::invalid_argument, "not a JSON object"},
  {"debug.crash", R"({"actor":7})", ec::invalid_argument, "argument 'actor' must be a string"},
  {"plugins.progress", R"({"name":"../x"})", ec::invalid_name, "argument 'name'"},
  {"deployments.undo", R"({"name":"web","to_revision":0})", ec::invalid_argument, "argument 'to_revision' must be an integer 1.."},
  {"debug.drop_reply", R"({"verb":"deployments.scale","count":0})", ec::invalid_argument, "argument 'count' must be an integer 1..1000, got 0"},
  {"events", R"({"from":"x"})", ec::invalid_argument, "argument 'from' must be an integer"},
  {"events", R"({"wait_ms":600000})", ec::invalid_argument, "argument 'wait_ms' must be an integer 0..60000"},
  {"events", R"({"aggregate":"web\n"})", ec::invalid_argument, "argument 'aggregate'"},
  {"shell.ls", R"({"kind":"all"})", ec::invalid_argument, "argument 'kind' \"all\" is not one of"},
  {"shell.inspect", R"({"name":["web-0"]})", ec::invalid_argument, "argument 'name' must be a string, got an array"},
  {"shell.inspect", R"({"name":"vm/../web-0"})", ec::invalid_name, "argument 'name': actor name"},
  {"shell.state", R"({"at_seq":-1})", ec::invalid_argument, "argument 'at_seq' must be an integer"},
  {"shell.state", R"({"at_time":"yesterday"})", ec::invalid_argument, "argument 'at_time' \"yesterday\" is not an RFC 3339"},
  {"shell.explain", "{}", ec::invalid_argument, "missing argument 'name'"},
  {"credentials.show", "[]", ec::invalid_argument, "not a JSON object"},
  {"credentials.export", R"({"days":4294967297})", ec::invalid_argument, "argument 'days' must be an integer 1..3650"},
  {"credentials.export", R"({"name":5})", ec::invalid_argument, "argument 'name' must be a string"},
  {"credentials.revoke", R"({"serial":"1"})", ec::invalid_argument, "argument 'serial' must be an integer"},
  {"credentials.rotate", "null", ec::invalid_argument, "not a JSON object"},
  {"lb.create", R"({"name":"web-lb","deployment":"web","port":70000})", ec::invalid_argument, "argument 'port' must be an integer 1..65535"},
  {"lb.create", R"({"name":"web-lb","port":80})", ec::invalid_argument, "missing argument 'deployment'"},
  {"lb.switch", R"({"name":"web-lb","to":"Web!"})", ec::invalid_name, "argument 'to': deployment name"},
  {"lb.delete", R"({"name":7})", ec::invalid_argument, "argument 'name' must be a string"},
  {"lb.list", "[]", ec::invalid_argument, "not a JSON object"},
  {"volumes.list", R"({"deployment":"No Such"})", ec::invalid_name, "argument 'deployment'"},
  {"volumes.delete", R"({})", ec::invalid_argument, "missing argument 'name'"},
  {"quotas.list", "7", ec::invalid_argument, "not a JSON object"},
  {"hosts.list", "[1]", ec::invalid_argument, "not a JSON object"},
  {"hosts.drain", "{}", ec::invalid_argument, "missing argument 'name'"},
  {"hpa.apply", R"({"spec":[]})", ec::invalid_argument, "argument 'spec' must be an object"},
  {"hpa.list", "[]", ec::invalid_argument, "not a JSON object"},
  {"hpa.show", R"({})", ec::invalid_argument, "missing argument 'name'"},
  {"hpa.delete", R"({"name":1})", ec::invalid_argument, "argument 'name' must be a string"},
  {"quotas.show", R"({"name":5})", ec::invalid_argument, "argument 'name' must be a string"},
  {"quotas.apply", R"({"quotas":{}})", ec::invalid_argument, "argument 'quotas' must be a list, got an object"},
  {"lb.show", "{}", ec::invalid_argument, "missing argument 'name'"},
  {"vms.destroy", "{}", ec::invalid_argument, "unknown request \"vms.destroy\""},
};

/// Requests as volar builds them (src/cli/args.cpp, shell_parse.cpp).
const std::pair<std::string, std::string> well_formed[] = {
  {"ping", "{}"},
  {"plugins.install", R"({"manifest":{"name":"nginx","version":"1.0.0","workload":{"entrypoint":["/bin/true"]}}})"},
  {"plugins.show", R"({"name":"nginx","version":"1.0.0"})"},
  {"plugins.remove", R"({"name":"nginx"})"},
  {"deployments.create", R"({"spec":{"name":"web","replicas":3,"tmpl":{"plugin":{"name":"nginx","version":""},"vm_labels":{"tier":"front"}}}})"},
  {"deployments.scale", R"({"name":"web","replicas":-1})"},
  {"deployments.scale", R"({"name":"web","replicas":2,"remove":["web-1"]})"},
  {"vms.delete", R"({"name":"web-1"})"},
  {"deployments.update", R"({"name":"web","env":[{"key":"A","value":"1"}],"labels":{"tier":"x"},"auto_restart":false,"health":null,"volumes":[]})"},
  {"deployments.show", R"({"name":"web","events":20})"},
  {"vms.list", R"({"deployment":"web","labels":{"tier":"front"},"usage":true})"},
  {"vms.show", R"({"name":"web-0"})"},
  {"vms.logs", R"({"name":"web-0","offset":100})"},
  {"debug.crash", R"({"actor":"probe/web-0"})"},
  {"debug.drop_reply", R"({"verb":"deployments.scale","count":2})"},
  {"plugins.progress", R"({"name":"nginx-qemu"})"},
  {"deployments.undo", R"({"name":"web","to_revision":2})"},
  {"events", R"({"from":1,"limit":1000,"wait_ms":1000,"aggregate":"system/vm/web-0"})"},
  {"shell.ls", R"({"kind":"probes"})"},
  {"shell.inspect", R"({"name":"deployment/web"})"},
  {"shell.state", R"({"name":"web-0","at_time":"2026-11-28T10:00:00.000000000Z"})"},
  {"shell.explain", R"({"name":"web"})"},
  {"credentials.export", R"({"name":"laptop","days":365})"},
  {"credentials.revoke", R"({"serial":7})"},
};
// clang-format on

} // namespace

TEST_CASE("every verb of the api has a malformed request in the table, and each is refused "
          "with one error naming the argument") {
  std::set<std::string> covered;
  for (const auto& r : malformed) {
    CAPTURE(r.verb);
    CAPTURE(r.args);
    auto checked = wire::check_request(r.verb, r.args, default_max_request_bytes);
    REQUIRE_FALSE(checked.has_value());
    CHECK(checked.error_value().code == r.code);
    CHECK_MESSAGE(contains(checked.error_value().message, r.says),
                  checked.error_value().message);
    CHECK(checked.error_value().message.find('\n') == std::string::npos);
    CHECK(checked.error_value().message.find('\0') == std::string::npos);
    covered.insert(r.verb);
  }
  for (const auto& v : wire::request_table()) {
    CAPTURE(v.verb);
    CHECK(covered.count(std::string(v.verb)) == 1);
  }
}

TEST_CASE("requests as volar sends them pass the check") {
  for (const auto& [verb, args] : well_formed) {
    CAPTURE(verb);
    auto checked = wire::check_request(verb, args, default_max_request_bytes);
    CHECK_MESSAGE(checked.has_value(),
                  (checked ? std::string() : checked.error_value().message));
  }
  for (const auto& v : wire::request_table()) {
    // Every verb without a required argument takes {}.
    bool required = false;
    for (const auto& a : v.args)
      required = required || a.required;
    if (!required)
      CHECK(wire::check_request(v.verb, "{}", default_max_request_bytes).has_value());
  }
}

TEST_CASE("a request larger than the limit is refused before it is parsed, naming the "
          "limit") {
  std::string big = R"({"name":"web","pad":")" + std::string(2 << 20, 'x') + R"("})";
  auto checked = wire::check_request("deployments.show", big, default_max_request_bytes);
  REQUIRE_FALSE(checked.has_value());
  CHECK(contains(checked.error_value().message, "at most 1048576 bytes (1 MiB)"));
  CHECK(contains(checked.error_value().message, "--max-request-bytes"));
  // The limit is the daemon's: a larger one lets it through.
  CHECK(wire::check_request("deployments.show", big, 4 << 20).has_value());
}

TEST_CASE("arguments nested deeper than the limit are refused without being parsed") {
  std::string deep = R"({"name":"web","x":)" + std::string(10000, '[')
                     + std::string(10000, ']') + "}";
  auto checked = wire::check_request("deployments.show", deep, default_max_request_bytes);
  REQUIRE_FALSE(checked.has_value());
  CHECK(contains(checked.error_value().message, "nest deeper than 32 levels"));
  // Brackets inside strings do not count.
  std::string quoted = R"({"name":"web","x":")" + std::string(100, '[') + R"("})";
  CHECK(wire::check_request("deployments.show", quoted, default_max_request_bytes)
          .has_value());
}

TEST_CASE("at most 64 labels per object, in a filter as in an update") {
  std::string labels = "{";
  for (int i = 0; i < 65; ++i)
    labels += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":\"v\"";
  labels += "}";
  for (std::string verb : {"vms.list", "deployments.update"}) {
    CAPTURE(verb);
    auto checked = wire::check_request(verb, R"({"name":"web","labels":)" + labels + "}",
                                       default_max_request_bytes);
    REQUIRE_FALSE(checked.has_value());
    CHECK(checked.error_value().code == ec::invalid_label);
    CHECK(contains(checked.error_value().message, "at most 64 per object"));
  }
}

TEST_CASE("a plugin manifest larger than 256 KiB is refused at the edge") {
  std::string manifest = R"({"manifest":{"name":"big","version":"1","description":")"
                         + std::string(300 << 10, 'd') + R"(","workload":{}}})";
  auto checked = wire::check_request("plugins.install", manifest, default_max_request_bytes);
  REQUIRE_FALSE(checked.has_value());
  CHECK(checked.error_value().code == ec::invalid_manifest);
  CHECK(contains(checked.error_value().message, "at most 262144 bytes (256 KiB)"));
}

TEST_CASE("decoding a mutation never throws: malformed env and versions are errors") {
  using json = nlohmann::json;
  auto env = wire::command_from_request(
    "deployments.update", json::parse(R"({"name":"web","env":[{"key":5}]})"));
  REQUIRE_FALSE(env.has_value());
  CHECK(env.error_value().code == ec::invalid_env);
  auto value = wire::command_from_request(
    "deployments.update", json::parse(R"({"name":"web","env":[{"key":"A","value":[]}]})"));
  REQUIRE_FALSE(value.has_value());
  auto version = wire::command_from_request(
    "plugins.remove", json::parse(R"({"name":"nginx","version":3})"));
  REQUIRE_FALSE(version.has_value());
  CHECK(contains(version.error_value().message, "argument 'version'"));
}

TEST_CASE("a plugin manifest's JSON text is at most 256 KiB") {
  std::string text = R"({"name":"big","version":"1","workload":{"entrypoint":["/bin/true"]},)"
                     R"("runtime":"process"})";
  CHECK(wire::parse_manifest(text).has_value());
  text.insert(text.size() - 1, std::string(300 << 10, ' '));
  auto m = wire::parse_manifest(text);
  REQUIRE_FALSE(m.has_value());
  CHECK(m.error_value().code == ec::invalid_manifest);
  CHECK(contains(m.error_value().message, "at most 262144 bytes (256 KiB)"));
}

TEST_CASE("integer arguments are held to their range at both ends") {
  auto days = [](const std::string& v) {
    return wire::check_request("credentials.export", R"({"days":)" + v + "}",
                               default_max_request_bytes);
  };
  CHECK_FALSE(days("0").has_value());
  CHECK(days("1").has_value());
  CHECK(days("3650").has_value());
  CHECK_FALSE(days("3651").has_value());
  CHECK_FALSE(days("-1").has_value());
  CHECK_FALSE(days("18446744073709551615").has_value());
  CHECK_FALSE(days("1.5").has_value());
}
