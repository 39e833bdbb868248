// Secret env at the JSON edge: every view masks it, requests carry values
// beside the spec and are sealed through the api's seal function, and the
// request log line masks them too.

#include "wire/json.hpp"
#include "wire/requests.hpp"
#include "wire/views.hpp"

#include <doctest/doctest.h>

using namespace volant;
using json = nlohmann::json;

namespace {

constexpr const char* secret = "pa55-w0rd-of-test";

/// A stand-in sealer: reversible and obvious, so that tests see what it got.
wire::seal_fn fake_seal(std::vector<std::string>* seen = nullptr) {
  return [seen](const std::string& d, const std::string& k,
                const std::string& v) -> expected<std::string> {
    if (seen)
      seen->push_back(d + "/" + k + "=" + v);
    return "sealed(" + d + "/" + k + ")#" + std::to_string(v.size());
  };
}

deployment_spec spec_with_secret() {
  deployment_spec s;
  s.name = "web";
  s.tmpl.plugin = {"nginx", ""};
  s.tmpl.env = {{"PLAIN", "shown"}};
  s.tmpl.secret_env = {{"DB_PASSWORD", std::string("vs1.00000000.") + secret}};
  return s;
}

} // namespace

TEST_CASE(
    "a spec, a deployment, an event and the state show secret env as ***") {
  auto s = spec_with_secret();
  auto check = [](const json& j) {
    auto text = j.dump();
    CHECK(text.find(secret) == std::string::npos);
    CHECK(text.find("vs1.") == std::string::npos);
    CHECK(text.find(
              "\"secret_env\":[{\"key\":\"DB_PASSWORD\",\"value\":\"***\"}]")
          != std::string::npos);
  };
  check(wire::encode_spec(s));
  deployment_state d;
  d.spec = s;
  check(wire::to_json(d));
  check(wire::to_json(event{deployment_created{s, 1, 0}}));
  check(wire::to_json(
      recorded_event{3, 0, deployment_updated{"web", s.tmpl, {}, 2, 0}}));
  world w;
  w.deployments.emplace("web", d);
  check(wire::to_json(w));
  // One-line audit form (volant-replay events) too.
  auto line = wire::to_fields_line(
      wire::to_json(recorded_event{3, 0, deployment_created{s, 1, 0}}));
  CHECK(line.find(secret) == std::string::npos);
  CHECK(line.find("***") != std::string::npos);
}

TEST_CASE("a view's secret env reads back as keys without values") {
  auto j = wire::encode_spec(spec_with_secret());
  auto back = wire::spec_from_json(j);
  REQUIRE(back.has_value());
  REQUIRE(back->tmpl.secret_env.size() == 1);
  CHECK(back->tmpl.secret_env[0].key == "DB_PASSWORD");
  CHECK(back->tmpl.secret_env[0].sealed.empty());
}

TEST_CASE("a create request's secret env is sealed into the command") {
  auto s = spec_with_secret();
  s.tmpl.secret_env.clear();
  json args = {{"spec", wire::encode_spec(s)},
               {"secret_env", {{{"key", "DB_PASSWORD"}, {"value", secret}}}}};
  std::vector<std::string> seen;
  auto cmd = wire::command_from_request("deployments.create", args,
                                        fake_seal(&seen));
  REQUIRE(cmd.has_value());
  CHECK(seen
        == std::vector<std::string>{std::string("web/DB_PASSWORD=") + secret});
  const auto& created = std::get<create_deployment>(*cmd);
  REQUIRE(created.spec.tmpl.secret_env.size() == 1);
  CHECK(created.spec.tmpl.secret_env[0].key == "DB_PASSWORD");
  CHECK(created.spec.tmpl.secret_env[0].sealed == "sealed(web/DB_PASSWORD)#17");
}

