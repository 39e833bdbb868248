// The api's argument decoding (wire::decode_request): every verb's arguments
// are checked before anything is promised, and every bad one is one error that
// names the verb and the argument, never an exception.

#include "wire/request_check.hpp"
#include "wire/requests.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace volant;

namespace {

/// The error of a request that must be refused.
error refused(const std::string& verb, const std::string& args) {
  auto req = wire::decode_request(verb, args);
  REQUIRE_MESSAGE(!req.has_value(), verb << " " << args << " was accepted");
  return req.error_value();
}

} // namespace

TEST_CASE("decode_request refuses what check_request refuses, with the same error") {
  // The table itself is tested in request_check_test.cpp; here: the api's one
  // entry point runs it before decoding any command.
  const std::pair<const char*, const char*> cases[] = {
    {"vms.logs", R"({"name":"web-0","max":-5})"},
    {"vms.show", R"({"name":42})"},
    {"deployments.scale", R"({"name":"web"})"},
    {"deployments.scale", R"({"name":"web","replicas":1.5})"},
    {"deployments.update", R"({"name":"web","env":{"A":"1"}})"},
    {"deployments.create", R"({"spec":"web"})"},
    {"deployments.frobnicate", "{}"},
    {"vms.list", "[1,2]"},
    {"deployments.scale", R"({"name":"web","replicas":)"},
  };
  for (const auto& [verb, args] : cases) {
    INFO(verb << " " << args);
    auto checked = wire::check_request(verb, args, default_max_request_bytes);
    REQUIRE_FALSE(checked.has_value());
    auto err = refused(verb, args);
    CHECK(err.code == checked.error_value().code);
    CHECK(err.message == checked.error_value().message);
  }
}

TEST_CASE("a command that fails to decode after the table passed it is one error") {
  // The table sees a spec as an object with a valid name; the rest is the
  // command's decoding, whose errors name the field.
  auto err = refused("deployments.create", R"({"spec":{"name":"web","replicas":"three"}})");
  CHECK_FALSE(err.message.empty());
}

TEST_CASE("env entries of deployments.update must have string keys and values") {
  // Both used to throw nlohmann's type_error inside the api actor.
  for (const char* args : {R"({"name":"web","env":[{"key":5}]})",
                           R"({"name":"web","env":[{"key":"A","value":7}]})",
                           R"({"name":"web","env":["A=1"]})",
                           R"({"name":"web","env":[{"value":"1"}]})"}) {
    INFO(args);
    auto err = refused("deployments.update", args);
    CHECK(err.message.find("'env") != std::string::npos);
  }
  auto req = wire::decode_request(
      "deployments.update", R"({"name":"web","env":[{"key":"A","value":"1"},{"key":"B"}]})");
  REQUIRE(req.has_value());
  auto* upd = std::get_if<update_deployment>(&*req->cmd);
  REQUIRE(upd != nullptr);
  REQUIRE(upd->env.has_value());
  CHECK(*upd->env == std::vector<env_var>{{"A", "1"}, {"B", ""}});
}

TEST_CASE("a mutating verb decodes into its command, a read verb into checked arguments") {
  auto scale = wire::decode_request("deployments.scale", R"({"name":"web","replicas":5})");
  REQUIRE(scale.has_value());
  REQUIRE(scale->cmd.has_value());
  auto* s = std::get_if<scale_deployment>(&*scale->cmd);
  REQUIRE(s != nullptr);
  CHECK(s->name == "web");
  CHECK(s->replicas == 5);

  auto logs = wire::decode_request("vms.logs", R"({"name":"web-0","max":0,"extra":[]})");
  REQUIRE(logs.has_value());
  CHECK_FALSE(logs->cmd.has_value());
  CHECK(logs->args["max"] == 0);

  // null stands for "unchanged" in deployments.update.
  auto upd = wire::decode_request("deployments.update",
                                  R"({"name":"web","cpu":null,"labels":null,"memory":64})");
  REQUIRE(upd.has_value());
  auto* u = std::get_if<update_deployment>(&*upd->cmd);
  REQUIRE(u != nullptr);
  CHECK_FALSE(u->cpu.has_value());
  CHECK_FALSE(u->vm_labels.has_value());
  CHECK(u->memory_mib == 64);
}

TEST_CASE("deployments.update carries a readiness check as it carries a health check") {
  auto upd = wire::decode_request(
      "deployments.update",
      R"({"name":"web","readiness":{"enabled":true,"probe":{"kind":"http","port":80,"path":"/ready"},)"
      R"("interval_seconds":1,"timeout_seconds":1,"unhealthy_threshold":1}})");
  REQUIRE_MESSAGE(upd.has_value(), (upd ? "" : upd.error_value().message));
  auto* u = std::get_if<update_deployment>(&*upd->cmd);
  REQUIRE(u != nullptr);
  REQUIRE(u->readiness.has_value());
  CHECK(*u->readiness == health_check{true, http_check{80, "/ready"}, 1, 1, 1});
  CHECK_FALSE(u->health.has_value());
  // A malformed one is one error naming "readiness".
  auto err = refused("deployments.update",
                     R"({"name":"web","readiness":{"probe":{"kind":"http","port":"x"}}})");
  CHECK(err.message.find("readiness") != std::string::npos);
}
