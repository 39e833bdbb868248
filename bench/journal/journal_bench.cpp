// bench-journal: durable append throughput and latency of the journal against
// the Go original's store (SQLite, WAL, synchronous=FULL, one transaction per
// event) on the same disk, and the replay speed of a 1,000,000-event log with
// and without a snapshot. One run prints one table. Not a test: numbers depend
// on the machine.

#include "history.hpp"

#include "events/state.hpp"
#include "store/codec.hpp"
#include "store/journal.hpp"

#include <CLI/CLI.hpp>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <latch>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using namespace volant;
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

double since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

unix_nanos now_nanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void die(const std::string& what) {
  std::cerr << "bench-journal: " << what << '\n';
  std::exit(1);
}

template <class T> T must(expected<T> r, const std::string& what) {
  if (!r)
    die(what + ": " + r.error_value().message);
  return std::move(*r);
}

/// The p-th percentile (0..1) of `v` in milliseconds; `v` holds nanoseconds.
double percentile_ms(std::vector<std::int64_t>& v, double p) {
  if (v.empty())
    return 0;
  auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k),
                   v.end());
  return static_cast<double>(v[k]) / 1e6;
}

/// CPU time of the calling thread: unlike wall time, not inflated by other work
/// competing for the CPUs.
double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

/// The event of one benchmark append: small and realistic, alternating the two
/// kinds the daemon writes most (a probe verdict and a scale).
event small_event(std::size_t thread, std::uint64_t i) {
  auto at = now_nanos();
  if (i % 2 == 0)
    return vm_ready{"web-" + std::to_string(thread % 100), at};
  auto from = static_cast<std::int32_t>(i % 20);
  return deployment_scaled{"web", from, from + 1, at};
}

// -- the concurrent append driver
// ----------------------------------------------------

struct run_result {
  std::uint64_t count = 0;
  double seconds = 0;
  std::vector<std::int64_t> latency_ns;
};

/// Runs `op(thread, i)` in `threads` threads until `seconds` have passed (an
/// append under way at the deadline completes and counts). `op` returns an
/// error message or nullopt; the first error ends the program.
template <class Op>
run_result run_threads(std::size_t threads, double seconds, Op op) {
  std::latch ready{static_cast<std::ptrdiff_t>(threads)};
  std::latch go{1};
  clock_type::time_point deadline;
  std::vector<std::vector<std::int64_t>> lat(threads);
  std::mutex err_mtx;
  std::optional<std::string> err;
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (std::size_t t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      auto& mine = lat[t];
      mine.reserve(4096);
      ready.count_down();
      go.wait();
      for (std::uint64_t i = 0; clock_type::now() < deadline; ++i) {
        auto t0 = clock_type::now();
        auto e = op(t, i);
        auto t1 = clock_type::now();
        if (e) {
          std::lock_guard lock{err_mtx};
          err = std::move(e);
          return;
        }
        mine.push_back(
            std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0)
                .count());
      }
    });
  ready.wait();
  auto t0 = clock_type::now();
  deadline = t0
             + std::chrono::duration_cast<clock_type::duration>(
                 std::chrono::duration<double>(seconds));
  go.count_down();
  for (auto& th : pool)
    th.join();
  run_result r;
  r.seconds = since(t0);
  if (err)
    die(*err);
  for (auto& v : lat) {
    r.count += v.size();
    r.latency_ns.insert(r.latency_ns.end(), v.begin(), v.end());
  }
  return r;
}

// -- one table
// ----------------------------------------------------------------------

struct row {
  std::string bench;
  std::string threads = "-";
  std::string count = "-";
  std::string seconds = "-";
  std::string rate = "-";
  std::string p50 = "-";
  std::string p99 = "-";
  std::string note;
};

