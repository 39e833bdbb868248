// volar's side of secret env: --secret-env / --secret-env-remove into request
// JSON, YAML secretEnv, apply's set-and-remove, and `deployments show`.

#include "cli/args.hpp"
#include "cli/manifest_yaml.hpp"
#include "cli/render.hpp"
#include "wire/json.hpp"

#include <doctest/doctest.h>

#include <cstdlib>

using namespace volant;
using namespace volant::cli;
using json = nlohmann::json;

namespace {

constexpr const char* secret = "s3cret=with=equals";

std::string yaml(const std::string& secret_env) {
  return "apiVersion: volant.io/v1\nkind: Deployment\nmetadata:\n  name: web\n"
         "spec:\n  plugin: nginx\n  env:\n    PLAIN: shown\n"
         + secret_env;
}

} // namespace

TEST_CASE("--secret-env KEY=VALUE and KEY (from volar's environment) parse") {
  ::setenv("VOLANT_TEST_SECRET_FROM_ENV", "from-env value", 1);
  auto list = parse_secret_env_list(
      {std::string("DB=") + secret, "VOLANT_TEST_SECRET_FROM_ENV", "EMPTY="});
  REQUIRE(list.has_value());
  CHECK(
      *list
      == std::vector<env_var>{{"DB", secret},
                              {"VOLANT_TEST_SECRET_FROM_ENV", "from-env value"},
                              {"EMPTY", ""}});
  ::unsetenv("VOLANT_TEST_SECRET_FROM_ENV");
  auto unset = parse_secret_env_list({"VOLANT_TEST_SECRET_FROM_ENV"});
  REQUIRE_FALSE(unset.has_value());
  CHECK(unset.error_value().message.find("environment has no")
        != std::string::npos);
}

TEST_CASE("bad --secret-env arguments fail without echoing the value") {
  for (std::vector<std::string> args :
       {std::vector<std::string>{std::string("1DB=") + secret},
        std::vector<std::string>{std::string("=") + secret},
        std::vector<std::string>{std::string("DB=") + secret,
                                 std::string("DB=") + secret},
        std::vector<std::string>{std::string("PLAIN=") + secret}}) {
    auto r = parse_secret_env_list(args, {{"PLAIN", "x"}});
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error_value().code == ec::invalid_env);
    CHECK(r.error_value().message.find(secret) == std::string::npos);
  }
}

TEST_CASE("create sends secret env beside the spec, never in it") {
  deployment_spec spec;
  spec.name = "web";
  spec.tmpl.plugin = {"nginx", ""};
  auto req = create_request(spec, {{"DB", secret}});
  CHECK(req["secret_env"] == json::array({{{"key", "DB"}, {"value", secret}}}));
  CHECK(req["spec"]["tmpl"]["secret_env"] == json::array());
  CHECK_FALSE(create_request(spec).contains("secret_env"));
}

TEST_CASE("update sets secret keys one by one and removes others") {
  update_args a;
  a.name = "web";
  a.secret_env = {std::string("DB=") + secret};
  a.secret_env_remove = {"OLD"};
  auto req = update_request(a);
  REQUIRE(req.has_value());
  CHECK((*req)["secret_env"]
        == json::array({{{"key", "DB"}, {"value", secret}}}));
  CHECK((*req)["secret_env_remove"] == json::array({"OLD"}));
  CHECK_FALSE(req->contains("env"));
  a.secret_env_remove = {"DB"};
  auto both = update_request(a);
  REQUIRE_FALSE(both.has_value());
  CHECK(both.error_value().message
        == "secret env key 'DB' is both set and removed");
  update_args only_remove;
  only_remove.name = "web";
  only_remove.secret_env_remove = {"1BAD"};
  CHECK(update_request(only_remove).error_value().code == ec::invalid_env);
  update_args nothing;
  nothing.name = "web";
  CHECK(update_request(nothing).error_value().message.find("--secret-env")
        != std::string::npos);
}

