// Secret env in the pure core: the sealed values are opaque strings here;
// updates set and remove them key by key, a changed one makes a new revision
// like a changed env value, an unchanged one changes nothing; launches pass
// them apart from the plain env.

#include "events/launch.hpp"
#include "fixture.hpp"

using namespace volant;
using namespace volant::test;

namespace {

deployment_spec with_secrets(std::string name,
                             std::vector<sealed_env_var> secrets) {
  auto s = spec(std::move(name), 2);
  s.tmpl.env = {{"PLAIN", "1"}};
  s.tmpl.secret_env = std::move(secrets);
  return s;
}

update_deployment set_secret(const std::string& key,
                             const std::string& sealed) {
  update_deployment u;
  u.name = "web";
  u.secret_env_set = {{key, sealed}};
  return u;
}

} // namespace

TEST_CASE("a deployment is created with its sealed secret env") {
  auto h = harness::ready();
  auto ev = only<deployment_created>(
      h.must(create_deployment{with_secrets("web", {{"DB", "sealed-1"}})}));
  REQUIRE(ev.spec.tmpl.secret_env.size() == 1);
  CHECK(ev.spec.tmpl.secret_env[0].sealed == "sealed-1");
  CHECK(h.dep("web").spec.tmpl.secret_env == ev.spec.tmpl.secret_env);
}

TEST_CASE("secret env keys are validated like env keys and apart from env") {
  auto h = harness::ready();
  CHECK(h.fails(create_deployment{with_secrets("web", {{"1BAD", "s"}})}).code
        == ec::invalid_env);
  CHECK(
      h.fails(create_deployment{with_secrets("web", {{"A", "s"}, {"A", "t"}})})
          .code
      == ec::invalid_env);
  CHECK(h.fails(create_deployment{with_secrets("web", {{"A", ""}})}).code
        == ec::invalid_env);
  auto both = h.fails(create_deployment{with_secrets("web", {{"PLAIN", "s"}})});
  CHECK(both.code == ec::invalid_env);
  CHECK(both.message
        == "key 'PLAIN' is in both env and secret_env: give it once");
}

TEST_CASE("a changed secret makes a new revision, an unchanged one nothing") {
  auto h = harness::ready();
  h.must(create_deployment{
      with_secrets("web", {{"DB", "sealed-1"}, {"API", "sealed-a"}})});
  CHECK(h.must(set_secret("DB", "sealed-1")).empty());
  auto ev = only<deployment_updated>(h.must(set_secret("DB", "sealed-2")));
  CHECK(ev.revision == 2);
  // Set in place: order and the other key kept.
  REQUIRE(ev.tmpl.secret_env.size() == 2);
  CHECK(ev.tmpl.secret_env[0] == sealed_env_var{"DB", "sealed-2"});
  CHECK(ev.tmpl.secret_env[1] == sealed_env_var{"API", "sealed-a"});
  CHECK(ev.tmpl.env == std::vector<env_var>{{"PLAIN", "1"}});
  // A new key is appended.
  auto added = only<deployment_updated>(h.must(set_secret("NEW", "sealed-n")));
  CHECK(added.revision == 3);
  CHECK(added.tmpl.secret_env.back() == sealed_env_var{"NEW", "sealed-n"});
}

TEST_CASE("secret env keys are removed one by one; a key not set is an error") {
  auto h = harness::ready();
  h.must(create_deployment{with_secrets("web", {{"DB", "s1"}, {"API", "s2"}})});
  update_deployment u;
  u.name = "web";
  u.secret_env_remove = {"DB"};
  auto ev = only<deployment_updated>(h.must(u));
  CHECK(ev.revision == 2);
  CHECK(ev.tmpl.secret_env == std::vector<sealed_env_var>{{"API", "s2"}});
  auto gone = h.fails(u);
  CHECK(gone.code == ec::invalid_env);
  CHECK(gone.message == "secret env key 'DB' is not set on deployment 'web'");
  update_deployment both;
  both.name = "web";
  both.secret_env_remove = {"API"};
  both.secret_env_set = {{"API", "s3"}};
  CHECK(h.fails(both).message
        == "secret env key 'API' is both set and removed");
}

TEST_CASE("a key moves between env and secret env in one update") {
  auto h = harness::ready();
  h.must(create_deployment{with_secrets("web", {{"DB", "s1"}})});
  update_deployment to_secret;
  to_secret.name = "web";
  to_secret.env = std::vector<env_var>{};
  to_secret.secret_env_set = {{"PLAIN", "s-plain"}};
  auto ev = only<deployment_updated>(h.must(to_secret));
  CHECK(ev.tmpl.env.empty());
  CHECK(ev.tmpl.secret_env.size() == 2);
  // Setting a secret whose key is plain env (not moved) is refused.
  update_deployment clash;
  clash.name = "web";
  clash.env = std::vector<env_var>{{"DB", "plain"}};
  CHECK(h.fails(clash).code == ec::invalid_env);
}

TEST_CASE("a launch passes opened secrets apart from env, verbatim") {
  auto plugin = nginx();
  plugin.workload.entrypoint = {"/bin/run", "${VOLANT_IP}", "${DB}"};
  plugin.workload.env = {{"DB", "plugin-default"}, {"KEEP", "k"}};
  vm_template tmpl;
  tmpl.env = {{"PLAIN", "${VOLANT_VM_NAME}"}};
  tmpl.secret_env = {{"DB", "sealed"}, {"VOLANT_IP", "sealed-too"}};
  vm_record vm;
  vm.name = "web-0";
  vm.deployment = "web";
  vm.ip = ip(10);
  auto cmd = plan_launch(plugin, tmpl, vm, "/run/web-0",
                         {{"DB", "p@ss ${VOLANT_IP}"}, {"VOLANT_IP", "evil"}});
  // The secret replaces the plugin's DB and is never substituted; a VOLANT_*
  // variable wins over a secret of its name.
  CHECK(cmd.secret_env == std::vector<env_var>{{"DB", "p@ss ${VOLANT_IP}"}});
  for (const auto& v : cmd.env)
    CHECK(v.key != "DB");
  auto value = [&](const std::string& key) {
    for (const auto& v : cmd.env)
      if (v.key == key)
        return v.value;
    return std::string("<absent>");
  };
  CHECK(value("KEEP") == "k");
  CHECK(value("PLAIN") == "web-0");
  CHECK(value("VOLANT_IP") == "10.0.0.10");
  // Arguments see VOLANT_* only: a secret never lands on a command line.
  CHECK(cmd.argv == std::vector<std::string>{"/bin/run", "10.0.0.10", "${DB}"});
  // Without secrets nothing changes.
  CHECK(plan_launch(plugin, tmpl, vm, "/run/web-0").secret_env.empty());
}
