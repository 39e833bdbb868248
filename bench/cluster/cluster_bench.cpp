// bench-cluster (issue 16): one writer appending one event per append, as a
// leader commits, to the single-host journal (RocksDB, synced, group commit)
// and to the cluster log on etcd 3.4 (one member, then three) on loopback.
// Latency per append (median, p99) and appends/s, each as a ratio against
// the journal measured in the same run. A benchmark, not a test: run it by
// hand (bench/cluster/run.sh), see bench/RESULTS.md.
//
// Still to measure when volantd runs on the cluster log: the time to
// reschedule after a host loss (goal < 10 s) and 0 -> 300 replicas across 3
// hosts.

#include "cluster/etcd.hpp"
#include "store/codec.hpp"
#include "store/journal.hpp"
#include "support/etcd.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <string>
#include <thread>
#include <vector>

using namespace volant;
using clock_type = std::chrono::steady_clock;

namespace {

unix_nanos now_nanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

event small_event(std::uint64_t i) {
  auto at = now_nanos();
  if (i % 2 == 0)
    return vm_ready{"web-" + std::to_string(i % 100), at};
  deployment_scaled scaled;
  scaled.name = "web";
  scaled.from = static_cast<std::int32_t>(i % 20);
  scaled.to = scaled.from + 1;
  scaled.at = at;
  return scaled;
}

struct row {
  std::string name;
  std::size_t appends = 0;
  double seconds = 0;
  double median_ms = 0;
  double p99_ms = 0;
  double per_second() const { return seconds > 0 ? appends / seconds : 0; }
};

/// Appends one at a time for `seconds`; `op(i)` is one append, false on error.
row drive(const std::string& name, double seconds, const std::function<bool(std::uint64_t)>& op) {
  row r;
  r.name = name;
  std::vector<double> ms;
  auto start = clock_type::now();
  auto until = start + std::chrono::duration<double>(seconds);
  for (std::uint64_t i = 0; clock_type::now() < until; ++i) {
    auto t0 = clock_type::now();
    if (!op(i)) {
      std::fprintf(stderr, "bench-cluster: %s: append %llu failed\n", name.c_str(),
                   static_cast<unsigned long long>(i));
      std::exit(1);
    }
    ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
  }
  r.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  r.appends = ms.size();
  std::sort(ms.begin(), ms.end());
  r.median_ms = ms.empty() ? 0 : ms[ms.size() / 2];
  r.p99_ms = ms.empty() ? 0 : ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  return r;
}

row bench_etcd(const std::string& name, int members, double seconds) {
  test::etcd_cluster etcd(members);
  cluster::etcd_options o;
  o.endpoints = etcd.urls();
  cluster::etcd_client client(o);
  for (int i = 0; i < 200 && !client.get("/probe"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  cluster::etcd_log log(client, "/volant/bench");
  std::uint64_t head = 0;
  return drive(name, seconds, [&](std::uint64_t i) {
    auto bytes = store::pack_event(recorded_event{head + 1, now_nanos(), small_event(i)});
    std::vector<std::string> records{std::string(bytes.begin(), bytes.end())};
    auto r = log.append(head, records);
    if (!r)
      std::fprintf(stderr, "%s\n", r.error_value().message.c_str());
    head = r ? *r : head;
    return static_cast<bool>(r);
  });
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench-cluster: appends to the journal vs the cluster log on etcd"};
  double seconds = 5;
  app.add_option("--seconds", seconds, "Seconds per row (default 5)")->check(CLI::PositiveNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  test::temp_dir dir;
  std::vector<row> rows;
  {
    auto j = store::journal::open(dir / "journal");
    if (!j) {
      std::fprintf(stderr, "bench-cluster: %s\n", j.error_value().message.c_str());
      return 1;
    }
    rows.push_back(drive("journal (RocksDB, synced)", seconds, [&](std::uint64_t i) {
      return static_cast<bool>((*j)->append({small_event(i)}));
    }));
  }
  rows.push_back(bench_etcd("etcd, 1 member", 1, seconds));
  rows.push_back(bench_etcd("etcd, 3 members", 3, seconds));

  const auto& base = rows.front();
  std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  std::printf("bench-cluster: one writer, one event per append, %.0f s per row; %s\n", seconds,
              date);
  std::printf("| %-27s | %9s | %10s | %8s | %9s | %-21s |\n", "log", "appends/s", "median ms",
              "p99 ms", "appends", "vs journal (rate)");
  std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(29, '-').c_str(), std::string(11, '-').c_str(),
              std::string(12, '-').c_str(), std::string(10, '-').c_str(),
              std::string(11, '-').c_str(), std::string(23, '-').c_str());
  for (const auto& r : rows)
    std::printf("| %-27s | %9.0f | %10.2f | %8.2f | %9zu | %20.2fx |\n", r.name.c_str(),
                r.per_second(), r.median_ms, r.p99_ms, r.appends,
                base.per_second() > 0 ? r.per_second() / base.per_second() : 0);
  return 0;
}
