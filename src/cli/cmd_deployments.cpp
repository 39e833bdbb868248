// volar deployments create | scale | list | show | update | pause | resume |
// delete

#include "cli/args.hpp"
#include "cli/history.hpp"
#include "cli/commands.hpp"
#include "cli/render.hpp"
#include "cli/wait.hpp"
#include "wire/json.hpp"

#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>
#include <memory>
#include <thread>
#include <unistd.h>

namespace volant::cli {

using json = nlohmann::json;

namespace {

constexpr auto poll_interval = std::chrono::milliseconds(250);

void say(const globals& g, const std::string& line, const json& reply) {
  if (g.json)
    print_json(reply);
  else
    std::cout << line << "\n" << std::flush;
}

/// " (plugin nginx:1.25.0)": the version a create or update picked.
std::string picked(const json& reply) {
  auto label = field_text(reply, "plugin", "");
  return label.empty() ? "" : " (plugin " + label + ")";
}

/// "; --multi-host: all 9 replicas run on the one host 'local' ...": what a
/// spread asked of a daemon that has one host.
std::string placed(const json& reply) {
  const auto& spec = member(reply, "spec");
  if (!flag(spec, "multi_host"))
    return "";
  auto hosts = member(reply, "hosts");
  if (!hosts.is_array() || hosts.size() != 1)
    return "";
  return "; --multi-host: all " + field_text(spec, "replicas") + " replicas run on its one host '"
         + hosts[0].get<std::string>() + "' (volantd runs without --cluster)";
}

void run_create(const globals& g, const create_args& a, const wait_opts& w) {
  auto spec = must(build_spec(a));
  auto secrets = must(parse_secret_env_list(a.secret_env, spec.tmpl.env));
  session s(g);
  auto reply = s.call("deployments.create", create_request(spec, secrets));
  auto line = "deployment " + spec.name + " created" + picked(reply) + placed(reply);
  if (!w.wait) {
    say(g, line, reply);
    return;
  }
  if (!g.json)
    std::cout << line << "\n";
  wait_for(s, spec.name, std::chrono::seconds(w.timeout), &reply);
}

void run_scale(const globals& g, const std::string& name, std::int64_t replicas,
               const std::vector<std::string>& remove, const wait_opts& w) {
  auto req = must(scale_request(name, replicas, remove));
  session s(g);
  auto reply = s.call("deployments.scale", req);
  auto line = "deployment " + name + " scaled to " + std::to_string(replicas);
  for (std::size_t i = 0; i < remove.size(); ++i)
    line += (i == 0 ? " (removed " : ", ") + remove[i] + (i + 1 == remove.size() ? ")" : "");
  // A manual scale of an autoscaled deployment is accepted; the autoscaler
  // decides again at its next evaluation.
  if (const auto& a = member(reply, "autoscaler"); a.is_object())
    line += "; autoscaler " + field_text(a, "name") + " (" + field_text(a, "min_replicas")
            + ".." + field_text(a, "max_replicas")
            + " replicas) takes over again at its next evaluation";
  if (!w.wait) {
    say(g, line, reply);
    return;
  }
  if (!g.json)
    std::cout << line << "\n";
  wait_for(s, name, std::chrono::seconds(w.timeout), &reply);
}

void run_update(const globals& g, const update_args& a, const wait_opts& w) {
  session s(g);
  json req;
  if (update_needs_current_strategy(a)) {
    // Validate everything against a stand-in first: bad input fails before any
    // request. Then merge with the deployment's own strategy.
    update_strategy rolling;
    rolling.kind = strategy_kind::rolling;
    must(update_request(a, &rolling));
    auto shown = s.call("deployments.show",
                        must(name_request(a.name, "deployment name")));
    auto current = must(wire::spec_from_json(member(shown, "spec")));
    req = must(update_request(a, &current.strategy));
  } else {
    req = must(update_request(a));
  }
  auto reply = s.call("deployments.update", req);
  auto line = "deployment " + a.name + " updated" + picked(reply);
  if (!w.wait) {
    say(g, line, reply);
    return;
  }
  if (!g.json)
    std::cout << line << "\n";
  wait_for(s, a.name, std::chrono::seconds(w.timeout), &reply);
}

void run_simple(const globals& g, const std::string& verb,
                const std::string& name, const std::string& done,
                const wait_opts* w = nullptr) {
  auto req = must(name_request(name, "deployment name"));
  session s(g);
  auto reply = s.call("deployments." + verb, req);
  if (!w || !w->wait) {
    say(g, "deployment " + name + " " + done, reply);
    return;
  }
  if (!g.json)
    std::cout << "deployment " << name << " " << done << "\n";
  wait_for(s, name, std::chrono::seconds(w->timeout), &reply);
}

void run_list(const globals& g) {
  session s(g);
  auto reply = s.call("deployments.list", json::object());
  if (g.json)
    print_json(reply);
  else
    std::cout << render_deployments(reply, now_nanos());
}

void run_show(const globals& g, const std::string& name) {
  auto req = must(name_request(name, "deployment name"));
  session s(g);
  auto reply = s.call("deployments.show", req);
  if (g.json)
    print_json(reply);
  else
    std::cout << render_deployment(reply, now_nanos());
}

void run_delete(const globals& g, const std::string& name, bool force, bool purge) {
  auto req = must(name_request(name, "deployment name"));
  if (purge)
    req["purge_volumes"] = true;
  session s(g);
  if (!force && interactive()) {
    auto shown = s.call("deployments.show", req);
    auto vms = member(shown, "vms");
    auto n = vms.is_array() ? static_cast<std::int64_t>(vms.size())
                            : field_int(shown, "current");
    std::cout << "Delete deployment " << name << " and its " << n
              << (n == 1 ? " VM" : " VMs")
              << (purge ? ", and the data of its persistent volumes" : "") << "? [y/N] "
              << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y" && answer != "yes" && answer != "YES")
      fail(make_error(ec::conflict,
                      "cancelled: deployment " + name + " was not deleted"));
  }
  auto reply = s.call("deployments.delete", req);
  say(g, "deployment " + name + " deleted", reply);
}

/// Registers the rollout flags beside --strategy; the returned function copies
/// what was given into `out` (call it from the subcommand's callback).
std::function<void(rollout_args&)> add_rollout_options(CLI::App& cmd) {
  auto min_ready = std::make_shared<std::string>();
  auto deadline = std::make_shared<std::string>();
  auto grace = std::make_shared<std::string>();
  auto history = std::make_shared<std::int64_t>(0);
  auto* o_min_ready = cmd.add_option(
      "--min-ready-seconds", *min_ready,
      "Rolling: a new VM counts as available once ready this long (0)");
  auto* o_deadline = cmd.add_option(
      "--progress-deadline", *deadline,
      "A rollout without progress this long fails (600, 10m)");
  auto* o_grace = cmd.add_option(
      "--termination-grace", *grace,
      "Rolling: a retired VM is terminating (out of the load balancer) this long "
      "before its stop (2s)");
  auto* o_revert = cmd.add_flag("--auto-revert")
                       ->description("Revert a failed rollout to the last revision "
                                     "that completed (default)");
  auto* o_no_revert = cmd.add_flag("--no-auto-revert")
                          ->description("Only mark a failed rollout failed");
  o_revert->excludes(o_no_revert);
  auto* o_history = cmd.add_option("--revision-history", *history,
                                   "Revisions kept for rollout history/undo (10)");
  return [=](rollout_args& out) {
    if (o_min_ready->count())
      out.min_ready = *min_ready;
    if (o_deadline->count())
      out.progress_deadline = *deadline;
    if (o_grace->count())
      out.termination_grace = *grace;
    if (o_revert->count())
      out.auto_revert = true;
    if (o_no_revert->count())
      out.auto_revert = false;
    if (o_history->count())
      out.revision_history = *history;
  };
}

/// Registers the --health-* (or --readiness-*) flags; the returned function
/// copies what was given into `out` (call it from the subcommand's callback).
std::function<void(health_args&)> add_health_options(CLI::App& cmd,
                                                     check_kind kind) {
  auto http = std::make_shared<std::string>();
  auto tcp = std::make_shared<std::int64_t>(0);
  auto process = std::make_shared<std::string>();
  auto interval = std::make_shared<std::int64_t>(0);
  auto timeout = std::make_shared<std::int64_t>(0);
  auto threshold = std::make_shared<std::int64_t>(0);
  const bool ready = kind == check_kind::readiness;
  const auto flag = "--" + check_word(kind) + "-";
  const std::string what = ready ? "Readiness check" : "Health check";
  auto* o_http = cmd.add_option(
      flag + "http", *http,
      what + ": HTTP GET on PORT[:PATH] (PATH default /health)");
  auto* o_tcp
      = cmd.add_option(flag + "tcp", *tcp, what + ": TCP connect to PORT");
  auto* o_process = cmd.add_option(flag + "process", *process,
                                   what + ": a process NAME runs");
  auto* o_interval = cmd.add_option(flag + "interval", *interval,
                                    what + " period in SECONDS (10)");
  auto* o_timeout = cmd.add_option(flag + "timeout", *timeout,
                                   what + " timeout in SECONDS (1)");
  auto* o_threshold
      = cmd.add_option(flag + "threshold", *threshold,
                       std::string("Failures in a row before a VM is ")
                           + (ready ? "not ready (3)" : "unhealthy (3)"));
  auto* o_off = cmd.add_flag("--no-" + check_word(kind) + "-check")
                    ->description(ready ? "No readiness check apart from the "
                                          "health check (the plugin's is "
                                          "switched off): the health check "
                                          "decides READY too"
                                        : "Disable the plugin's health check");
  o_http->excludes(o_tcp)->excludes(o_process)->excludes(o_off);
  o_tcp->excludes(o_process)->excludes(o_off);
  o_process->excludes(o_off);
  for (auto* o : {o_interval, o_timeout, o_threshold})
    o->excludes(o_off);
  return [=](health_args& out) {
    if (o_http->count())
      out.http = *http;
    if (o_tcp->count())
      out.tcp = *tcp;
    if (o_process->count())
      out.process = *process;
    if (o_interval->count())
      out.interval = *interval;
    if (o_timeout->count())
      out.timeout = *timeout;
    if (o_threshold->count())
      out.threshold = *threshold;
    out.disable = o_off->count() > 0;
  };
}

} // namespace

void add_wait_options(CLI::App& cmd, wait_opts& w) {
  cmd.add_flag(
      "--wait", w.wait,
      "Follow progress until READY == DESIRED; fail if it cannot get there");
  cmd.add_option("--timeout", w.timeout, "Give up waiting after SECONDS")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

void wait_for(session& s, const std::string& name, std::chrono::seconds timeout,
              const json* first) {
  using clock = std::chrono::steady_clock;
  const bool quiet = s.options().json;
  const bool live = !quiet && isatty(1);
  wait_tracker tracker(name, timeout);
  auto start = clock::now();
  // Progress needs the counts only: no event history on every poll.
  json req = {{"name", name}, {"events", 0}};
  json reply = first && first->is_object() && first->contains("desired")
                   ? *first
                   : s.call("deployments.show", req);
  while (true) {
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        clock::now() - start);
    auto p = progress_of(reply);
    auto verdict = tracker.observe(p, elapsed);
    if (tracker.changed() && live)
      std::cout << "\r" << progress_line(name, p) << "\033[K" << std::flush;
    else if (tracker.changed() && !quiet)
      std::cout << progress_line(name, p) << "\n" << std::flush;
    if (verdict != wait_tracker::verdict::waiting && live)
      std::cout << "\n" << std::flush;
    if (verdict == wait_tracker::verdict::done) {
      if (quiet)
        print_json(s.call("deployments.show", json{{"name", name}}));
      return;
    }
    if (verdict == wait_tracker::verdict::failed)
      fail(make_error(ec::conflict, tracker.failure()));
    std::this_thread::sleep_for(poll_interval);
    reply = s.call("deployments.show", req);
  }
}

/// `deployments rollout status NAME [--watch]`: the rollout's state in kubectl's
/// words; with --watch, a line whenever it changes until it has rolled out
/// (exit 0) or the timeout, a pause or a block (exit 1).
void run_rollout_status(const globals& g, const std::string& name, bool watch,
                        std::chrono::seconds timeout) {
  session s(g);
  json req = {{"name", name}, {"events", 0}};
  auto reply = s.call("deployments.show", req);
  if (g.json) {
    print_json({{"name", name}, {"rolled_out", rolled_out(progress_of(reply))},
                {"line", rollout_line(name, progress_of(reply))}});
    return;
  }
  if (!watch) {
    std::cout << rollout_line(name, progress_of(reply)) << "\n";
    return;
  }
  using clock = std::chrono::steady_clock;
  wait_tracker tracker(name, timeout);
  auto start = clock::now();
  std::string last;
  for (;;) {
    auto p = progress_of(reply);
    auto verdict = tracker.observe(
        p, std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - start));
    if (auto line = rollout_line(name, p); line != last) {
      std::cout << line << "\n" << std::flush;
      last = line;
    }
    if (verdict == wait_tracker::verdict::done)
      return;
    if (verdict == wait_tracker::verdict::failed)
      fail(make_error(ec::conflict, tracker.failure()));
    std::this_thread::sleep_for(poll_interval);
    reply = s.call("deployments.show", req);
  }
}

