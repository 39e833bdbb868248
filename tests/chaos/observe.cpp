#include "chaos/observe.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <tuple>
#include <thread>

namespace volant::chaos {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The value of `key` in a NUL-separated environment ("" when absent).
std::string env_value(const std::string& environ, const std::string& key) {
  auto prefix = key + "=";
  std::size_t pos = 0;
  while (pos < environ.size()) {
    auto end = environ.find('\0', pos);
    if (end == std::string::npos)
      end = environ.size();
    if (environ.compare(pos, prefix.size(), prefix) == 0)
      return environ.substr(pos + prefix.size(), end - pos - prefix.size());
    pos = end + 1;
  }
  return "";
}

struct process {
  int pid = 0;
  int ppid = 0;
  char state = '?';
  std::string vm; ///< VOLANT_VM_NAME
};

/// The live (not zombie) workload processes of this daemon's data directory,
/// from one pass over /proc.
std::map<int, process> workload_processes(const e2e::daemon& d) {
  std::map<int, process> out;
  auto vm_dirs = d.run_dir() + "/";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    auto name = entry.path().filename().string();
    if (name.empty()
        || name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    auto environ = read_all(entry.path() / "environ");
    if (env_value(environ, "VOLANT_VM_DIR").rfind(vm_dirs, 0) != 0)
      continue;
    auto stat = read_all(entry.path() / "stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos || close + 2 >= stat.size())
      continue;
    process p;
    p.pid = std::stoi(name);
    p.state = stat[close + 2];
    std::istringstream rest(stat.substr(close + 2));
    char state;
    rest >> state >> p.ppid;
    if (p.state == 'Z' || p.state == 'X')
      continue;
    p.vm = env_value(environ, "VOLANT_VM_NAME");
    out[p.pid] = p;
  }
  return out;
}

/// The tops of the workload process trees: a workload's own children (busybox
/// httpd forks one per connection) are part of it, not another copy.
std::map<std::string, std::vector<int>>
tops_by_vm(const std::map<int, process>& procs) {
  std::map<std::string, std::vector<int>> out;
  for (const auto& [pid, p] : procs)
    if (!procs.count(p.ppid))
      out[p.vm].push_back(pid);
  return out;
}

std::string join(const std::vector<int>& pids) {
  std::string out;
  for (int pid : pids)
    out += (out.empty() ? "" : ",") + std::to_string(pid);
  return out;
}

/// `deployments list` and `vms list` projected on what the log holds.
std::optional<std::string> live_summary(const e2e::daemon& d) {
  auto deps = volar_json(d, "deployments list");
  auto vms = volar_json(d, "vms list");
  if (!deps || !vms)
    return std::nullopt;
  std::ostringstream out;
  for (const auto& r : *deps)
    out << "deployment " << r.value("name", "") << " replicas "
        << r.value("desired", -1) << " paused " << r.value("paused", false)
        << " revision " << r.value("revision", std::uint64_t{0}) << "\n";
  for (const auto& v : *vms)
    out << "vm " << v.value("id", v.value("name", "")) << " of "
        << v.value("deployment", "") << " " << v.value("status", "") << " ip "
        << v.value("ip", "") << " pid " << v.value("pid", 0) << " revision "
        << v.value("revision", std::uint64_t{0}) << " restarts "
        << v.value("restarts", 0) << "\n";
  return out.str();
}

std::optional<std::string> replay_summary(const e2e::daemon& d) {
  auto r = test::run("timeout -s KILL 60 " + e2e::sh_quote(e2e::replay_bin())
                     + " state --json --data-dir " + e2e::sh_quote(d.dir()));
  auto w = json::parse(r.out, nullptr, false);
  if (r.exit_code != 0 || w.is_discarded())
    return std::nullopt;
  std::ostringstream out;
  for (const auto& s : w["deployments"])
    out << "deployment " << s.value("name", "") << " replicas "
        << s.value("replicas", -1) << " paused " << s.value("paused", false)
        << " revision " << s.value("revision", std::uint64_t{0}) << "\n";
  std::vector<json> vms(w["vms"].begin(), w["vms"].end());
  // `vms list` orders by deployment, then index, then revision.
  std::sort(vms.begin(), vms.end(), [](const json& a, const json& b) {
    return std::make_tuple(a.value("deployment", ""), a.value("index", 0),
                           a.value("revision", std::uint64_t{0}))
           < std::make_tuple(b.value("deployment", ""), b.value("index", 0),
                             b.value("revision", std::uint64_t{0}));
  });
  for (const auto& v : vms)
    out << "vm " << v.value("name", "") << " of " << v.value("deployment", "")
        << " " << v.value("status", "") << " ip " << v.value("ip", "")
        << " pid " << v["handle"].value("pid", 0) << " revision "
        << v.value("revision", std::uint64_t{0}) << " restarts "
        << v.value("restarts", 0) << "\n";
  return out.str();
}

/// The lines of `a` not in `b`, prefixed.
std::string lines_not_in(const std::string& a, const std::string& b,
                         const std::string& prefix) {
  auto lb = e2e::lines_of(b);
  std::set<std::string> in_b(lb.begin(), lb.end());
  std::string out;
  for (const auto& line : e2e::lines_of(a))
    if (!in_b.count(line))
      out += prefix + line + "\n";
  return out;
}

} // namespace

namespace {

std::mutex call_mutex;
std::vector<double> call_ms;

} // namespace

e2e::run_result run_volar(const e2e::daemon& d, const std::string& args) {
  auto t0 = std::chrono::steady_clock::now();
  // A volar still running after volar_timeout_s is killed; its threads'
  // stacks go to /tmp/volar-hang.PID.txt first (with gdb), named on stderr.
  // volantd's stacks (at that moment) go to /tmp/volar-hang.PID.volantd.txt,
  // its log (debug: every request and reply) to /tmp/volar-hang.PID.volantd.log,
  // and both ends' TCP queues (`ss`: bytes volar has not read, or volantd not
  // sent) to /tmp/volar-hang.PID.sockets.txt.
  static const std::string bounded = R"sh(t=$1; d=$2; l=$3; shift 3; "$@" </dev/null & p=$!
for i in $(seq $((t * 10))); do
  kill -0 $p 2>/dev/null || { wait $p; exit $?; }
  sleep 0.1
done
f=/tmp/volar-hang.$p.txt
if command -v gdb >/dev/null; then
  gdb -p $p -batch -ex 'thread apply all bt' >$f 2>&1
  [ "$d" -gt 0 ] && gdb -p $d -batch -ex 'thread apply all bt' >/tmp/volar-hang.$p.volantd.txt 2>&1
fi
cp "$l" /tmp/volar-hang.$p.volantd.log 2>/dev/null
ss -tnpi 2>/dev/null | grep -A1 -E "pid=($p|$d)," >/tmp/volar-hang.$p.sockets.txt
echo "volar hung for $t s (stacks: $f)" >&2
kill -9 $p; wait $p; exit 137)sh";
  auto r = test::run("bash -c " + e2e::sh_quote(bounded) + " bounded "
                     + std::to_string(volar_timeout_s) + " " + std::to_string(d.pid()) + " "
                     + e2e::sh_quote(d.dir() + "/volantd.log") + " "
                     + e2e::sh_quote(e2e::volar_bin()) + " --data-dir "
                     + e2e::sh_quote(d.dir()) + " " + args);
  if (r.exit_code == 0) {
    std::lock_guard lock(call_mutex);
    call_ms.push_back(std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - t0)
                          .count());
  }
  return r;
}

