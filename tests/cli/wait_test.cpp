// --wait: when to stop following a deployment, and why.

#include "cli/wait.hpp"

#include <doctest/doctest.h>

using namespace volant::cli;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

progress at(std::int64_t desired, std::int64_t current, std::int64_t ready,
            std::string blocked = "") {
  return progress{desired, current, ready, ready, std::move(blocked), false};
}

} // namespace

TEST_CASE(
    "progress is read from a deployments.show reply and printed as a line") {
  auto p = progress_of(json{{"name", "web"},
                            {"desired", 5},
                            {"current", 5},
                            {"ready", 3},
                            {"blocked", ""}});
  CHECK(p == at(5, 5, 3));
  CHECK(progress_line("web", p) == "web: 3/5 ready (5 current)");
  CHECK(progress_of(json{{"blocked", nullptr}}) == at(0, 0, 0));
}

TEST_CASE("the wait ends when ready and current reach desired") {
  wait_tracker t("web", 300s);
  CHECK(t.observe(at(5, 0, 0), 0ms) == wait_tracker::verdict::waiting);
  CHECK(t.changed());
  CHECK(t.observe(at(5, 0, 0), 250ms) == wait_tracker::verdict::waiting);
  CHECK_FALSE(t.changed());
  CHECK(t.observe(at(5, 5, 3), 500ms) == wait_tracker::verdict::waiting);
  CHECK(t.changed());
  // Scaling down: ready == desired is not enough while extra VMs still exist.
  CHECK(t.observe(at(5, 7, 5), 750ms) == wait_tracker::verdict::waiting);
  CHECK(t.observe(at(5, 5, 5), 1000ms) == wait_tracker::verdict::done);
}

TEST_CASE("a deployment blocked for more than 3 s is stuck, with the reason") {
  wait_tracker t("web", 300s);
  const std::string why = "insufficient memory: need 4096 MiB, 1024 MiB free";
  CHECK(t.observe(at(5, 1, 1, why), 1000ms) == wait_tracker::verdict::waiting);
  CHECK(t.observe(at(5, 1, 1, why), 4000ms) == wait_tracker::verdict::waiting);
  CHECK(t.observe(at(5, 1, 1, why), 4250ms) == wait_tracker::verdict::failed);
  CHECK(t.failure() == "web is stuck: " + why);
}

TEST_CASE("a blocked spell that clears starts the 3 s over") {
  wait_tracker t("web", 300s);
  CHECK(t.observe(at(5, 1, 1, "no free address"), 0ms)
        == wait_tracker::verdict::waiting);
  CHECK(t.observe(at(5, 2, 1), 2000ms) == wait_tracker::verdict::waiting);
  CHECK(t.observe(at(5, 2, 1, "no free address"), 2500ms)
        == wait_tracker::verdict::waiting);
  CHECK(t.observe(at(5, 2, 1, "no free address"), 5000ms)
        == wait_tracker::verdict::waiting);
  CHECK(t.observe(at(5, 2, 1, "no free address"), 5600ms)
        == wait_tracker::verdict::failed);
}

TEST_CASE("the wait times out with the last numbers") {
  wait_tracker t("web", 10s);
  CHECK(t.observe(at(5, 5, 3), 9999ms) == wait_tracker::verdict::waiting);
  CHECK(t.observe(at(5, 5, 4), 10s) == wait_tracker::verdict::failed);
  CHECK(t.failure()
        == "timed out after 10s waiting for web: 4/5 ready (5 current)");
}

TEST_CASE("a timeout says why: the first VM that is not ready, its error first") {
  auto p = progress_of(json{
      {"name", "web"},
      {"desired", 3},
      {"current", 3},
      {"ready", 1},
      {"vms",
       {{{"name", "web-0"}, {"status", "ready"}, {"last_error", ""}},
        {{"name", "web-1"}, {"status", "starting"}, {"last_error", ""}},
        {{"name", "web-2"},
         {"status", "restarting"},
         {"last_error", "health check failed: connection refused"}}}}});
  CHECK(p.why == "web-2 is restarting: health check failed: connection refused");
  wait_tracker t("web", 10s);
  CHECK(t.observe(p, 10s) == wait_tracker::verdict::failed);
  CHECK(t.failure()
        == "timed out after 10s waiting for web: 1/3 ready (3 current); web-2 is "
           "restarting: health check failed: connection refused");
  // Without errors the first VM that is not ready is named.
  p.why.clear();
  auto starting = progress_of(json{
      {"desired", 2},
      {"current", 1},
      {"ready", 0},
      {"vms", {{{"name", "web-0"}, {"status", "starting"}}}}});
  CHECK(starting.why == "web-0 is starting");
  wait_tracker t2("web", 5s);
  CHECK(t2.observe(starting, 5s) == wait_tracker::verdict::failed);
  CHECK(t2.failure()
        == "timed out after 5s waiting for web: 0/2 ready (1 current); 1 VM(s) not "
           "created yet; web-0 is starting");
}

