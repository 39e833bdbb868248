// End-to-end tests of the volant-replay binary on logs written through the store API.

#include "events/state.hpp"
#include "store/journal.hpp"
#include "store/journal_testing.hpp"
#include "store/paths.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <rocksdb/db.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <sstream>

using namespace volant;
using volant::test::run;

namespace {

std::string replay() {
  return test::binary("VOLANT_REPLAY");
}

/// Writes commands through decide + journal.append, folding as the daemon does.
class history {
public:
  explicit history(const std::string& data_dir)
      : path(store::journal_dir(data_dir)) {
    std::filesystem::create_directories(data_dir);
    auto j = store::journal::open(path);
    REQUIRE(j.has_value());
    journal = std::move(*j);
  }

  std::string path; ///< the journal's directory

  /// Closes the journal cleanly (its events go to table files) and opens it
  /// again: what is appended next is only in the write-ahead log.
  void reopen() {
    journal.reset();
    auto j = store::journal::open(path);
    REQUIRE(j.has_value());
    journal = std::move(*j);
  }

  void run(const command& cmd) {
    auto evs = decide(state, cmd, 1'700'000'000'000'000'000 + state.last_seq);
    REQUIRE_MESSAGE(evs.has_value(), (evs ? "" : evs.error_value().message));
    auto recs = journal->append(std::move(*evs));
    REQUIRE(recs.has_value());
    for (const auto& rec : *recs)
      apply(state, rec);
  }

  /// Host, plugin, deployment `web` created with 3 VMs, scaled to 5 (snapshot
  /// here), then scaled to 2 with the three highest removed.
  void write_standard() {
    host_config host;
    host.pool_first = *parse_ipv4("127.77.0.10");
    host.pool_last = *parse_ipv4("127.77.0.20");
    host.cpu_total = 4;
    host.memory_total_mib = 4096;
    run(configure_host{host});
    plugin_manifest m;
    m.name = "nginx";
    m.version = "1.0.0";
    m.workload.entrypoint = {"/usr/sbin/nginx"};
    run(install_plugin{m});
    deployment_spec spec;
    spec.name = "web";
    spec.replicas = 3;
    spec.tmpl.plugin = {"nginx", ""};
    run(create_deployment{spec});
    for (std::uint32_t i = 0; i < 3; ++i)
      run(create_vm{"web", i});
    replicas3_seq = state.last_seq;
    run(scale_deployment{"web", 5});
    for (std::uint32_t i = 3; i < 5; ++i)
      run(create_vm{"web", i});
    REQUIRE(journal->write_snapshot(state).has_value());
    run(scale_deployment{"web", 2});
    for (std::uint32_t i = 5; i-- > 2;)
      run(remove_vm{vm_name("web", i)});
  }

  std::unique_ptr<store::journal> journal;
  world state;
  std::uint64_t replicas3_seq = 0;
};

std::size_t lines(const std::string& text) {
  return test::count_lines_with(text, "");
}

} // namespace

TEST_CASE("events lists every committed event in order with its aggregate") {
  test::temp_dir dir;
  history h(dir.path());
  h.write_standard();
  auto last = h.state.last_seq;
  h.journal.reset();
  auto r = run(replay() + " events --data-dir " + dir.path());
  REQUIRE(r.exit_code == 0);
  CHECK(lines(r.out) == last + 1); // header + one line per event
  CHECK(r.out.find("deployment/web") != std::string::npos);
  CHECK(r.out.find("deployment_scaled") != std::string::npos);
  CHECK(r.out.find("vm/web-4") != std::string::npos);
  CHECK(r.out.find("ip=127.77.0.10") != std::string::npos);
}

TEST_CASE("events --json prints one parseable object per line and filters") {
  test::temp_dir dir;
  history h(dir.path());
  h.write_standard();
  h.journal.reset();
  auto r = run(replay() + " events --json --aggregate vm/web-3 --data-dir " + dir.path());
  REQUIRE(r.exit_code == 0);
  std::istringstream in(r.out);
  std::vector<std::string> kinds;
  std::uint64_t prev = 0;
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    CHECK(j["id"] == "web-3");
    CHECK(j["seq"].get<std::uint64_t>() > prev);
    prev = j["seq"].get<std::uint64_t>();
    kinds.push_back(j["event"]);
  }
  CHECK(kinds == std::vector<std::string>{"vm_created", "vm_removed"});
  auto ranged = run(replay() + " events --json --from 2 --to 4 --data-dir " + dir.path());
  REQUIRE(ranged.exit_code == 0);
  CHECK(lines(ranged.out) == 3);
  CHECK(ranged.out.find("\"seq\":2") != std::string::npos);
}