double volar_median_ms() {
  std::lock_guard lock(call_mutex);
  if (call_ms.empty())
    return 0;
  auto sorted = call_ms;
  std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2,
                   sorted.end());
  return sorted[sorted.size() / 2];
}

namespace {
std::mutex failure_mutex;
std::string failure;

void remember_failure(std::string text) {
  std::lock_guard lock(failure_mutex);
  failure = std::move(text);
}
} // namespace

std::string last_volar_failure() {
  std::lock_guard lock(failure_mutex);
  return failure;
}

std::optional<json> volar_json(const e2e::daemon& d, const std::string& args) {
  auto r = run_volar(d, args + " --json");
  if (r.exit_code != 0) {
    remember_failure("volar " + args + " --json: exit "
                     + std::to_string(r.exit_code) + ": " + r.err);
    return std::nullopt;
  }
  auto j = json::parse(r.out, nullptr, false);
  if (j.is_discarded()) {
    remember_failure("volar " + args + " --json printed no JSON: " + r.out);
    return std::nullopt;
  }
  return j;
}

std::optional<std::map<std::string, observed_deployment>>
observe_deployments(const e2e::daemon& d) {
  auto list = volar_json(d, "deployments list");
  if (!list || !list->is_array())
    return std::nullopt;
  // One `deployments show` per deployment, all at once.
  std::vector<std::optional<json>> shows(list->size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < list->size(); ++i)
    threads.emplace_back([&, i] {
      shows[i]
          = volar_json(d, "deployments show " + (*list)[i].value("name", ""));
    });
  for (auto& t : threads)
    t.join();
  std::map<std::string, observed_deployment> out;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const auto& row = (*list)[i];
    auto name = row.value("name", "");
    const auto& show = shows[i];
    if (!show || !show->contains("spec"))
      return std::nullopt;
    const auto& tmpl = (*show)["spec"]["tmpl"];
    observed_deployment o;
    o.replicas = row.value("desired", -1);
    o.paused = row.value("paused", false);
    o.revision = row.value("revision", std::uint64_t{0});
    o.cpu = tmpl.value("cpu", 0);
    o.plugin = tmpl["plugin"].value("name", "");
    for (const auto& var : tmpl["env"])
      if (var.value("key", "") == "CHAOS_GEN")
        o.gen = std::stoi(var.value("value", "-1"));
    out[name] = o;
  }
  return out;
}

