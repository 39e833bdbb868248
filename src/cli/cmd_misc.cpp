// volar apply -f FILE | debug resources | version

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/manifest_yaml.hpp"
#include "cli/render.hpp"
#include "events/limits.hpp"
#include "wire/json.hpp"

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#ifndef VOLANT_VERSION
#define VOLANT_VERSION "unknown"
#endif

namespace volant::cli {

using json = nlohmann::json;

namespace {

/// Applies the guide's quota document: the quotas become exactly these.
std::pair<json, std::string> apply_quotas(session& s, const deployment_document& doc) {
  json list = json::array();
  std::string names;
  for (const auto& q : doc.quotas) {
    list.push_back(wire::to_json(q));
    names += (names.empty() ? "" : ", ") + q.name;
  }
  auto reply = s.call("quotas.apply", {{"quotas", list}});
  return {reply, "quotas " + (names.empty() ? std::string("(none)") : names) + " applied"};
}

/// Applies a HorizontalPodAutoscaler: created, configured or unchanged.
std::pair<json, std::string> apply_autoscaler(session& s, const deployment_document& doc) {
  const auto& a = doc.autoscaler;
  auto* c = must(s.try_connect());
  auto before = c->call("hpa.show", {{"name", a.name}});
  if (!before && before.error_value().code != ec::unknown_autoscaler)
    fail(before.error_value());
  auto reply = s.call("hpa.apply", {{"spec", wire::to_json(a)}});
  auto line = "horizontalpodautoscaler " + a.name + " ";
  if (!before)
    return {reply, line + "created"};
  auto strip = [](json j) {
    j.erase("last");
    j.erase("replicas");
    return j;
  };
  return {reply, line + (strip(*before) == strip(reply) ? "unchanged" : "configured")};
}

/// Applies one Deployment document: created, configured or unchanged. The
/// reply (the deployment as volantd has it) and the line to print.
std::pair<json, std::string> apply_one(session& s, const deployment_document& doc) {
  const auto& spec = doc.spec;
  auto* c = must(s.try_connect());
  json name = {{"name", spec.name}};
  auto shown = c->call("deployments.show", name);
  json reply;
  std::string line = "deployment " + spec.name + " ";
  if (!shown) {
    if (shown.error_value().code != ec::unknown_deployment)
      fail(shown.error_value());
    reply = s.call("deployments.create", create_request(spec, doc.secret_env));
    return {reply, line + "created"};
  }
  auto have = wire::spec_from_json(member(*shown, "spec"));
  if (!have)
    fail(make_error(ec::io_error, "cannot read the spec of " + spec.name
                                      + " in volantd's reply: "
                                      + have.error_value().message));
  reply = *shown;
  if (spec.multi_host != have->multi_host)
    fail(make_error(ec::invalid_argument,
                    "deployment " + spec.name + ": spec.multiHost cannot be changed on an "
                        "existing deployment (it is " + (have->multi_host ? "true" : "false")
                        + "); delete it and create it again"));
  auto update = apply_update_request(spec, *have, doc.secret_env);
  bool changed = false;
  if (update.size() > 1) {
    reply = s.call("deployments.update", update);
    // Secrets are always sent (they cannot be compared here): only a new
    // revision says that one of them changed.
    std::size_t secret_fields
        = (update.contains("secret_env") ? 1 : 0) + (update.contains("secret_env_remove") ? 1 : 0);
    bool secrets_only = update.size() == 1 + secret_fields;
    changed = !secrets_only || member(reply, "revision") != member(*shown, "revision");
  }
  if (spec.replicas != have->replicas) {
    reply = s.call("deployments.scale", {{"name", spec.name}, {"replicas", spec.replicas}});
    changed = true;
  }
  return {reply, line + (changed ? "configured" : "unchanged")};
}

/// `volar apply -f FILE` (or `-f -`): every document of the file is read and
/// checked first (one bad document: nothing is applied), then applied in
/// order, one line each; the first one volantd refuses stops the rest and is
/// named. With --wait, each is then waited for in the same order.
void run_apply(const globals& g, const std::string& file, const wait_opts& w) {
  auto docs = must(deployment_documents_from_yaml(
      must(read_input(file, max_yaml_bytes, "YAML manifest"))));
  session s(g);
  json replies = json::array();
  for (std::size_t i = 0; i < docs.size(); ++i) {
    std::pair<json, std::string> applied;
    try {
      applied = docs[i].is_quotas       ? apply_quotas(s, docs[i])
                : docs[i].is_autoscaler ? apply_autoscaler(s, docs[i])
                                        : apply_one(s, docs[i]);
    } catch (cli_error& e) {
      if (docs.size() > 1 && e.err.code != ec::daemon_unreachable)
        e.err.message = (docs[i].is_quotas       ? std::string("the quotas")
                         : docs[i].is_autoscaler ? "autoscaler '" + docs[i].autoscaler.name + "'"
                                                 : "deployment '" + docs[i].spec.name + "'")
                        + " (document "
                        + std::to_string(i + 1) + " of " + std::to_string(docs.size())
                        + "): " + e.err.message
                        + (i > 0 ? " (the " + std::to_string(i) + " before it were applied)"
                                 : "");
      throw;
    }
    if (!g.json)
      std::cout << applied.second << std::endl;
    replies.push_back(std::move(applied.first));
  }
  if (w.wait)
    for (std::size_t i = 0; i < docs.size(); ++i)
      if (!docs[i].is_quotas && !docs[i].is_autoscaler)
        wait_for(s, docs[i].spec.name, std::chrono::seconds(w.timeout), &replies[i]);
  if (g.json && !w.wait)
    print_json(docs.size() == 1 ? replies[0] : replies);
}

void run_resources(const globals& g) {
  auto reply = session(g).call("debug.resources", json::object());
  if (g.json)
    print_json(reply);
  else
    std::cout << render_resources(reply);
}

void run_version(const globals& g) {
  session s(g);
  json daemon;
  std::string line;
  auto c = s.try_connect();
  if (c) {
    auto ping = (*c)->call("ping", json::object());
    if (ping) {
      daemon = *ping;
      line = "volantd " + field_text(daemon, "version") + " at "
             + (*c)->endpoint() + " (driver " + field_text(daemon, "driver")
             + ", data dir " + field_text(daemon, "data_dir") + ", up "
             + age_of(member(daemon, "started_at"), now_nanos()) + ")";
    } else {
      line = "volantd: unavailable (" + ping.error_value().message + ")";
    }
  } else if (c.error_value().code == ec::daemon_unreachable) {
    client_options opts;
    opts.data_dir = s.data_dir();
    opts.endpoint = g.endpoint;
    line = "volantd: not reachable at " + resolve_endpoint(opts);
  } else {
    line = "volantd: unavailable (" + c.error_value().message + ")";
  }
  if (g.json) {
    print_json({{"volar", VOLANT_VERSION}, {"volantd", daemon}});
    return;
  }
  std::cout << "volar " << VOLANT_VERSION << "\n" << line << "\n";
}

} // namespace


void add_misc_commands(CLI::App& app, globals& g, action& run) {
  {
    auto* cmd
        = app.add_subcommand("apply", "Create or update from a YAML manifest");
    auto file = std::make_shared<std::string>();
    auto w = std::make_shared<wait_opts>();
    cmd->add_option("-f,--filename", *file, "The manifest (- for stdin)")
        ->required();
    add_wait_options(*cmd, *w);
    cmd->callback(
        [=, &g, &run] { run = [=, &g] { run_apply(g, *file, *w); }; });
  }
  {
    auto* grp = app.add_subcommand("debug", "Inspect the host");
    grp->callback([grp] {
      if (grp->get_subcommands().empty())
        throw CLI::CallForHelp();
    });
    auto* cmd = grp->add_subcommand("resources", "Host capacity and use");
    cmd->callback([&g, &run] { run = [&g] { run_resources(g); }; });
    // Test hook, hidden: needs volantd --enable-crash-hook.
    auto actor = std::make_shared<std::string>();
    auto* crash = grp->add_subcommand("crash", "");
    crash->group("");
    crash->add_option("ACTOR", *actor,
                      "controller, journal, api, deployment/D, vm/V or probe/V")
      ->required();
    crash->callback([=, &g, &run] {
      run = [=, &g] { session(g).call("debug.crash", json{{"actor", *actor}}); };
    });
    // Test hook, hidden: the next COUNT replies to VERB are lost on the way
    // (volar's retry with the same request id gets them; docs/protocol.md).
    auto verb = std::make_shared<std::string>();
    auto count = std::make_shared<int>(1);
    auto* drop = grp->add_subcommand("drop-reply", "");
    drop->group("");
    drop->add_option("VERB", *verb, "a mutating verb, e.g. deployments.scale")->required();
    drop->add_option("--count", *count, "replies to drop")->check(CLI::Range(1, 1000));
    drop->callback([=, &g, &run] {
      run = [=, &g] {
        session(g).call("debug.drop_reply", json{{"verb", *verb}, {"count", *count}});
      };
    });
  }
  {
    auto* cmd = app.add_subcommand("version",
                                   "Print the versions of volar and volantd");
    cmd->callback([&g, &run] { run = [&g] { run_version(g); }; });
  }
}

} // namespace volant::cli
