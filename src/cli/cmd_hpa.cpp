// volar hpa list | show | delete: autoscalers (issue 15). They are created and
// changed by `volar apply -f` of the guide's HorizontalPodAutoscaler.

#include "cli/commands.hpp"
#include "cli/render.hpp"
#include "wire/table.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <memory>

namespace volant::cli {

using json = nlohmann::json;

namespace {

/// An average as `hpa show` prints it: 8.96 -> "9.0", as the note spells it.
std::string one_decimal(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", value);
  return text;
}

std::string targets_text(const json& a) {
  std::string out;
  for (const auto& m : member(a, "metrics")) {
    auto kind = field_text(m, "kind");
    auto value = member(m, "target");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", value.is_number() ? value.get<double>() : 0.0);
    std::string target = buf;
    out += (out.empty() ? "" : ", ") + kind + " "
           + (kind == "requests" ? target + " req/s" : target + " %");
  }
  return out;
}

std::string render_list(const json& rows) {
  wire::table t({"NAME", "DEPLOYMENT", "MIN", "MAX", "REPLICAS", "TARGETS", "LAST"});
  for (const auto& a : rows) {
    const auto& last = member(a, "last");
    t.add_row({field_text(a, "name"), field_text(a, "deployment"), field_text(a, "min_replicas"),
               field_text(a, "max_replicas"), field_text(a, "replicas"), targets_text(a),
               last.is_object() ? field_text(last, "reason") : std::string("-")});
  }
  return t.render();
}

std::string render_one(const json& a) {
  std::string out;
  auto add = [&](const std::string& key, const std::string& value) {
    out += key + ":" + std::string(key.size() < 13 ? 13 - key.size() : 1, ' ') + value + "\n";
  };
  add("Name", field_text(a, "name"));
  add("Deployment", field_text(a, "deployment") + " (" + field_text(a, "replicas") + " replicas)");
  add("Replicas", field_text(a, "min_replicas") + ".." + field_text(a, "max_replicas"));
  add("Targets", targets_text(a));
  add("Tolerance", field_text(a, "tolerance"));
  const auto& up = member(a, "up");
  const auto& down = member(a, "down");
  add("Scale up", "stabilization " + field_text(up, "stabilization_seconds") + " s");
  add("Scale down", "stabilization " + field_text(down, "stabilization_seconds") + " s");
  const auto& last = member(a, "last");
  if (!last.is_object())
    return out + "\nNo evaluation yet.\n";
  out += "\nLast evaluation (" + field_text(last, "at") + "): " + field_text(last, "reason")
         + "\n";
  wire::table t({"METRIC", "AVERAGE", "TARGET", "PROPOSED", "NOTE"});
  for (const auto& m : member(last, "metrics"))
    t.add_row({field_text(m, "kind"),
               member(m, "average").is_number() ? one_decimal(member(m, "average").get<double>())
                                                : std::string("-"),
               field_text(m, "target"), field_text(m, "proposed"), field_text(m, "note")});
  return out + t.render();
}

} // namespace

void add_hpa_commands(CLI::App& app, globals& g, action& run) {
  auto* grp = app.add_subcommand(
      "hpa", "Autoscalers of deployments (create or change them: volar apply -f hpa.yaml)");
  grp->callback([grp] {
    if (grp->get_subcommands().empty())
      throw CLI::CallForHelp();
  });
  {
    auto* cmd = grp->add_subcommand("list", "List autoscalers and their last decision");
    cmd->callback([&g, &run] {
      run = [&g] {
        auto reply = session(g).call("hpa.list", json::object());
        if (g.json)
          print_json(reply);
        else
          std::cout << render_list(reply);
      };
    });
  }
  {
    auto* cmd = grp->add_subcommand("show", "Show an autoscaler and its last evaluation");
    auto name = std::make_shared<std::string>();
    cmd->add_option("NAME", *name, "Autoscaler name")->required();
    cmd->callback([=, &g, &run] {
      run = [=, &g] {
        auto reply = session(g).call("hpa.show", {{"name", *name}});
        if (g.json)
          print_json(reply);
        else
          std::cout << render_one(reply);
      };
    });
  }
  {
    auto* cmd = grp->add_subcommand("delete", "Delete an autoscaler (its deployment keeps its "
                                              "replica count)");
    auto name = std::make_shared<std::string>();
    cmd->add_option("NAME", *name, "Autoscaler name")->required();
    cmd->callback([=, &g, &run] {
      run = [=, &g] {
        auto reply = session(g).call("hpa.delete", {{"name", *name}});
        if (g.json)
          print_json(reply);
        else
          std::cout << "autoscaler " << *name << " deleted\n";
      };
    });
  }
}

} // namespace volant::cli
