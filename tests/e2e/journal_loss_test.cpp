// A journal that lost acknowledged commands: volantd refuses to start (one line,
// non-zero exit) instead of starting with fewer events, and starts again once
// the loss is accepted with `volant-replay repair --accept-loss`, which the
// audit then shows.

#include "e2e/e2e.hpp"

#include <filesystem>
#include <fstream>

namespace volant::e2e {

namespace {

namespace fs = std::filesystem;

/// The seq of the journal's high-water mark (0 if none yet).
std::uint64_t high_water(const daemon& d) {
  std::ifstream in(d.dir() + "/journal/volant-high-water");
  std::uint64_t seq = 0;
  in >> seq;
  return seq;
}

} // namespace

TEST_CASE("volantd refuses to start when its write-ahead log lost acknowledged "
          "commands, and starts again after repair --accept-loss") {
  daemon d({.pool_octet = 29});
  d.install(httpd_manifest());
  REQUIRE(d.volar("deployments create web --plugin e2e-httpd --replicas 0").exit_code == 0);
  d.stop(); // a clean stop: everything so far is in table files
  auto before_pause = d.journal().back().value("seq", 0ull);

  d.start();
  auto r = d.volar("deployments pause web");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(d.deployment("web").value("paused", false));
  auto acknowledged = d.journal().back().value("seq", 0ull);
  REQUIRE(acknowledged > before_pause);
  // Once the journal's mark covers the pause (about a second), a lost log is
  // no longer a torn tail.
  REQUIRE_MESSAGE(eventually([&] { return high_water(d) >= acknowledged; }, 20s),
                  "high-water mark " << high_water(d) << ", acknowledged " << acknowledged);
  d.kill9();
  std::vector<std::string> wals;
  for (const auto& e : fs::directory_iterator(d.dir() + "/journal"))
    if (e.path().extension() == ".log") {
      wals.push_back(e.path().string());
      fs::remove(e.path());
    }
  REQUIRE_FALSE(wals.empty());
  std::sort(wals.begin(), wals.end());

  // `timeout`: a volantd that started anyway would run until killed (exit 124).
  auto refused = test::run("timeout 30 " + sh_quote(volantd_bin()) + " --data-dir "
                           + sh_quote(d.dir()) + " --listen 127.0.0.1:0 --pool "
                           + d.pool() + " --run-dir " + sh_quote(d.run_dir())
                           + " </dev/null");
  CHECK(refused.exit_code == 1);
  CHECK_MESSAGE(one_line(refused.err), refused.err);
  CHECK(refused.err.rfind("volantd: journal at ", 0) == 0);
  CHECK(refused.err.find(wals.back() + " is missing") != std::string::npos);
  CHECK(refused.err.find("last good seq " + std::to_string(before_pause))
        != std::string::npos);
  CHECK(refused.err.find("volant-replay repair --accept-loss") != std::string::npos);
  auto verify = test::run(sh_quote(replay_bin()) + " verify --data-dir " + sh_quote(d.dir()));
  CHECK(verify.exit_code == 1);
  CHECK_MESSAGE(one_line(verify.err), verify.err);

  auto repair = test::run(sh_quote(replay_bin()) + " repair --accept-loss --data-dir "
                          + sh_quote(d.dir()));
  REQUIRE_MESSAGE(repair.exit_code == 0, repair.err);
  d.start();
  // The pause is gone, knowingly: the audit says what was lost.
  CHECK_FALSE(d.deployment("web").value("paused", true));
  auto events = d.journal();
  auto loss = std::find_if(events.begin(), events.end(), [](const json& e) {
    return e.value("event", "") == "journal_loss_accepted";
  });
  REQUIRE(loss != events.end());
  CHECK((*loss)["seq"] == acknowledged + 1);
  CHECK((*loss)["fields"]["last_good_seq"] == before_pause);
  CHECK((*loss)["fields"]["high_water_seq"] == acknowledged);
  auto explained = d.volar("shell -c 'explain web'");
  CHECK(explained.out.find("the journal lost") != std::string::npos);
  // And the journal goes on: a new command is acknowledged after the loss.
  REQUIRE(d.volar("deployments pause web").exit_code == 0);
  CHECK(d.journal().back().value("seq", 0ull) > acknowledged + 1);
}

} // namespace volant::e2e