TEST_CASE("state rebuilds the state at the end, at an earlier seq and at a time") {
  test::temp_dir dir;
  history h(dir.path());
  h.write_standard();
  auto seq3 = h.replicas3_seq;
  h.journal.reset();
  auto now = run(replay() + " state --json --data-dir " + dir.path());
  REQUIRE(now.exit_code == 0);
  auto end = nlohmann::json::parse(now.out);
  CHECK(end["deployments"][0]["replicas"] == 2);
  CHECK(end["vms"].size() == 2);
  CHECK(end["host"]["leases"].size() == 2);

  auto then = run(replay() + " state --json --at " + std::to_string(seq3)
                  + " --data-dir " + dir.path());
  REQUIRE(then.exit_code == 0);
  auto earlier = nlohmann::json::parse(then.out);
  CHECK(earlier["last_seq"] == seq3);
  CHECK(earlier["deployments"][0]["replicas"] == 3);
  CHECK(earlier["vms"].size() == 3);

  // Commit times in the test history are 1.7e18 ns + seq: 2023-11-14T22:13:20Z.
  auto at_time = run(replay() + " state --json --at 2023-11-14T22:13:20.000000003Z"
                     + " --data-dir " + dir.path());
  REQUIRE(at_time.exit_code == 0);
  CHECK(nlohmann::json::parse(at_time.out)["last_seq"] >= 0);

  auto human = run(replay() + " state --data-dir " + dir.path());
  REQUIRE(human.exit_code == 0);
  CHECK(human.out.find("web-0") != std::string::npos);
  CHECK(human.out.find("web-2") == std::string::npos);
}

