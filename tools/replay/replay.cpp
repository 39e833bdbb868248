#include "replay.hpp"

#include "events/state.hpp"
#include "store/audit.hpp"
#include "store/journal.hpp"
#include "store/paths.hpp"
#include "wire/json.hpp"
#include "wire/table.hpp"

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>

namespace volant::replay {

namespace {

int fail(const std::string& message) {
  std::cerr << "volant-replay: " << message << '\n';
  return 1;
}

int fail(const error& err) {
  return fail(err.message);
}

/// A secondary (read-only) instance over the journal; its scratch directory is
/// removed when it goes.
class reader {
public:
  ~reader() {
    journal_.reset();
    if (!scratch_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(scratch_, ignored);
    }
  }

  status open(const std::string& data_dir) {
    auto dir = store::journal_dir(data_dir);
    if (!std::filesystem::exists(dir + "/CURRENT"))
      return make_error(ec::not_found, "no event log in " + data_dir + " (expected "
                                         + dir + "); is this a Volant data directory?");
    char tmpl[] = "/tmp/volant-replay-XXXXXX";
    if (!mkdtemp(tmpl))
      return make_error(ec::io_error, "cannot create a scratch directory in /tmp");
    scratch_ = tmpl;
    auto j = store::journal::open_secondary(dir, scratch_);
    if (!j)
      return j.error_value();
    journal_ = std::move(*j);
    return ok();
  }

