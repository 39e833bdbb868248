// volar vms list | show | delete | logs

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/render.hpp"

#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <thread>

namespace volant::cli {

using json = nlohmann::json;

namespace {

constexpr auto log_poll_interval = std::chrono::milliseconds(200);

struct list_opts {
  std::string deployment;
  std::vector<std::string> labels;
  bool resources = false;
};

void run_list(const globals& g, const list_opts& o) {
  auto req = must(vms_list_request(o.deployment, o.labels, o.resources));
  session s(g);
  auto reply = s.call("vms.list", req);
  if (g.json) {
    // Always an array, so that `jq '.[]'` works as in the spec.
    const auto& list
        = reply.is_object() && reply.contains("vms") ? reply["vms"] : reply;
    print_json(list.is_array() ? list : json::array());
  } else {
    std::cout << render_vms(reply, now_nanos(), o.resources);
  }
}

void run_show(const globals& g, const std::string& name) {
  auto req = must(name_request(name, "VM name"));
  session s(g);
  auto reply = s.call("vms.show", req);
  if (g.json)
    print_json(reply);
  else
    std::cout << render_vm(reply, now_nanos());
}

/// Prints the chunk's data; the next offset.
json print_chunk(const json& reply) {
  if (auto data = member(reply, "data"); data.is_string())
    std::cout << data.get<std::string>() << std::flush;
  return member(reply, "offset");
}

void run_logs(const globals& g, const std::string& name, bool follow) {
  auto req = must(name_request(name, "VM name"));
  session s(g);
  auto offset = print_chunk(s.call("vms.logs", req));
  while (follow) {
    if (offset.is_number())
      req["offset"] = offset;
    auto reply = s.call("vms.logs", req);
    auto data = member(reply, "data");
    offset = print_chunk(reply);
    if (!data.is_string() || data.get<std::string>().empty())
      std::this_thread::sleep_for(log_poll_interval);
  }
}

void run_delete(const globals& g, const std::string& name) {
  auto req = must(name_request(name, "VM name"));
  session s(g);
  auto reply = s.call("vms.delete", req);
  if (g.json) {
    print_json(reply);
    return;
  }
  auto deployment = member(reply, "deployment");
  std::cout << "vm " << name << " deleted: deployment "
            << (deployment.is_string() ? deployment.get<std::string>() : std::string("?"))
            << " replaces it (same name and IP; see: volar vms show " << name << ")\n";
}

} // namespace

void add_vm_commands(CLI::App& app, globals& g, action& run) {
  auto* grp = app.add_subcommand("vms", "Inspect the VMs of deployments");
  grp->callback([grp] {
    if (grp->get_subcommands().empty())
      throw CLI::CallForHelp();
  });
  {
    auto* cmd = grp->add_subcommand("list", "List VMs");
    auto o = std::make_shared<list_opts>();
    cmd->add_option("--deployment", o->deployment,
                    "Only the VMs of this deployment");
    cmd->add_option("--label", o->labels,
                    "Only VMs with all these labels k=v,...")
        ->allow_extra_args(false);
    cmd->add_flag("--show-resources", o->resources,
                  "Add CPU and MEMORY, and measured CPU% and RSS");
    cmd->callback([=, &g, &run] { run = [=, &g] { run_list(g, *o); }; });
  }
  {
    auto* cmd = grp->add_subcommand("show", "Show one VM");
    auto name = std::make_shared<std::string>();
    cmd->add_option("NAME", *name, "VM name, e.g. web-0")->required();
    cmd->callback([=, &g, &run] { run = [=, &g] { run_show(g, *name); }; });
  }
  {
    auto* cmd = grp->add_subcommand(
      "delete", "Delete a VM; its deployment replaces it (like deleting a pod)");
    auto name = std::make_shared<std::string>();
    cmd->add_option("NAME", *name, "VM name, e.g. web-1")->required();
    cmd->callback([=, &g, &run] { run = [=, &g] { run_delete(g, *name); }; });
  }
  {
    auto* cmd = grp->add_subcommand("logs", "Print a VM's output");
    auto name = std::make_shared<std::string>();
    auto follow = std::make_shared<bool>(false);
    cmd->add_option("NAME", *name, "VM name, e.g. web-0")->required();
    cmd->add_flag("--follow,-f", *follow,
                  "Keep printing new output until interrupted");
    cmd->callback(
        [=, &g, &run] { run = [=, &g] { run_logs(g, *name, *follow); }; });
  }
}

} // namespace volant::cli