TEST_CASE("verify accepts a good log and names the first corrupt seq") {
  test::temp_dir dir;
  history h(dir.path());
  h.write_standard();
  h.journal.reset();
  auto good = run(replay() + " verify --data-dir " + dir.path());
  REQUIRE(good.exit_code == 0);
  CHECK(good.out.find("1 snapshots") != std::string::npos);

  { // Overwrite record 5 with garbage behind the journal's back.
    auto path = store::journal_dir(dir.path());
    std::vector<std::string> names;
    REQUIRE(rocksdb::DB::ListColumnFamilies({}, path, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const auto& n : names)
      cfs.emplace_back(n, rocksdb::ColumnFamilyOptions{});
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open({}, path, cfs, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    auto it = std::find(names.begin(), names.end(), "events");
    REQUIRE(it != names.end());
    auto* events = handles[static_cast<std::size_t>(it - names.begin())];
    REQUIRE(db->Put({}, events, store::seq_key(5), "definitely not a flatbuffer").ok());
    for (auto* handle : handles)
      REQUIRE(db->DestroyColumnFamilyHandle(handle).ok());
  }
  auto bad = run(replay() + " verify --data-dir " + dir.path());
  CHECK(bad.exit_code != 0);
  CHECK(bad.err.find("seq 5") != std::string::npos);
  CHECK(lines(bad.err) == 1);
  auto listing = run(replay() + " events --data-dir " + dir.path());
  CHECK(listing.exit_code != 0);
  CHECK(listing.err.find("seq 5") != std::string::npos);
}

TEST_CASE("replay reads the log while another process holds it open") {
  test::temp_dir dir;
  history h(dir.path());
  h.write_standard();
  auto first = run(replay() + " events --json --data-dir " + dir.path());
  REQUIRE(first.exit_code == 0);
  CHECK(lines(first.out) == h.state.last_seq);
  h.run(scale_deployment{"web", 4});
  auto second = run(replay() + " state --json --data-dir " + dir.path());
  REQUIRE(second.exit_code == 0);
  CHECK(nlohmann::json::parse(second.out)["deployments"][0]["replicas"] == 4);
}

TEST_CASE("a missing log and bad arguments give one-line errors") {
  test::temp_dir dir;
  auto missing = run(replay() + " events --data-dir " + dir / "nothing-here");
  CHECK(missing.exit_code != 0);
  CHECK(missing.err.find("no event log") != std::string::npos);
  CHECK(lines(missing.err) == 1);
  history h(dir.path());
  h.write_standard();
  h.journal.reset();
  auto beyond = run(replay() + " state --at 9999 --data-dir " + dir.path());
  CHECK(beyond.exit_code != 0);
  CHECK(beyond.err.find("beyond the end") != std::string::npos);
  auto garbled = run(replay() + " state --at yesterday --data-dir " + dir.path());
  CHECK(garbled.exit_code != 0);
  CHECK(garbled.err.find("'yesterday'") != std::string::npos);
}

TEST_CASE("the demo writes a history that verifies") {
  test::temp_dir dir;
  auto demo = run(replay() + " demo --data-dir " + dir.path());
  REQUIRE_MESSAGE(demo.exit_code == 0, demo.err);
  auto verify = run(replay() + " verify --data-dir " + dir.path());
  CHECK(verify.exit_code == 0);
  auto again = run(replay() + " demo --data-dir " + dir.path());
  CHECK(again.exit_code != 0);
  CHECK(again.err.find("already holds") != std::string::npos);
}

TEST_CASE("verify reports acknowledged events a lost write-ahead log took, and "
          "repair --accept-loss records the loss so that verify passes again") {
  test::temp_dir dir;
  history h(dir.path());
  h.write_standard();
  auto last_good = h.state.last_seq;
  h.reopen();
  h.run(scale_deployment{"web", 4});
  for (std::uint32_t i = 2; i < 4; ++i)
    h.run(create_vm{"web", i});
  auto acknowledged = h.state.last_seq;
  store::testing::skip_flush_on_close(*h.journal); // the events stay in the WAL
  h.journal.reset();
  std::vector<std::string> wals;
  for (const auto& e : std::filesystem::directory_iterator(h.path))
    if (e.path().extension() == ".log") {
      wals.push_back(e.path().string());
      std::filesystem::remove(e.path());
    }
  REQUIRE_FALSE(wals.empty());
  std::sort(wals.begin(), wals.end()); // the newest held the lost events

  auto bad = run(replay() + " verify --data-dir " + dir.path());
  CHECK(bad.exit_code == 1);
  CHECK_MESSAGE(lines(bad.err) == 1, bad.err);
  CHECK(bad.err.find(wals.back() + " is missing") != std::string::npos);
  CHECK(bad.err.find("last good seq " + std::to_string(last_good)) != std::string::npos);
  CHECK(bad.err.find("seqs " + std::to_string(last_good + 1) + ".."
                     + std::to_string(acknowledged) + " are lost")
        != std::string::npos);
  CHECK(bad.out.empty());
  CHECK(run(replay() + " events --data-dir " + dir.path()).exit_code == 1);

  // Without --accept-loss, repair only says what it would accept.
  auto asked = run(replay() + " repair --data-dir " + dir.path());
  CHECK(asked.exit_code == 1);
  CHECK_MESSAGE(lines(asked.err) == 1, asked.err);
  CHECK(asked.err.find("--accept-loss") != std::string::npos);
  CHECK(run(replay() + " verify --data-dir " + dir.path()).exit_code == 1);

  auto repaired = run(replay() + " repair --accept-loss --data-dir " + dir.path());
  REQUIRE_MESSAGE(repaired.exit_code == 0, repaired.err);
  CHECK(lines(repaired.out) == 1);
  CHECK(repaired.out.find("journal_loss_accepted at seq "
                          + std::to_string(acknowledged + 1))
        != std::string::npos);

  auto good = run(replay() + " verify --data-dir " + dir.path());
  CHECK_MESSAGE(good.exit_code == 0, good.err);
  CHECK(good.out.find(std::to_string(acknowledged - last_good)
                      + " acknowledged events lost")
        != std::string::npos);
  auto listing = run(replay() + " events --json --data-dir " + dir.path());
  REQUIRE_MESSAGE(listing.exit_code == 0, listing.err);
  std::istringstream in(listing.out);
  std::string line, final_line;
  while (std::getline(in, line))
    final_line = line;
  auto loss = nlohmann::json::parse(final_line);
  CHECK(loss["event"] == "journal_loss_accepted");
  CHECK(loss["seq"] == acknowledged + 1);
  CHECK(loss["aggregate"] == "system");
  CHECK(loss["fields"]["last_good_seq"] == last_good);
  CHECK(loss["fields"]["high_water_seq"] == acknowledged);
  CHECK(loss["fields"]["lost"] == acknowledged - last_good);
  CHECK(loss["fields"]["damage"].get<std::string>().find(wals.back())
        != std::string::npos);
  auto human = run(replay() + " events --data-dir " + dir.path());
  CHECK(human.out.find("journal_loss_accepted") != std::string::npos);
  // The scale to 4 was lost, knowingly: the state is what survived.
  auto state = run(replay() + " state --json --data-dir " + dir.path());
  REQUIRE(state.exit_code == 0);
  CHECK(nlohmann::json::parse(state.out)["deployments"][0]["replicas"] == 2);
  auto again = run(replay() + " repair --accept-loss --data-dir " + dir.path());
  CHECK(again.exit_code == 0);
  CHECK(again.out.find("nothing to repair") != std::string::npos);
}
