// volar lb create | list | show | switch | delete: load balancers in front of
// deployments (issue 13, docs/traffic.md).

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/render.hpp"
#include "wire/table.hpp"

#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

namespace volant::cli {

using json = nlohmann::json;

namespace {

struct create_opts {
  std::string name;
  std::string deployment;
  int port = 80;
  std::string listen;
  std::string algorithm = "round-robin";
  std::string health_path;
  bool no_health_check = false;
  int target_port = 0;
  std::string drain_timeout;
};

std::string servers_text(const json& lb) {
  return std::to_string(member(lb, "servers").is_array() ? member(lb, "servers").size() : 0);
}

std::string render_lbs(const json& list) {
  wire::table t({"NAME", "DEPLOYMENT", "ADDRESS", "ALGORITHM", "CHECK", "SERVERS"});
  for (const auto& lb : list)
    t.add_row({field_text(lb, "name"), field_text(lb, "deployment"), field_text(lb, "address"),
               field_text(lb, "algorithm"), field_text(lb, "check"), servers_text(lb)});
  return t.render();
}

std::string render_lb(const json& lb) {
  std::string out;
  auto add = [&](const std::string& key, const std::string& value) {
    out += key + ":" + std::string(key.size() < 13 ? 13 - key.size() : 1, ' ') + value + "\n";
  };
  add("Name", field_text(lb, "name"));
  add("Deployment", field_text(lb, "deployment"));
  add("Address", field_text(lb, "address") + " (http://" + field_text(lb, "address") + "/)");
  add("Algorithm", field_text(lb, "algorithm"));
  add("Check", field_text(lb, "check"));
  add("Target port", field_text(lb, "target_port"));
  add("Drain", field_text(lb, "drain_timeout_ms") + " ms");
  out += "\nServers (the target's ready VMs):\n";
  const auto& servers = member(lb, "servers");
  if (!servers.is_array() || servers.empty())
    return out + "  (none: requests get 503 until a VM is ready)\n";
  wire::table t({"VM", "ID", "ADDRESS", "STATE", "SESSIONS", "REQUESTS"});
  auto or_dash = [](const json& s, const char* key) {
    return s.contains(key) ? field_text(s, key) : std::string("-");
  };
  for (const auto& s : servers)
    t.add_row({field_text(s, "name"), field_text(s, "id"), field_text(s, "address"),
               or_dash(s, "state"), or_dash(s, "sessions"), or_dash(s, "requests")});
  out += t.render();
  const auto& draining = member(lb, "draining");
  if (draining.is_array() && !draining.empty()) {
    out += "\nDraining (no new requests; removed at zero sessions or after the drain "
           "timeout):\n";
    wire::table d({"ID", "STATE", "SESSIONS", "REQUESTS"});
    for (const auto& s : draining)
      d.add_row({field_text(s, "id"), or_dash(s, "state"), or_dash(s, "sessions"),
                 or_dash(s, "requests")});
    out += d.render();
  }
  return out;
}

void say_lb(const globals& g, const std::string& line, const json& reply) {
  if (g.json)
    print_json(reply);
  else
    std::cout << line << "\n";
}

void run_create(const globals& g, const create_opts& o) {
  json req = {{"name", o.name},
              {"deployment", o.deployment},
              {"port", o.port},
              {"algorithm", o.algorithm},
              {"health_check", !o.no_health_check}};
  if (!o.listen.empty())
    req["listen"] = o.listen;
  if (!o.health_path.empty())
    req["health_path"] = o.health_path;
  if (o.target_port != 0)
    req["target_port"] = o.target_port;
  if (!o.drain_timeout.empty()) {
    auto ms = parse_duration_ms(o.drain_timeout, "--drain-timeout");
    if (!ms)
      throw cli_error{ms.error_value(), exit_usage};
    if (*ms > 3'600'000)
      throw cli_error{make_error(ec::invalid_argument,
                                 "--drain-timeout is out of range: at most 1h"),
                      exit_usage};
    req["drain_timeout_ms"] = *ms;
  }
  auto reply = session(g).call("lb.create", req);
  say_lb(g, "load balancer " + o.name + " created: http://" + field_text(reply, "address")
                + "/ -> " + o.deployment,
         reply);
}

void run_switch(const globals& g, const std::string& name, const std::string& to,
                bool all_ready) {
  session s(g);
  bool exists = false;
  for (const auto& lb : s.call("lb.list", json::object()))
    exists = exists || field_text(lb, "name") == name;
  auto reply = s.call("lb.switch", {{"name", name},
                                    {"to", to},
                                    {"require_all_ready", all_ready},
                                    {"create", true}});
  say_lb(g,
         exists ? "load balancer " + name + " switched to " + to
                : "load balancer " + name + " did not exist: created in front of " + to
                      + " (http://" + field_text(reply, "address") + "/, "
                      + field_text(reply, "algorithm") + ")",
         reply);
}

} // namespace

void add_lb_commands(CLI::App& app, globals& g, action& run) {
  auto* grp = app.add_subcommand("lb", "Load balancers in front of deployments (HAProxy)");
  grp->callback([grp] {
    if (grp->get_subcommands().empty())
      throw CLI::CallForHelp();
  });
  {
    auto* cmd = grp->add_subcommand("create", "Create a load balancer in front of a deployment");
    auto o = std::make_shared<create_opts>();
    cmd->add_option("NAME", o->name, "Load balancer name")->required();
    cmd->add_option("--deployment", o->deployment, "The deployment it serves")->required();
    cmd->add_option("--port", o->port, "The port it listens on")
        ->check(CLI::Range(1, 65535))
        ->capture_default_str();
    cmd->add_option("--listen", o->listen,
                    "The address it listens on (default: 127.0.0.1, or the bridge's "
                    "address for microVMs; never a wildcard)");
    cmd->add_option("--algorithm", o->algorithm, "round-robin, least-conn or source")
        ->check(CLI::IsMember({"round-robin", "least-conn", "source"}))
        ->capture_default_str();
    auto* path = cmd->add_option("--health-check", o->health_path,
                                 "Check servers with HTTP GET PATH (default: as the "
                                 "plugin checks)");
    auto* off = cmd->add_flag("--no-health-check", o->no_health_check, "Do not check servers");
    path->excludes(off);
    cmd->add_option("--target-port", o->target_port, "The VMs' port (default: --port)")
        ->check(CLI::Range(1, 65535));
    cmd->add_option("--drain-timeout", o->drain_timeout,
                    "How long a leaving VM may finish its sessions before it stops "
                    "(e.g. 30s, 500ms; default 30s)");
    cmd->callback([=, &g, &run] { run = [=, &g] { run_create(g, *o); }; });
  }
  {
    auto* cmd = grp->add_subcommand("list", "List load balancers");
    cmd->callback([&g, &run] {
      run = [&g] {
        auto reply = session(g).call("lb.list", json::object());
        if (g.json)
          print_json(reply);
        else
          std::cout << render_lbs(reply);
      };
    });
  }
  {
    auto* cmd = grp->add_subcommand("show", "Show a load balancer and its servers");
    auto name = std::make_shared<std::string>();
    cmd->add_option("NAME", *name, "Load balancer name")->required();
    cmd->callback([=, &g, &run] {
      run = [=, &g] {
        auto reply = session(g).call("lb.show", {{"name", *name}});
        if (g.json)
          print_json(reply);
        else
          std::cout << render_lb(reply);
      };
    });
  }
  {
    auto* cmd = grp->add_subcommand(
        "switch", "Point a load balancer at another deployment (blue-green); creates it "
                  "if missing");
    auto name = std::make_shared<std::string>();
    auto to = std::make_shared<std::string>();
    auto all = std::make_shared<bool>(false);
    cmd->add_option("NAME", *name, "Load balancer name")->required();
    cmd->add_option("--to", *to, "The deployment to serve from now on")->required();
    cmd->add_flag("--require-all-ready", *all,
                  "Refuse unless every replica of the target is ready");
    cmd->callback([=, &g, &run] { run = [=, &g] { run_switch(g, *name, *to, *all); }; });
  }
  {
    auto* cmd = grp->add_subcommand("delete", "Delete a load balancer");
    auto name = std::make_shared<std::string>();
    cmd->add_option("NAME", *name, "Load balancer name")->required();
    cmd->callback([=, &g, &run] {
      run = [=, &g] {
        auto reply = session(g).call("lb.delete", {{"name", *name}});
        say_lb(g, "load balancer " + *name + " deleted", reply);
      };
    });
  }
}

} // namespace volant::cli
