// Rolling updates with the real binaries (issue 12, docs/rollout.md): surge
// VMs beside the old ones, terminating VMs drained before their stop, the
// progress deadline and the automatic revert, rollout pause and resume. A
// sampler lists the VMs every 50 ms during the rollout and sends an HTTP
// request to every VM listed ready.

#include "e2e/e2e.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

namespace volant::e2e {

namespace {

/// What the sampler saw, and what broke the rules.
struct samples {
  int count = 0;
  int min_ready = 1 << 30;
  int max_total = 0;
  int requests = 0;
  int terminating_seen = 0;
  std::set<std::int64_t> revisions;
  std::set<std::string> ids; ///< every VM key seen ("web-0", "web-0@2")
  std::vector<std::string> failures;
};

/// Lists the deployment's VMs every 50 ms until stopped; every VM listed ready
/// gets an HTTP request at once, which must answer 200.
class sampler {
public:
  sampler(const daemon& d, std::string deployment) : d_(d), deployment_(std::move(deployment)) {
    thread_ = std::thread([this] { run(); });
  }
  ~sampler() { stop(); }

  samples stop() {
    stop_ = true;
    if (thread_.joinable())
      thread_.join();
    std::lock_guard lock(mu_);
    return seen_;
  }

private:
  void run() {
    while (!stop_) {
      auto vms = d_.try_json("vms list --deployment " + deployment_);
      if (vms && vms->is_array()) {
        int ready = 0;
        int total = 0;
        std::vector<std::string> failures;
        int requests = 0;
        int terminating = 0;
        std::set<std::int64_t> revisions;
        std::set<std::string> ids;
        for (const auto& vm : *vms) {
          ++total;
          auto status = vm.value("status", "");
          revisions.insert(vm.value("revision", std::int64_t{0}));
          ids.insert(vm.value("id", ""));
          terminating += status == "terminating" ? 1 : 0;
          if (status != "ready")
            continue;
          ++ready;
          ++requests;
          auto reply = http_get(vm.value("ip", ""), 80, "/", 2s);
          if (!reply || reply->status != 200)
            failures.push_back(vm.value("id", "?") + " listed ready at "
                               + vm.value("ip", "?") + " did not answer: "
                               + (reply ? "HTTP " + std::to_string(reply->status)
                                        : std::string("no reply")));
        }
        std::lock_guard lock(mu_);
        ++seen_.count;
        seen_.min_ready = std::min(seen_.min_ready, ready);
        seen_.max_total = std::max(seen_.max_total, total);
        seen_.requests += requests;
        seen_.terminating_seen += terminating;
        seen_.revisions.insert(revisions.begin(), revisions.end());
        seen_.ids.insert(ids.begin(), ids.end());
        for (auto& f : failures)
          seen_.failures.push_back(std::move(f));
        if (ready < min_ready_floor_)
          seen_.failures.push_back("only " + std::to_string(ready) + " ready: "
                                   + vms->dump());
      }
      std::this_thread::sleep_for(50ms);
    }
  }

public:
  int min_ready_floor_ = 0;

private:
  const daemon& d_;
  std::string deployment_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  samples seen_;
  std::thread thread_;
};

/// The events of the journal of `kind` about `name`.
std::vector<json> events_of(const daemon& d, const std::string& kind, const std::string& name) {
  std::vector<json> out;
  for (const auto& j : d.journal())
    if (j.value("event", "") == kind && j.value("id", "") == name)
      out.push_back(j);
  return out;
}

json rollout_of(const daemon& d, const std::string& name) {
  auto shown = d.try_json("deployments show " + name);
  return shown ? shown->value("rollout", json::object()) : json::object();
}

} // namespace

TEST_CASE("a rolling update of 6 replicas with --max-surge 2 --max-unavailable 0: at "
          "every sample at least 6 VMs are ready and answer HTTP, at most 8 exist") {
  daemon d({.pool_octet = 150});
  d.install(httpd_manifest());
  d.ok("deployments create web --plugin e2e-httpd --replicas 6 --health-http 80:/ "
       "--health-interval 1 --wait");
  std::map<std::string, std::string> old_ip;
  for (const auto& vm : d.vms("--deployment web"))
    old_ip[vm.value("name", "")] = vm.value("ip", "");
  REQUIRE(old_ip.size() == 6);

  sampler watch(d, "web");
  watch.min_ready_floor_ = 6;
  std::this_thread::sleep_for(300ms); // a few samples before the update
  d.ok("deployments update web --env GEN=2 --strategy rolling --max-surge 2 "
       "--max-unavailable 0");
  auto status = d.volar("deployments rollout status web --watch --timeout 240");
  auto seen = watch.stop();
  CHECK_MESSAGE(status.exit_code == 0, status.err << d.log_tail());

  MESSAGE("samples " << seen.count << ", HTTP requests " << seen.requests
                     << ", at least " << seen.min_ready << " ready, at most "
                     << seen.max_total << " VMs");
  CHECK(seen.count >= 20);
  for (const auto& f : seen.failures)
    FAIL_CHECK(f);
  CHECK(seen.min_ready >= 6);
  CHECK(seen.max_total <= 8);
  CHECK(seen.max_total > 6);           // it surged
  CHECK(seen.terminating_seen > 0);    // old VMs were drained before their stop
  CHECK(seen.revisions == std::set<std::int64_t>{1, 2});
  // Surge VMs had keys of their own, shown by their slot's name.
  CHECK(std::any_of(seen.ids.begin(), seen.ids.end(),
                    [](const std::string& id) { return id.find("@2") != std::string::npos; }));

  // Done: the same six slot names, all of revision 2, each slot with the IP
  // of its new VM (the old one's was released), every one serving.
  auto vms = d.vms("--deployment web");
  REQUIRE(vms.size() == 6);
  std::set<std::string> names;
  for (const auto& vm : vms) {
    names.insert(vm.value("name", ""));
    CHECK(vm.value("revision", 0) == 2);
    CHECK(vm.value("status", "") == "ready");
    CHECK(http_get(vm.value("ip", ""), 80, "/").value_or(http_reply{}).status == 200);
  }
  CHECK(names == std::set<std::string>{"web-0", "web-1", "web-2", "web-3", "web-4", "web-5"});
  auto table = d.ok("vms list --deployment web");
  CHECK(table.find("REVISION") != std::string::npos);
  auto rollout = rollout_of(d, "web");
  CHECK(rollout.value("phase", "") == "complete");
  CHECK(rollout.value("revision", 0) == 2);
  CHECK(d.ok("deployments show web").find("Rollout:       complete (revision 2)")
        != std::string::npos);

  // The story, in explain and in the journal.
  auto explained = d.ok("shell -c 'explain web'");
  CHECK_MESSAGE(explained.find("updated web to revision 2 (e2e-httpd, rolling), rollout started")
                    != std::string::npos,
                explained);
  CHECK(explained.find("terminating (replaced by revision 2), stopped after 2s")
        != std::string::npos);
  CHECK(explained.find("rollout of web revision 2: ") != std::string::npos);
  CHECK(explained.find("rollout of web revision 2 complete (6 of 6 replicas updated)")
        != std::string::npos);
  CHECK(explained.find("rollout of revision 2 complete at") != std::string::npos);
  CHECK(events_of(d, "vm_terminating", "web-0").size() == 1);
}

TEST_CASE("a rollout to a revision whose health check never passes fails at its "
          "progress deadline and is reverted automatically, within the same limits") {
  daemon d({.pool_octet = 151});
  d.install(httpd_manifest());
  d.ok("deployments create web --plugin e2e-httpd --replicas 4 --health-http 80:/ "
       "--health-interval 1 --strategy rolling --max-surge 1 --max-unavailable 0 --wait");
  REQUIRE(eventually([&] { return rollout_of(d, "web").value("phase", "") == "complete"; }));
  std::map<std::string, int> pids;
  for (const auto& vm : d.vms("--deployment web"))
    pids[vm.value("name", "")] = vm.value("pid", 0);
  REQUIRE(pids.size() == 4);

  sampler watch(d, "web");
  watch.min_ready_floor_ = 4;
  // Revision 2 answers 404 on its health path: its VMs never become ready.
  d.ok("deployments update web --env GEN=broken --health-http 80:/nope --progress-deadline 6");
  auto watched = d.volar("deployments rollout status web --watch --timeout 120");
  CHECK(watched.exit_code == 1);
  CHECK_MESSAGE(watched.err.find("the rollout of revision 2 of web failed and was reverted "
                                 "automatically (now revision 3")
                    != std::string::npos,
                watched.err);
  bool reverted = eventually(
      [&] {
        auto r = rollout_of(d, "web");
        return d.deployment("web").value("revision", 0) == 3
               && r.value("phase", "") == "complete";
      },
      120s, 200ms);
  auto seen = watch.stop();
  REQUIRE_MESSAGE(reverted, rollout_of(d, "web").dump() << d.log_tail());
  for (const auto& f : seen.failures)
    FAIL_CHECK(f);
  CHECK(seen.min_ready >= 4);
  CHECK(seen.max_total <= 5);

  // Revision 3 is revision 1's template: the VMs that ran it are kept as they
  // are (same processes), only the failed surge VM went.
  auto vms = d.vms("--deployment web");
  REQUIRE(vms.size() == 4);
  for (const auto& vm : vms) {
    CAPTURE(vm.dump());
    CHECK(vm.value("revision", 0) == 3);
    CHECK(vm.value("pid", -1) == pids[vm.value("name", "")]);
  }
  auto spec = d.get_json("deployments show web")["spec"]["tmpl"];
  CHECK(spec["env"] == json::array());
  CHECK(spec["health"]["probe"]["path"] == "/");

  // Journaled: the failure at the deadline, then the revert.
  auto failed = events_of(d, "deployment_rollout", "web");
  CHECK(std::any_of(failed.begin(), failed.end(), [](const json& e) {
    return e["fields"].value("phase", "") == "failed"
           && e["fields"].value("reason", "").find("no progress for 6 s") == 0;
  }));
  auto updates = events_of(d, "deployment_updated", "web");
  REQUIRE(updates.size() == 2);
  CHECK(updates[1]["fields"].value("revert_of", 0) == 2);
  auto explained = d.ok("shell -c 'explain web'");
  CHECK_MESSAGE(explained.find("rollout of web revision 2 failed: no progress for 6 s")
                    != std::string::npos,
                explained);
  CHECK(explained.find("rollout of web reverted to revision 3 (e2e-httpd): automatic revert "
                       "to revision 1")
        != std::string::npos);
  CHECK(explained.find("rollout of revision 2 failed and was reverted at") != std::string::npos);
  auto events = d.ok("shell -c 'events --aggregate deployment/web'");
  CHECK_MESSAGE(events.find("deployment_rollout") != std::string::npos, events);
}

TEST_CASE("rollout pause holds a rollout (the VMs keep running); resume lets it finish") {
  daemon d({.pool_octet = 152});
  d.install(httpd_manifest());
  d.ok("deployments create web --plugin e2e-httpd --replicas 2 --strategy rolling "
       "--max-surge 1 --max-unavailable 0 --wait");
  CHECK(d.ok("deployments rollout pause web") == "deployment web rollout paused\n");
  d.ok("deployments update web --env GEN=2");
  std::this_thread::sleep_for(2s); // several reconcile rounds
  auto vms = d.vms("--deployment web");
  CHECK(vms.size() == 2);
  for (const auto& vm : vms) {
    CHECK(vm.value("revision", 0) == 1);
    CHECK(vm.value("status", "") == "ready");
  }
  CHECK(d.ok("deployments show web").find("paused (volar deployments rollout resume)")
        != std::string::npos);
  CHECK(d.ok("deployments rollout resume web") == "deployment web rollout resumed\n");
  auto r = d.volar("deployments rollout status web --watch --timeout 120");
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  for (const auto& vm : d.vms("--deployment web"))
    CHECK(vm.value("revision", 0) == 2);
  // Bad flags: one line, nothing changes.
  auto bad = d.volar("deployments update web --progress-deadline soon");
  CHECK(bad.exit_code != 0);
  CHECK(bad.err == "volar: --progress-deadline must be a duration such as 30, 30s, 500ms, "
                   "10m or 1h, got 'soon'\n");
  CHECK(d.deployment("web").value("revision", 0) == 2);
}

TEST_CASE("volantd killed with kill -9 mid-rollout: the rollout goes on where it was, "
          "terminating and surge VMs adopted, never two processes of a VM") {
  daemon d({.pool_octet = 153});
  d.install(httpd_manifest());
  d.ok("deployments create web --plugin e2e-httpd --replicas 4 --health-http 80:/ "
       "--health-interval 1 --wait");
  d.ok("deployments update web --env GEN=2 --strategy rolling --max-surge 1 "
       "--max-unavailable 0 --termination-grace 3s");
  bool mid = eventually(
      [&] {
        auto vms = d.vms("--deployment web");
        return std::any_of(vms.begin(), vms.end(), [](const json& vm) {
          return vm.value("status", "") == "terminating";
        });
      },
      60s, 50ms);
  REQUIRE_MESSAGE(mid, d.vms("--deployment web").dump());
  d.kill9();
  d.start();
  auto r = d.volar("deployments rollout status web --watch --timeout 120");
  CHECK_MESSAGE(r.exit_code == 0, r.err << d.log_tail());
  auto vms = d.vms("--deployment web");
  REQUIRE(vms.size() == 4);
  for (const auto& vm : vms) {
    CAPTURE(vm.dump());
    CHECK(vm.value("revision", 0) == 2);
    CHECK(d.vm_pids(vm.value("id", "")) == std::vector<int>{vm.value("pid", 0)});
    CHECK(http_get(vm.value("ip", ""), 80, "/").value_or(http_reply{}).status == 200);
  }
  // Nothing of the old VMs is left running.
  CHECK(d.workload_pids().size() == 4);
}

} // namespace volant::e2e