verdict settle_verdict(const e2e::daemon& d,
                       const std::map<std::string, observed_deployment>& deps) {
  verdict v;
  auto fail = [&](const std::string& deployment, std::string why) {
    v.deployment = deployment;
    v.why = std::move(why);
    return v;
  };
  auto vms = volar_json(d, "vms list");
  if (!vms)
    return fail("", "volar vms list failed");
  v.seen_at = std::chrono::steady_clock::now();
  auto procs = workload_processes(d);
  auto tops = tops_by_vm(procs);
  std::map<std::string, std::set<int>> indices;
  std::set<std::string> ips;
  std::set<int> listed_pids;
  for (const auto& vm : *vms) {
    // A rolling update's VM is listed by its slot's name; its processes and
    // its page know it by its key (`id`: "web-3@4").
    auto name = vm.value("id", vm.value("name", ""));
    auto status = vm.value("status", "");
    int pid = vm.value("pid", 0);
    auto ip = vm.value("ip", "");
    auto where = name + " (" + status + ", pid " + std::to_string(pid) + ", ip "
                 + ip + ")";
    auto dep_name = vm.value("deployment", "");
    auto dep = deps.find(dep_name);
    if (dep == deps.end())
      return fail(dep_name, where + ": its deployment is not listed");
    const auto& spec = dep->second;
    int index = vm.value("index", -1);
    if (index < 0 || index >= spec.replicas)
      return fail(dep_name, where + ": index " + std::to_string(index)
                                + " beyond the " + std::to_string(spec.replicas)
                                + " desired");
    indices[dep->first].insert(index);
    if (!ips.insert(ip).second)
      return fail(dep_name, where + ": another VM has the same IP");
    const auto& mine = tops[name];
    if (spec.paused) {
      if (mine.empty()) {
        if (status == "ready" || status == "running" || status == "paused")
          return fail(dep_name,
                      where + ": listed as " + status + " but has no process");
        continue;
      }
      listed_pids.insert(pid);
      if (status != "paused" || mine != std::vector<int>{pid}
          || procs[pid].state != 'T')
        return fail(dep_name, where + ": in a paused deployment, processes "
                                  + join(mine) + " not frozen");
      continue;
    }
    listed_pids.insert(pid);
    if (status != "ready")
      return fail(dep_name, where + ": not ready, its pid "
                                + (procs.count(pid) ? "alive" : "dead"));
    if (mine != std::vector<int>{pid})
      return fail(dep_name, where + ": its processes are [" + join(mine) + "]");
    if (vm.value("revision", std::uint64_t{0}) != spec.revision)
      return fail(dep_name,
                  where + ": revision "
                      + std::to_string(vm.value("revision", std::uint64_t{0}))
                      + ", the deployment's is "
                      + std::to_string(spec.revision));
    if (vm.value("cpu", 0) != spec.cpu)
      return fail(dep_name,
                  where + ": cpu " + std::to_string(vm.value("cpu", 0))
                      + ", the template says " + std::to_string(spec.cpu));
    auto root = e2e::http_get(ip, 80, "/", 1s);
    if (!root || root->status != 200 || root->body.rfind(name, 0) != 0)
      return fail(dep_name, where + ": GET / does not answer its name");
    auto env = e2e::http_get(ip, 80, "/env.txt", 1s);
    auto gen = "\nCHAOS_GEN=" + std::to_string(spec.gen) + "\n";
    if (!env || ("\n" + env->body).find(gen) == std::string::npos)
      return fail(dep_name, where
                                + ": its workload does not run with CHAOS_GEN="
                                + std::to_string(spec.gen));
  }
  for (const auto& [name, spec] : deps) {
    if (spec.paused)
      continue;
    if (static_cast<int>(indices[name].size()) != spec.replicas)
      return fail(name, name + ": " + std::to_string(indices[name].size())
                            + " VMs listed, " + std::to_string(spec.replicas)
                            + " desired");
  }
  for (const auto& [vm, pids] : tops)
    for (int pid : pids)
      if (!listed_pids.count(pid)) {
        v.leaked.push_back(pid);
        if (v.why.empty())
          v.why = "workload process " + std::to_string(pid)
                  + " (VOLANT_VM_NAME=" + vm + ") belongs to no listed VM";
      }
  return v;
}

std::string replay_differs(const e2e::daemon& d) {
  std::string last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto before = live_summary(d);
    auto replayed = replay_summary(d);
    auto after = live_summary(d);
    if (!before || !replayed || !after) {
      last = "volar or volant-replay failed";
      continue;
    }
    if (*before != *after)
      continue; // the state moved while the log was read: look again
    if (*before == *replayed)
      return "";
    last = "volant-replay state differs from the live state:\n"
           + lines_not_in(*before, *replayed, "  live only:   ")
           + lines_not_in(*replayed, *before, "  replay only: ");
  }
  return last.empty() ? "the live state did not hold still for three reads"
                      : last;
}

} // namespace volant::chaos