TEST_CASE("waiting on a paused deployment fails at once") {
  wait_tracker t("web", 10s);
  progress p = at(5, 0, 0);
  p.paused = true;
  CHECK(t.observe(p, 0ms) == wait_tracker::verdict::failed);
  CHECK(t.failure().starts_with("web is paused"));
}

TEST_CASE("an update is not done while ready replicas are of the old revision") {
  wait_tracker w("web", 300s, 3s);
  auto old = at(2, 2, 2);
  old.updated = 0; // both ready, neither made from the new template yet
  CHECK(w.observe(old, 0s) != wait_tracker::verdict::done);
  CHECK(w.observe(at(2, 2, 2), 1s) == wait_tracker::verdict::done);
  auto reply = json{{"desired", 2}, {"current", 2}, {"ready", 2}, {"updated", 1}};
  CHECK(progress_of(reply).updated == 1);
  CHECK(progress_of(json{{"desired", 1}, {"current", 1}, {"ready", 1}}).updated == 1);
}

TEST_CASE("rollout status speaks kubectl: updated and available, old pending, rolled out") {
  progress p{6, 6, 6, 2, "", false};
  CHECK(rollout_line("web", p)
        == "Waiting for deployment \"web\" rollout to finish: 2 of 6 updated replicas are "
           "available...");
  CHECK_FALSE(rolled_out(p));
  p = {6, 8, 8, 6, "", false};
  CHECK(rollout_line("web", p)
        == "Waiting for deployment \"web\" rollout to finish: 2 old replicas are pending "
           "termination...");
  p = {6, 6, 6, 6, "", false};
  CHECK(rolled_out(p));
  CHECK(rollout_line("web", p) == "deployment \"web\" successfully rolled out");
  // Scaled to 0: nothing to wait for.
  CHECK(rollout_line("web", progress{0, 0, 0, 0, "", false})
        == "deployment \"web\" successfully rolled out");
}

TEST_CASE("a rollout that failed at its deadline ends the wait, and so does its revert") {
  auto d = json{{"name", "web"},   {"desired", 3},
                {"current", 4},    {"ready", 3},
                {"updated", 0},    {"revision", 2},
                {"rollout", {{"phase", "progressing"}, {"reason", ""}, {"revert_of", 0}}}};
  wait_tracker t("web", 300s);
  CHECK(t.observe(progress_of(d), 0ms) == wait_tracker::verdict::waiting);
  d["rollout"]["phase"] = "failed";
  d["rollout"]["reason"] = "no progress for 600 s (0 of 3 replicas updated)";
  auto failed = progress_of(d);
  CHECK(rollout_line("web", failed)
        == "deployment \"web\" exceeded its progress deadline: no progress for 600 s (0 of 3 "
           "replicas updated)");
  CHECK(t.observe(failed, 1s) == wait_tracker::verdict::failed);
  CHECK(t.failure()
        == "deployment \"web\" exceeded its progress deadline: no progress for 600 s (0 of 3 "
           "replicas updated)");

  wait_tracker r("web", 300s);
  d["rollout"] = {{"phase", "progressing"}, {"reason", ""}, {"revert_of", 0}};
  CHECK(r.observe(progress_of(d), 0ms) == wait_tracker::verdict::waiting);
  d["revision"] = 3;
  d["rollout"] = {{"phase", "progressing"}, {"reason", ""}, {"revert_of", 2}};
  CHECK(r.observe(progress_of(d), 1s) == wait_tracker::verdict::failed);
  CHECK(r.failure()
        == "the rollout of revision 2 of web failed and was reverted automatically (now "
           "revision 3; see: volar shell -c 'explain web')");
}