TEST_CASE(
    "apply sends every secret of the file and removes the ones it lacks") {
  deployment_spec have;
  have.name = "web";
  have.tmpl.plugin = {"nginx", ""};
  have.tmpl.secret_env = {{"DB", ""}, {"GONE", ""}}; // as read from a view
  auto want = have;
  want.tmpl.secret_env.clear();
  auto req = apply_update_request(want, have, {{"DB", secret}, {"NEW", "n"}});
  CHECK(req["secret_env"]
        == json::array({{{"key", "DB"}, {"value", secret}},
                        {{"key", "NEW"}, {"value", "n"}}}));
  CHECK(req["secret_env_remove"] == json::array({"GONE"}));
  // A file without secretEnv removes them all; nothing to remove: nothing sent.
  CHECK(apply_update_request(want, have)["secret_env_remove"]
        == json::array({"DB", "GONE"}));
  CHECK(apply_update_request(want, want) == json{{"name", "web"}});
}

TEST_CASE("YAML secretEnv is read apart from the spec, in both env spellings") {
  auto map = deployment_document_from_yaml(
      yaml("  secretEnv:\n    DB: " + std::string(secret) + "\n"));
  REQUIRE_MESSAGE(map.has_value(), (map ? "" : map.error_value().message));
  CHECK(map->secret_env == std::vector<env_var>{{"DB", secret}});
  CHECK(map->spec.tmpl.secret_env.empty());
  CHECK(map->spec.tmpl.env == std::vector<env_var>{{"PLAIN", "shown"}});
  auto list = deployment_document_from_yaml(
      yaml("  secretEnv:\n    - name: DB\n      value: \"" + std::string(secret)
           + "\"\n    - API=k=v\n"));
  REQUIRE_MESSAGE(list.has_value(), (list ? "" : list.error_value().message));
  CHECK(list->secret_env
        == std::vector<env_var>{{"DB", secret}, {"API", "k=v"}});
  // deployment_from_yaml still gives the spec alone.
  CHECK(deployment_from_yaml(yaml("  secretEnv:\n    DB: x\n")).has_value());
}

TEST_CASE("bad YAML secretEnv fails naming the key, never the value") {
  for (std::string body :
       {"  secretEnv:\n    1DB: " + std::string(secret) + "\n",
        "  secretEnv:\n    - 1" + std::string(secret) + "\n",
        std::string("  secretEnv:\n    - NOVALUE\n"),
        "  secretEnv:\n    - DB=" + std::string(secret)
            + "\n    - DB=" + std::string(secret) + "\n",
        "  secretEnv:\n    PLAIN: " + std::string(secret) + "\n"}) {
    auto r = deployment_document_from_yaml(yaml(body));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error_value().message.find(secret) == std::string::npos);
    CHECK(r.error_value().message.find("spec.secretEnv") != std::string::npos);
  }
}

TEST_CASE(
    "deployments show lists secret keys with *** whatever the reply holds") {
  deployment_spec spec;
  spec.name = "web";
  spec.tmpl.plugin = {"nginx", "1.0.0"};
  spec.tmpl.secret_env = {{"DB", "vs1.x"}, {"API", "vs1.y"}};
  json d = {{"name", "web"},
            {"spec", wire::encode_spec(spec)},
            {"vms", json::array()}};
  auto out = render_deployment(d, 0);
  CHECK(out.find("Secret env:    DB=***\n               API=***\n")
        != std::string::npos);
  // Even a reply that carried a value (an old or broken daemon) shows none.
  d["spec"]["tmpl"]["secret_env"][0]["value"] = secret;
  CHECK(render_deployment(d, 0).find(secret) == std::string::npos);
  spec.tmpl.secret_env.clear();
  d["spec"] = wire::encode_spec(spec);
  CHECK(render_deployment(d, 0).find("Secret env") == std::string::npos);
}