std::string fmt(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string grouped(std::uint64_t v) {
  auto s = std::to_string(v);
  for (auto i = static_cast<std::ptrdiff_t>(s.size()) - 3; i > 0; i -= 3)
    s.insert(static_cast<std::size_t>(i), ",");
  return s;
}

void print_table(const std::vector<row>& rows) {
  std::vector<row> all{{"benchmark", "threads", "count", "seconds", "rate/s",
                        "p50 ms", "p99 ms", "note"}};
  all.insert(all.end(), rows.begin(), rows.end());
  std::size_t w[7] = {};
  for (const auto& r : all) {
    const std::string* cells[7]
        = {&r.bench, &r.threads, &r.count, &r.seconds, &r.rate, &r.p50, &r.p99};
    for (int i = 0; i < 7; ++i)
      w[i] = std::max(w[i], cells[i]->size());
  }
  for (std::size_t n = 0; n < all.size(); ++n) {
    const auto& r = all[n];
    const std::string* cells[7]
        = {&r.bench, &r.threads, &r.count, &r.seconds, &r.rate, &r.p50, &r.p99};
    std::string line = "| ";
    for (int i = 0; i < 7; ++i) {
      auto pad = std::string(w[i] - cells[i]->size(), ' ');
      line += i == 0 ? *cells[i] + pad : pad + *cells[i];
      line += " | ";
    }
    line += r.note;
    std::cout << line << '\n';
    if (n == 0) {
      std::string sep = "|";
      for (auto x : w)
        sep += std::string(x + 2, '-') + "|";
      std::cout << sep << "------\n";
    }
  }
}

// -- the journal
// --------------------------------------------------------------------

struct append_row {
  double rate = 0;
  row r;
};

append_row bench_journal(const fs::path& dir, std::size_t threads,
                         double seconds) {
  auto j = must(store::journal::open(dir.string()), "cannot open the journal");
  for (int i = 0; i < 20; ++i) // warm-up: WAL file creation, first syncs
    must(j->append({small_event(0, static_cast<std::uint64_t>(i))}),
         "warm-up append");
  auto before = j->stats();
  auto res = run_threads(
      threads, seconds,
      [&](std::size_t t, std::uint64_t i) -> std::optional<std::string> {
        auto recs = j->append({small_event(t, i)});
        if (!recs)
          return "journal append failed: " + recs.error_value().message;
        return std::nullopt;
      });
  auto after = j->stats();
  auto syncs = after.syncs - before.syncs;
  auto events = after.events - before.events;
  append_row out;
  out.rate = static_cast<double>(res.count) / res.seconds;
  out.r = {
      "append: journal (RocksDB, group commit)",
      std::to_string(threads),
      grouped(res.count),
      fmt(res.seconds, 2),
      grouped(static_cast<std::uint64_t>(out.rate)),
      fmt(percentile_ms(res.latency_ns, 0.50), 3),
      fmt(percentile_ms(res.latency_ns, 0.99), 3),
      fmt(syncs ? static_cast<double>(events) / static_cast<double>(syncs) : 0,
          1)
          + " events per fsync (" + grouped(syncs) + " synced writes)"};
  return out;
}

// -- the SQLite baseline
// ------------------------------------------------------------

struct sqlite_conn {
  sqlite3* db = nullptr;
  sqlite3_stmt* begin = nullptr;
  sqlite3_stmt* insert = nullptr;
  sqlite3_stmt* next_seq = nullptr;
  sqlite3_stmt* commit = nullptr;
  sqlite3_stmt* rollback = nullptr;

  sqlite_conn(const fs::path& file, bool immediate) {
    if (sqlite3_open(file.c_str(), &db) != SQLITE_OK)
      die("cannot open " + file.string() + ": " + sqlite3_errmsg(db));
    exec("PRAGMA journal_mode=WAL", "wal");
    exec("PRAGMA synchronous=FULL");
    exec("PRAGMA synchronous", "2");
    exec("PRAGMA busy_timeout=60000");
    exec("CREATE TABLE IF NOT EXISTS events"
         " (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)");
    begin = prepare(immediate ? "BEGIN IMMEDIATE" : "BEGIN");
    insert = prepare("INSERT INTO events (seq, body) VALUES (?1, ?2)");
    next_seq = prepare("SELECT coalesce(max(seq), 0) + 1 FROM events");
    commit = prepare("COMMIT");
    rollback = prepare("ROLLBACK");
  }
  ~sqlite_conn() {
    for (auto* s : {begin, insert, next_seq, commit, rollback})
      sqlite3_finalize(s);
    sqlite3_close(db);
  }
  sqlite_conn(const sqlite_conn&) = delete;
  sqlite_conn& operator=(const sqlite_conn&) = delete;

  /// Runs `sql`; with `expect`, checks the first column of the first row.
  void exec(const std::string& sql, const char* expect = nullptr) {
    auto* st = prepare(sql);
    auto rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
      die(sql + ": " + sqlite3_errmsg(db));
    if (expect) {
      auto* got = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      if (rc != SQLITE_ROW || !got || std::string{got} != expect)
        die(sql + " returned '" + (got ? got : "") + "', expected '" + expect
            + "'");
    }
    sqlite3_finalize(st);
  }

  sqlite3_stmt* prepare(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
      die(sql + ": " + sqlite3_errmsg(db));
    return st;
  }

  /// Steps `st` to completion (one row for queries); an error message or
  /// nullopt.
  std::optional<std::string> run(sqlite3_stmt* st) {
    auto rc = sqlite3_step(st);
    std::optional<std::string> err;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
      err = std::string{"sqlite: "} + sqlite3_errmsg(db);
    if (rc != SQLITE_ROW)
      sqlite3_reset(st);
    return err;
  }

  /// One durable event: BEGIN; INSERT (seq, body); COMMIT. `seq` 0 reads the
  /// next seq inside the transaction (connection-per-thread mode).
  std::optional<std::string> append(std::uint64_t seq, const event& ev) {
    if (auto e = run(begin))
      return e;
    if (seq == 0) {
      if (auto e = run(next_seq))
        return e;
      seq = static_cast<std::uint64_t>(sqlite3_column_int64(next_seq, 0));
      sqlite3_reset(next_seq);
    }
    auto bytes = store::pack_event(recorded_event{seq, now_nanos(), ev});
    sqlite3_bind_int64(insert, 1, static_cast<sqlite3_int64>(seq));
    sqlite3_bind_blob(insert, 2, bytes.data(), static_cast<int>(bytes.size()),
                      SQLITE_TRANSIENT);
    if (auto e = run(insert)) {
      run(rollback);
      return e;
    }
    return run(commit);
  }
};

append_row bench_sqlite(const fs::path& file, std::size_t threads,
                        double seconds, bool per_thread) {
  std::optional<sqlite_conn> shared;
  std::vector<std::unique_ptr<sqlite_conn>> conns;
  std::mutex mtx;
  std::uint64_t seq = 0;
  if (per_thread)
    for (std::size_t t = 0; t < threads; ++t)
      conns.push_back(std::make_unique<sqlite_conn>(file, true));
  else
    shared.emplace(file, false);
  for (int i = 0; i < 20; ++i) { // warm-up, like the journal's
    auto ev = small_event(0, static_cast<std::uint64_t>(i));
    auto e = per_thread ? conns[0]->append(0, ev) : shared->append(++seq, ev);
    if (e)
      die(*e);
  }
  auto res = run_threads(
      threads, seconds,
      [&](std::size_t t, std::uint64_t i) -> std::optional<std::string> {
        auto ev = small_event(t, i);
        if (per_thread)
          return conns[t]->append(0, ev);
        std::lock_guard lock{mtx};
        return shared->append(++seq, ev);
      });
  append_row out;
  out.rate = static_cast<double>(res.count) / res.seconds;
  out.r
      = {"append: SQLite (WAL, synchronous=FULL)",
         std::to_string(threads),
         grouped(res.count),
         fmt(res.seconds, 2),
         grouped(static_cast<std::uint64_t>(out.rate)),
         fmt(percentile_ms(res.latency_ns, 0.50), 3),
         fmt(percentile_ms(res.latency_ns, 0.99), 3),
         per_thread ? "one connection per thread, BEGIN IMMEDIATE, busy_timeout"
                    : "one connection behind a mutex"};
  return out;
}

// -- replay
// -------------------------------------------------------------------------

struct replay_result {
  std::vector<row> rows;
  double full_seconds = 0;
  double full_cpu_seconds = 0;
};

replay_result bench_replay(const fs::path& dir, std::uint64_t n,
                           std::uint64_t batch, int runs) {
  auto snapshot_at = n - n / 100;
  auto j = must(store::journal::open(dir.string()),
                "cannot open the replay journal");
  bench::history h;
  world live, at_snapshot;
  std::uint64_t calls = 0;
  auto t0 = clock_type::now();
  for (std::uint64_t written = 0; written < n;) {
    std::vector<event> evs;
    auto k = std::min(batch, n - written);
    h.next(static_cast<std::size_t>(k), evs);
    auto recs = must(j->append(std::move(evs)), "bulk append");
    ++calls;
    for (const auto& rec : recs) {
      apply(live, rec);
      if (rec.seq == snapshot_at)
        at_snapshot = live;
    }
    written += k;
  }
  auto write_s = since(t0);
  replay_result out;
  out.rows.push_back(
      {"bulk append: journal, " + grouped(batch) + " events per call", "1",
       grouped(n), fmt(write_s, 2),
       grouped(static_cast<std::uint64_t>(static_cast<double>(n) / write_s)),
       "-", "-",
       grouped(calls)
           + " append calls (includes encoding; the "
             "world is folded as it goes)"});
  if (live.vms.empty() || live.vms.size() >= 100
      || live.deployments.size() != 4)
    die("unexpected replay world: " + std::to_string(live.vms.size()) + " VMs, "
        + std::to_string(live.deployments.size()) + " deployments");

  j.reset(); // a daemon restart: close, reopen, load
  t0 = clock_type::now();
  j = must(store::journal::open(dir.string()),
           "cannot reopen the replay journal");
  auto open_s = since(t0);

  std::vector<double> cpu; // CPU seconds of the last time_loads
  auto time_loads = [&](const char* what) {
    std::vector<double> secs;
    cpu.clear();
    for (int i = 0; i < runs; ++i) {
      auto c0 = thread_cpu_seconds();
      t0 = clock_type::now();
      auto w = must(j->load(), std::string{"load "} + what);
      secs.push_back(since(t0));
      cpu.push_back(thread_cpu_seconds() - c0);
      if (!(w == live))
        die(std::string{"load "} + what + " does not reproduce the live world");
    }
    return secs;
  };
  auto list = [](const std::vector<double>& v) {
    std::string s;
    for (auto x : v)
      s += (s.empty() ? "" : ", ") + fmt(x, 3);
    return s;
  };
  auto runs_note = [&](const std::vector<double>& v) {
    auto c = "; CPU " + fmt(median(cpu), 3) + " s";
    return runs > 1 ? "median of " + std::to_string(runs) + " runs (" + list(v)
                          + " s)" + c
                    : "1 run" + c;
  };

  auto full = time_loads("from empty");
  out.full_seconds = median(full);
  out.full_cpu_seconds = median(cpu);
  out.rows.push_back({"replay: load() from empty (full fold)", "1", grouped(n),
                      fmt(out.full_seconds, 3),
                      grouped(static_cast<std::uint64_t>(static_cast<double>(n)
                                                         / out.full_seconds)),
                      "-", "-",
                      runs_note(full) + "; verify+decode+apply; reopen took "
                          + fmt(open_s, 3) + " s; "
                          + std::to_string(live.vms.size()) + " VMs live"});

  // The same log through read() with a visitor that does nothing: what reading,
  // verifying and decoding cost without apply().
  std::vector<double> read_secs;
  cpu.clear();
  for (int i = 0; i < runs; ++i) {
    std::uint64_t seen = 0;
    auto c0 = thread_cpu_seconds();
    t0 = clock_type::now();
    auto st = j->read(1, store::max_seq, [&](const recorded_event&) {
      ++seen;
      return true;
    });
    read_secs.push_back(since(t0));
    cpu.push_back(thread_cpu_seconds() - c0);
    if (!st || seen != n)
      die("read() of the replay log failed or was short");
  }
  auto read_s = median(read_secs);
  out.rows.push_back(
      {"replay: read() only (verify+decode, no apply)", "1", grouped(n),
       fmt(read_s, 3),
       grouped(static_cast<std::uint64_t>(static_cast<double>(n) / read_s)),
       "-", "-", runs_note(read_secs)});

  if (auto st = j->write_snapshot(at_snapshot); !st)
    die("write_snapshot: " + st.error_value().message);
  auto snap = time_loads("with a snapshot");
  auto snap_s = median(snap);
  auto tail = n - snapshot_at;
  out.rows.push_back(
      {"replay: load() with snapshot @" + grouped(snapshot_at), "1",
       grouped(tail), fmt(snap_s, 3),
       grouped(static_cast<std::uint64_t>(static_cast<double>(tail) / snap_s)),
       "-", "-",
       runs_note(snap) + "; snapshot + " + grouped(tail) + "-event tail of the "
           + grouped(n) + "-event log"});
  return out;
}

// -- context
// ------------------------------------------------------------------------

std::string fs_type_name(const fs::path& p) {
  struct statfs s {};
  if (statfs(p.c_str(), &s) != 0)
    return "unknown";
  switch (static_cast<unsigned long>(s.f_type)) {
  case 0xEF53:
    return "ext2/3/4";
  case 0x58465342:
    return "xfs";
  case 0x9123683E:
    return "btrfs";
  case 0x01021994:
    return "tmpfs";
  case 0x794c7630:
    return "overlayfs";
  case 0x2FC12FC1:
    return "zfs";
  default: {
    std::ostringstream o;
    o << "0x" << std::hex << s.f_type;
    return o.str();
  }
  }
}

/// The device and mount point of `p` (longest matching mount in
/// /proc/self/mounts).
std::string mount_of(const fs::path& p) {
  std::ifstream in{"/proc/self/mounts"};
  std::string dev, mnt, type, rest, best_dev, best_mnt;
  auto path = fs::weakly_canonical(p).string();
  while (in >> dev >> mnt >> type && std::getline(in, rest)) {
    auto under = path == mnt || mnt == "/" || path.rfind(mnt + "/", 0) == 0;
    if (under && mnt.size() >= best_mnt.size()) {
      best_dev = dev;
      best_mnt = mnt;
    }
  }
  return best_dev + " mounted on " + best_mnt;
}

std::string cpu_model() {
  std::ifstream in{"/proc/cpuinfo"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0)
      return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

/// p50 of 200 × (200-byte append + fdatasync): what one durable write costs
/// here.
double fdatasync_p50_ms(const fs::path& dir) {
  auto file = dir / "fsync-probe";
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd < 0)
    die("cannot create " + file.string());
  std::vector<std::int64_t> ns;
  char buf[200] = {};
  for (int i = 0; i < 200; ++i) {
    auto t0 = clock_type::now();
    if (::write(fd, buf, sizeof buf) != static_cast<ssize_t>(sizeof buf)
        || ::fdatasync(fd) != 0)
      die("fsync probe failed on " + file.string());
    ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(
                     clock_type::now() - t0)
                     .count());
  }
  ::close(fd);
  fs::remove(file);
  return percentile_ms(ns, 0.5);
}