TEST_CASE("sealed values never come in through a request's spec") {
  json args = {{"spec", wire::encode_spec(spec_with_secret())}};
  auto cmd
      = wire::command_from_request("deployments.create", args, fake_seal());
  REQUIRE_FALSE(cmd.has_value());
  CHECK(cmd.error_value().code == ec::invalid_env);
  CHECK(cmd.error_value().message.find("spec.tmpl.secret_env")
        != std::string::npos);
}

TEST_CASE("an update request sets and removes secret env keys") {
  json args
      = {{"name", "web"},
         {"secret_env",
          {{{"key", "A"}, {"value", "1"}}, {{"key", "B"}, {"value", ""}}}},
         {"secret_env_remove", {"C", "C"}}};
  auto cmd
      = wire::command_from_request("deployments.update", args, fake_seal());
  REQUIRE(cmd.has_value());
  const auto& u = std::get<update_deployment>(*cmd);
  REQUIRE(u.secret_env_set.size() == 2);
  CHECK(u.secret_env_set[0] == sealed_env_var{"A", "sealed(web/A)#1"});
  CHECK(u.secret_env_set[1] == sealed_env_var{"B", "sealed(web/B)#0"});
  CHECK(u.secret_env_remove == std::vector<std::string>{"C"});
  CHECK_FALSE(u.env.has_value());
}

TEST_CASE("malformed secret env arguments get one error that shows no value") {
  auto fails = [](const json& extra, ec code) {
    json args = {{"name", "web"}};
    args.update(extra);
    auto cmd
        = wire::command_from_request("deployments.update", args, fake_seal());
    REQUIRE_FALSE(cmd.has_value());
    CHECK(cmd.error_value().code == code);
    CHECK(cmd.error_value().message.find(secret) == std::string::npos);
  };
  fails({{"secret_env", "A=1"}}, ec::invalid_env);
  fails({{"secret_env", {{{"key", "A"}}}}}, ec::invalid_env);
  fails({{"secret_env", {{{"key", "A"}, {"value", 5}}}}}, ec::invalid_env);
  fails({{"secret_env", {{{"key", 5}, {"value", secret}}}}}, ec::invalid_env);
  fails({{"secret_env", {{{"key", "1A"}, {"value", secret}}}}},
        ec::invalid_env);
  fails({{"secret_env",
          {{{"key", "A"}, {"value", secret}},
           {{"key", "A"}, {"value", secret}}}}},
        ec::invalid_env);
  fails({{"secret_env_remove", "A"}}, ec::invalid_env);
  fails({{"secret_env_remove", {5}}}, ec::invalid_env);
  // No sealer: refused, not stored in clear.
  json args
      = {{"name", "web"}, {"secret_env", {{{"key", "A"}, {"value", secret}}}}};
  auto cmd = wire::command_from_request("deployments.update", args);
  REQUIRE_FALSE(cmd.has_value());
  CHECK(cmd.error_value().message.find("no key") != std::string::npos);
  // A sealer's own failure is passed on.
  auto broken = [](const std::string&, const std::string&,
                   const std::string&) -> expected<std::string> {
    return make_error(ec::io_error, "sealer broke");
  };
  auto bad = wire::command_from_request("deployments.update", args, broken);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error_value().message == "sealer broke");
}

TEST_CASE("the request log line masks secret env values") {
  json args = {{"name", "web"},
               {"env", {{{"key", "PLAIN"}, {"value", "shown"}}}},
               {"secret_env", {{{"key", "A"}, {"value", secret}}}}};
  auto text = wire::redact_request(args).dump();
  CHECK(text.find(secret) == std::string::npos);
  CHECK(text.find("shown") != std::string::npos);
  CHECK(text.find("\"value\":\"***\"") != std::string::npos);
  CHECK(wire::redact_request(json::array()) == json::array());
  json misplaced = {{"spec", {{"tmpl", {{"secret_env", {{{"key", "A"}, {"value", secret}}}}}}}}};
  CHECK(wire::redact_request(misplaced).dump().find(secret) == std::string::npos);
}
