// `rollout undo`, pure: revisions from events, and the update that copies one.

#include "events/undo.hpp"

#include <doctest/doctest.h>

using namespace volant;

namespace {

vm_template tmpl(const std::string& version, std::vector<env_var> env = {},
                 std::vector<sealed_env_var> secrets = {}) {
  vm_template t;
  t.plugin = {"web", version};
  t.env = std::move(env);
  t.secret_env = std::move(secrets);
  return t;
}

std::vector<revision_record> fold(const std::vector<event>& events) {
  std::vector<revision_record> revs;
  for (const auto& e : events)
    fold_revision(revs, "web", e);
  return revs;
}

deployment_created created(const vm_template& t) {
  deployment_created c;
  c.spec.name = "web";
  c.spec.tmpl = t;
  c.revision = 1;
  return c;
}

deployment_updated updated(const vm_template& t, std::uint64_t rev) {
  deployment_updated u;
  u.name = "web";
  u.tmpl = t;
  u.revision = rev;
  return u;
}

} // namespace

TEST_CASE("revisions of a deployment's current life, from its events") {
  auto revs = fold({created(tmpl("1")), updated(tmpl("2"), 2), updated(tmpl("x"), 9),
                    deployment_deleted{"web", 0}, created(tmpl("3")), updated(tmpl("4"), 2)});
  REQUIRE(revs.size() == 2);
  CHECK(revs[0].tmpl.plugin.version == "3");
  CHECK(revs[1].revision == 2);
  // Other deployments' events do not count.
  auto other = created(tmpl("9"));
  other.spec.name = "api";
  CHECK(fold({other}).empty());
}

TEST_CASE("undo copies the previous revision, or the one asked for, into an update") {
  auto revs = fold({created(tmpl("1", {{"A", "1"}})), updated(tmpl("2", {{"A", "2"}}), 2),
                    updated(tmpl("3", {{"A", "3"}}), 3)});
  auto u = undo_to(revs, "web", std::nullopt);
  REQUIRE(u.has_value());
  CHECK(u->plugin->version == "2");
  CHECK(u->env == std::vector<env_var>{{"A", "2"}});
  auto v = undo_to(revs, "web", 1);
  REQUIRE(v.has_value());
  CHECK(v->plugin->version == "1");
}

TEST_CASE("sealed secrets are copied as they are; keys the old revision lacked are removed") {
  auto revs = fold({created(tmpl("1", {}, {{"DB", "sealed-1"}})),
                    updated(tmpl("2", {}, {{"DB", "sealed-2"}, {"NEW", "sealed-n"}}), 2)});
  auto u = undo_to(revs, "web", std::nullopt);
  REQUIRE(u.has_value());
  CHECK(u->secret_env_set == std::vector<sealed_env_var>{{"DB", "sealed-1"}});
  CHECK(u->secret_env_remove == std::vector<std::string>{"NEW"});
}

TEST_CASE("undo errors: nothing earlier, unknown or current revision, volumes, no deployment") {
  auto one = fold({created(tmpl("1"))});
  CHECK(undo_to(one, "web", std::nullopt).error_value().message
        == "deployment 'web' has no earlier revision (it is at revision 1)");
  auto revs = fold({created(tmpl("1")), updated(tmpl("2"), 2)});
  CHECK(undo_to(revs, "web", 7).error_value().message
        == "revision 7 is not in the history of 'web' (revisions 1 to 2)");
  CHECK(undo_to(revs, "web", 2).error_value().message == "deployment 'web' is at revision 2 already");
  auto with_volume = tmpl("2");
  with_volume.volumes = {{"/data", true}};
  auto vol = fold({created(tmpl("1")), updated(with_volume, 2)});
  CHECK(undo_to(vol, "web", std::nullopt).error_value().code == ec::conflict);
  CHECK(undo_to({}, "web", std::nullopt).error_value().code == ec::unknown_deployment);
}

TEST_CASE("--revision-history: an undo reaches only the revisions kept; a strategy-only "
          "update is no revision") {
  auto keep2 = updated(tmpl("3"), 3);
  keep2.strategy.revision_history = 2;
  auto paused = updated(tmpl("3"), 3); // rollout pause: the strategy only
  paused.strategy.revision_history = 2;
  paused.strategy.rollout_paused = true;
  auto revs = fold({created(tmpl("1")), updated(tmpl("2"), 2), keep2, paused});
  REQUIRE(revs.size() == 3);
  CHECK(revs.back().keep == 2);
  CHECK(undo_to(revs, "web", 2).has_value());
  CHECK(undo_to(revs, "web", 1).error_value().message
        == "revision 1 of 'web' is older than the 2 revisions kept (--revision-history)");
  auto u = undo_to(revs, "web", std::nullopt);
  REQUIRE(u.has_value());
  CHECK(u->reason == "rollout undo to revision 2");
}