/// `deployments rollout history NAME`: its revisions, from the journal's events
/// of the deployment (cli/history.hpp); the last 10 unless --all.
void run_rollout_history(const globals& g, const std::string& name, bool all) {
  session s(g);
  // The deployment must exist now (a deleted one has no current life).
  auto shown = s.call("deployments.show", {{"name", name}, {"events", 0}});
  std::size_t keep = 10; // --revision-history
  if (auto spec = wire::spec_from_json(member(shown, "spec")); spec)
    keep = static_cast<std::size_t>(std::max(spec->strategy.revision_history, 1));
  json events = json::array();
  std::uint64_t from = 1;
  for (;;) {
    auto page = s.call("events", {{"aggregate", "deployment/" + name}, {"from", from},
                                  {"limit", 1000}});
    for (auto& e : page.value("events", json::array()))
      events.push_back(std::move(e));
    auto next = page.value("next", from);
    if (next <= from || next > page.value("last_seq", std::uint64_t{0}))
      break;
    from = next;
  }
  auto revs = revisions_of(events);
  if (g.json) {
    json out = json::array();
    for (const auto& r : revs)
      out.push_back({{"revision", r.number}, {"at", r.at}, {"change", r.change},
                     {"in_place", r.in_place}, {"template", r.tmpl}});
    print_json(out);
    return;
  }
  std::cout << render_history(revs, all ? revs.size() : keep);
}

