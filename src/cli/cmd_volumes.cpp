// volar volumes list | delete and volar quotas list | show (issue 14,
// docs/volumes.md). Quotas are defined by volantd's quota file or by
// `volar apply -f` of the guide's `quotas:` document (cmd_misc.cpp).

#include "cli/commands.hpp"
#include "cli/render.hpp"
#include "wire/table.hpp"

#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

namespace volant::cli {

using json = nlohmann::json;

namespace {

std::string size_text(std::int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 || v >= 10 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string render_volumes(const json& rows) {
  wire::table t({"NAME", "DEPLOYMENT", "INDEX", "PATH", "SIZE", "USED", "VM", "STATUS"});
  for (const auto& v : rows) {
    bool image = field_text(v, "kind") == "ext4 image";
    auto size = image ? size_text(field_int(v, "size_mib") << 20) : std::string("-");
    auto used = member(v, "on_disk").is_boolean() && member(v, "on_disk").get<bool>()
                    ? size_text(field_int(v, "used_bytes"))
                    : std::string("-");
    auto vm = field_text(v, "vm");
    t.add_row({field_text(v, "name"), field_text(v, "deployment"), field_text(v, "index"),
               field_text(v, "path"), size, used, vm.empty() ? "-" : vm,
               field_text(v, "status")});
  }
  return t.render();
}

std::string limit_text(std::int64_t used, std::int64_t max, const std::string& unit = "") {
  auto u = std::to_string(used) + unit;
  return max < 0 ? u + " (no limit)" : u + " of " + std::to_string(max) + unit;
}

std::string memory_limit_text(std::int64_t used_mib, std::int64_t max_mib) {
  auto gb = [](std::int64_t mib) {
    char buf[32];
    std::snprintf(buf, sizeof buf, mib % 1024 == 0 ? "%.0f GB" : "%.1f GB",
                  static_cast<double>(mib) / 1024);
    return std::string(buf);
  };
  return max_mib < 0 ? gb(used_mib) + " (no limit)" : gb(used_mib) + " of " + gb(max_mib);
}

std::string render_quotas(const json& rows) {
  wire::table t({"NAME", "VMS", "CPU", "MEMORY", "DEPLOYMENTS"});
  for (const auto& q : rows) {
    const auto& used = member(q, "used");
    std::string members;
    for (const auto& d : member(q, "deployments"))
      members += (members.empty() ? "" : ",") + d.get<std::string>();
    t.add_row({field_text(q, "name"),
               limit_text(field_int(used, "vms"), field_int(q, "max_vms")),
               limit_text(field_int(used, "cpu"), field_int(q, "max_cpu")),
               memory_limit_text(field_int(used, "memory_mib"), field_int(q, "max_memory_mib")),
               members.empty() ? "-" : members});
  }
  return t.render();
}

std::string render_quota(const json& q) {
  const auto& used = member(q, "used");
  std::string members;
  for (const auto& d : member(q, "deployments"))
    members += (members.empty() ? "" : ", ") + d.get<std::string>();
  return "Name:         " + field_text(q, "name") + "\n"
         + "VMs:          " + limit_text(field_int(used, "vms"), field_int(q, "max_vms")) + "\n"
         + "CPU:          " + limit_text(field_int(used, "cpu"), field_int(q, "max_cpu"))
         + " vCPUs\n"
         + "Memory:       "
         + memory_limit_text(field_int(used, "memory_mib"), field_int(q, "max_memory_mib"))
         + "\n" + "Deployments:  " + (members.empty() ? "(none)" : members) + "\n"
         + "(used counts every VM the deployments hold or still want)\n";
}

void print(const globals& g, const json& reply, const std::string& text) {
  if (g.json)
    print_json(reply);
  else
    std::cout << text;
}

} // namespace

void add_volume_commands(CLI::App& app, globals& g, action& run) {
  auto* grp = app.add_subcommand("volumes", "Persistent volumes of deployments' replicas");
  grp->callback([grp] {
    if (grp->get_subcommands().empty())
      throw CLI::CallForHelp();
  });
  {
    auto* cmd = grp->add_subcommand("list", "List persistent volumes");
    auto deployment = std::make_shared<std::string>();
    cmd->add_option("--deployment", *deployment, "Only this deployment's");
    cmd->callback([=, &g, &run] {
      run = [=, &g] {
        json req = json::object();
        if (!deployment->empty())
          req["deployment"] = *deployment;
        auto reply = session(g).call("volumes.list", req);
        print(g, reply, render_volumes(reply));
      };
    });
  }
  {
    auto* cmd = grp->add_subcommand("delete", "Delete detached volumes and their data");
    auto names = std::make_shared<std::vector<std::string>>();
    cmd->add_option("NAME", *names, "Volume name, as volumes list shows it (pg-0:/data)")
        ->required();
    cmd->callback([=, &g, &run] {
      run = [=, &g] {
        session s(g);
        for (const auto& name : *names) {
          auto reply = s.call("volumes.delete", {{"name", name}});
          if (g.json)
            print_json(reply);
          else
            std::cout << "volume " << name << " deleted\n";
        }
      };
    });
  }
  auto* quotas = app.add_subcommand("quotas", "Resource quotas (volantd --quotas FILE, or "
                                              "volar apply -f quotas.yaml)");
  quotas->callback([quotas] {
    if (quotas->get_subcommands().empty())
      throw CLI::CallForHelp();
  });
  {
    auto* cmd = quotas->add_subcommand("list", "List quotas with what is used");
    cmd->callback([&g, &run] {
      run = [&g] {
        auto reply = session(g).call("quotas.list", json::object());
        print(g, reply, render_quotas(reply));
      };
    });
  }
  {
    auto* cmd = quotas->add_subcommand("show", "Show a quota and its deployments");
    auto name = std::make_shared<std::string>();
    cmd->add_option("NAME", *name, "Quota name")->required();
    cmd->callback([=, &g, &run] {
      run = [=, &g] {
        auto reply = session(g).call("quotas.show", {{"name", *name}});
        print(g, reply, render_quota(reply));
      };
    });
  }
}

} // namespace volant::cli