/// The 1-, 5- and 15-minute load averages: other work competing for the CPUs.
std::string load_average() {
  std::ifstream in{"/proc/loadavg"};
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::string utc_now() {
  auto t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench-journal: journal appends vs SQLite, and replay speed"};
  bool quick = false, keep = false;
  std::string dir_flag, sqlite_mode = "mutex";
  double seconds = 0;
  std::uint64_t replay_events = 0;
  app.add_flag("--quick", quick,
               "Smoke run: 0.5 s per append row, 100,000-event replay");
  app.add_option(
      "--dir", dir_flag,
      "Parent directory for the scratch data (default /var/tmp); must be "
      "on the disk to measure, not tmpfs");
  app.add_option("--seconds", seconds,
                 "Seconds per append row (default 3, quick 0.5)")
      ->check(CLI::PositiveNumber);
  app.add_option("--replay-events", replay_events,
                 "Events in the replay log (default 1,000,000, quick 100,000)")
      ->check(CLI::Range(std::uint64_t{1000}, std::uint64_t{100'000'000}));
  app.add_option("--sqlite-mode", sqlite_mode,
                 "mutex: one connection behind a mutex (the Go original); "
                 "connections: one connection per thread with busy_timeout")
      ->check(CLI::IsMember({"mutex", "connections"}));
  app.add_flag("--keep", keep, "Keep the scratch directory");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (seconds == 0)
    seconds = quick ? 0.5 : 3.0;
  if (replay_events == 0)
    replay_events = quick ? 100'000 : 1'000'000;
  int runs = quick ? 1 : 3;
  bool per_thread = sqlite_mode == "connections";

  fs::path parent
      = dir_flag.empty() ? fs::path{"/var/tmp"} : fs::path{dir_flag};
  std::error_code ec;
  fs::create_directories(parent, ec);
  auto tmpl = (parent / "volant-bench-journal-XXXXXX").string();
  if (!::mkdtemp(tmpl.data()))
    die("cannot create a scratch directory under " + parent.string());
  fs::path root = tmpl;

  std::string command;
  for (int i = 0; i < argc; ++i)
    command += (i ? " " : "") + std::string{argv[i]};
  struct utsname un {};
  ::uname(&un);
  auto fstype = fs_type_name(root);

  std::cout << "bench/journal: durable appends (journal vs SQLite) and replay\n"
            << "date:    " << utc_now() << '\n'
            << "command: " << command << '\n'
            << "machine: nproc=" << std::thread::hardware_concurrency() << ", "
            << cpu_model() << ", Linux " << un.release << ", load average "
            << load_average() << " at start\n"
            << "disk:    " << root.string() << " (" << fstype << ", "
            << mount_of(root) << ")\n";
  if (fstype == "tmpfs")
    std::cout
        << "WARNING: the scratch directory is on tmpfs; fsync costs nothing "
           "there and the numbers mean nothing. Use --dir on a real disk.\n";
  std::cout << "fsync:   raw 200-byte append + fdatasync, p50 "
            << fmt(fdatasync_p50_ms(root), 3) << " ms\n";
  auto sample
      = store::pack_event(recorded_event{1, now_nanos(), small_event(7, 0)});
  auto sample2
      = store::pack_event(recorded_event{2, now_nanos(), small_event(7, 1)});
  std::cout << "event:   1 event per append, alternately vm_ready ("
            << sample.size() << " bytes packed) and deployment_scaled ("
            << sample2.size()
            << " bytes); SQLite stores the same pack_event bytes\n"
            << "sqlite:  " << sqlite3_libversion() << ", journal_mode=WAL, "
            << "synchronous=FULL, BEGIN; INSERT (seq, body); COMMIT per event, "
            << (per_thread ? "one connection per thread (BEGIN IMMEDIATE, "
                             "busy_timeout 60 s)"
                           : "one connection shared behind a mutex (as the Go "
                             "original)")
            << '\n'
            << "rows:    append rows run " << fmt(seconds, 1)
            << " s each (latency = one append() call, queueing included)\n\n"
            << std::flush;

  std::vector<row> rows;
  std::vector<row> ratios;
  double ratio16 = 0;
  for (std::size_t threads : {1, 16, 256}) {
    auto t = std::to_string(threads);
    auto jr = bench_journal(root / ("journal-" + t), threads, seconds);
    auto sr = bench_sqlite(root / ("sqlite-" + t + ".db"), threads, seconds,
                           per_thread);
    rows.push_back(jr.r);
    rows.push_back(sr.r);
    auto ratio = jr.rate / sr.rate;
    if (threads == 16)
      ratio16 = ratio;
    ratios.push_back({"ratio: journal / SQLite appends/s", t, "-", "-",
                      fmt(ratio, 1) + "x", "-", "-",
                      threads == 16 ? "goal >= 20x" : ""});
  }
  rows.insert(rows.end(), ratios.begin(), ratios.end());
  auto rep
      = bench_replay(root / "replay", replay_events,
                     std::max<std::uint64_t>(replay_events / 100, 1000), runs);
  rows.insert(rows.end(), rep.rows.begin(), rep.rows.end());
  print_table(rows);

  // The goal is stated for 1,000,000 events; a smaller log is scaled to it.
  auto per_million
      = rep.full_seconds * 1e6 / static_cast<double>(replay_events);
  std::cout << "\ngoals:   >= 20x SQLite at 16 appenders: "
            << (ratio16 >= 20 ? "MET" : "MISSED") << " (" << fmt(ratio16, 1)
            << "x); 1M events replayed in < 2 s: "
            << (per_million < 2 ? "MET" : "MISSED") << " ("
            << fmt(per_million, 3) << " s per 1M, CPU "
            << fmt(rep.full_cpu_seconds * 1e6
                       / static_cast<double>(replay_events),
                   3)
            << " s"
            << (replay_events == 1'000'000 ? "" : ", scaled from the log size")
            << ")\n";
  if (keep)
    std::cout << "kept:    " << root.string() << '\n';
  else
    fs::remove_all(root, ec);
  return 0;
}