/// `deployments rollout pause|resume NAME`: holds the rollout where it is (the
/// VMs keep running), or lets it go on.
void run_rollout_pause(const globals& g, const std::string& name, bool pause) {
  update_args a;
  a.name = name;
  a.rollout_paused = pause;
  auto reply = session(g).call("deployments.update", must(update_request(a)));
  say(g, "deployment " + name + " rollout " + (pause ? "paused" : "resumed"), reply);
}

/// `deployments rollout undo NAME [--to-revision N]`: a new revision copied
/// from an earlier one (default: the one before the current).
void run_rollout_undo(const globals& g, const std::string& name, std::int64_t to) {
  json req = {{"name", name}};
  if (to > 0)
    req["to_revision"] = to;
  auto reply = session(g).call("deployments.undo", req);
  if (g.json) {
    print_json(reply);
    return;
  }
  std::cout << "deployment " << name << " rolled back"
            << (to > 0 ? " to revision " + std::to_string(to) : std::string{})
            << " (now revision " << reply.value("revision", 0) << ")\n";
}

void add_deployment_commands(CLI::App& app, globals& g, action& run) {
  auto* grp = app.add_subcommand("deployments",
                                 "Manage deployments of identical VMs");
  grp->callback([grp] {
    if (grp->get_subcommands().empty())
      throw CLI::CallForHelp();
  });

  {
    auto* cmd = grp->add_subcommand("create", "Create a deployment");
    auto a = std::make_shared<create_args>();
    auto w = std::make_shared<wait_opts>();
    auto strategy = std::make_shared<std::string>();
    auto surge = std::make_shared<std::string>();
    auto unavail = std::make_shared<std::string>();
    cmd->add_option("NAME", a->name, "Deployment name")->required();
    cmd->add_option("--plugin", a->plugin, "Plugin, NAME or NAME:VERSION")
        ->required();
    cmd->add_option("--replicas", a->replicas, "Number of VMs")
        ->capture_default_str();
    cmd->add_option("--cpu", a->cpu, "vCPUs per VM")->capture_default_str();
    cmd->add_option("--memory", a->memory, "MiB per VM")->capture_default_str();
    cmd->add_option("--labels", a->labels, "Labels k=v,k2=v2 for every VM")
        ->allow_extra_args(false);
    cmd->add_option("--env", a->env,
                    "Environment variable KEY=VALUE (repeatable)")
        ->allow_extra_args(false);
    cmd->add_option("--secret-env", a->secret_env,
                    "Secret environment variable KEY=VALUE, or KEY to take the "
                    "value from volar's environment (repeatable; stored sealed, "
                    "shown as ***)")
        ->allow_extra_args(false);
    cmd->add_option("--volume", a->volumes,
                    "PATH[:persistent|:ephemeral][:SIZE]: a volume of every VM at PATH; "
                    "persistent: kept per replica (repeatable)")
        ->allow_extra_args(false);
    cmd->add_option("--quota", a->quota,
                    "Count its VMs against this quota (volar quotas list)");
    cmd->add_flag("--multi-host", a->multi_host,
                  "Spread the replicas across hosts (default: pack them onto the fullest "
                  "host that fits)");
    cmd->add_flag("--no-auto-restart", a->no_auto_restart,
                  "Do not restart unhealthy or exited VMs");
    auto* o_strategy
        = cmd->add_option("--strategy", *strategy, "recreate or rolling");
    auto* o_surge = cmd->add_option("--max-surge", *surge,
                                    "Rolling: extra VMs (2 or 25%)");
    auto* o_unavail
        = cmd->add_option("--max-unavailable", *unavail,
                          "Rolling: VMs that may be down (1 or 25%)");
    auto rollout = add_rollout_options(*cmd);
    auto health = add_health_options(*cmd, check_kind::health);
    auto readiness = add_health_options(*cmd, check_kind::readiness);
    add_wait_options(*cmd, *w);
    cmd->callback([=, &g, &run] {
      health(a->health);
      readiness(a->readiness);
      rollout(a->rollout);
      if (o_strategy->count())
        a->strategy = *strategy;
      if (o_surge->count())
        a->max_surge = *surge;
      if (o_unavail->count())
        a->max_unavailable = *unavail;
      run = [=, &g] { run_create(g, *a, *w); };
    });
  }
  {
    auto* cmd = grp->add_subcommand("scale", "Change the number of replicas");
    auto name = std::make_shared<std::string>();
    auto replicas = std::make_shared<std::int64_t>(0);
    auto w = std::make_shared<wait_opts>();
    cmd->add_option("NAME", *name, "Deployment name")->required();
    auto remove = std::make_shared<std::vector<std::string>>();
    cmd->add_option("--replicas", *replicas, "Desired number of VMs")
        ->required();
    cmd->add_option("--remove", *remove,
                    "Remove this replica (repeatable); the others keep their names "
                    "and IPs, and a later scale-up reuses its index first")
        ->take_all()
        ->allow_extra_args(false);
    add_wait_options(*cmd, *w);
    cmd->callback([=, &g, &run] {
      run = [=, &g] { run_scale(g, *name, *replicas, *remove, *w); };
    });
  }
  {
    auto* cmd = grp->add_subcommand("list", "List deployments");
    cmd->callback([&g, &run] { run = [&g] { run_list(g); }; });
  }
  {
    auto* cmd
        = grp->add_subcommand("show", "Show a deployment, its VMs and events");
    auto name = std::make_shared<std::string>();
    cmd->add_option("NAME", *name, "Deployment name")->required();
    cmd->callback([=, &g, &run] { run = [=, &g] { run_show(g, *name); }; });
  }
  {
    auto* cmd = grp->add_subcommand("update", "Change a deployment's template");
    auto a = std::make_shared<update_args>();
    auto vs = std::make_shared<std::vector<std::string>>();
    auto ve = std::make_shared<std::vector<std::string>>();
    auto w = std::make_shared<wait_opts>();
    auto plugin = std::make_shared<std::string>();
    auto cpu = std::make_shared<std::int64_t>(0);
    auto memory = std::make_shared<std::int64_t>(0);
    auto strategy = std::make_shared<std::string>();
    auto surge = std::make_shared<std::string>();
    auto unavail = std::make_shared<std::string>();
    cmd->add_option("NAME", a->name, "Deployment name")->required();
    auto* o_plugin
        = cmd->add_option("--plugin", *plugin, "Plugin, NAME or NAME:VERSION");
    auto* o_cpu = cmd->add_option("--cpu", *cpu, "vCPUs per VM");
    auto* o_memory = cmd->add_option("--memory", *memory, "MiB per VM");
    auto* o_labels
        = cmd->add_option("--labels", *vs, "Labels k=v,... (replace all)")
              ->allow_extra_args(false);
    auto* o_env
        = cmd->add_option("--env", *ve, "KEY=VALUE (repeatable; replaces all)")
              ->allow_extra_args(false);
    cmd->add_option("--secret-env", a->secret_env,
                    "KEY=VALUE or KEY (from volar's environment): sets that "
                    "secret, the others stay (repeatable)")
        ->allow_extra_args(false);
    cmd->add_option("--secret-env-remove", a->secret_env_remove,
                    "KEY: removes that secret (repeatable)")
        ->allow_extra_args(false);
    auto vols = std::make_shared<std::vector<std::string>>();
    auto* o_volumes
        = cmd->add_option("--volume", *vols,
                          "PATH[:persistent|:ephemeral][:SIZE] (repeatable; replaces "
                          "all; persistent data is kept)")
              ->allow_extra_args(false);
    auto* o_no_volumes = cmd->add_flag("--no-volumes")->description(
        "Remove every volume (persistent data is kept)");
    o_volumes->excludes(o_no_volumes);
    auto quota = std::make_shared<std::string>();
    auto* o_quota = cmd->add_option("--quota", *quota, "Count its VMs against this quota");
    auto* o_no_quota = cmd->add_flag("--no-quota")->description("Leave its quota");
    o_quota->excludes(o_no_quota);
    auto* o_on = cmd->add_flag("--auto-restart")
                     ->description("Restart unhealthy or exited VMs");
    auto* o_off
        = cmd->add_flag("--no-auto-restart")->description("Do not restart VMs");
    o_on->excludes(o_off);
    auto* o_strategy
        = cmd->add_option("--strategy", *strategy, "recreate or rolling");
    auto* o_surge = cmd->add_option("--max-surge", *surge,
                                    "Rolling: extra VMs (2 or 25%)");
    auto* o_unavail
        = cmd->add_option("--max-unavailable", *unavail,
                          "Rolling: VMs that may be down (1 or 25%)");
    auto rollout = add_rollout_options(*cmd);
    auto health = add_health_options(*cmd, check_kind::health);
    auto readiness = add_health_options(*cmd, check_kind::readiness);
    add_wait_options(*cmd, *w);
    cmd->callback([=, &g, &run] {
      health(a->health);
      readiness(a->readiness);
      rollout(a->rollout);
      if (o_plugin->count())
        a->plugin = *plugin;
      if (o_cpu->count())
        a->cpu = *cpu;
      if (o_memory->count())
        a->memory = *memory;
      if (o_labels->count())
        a->labels = *vs;
      if (o_env->count())
        a->env = *ve;
      if (o_volumes->count())
        a->volumes = *vols;
      if (o_no_volumes->count())
        a->volumes = std::vector<std::string>{};
      if (o_quota->count())
        a->quota = *quota;
      if (o_no_quota->count())
        a->quota = std::string{};
      if (o_on->count())
        a->auto_restart = true;
      if (o_off->count())
        a->auto_restart = false;
      if (o_strategy->count())
        a->strategy = *strategy;
      if (o_surge->count())
        a->max_surge = *surge;
      if (o_unavail->count())
        a->max_unavailable = *unavail;
      run = [=, &g] { run_update(g, *a, *w); };
    });
  }
  for (auto [verb, what, done] :
       {std::tuple{"pause", "Stop all VMs, keep the deployment", "paused"},
        std::tuple{"resume", "Start the VMs of a paused deployment",
                   "resumed"}}) {
    auto* cmd = grp->add_subcommand(verb, what);
    auto name = std::make_shared<std::string>();
    auto w = std::make_shared<wait_opts>();
    cmd->add_option("NAME", *name, "Deployment name")->required();
    if (std::string(verb) == "resume")
      add_wait_options(*cmd, *w);
    std::string v = verb, d = done;
    cmd->callback([=, &g, &run] {
      run = [=, &g] { run_simple(g, v, *name, d, w.get()); };
    });
  }
  {
    auto* cmd
        = grp->add_subcommand("delete", "Delete a deployment and all its VMs");
    auto name = std::make_shared<std::string>();
    auto force = std::make_shared<bool>(false);
    auto purge = std::make_shared<bool>(false);
    cmd->add_option("NAME", *name, "Deployment name")->required();
    cmd->add_flag("--force", *force, "Do not ask for confirmation");
    cmd->add_flag("--purge-volumes", *purge,
                  "Delete its persistent volumes too (kept by default, for a "
                  "deployment of the same name)");
    cmd->callback([=, &g, &run] {
      run = [=, &g] { run_delete(g, *name, *force, *purge); };
    });
  }
  {
    auto* rollout = grp->add_subcommand("rollout", "Follow a deployment's rollout");
    rollout->callback([rollout] {
      if (rollout->get_subcommands().empty())
        throw CLI::CallForHelp();
    });
    auto* cmd = rollout->add_subcommand(
        "status", "Say how far the rollout of the current revision is (--watch: until done)");
    auto name = std::make_shared<std::string>();
    auto watch = std::make_shared<bool>(false);
    auto timeout = std::make_shared<int>(600);
    cmd->add_option("NAME", *name, "Deployment name")->required();
    cmd->add_flag("-w,--watch", *watch, "Print each change until the rollout is done");
    cmd->add_option("--timeout", *timeout, "Give up watching after SECONDS")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cmd->callback([=, &g, &run] {
      run = [=, &g] { run_rollout_status(g, *name, *watch, std::chrono::seconds(*timeout)); };
    });
    auto* hist = rollout->add_subcommand(
        "history", "List the deployment's revisions and what each changed (from the journal)");
    auto hname = std::make_shared<std::string>();
    auto all = std::make_shared<bool>(false);
    hist->add_option("NAME", *hname, "Deployment name")->required();
    hist->add_flag("--all", *all, "Every revision, not only the last 10");
    hist->callback([=, &g, &run] { run = [=, &g] { run_rollout_history(g, *hname, *all); }; });
    auto* undo = rollout->add_subcommand(
        "undo", "Roll back: a new revision with the template of an earlier one");
    auto uname = std::make_shared<std::string>();
    auto to = std::make_shared<std::int64_t>(0);
    undo->add_option("NAME", *uname, "Deployment name")->required();
    undo->add_option("--to-revision", *to, "The revision to copy (default: the one before)")
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40));
    undo->callback([=, &g, &run] { run = [=, &g] { run_rollout_undo(g, *uname, *to); }; });
    for (auto [verb, what] :
         {std::pair{"pause", "Hold the rollout where it is (the VMs keep running)"},
          std::pair{"resume", "Let a paused rollout go on"}}) {
      auto* sub = rollout->add_subcommand(verb, what);
      auto pname = std::make_shared<std::string>();
      sub->add_option("NAME", *pname, "Deployment name")->required();
      bool pause = std::string(verb) == "pause";
      sub->callback([=, &g, &run] { run = [=, &g] { run_rollout_pause(g, *pname, pause); }; });
    }
  }
}

} // namespace volant::cli