  store::journal& operator*() { return *journal_; }
  store::journal* operator->() { return journal_.get(); }

private:
  std::string scratch_;
  std::unique_ptr<store::journal> journal_;
};

bool matches(const aggregate_id& agg, const std::string& filter) {
  if (filter.empty())
    return true;
  if (auto slash = filter.find('/'); slash != std::string::npos)
    return to_string(agg.kind) == filter.substr(0, slash)
           && agg.id == filter.substr(slash + 1);
  return agg.id == filter;
}

/// "42" -> seq 42; an RFC 3339 time -> the last seq committed by then.
expected<std::uint64_t> resolve_at(store::journal& j, const std::string& at) {
  if (at.empty())
    return j.last_seq();
  std::uint64_t seq = 0;
  auto [end, ec_] = std::from_chars(at.data(), at.data() + at.size(), seq);
  if (ec_ == std::errc{} && end == at.data() + at.size())
    return seq;
  if (auto t = wire::parse_time(at))
    return store::seq_at_time(j, *t);
  return make_error(ec::invalid_argument,
                    "--at '" + at
                      + "' is neither a seq nor a UTC time like 2026-11-28T10:00:00Z");
}

std::string yes_no(bool b) {
  return b ? "yes" : "no";
}

void print_state(const world& w) {
  std::cout << "State at seq " << w.last_seq;
  if (w.last_at != 0)
    std::cout << " (" << wire::format_time(w.last_at) << ")";
  std::cout << "\n\n";
  const auto& h = w.host;
  if (h.configured)
    std::cout << "Host " << h.config.id << ": pool " << to_string_ip(h.config.pool_first)
              << "-" << to_string_ip(h.config.pool_last) << ", "
              << h.config.cpu_total << " CPU, " << h.config.memory_total_mib
              << " MiB memory (" << h.memory_used_mib << " MiB used), limits "
              << h.config.max_vms << " VMs, " << h.config.max_replicas
              << " replicas per deployment\n\n";
  else
    std::cout << "Host: not configured\n\n";
  wire::table plugins({"PLUGIN", "VERSION", "RUNTIME"});
  for (const auto& [name, versions] : w.plugins.by_name)
    for (const auto& [version, m] : versions)
      plugins.add_row({name, version, m.runtime});
  std::cout << plugins.render() << '\n';
  wire::table deps({"NAME", "PLUGIN", "DESIRED", "CURRENT", "READY", "REVISION",
                    "PAUSED", "AUTO-RESTART"});
  for (const auto& [name, d] : w.deployments) {
    auto vms = vms_of(w, name);
    std::size_t ready = 0;
    for (const auto* vm : vms)
      ready += vm->status == vm_status::ready;
    auto plugin = d.spec.tmpl.plugin.name;
    if (!d.spec.tmpl.plugin.version.empty())
      plugin += ":" + d.spec.tmpl.plugin.version;
    deps.add_row({name, plugin, std::to_string(d.spec.replicas),
                  std::to_string(vms.size()), std::to_string(ready),
                  std::to_string(d.revision), yes_no(d.spec.paused),
                  yes_no(d.spec.auto_restart)});
  }
  std::cout << deps.render() << '\n';
  wire::table vms({"VM", "DEPLOYMENT", "IP", "STATUS", "RESTARTS", "REVISION"});
  for (const auto& [name, vm] : w.vms)
    vms.add_row({name, vm.deployment, to_string_ip(vm.ip),
                 std::string(to_string(vm.status)), std::to_string(vm.restarts),
                 std::to_string(vm.revision)});
  std::cout << vms.render();
}

} // namespace

int run_events(const events_options& opts) {
  reader j;
  if (auto st = j.open(opts.data_dir); !st)
    return fail(st.error_value());
  wire::table listing({"SEQ", "TIME", "AGGREGATE", "EVENT", "FIELDS"});
  auto st = j->read(opts.from, opts.to, [&](const recorded_event& rec) {
    auto agg = aggregate_of(rec.ev);
    if (!matches(agg, opts.aggregate))
      return true;
    auto line = wire::to_json(rec);
    if (opts.json) {
      std::cout << line.dump() << '\n';
    } else {
      listing.add_row({std::to_string(rec.seq), line["at"].get<std::string>(),
                       std::string(to_string(agg.kind)) + "/" + agg.id,
                       std::string(kind_name(rec.ev)),
                       wire::to_fields_line(line["fields"])});
    }
    return true;
  });
  if (!opts.json && !listing.empty())
    std::cout << listing.render();
  std::cout.flush();
  if (!st)
    return fail(st.error_value());
  return 0;
}

int run_state(const state_options& opts) {
  reader j;
  if (auto st = j.open(opts.data_dir); !st)
    return fail(st.error_value());
  auto seq = resolve_at(*j, opts.at);
  if (!seq)
    return fail(seq.error_value());
  if (*seq > j->last_seq())
    return fail("--at " + std::to_string(*seq) + " is beyond the end of the log (last seq "
                + std::to_string(j->last_seq()) + ")");
  auto w = j->load(*seq);
  if (!w)
    return fail(w.error_value());
  if (opts.json)
    std::cout << wire::to_json(*w).dump(2) << '\n';
  else
    print_state(*w);
  return 0;
}

int run_verify(const std::string& data_dir) {
  reader j;
  if (auto st = j.open(data_dir); !st)
    return fail(st.error_value());
  auto report = store::verify(*j);
  if (!report)
    return fail("verify failed: " + report.error_value().message);
  std::cout << "ok: " << report->events << " events (seq " << report->first_seq
            << ".." << report->last_seq << "), " << report->snapshots
            << " snapshots equal to the replay";
  if (report->losses > 0)
    std::cout << "; " << report->lost << " acknowledged events lost in "
              << report->losses
              << " accepted loss(es) (journal_loss_accepted)";
  std::cout << '\n';
  return 0;
}

int run_repair(const std::string& data_dir, bool accept_loss) {
  auto dir = store::journal_dir(data_dir);
  if (!std::filesystem::exists(dir + "/CURRENT"))
    return fail("no event log in " + data_dir + " (expected " + dir
                + "); is this a Volant data directory?");
  auto found = accept_loss ? store::journal::accept_loss(dir)
                           : store::journal::find_loss(dir);
  if (!found)
    return fail("repair failed: " + found.error_value().message);
  const auto& r = *found;
  if (!r.damaged) {
    std::cout << "nothing to repair: the journal at " << dir
              << " is whole (last seq " << r.last_good_seq << ")\n";
    return 0;
  }
  auto what = (r.lost > 0 ? std::to_string(r.lost)
                                + " acknowledged events (seq "
                                + std::to_string(r.last_good_seq + 1) + ".."
                                + std::to_string(r.high_water_seq) + ")"
                          : std::string{"no acknowledged event"})
              + ", last good seq " + std::to_string(r.last_good_seq) + ": "
              + r.damage;
  if (!accept_loss)
    return fail("the journal lost " + what
                + "; rerun with --accept-loss to record the loss and go on");
  std::cout << "repaired: accepted the loss of " << what
            << "; recorded as journal_loss_accepted at seq "
            << (r.recorded ? r.recorded->seq : 0) << "; the files RocksDB "
            << "recovered from are kept in " << r.saved_to << '\n';
  return 0;
}

} // namespace volant::replay
