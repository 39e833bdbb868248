// volar hosts list | drain (issue 16): the hosts volantd places VMs on. A
// single-host volantd lists its one host, and refuses a drain (there is
// nowhere to move its replicas). volar cluster init: a cluster's CA, etcd's
// certificates and the hosts' join bundle (tls/credentials.hpp).

#include "cli/commands.hpp"
#include "cli/render.hpp"
#include "tls/credentials.hpp"
#include "wire/table.hpp"

#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

namespace volant::cli {

using json = nlohmann::json;

namespace {

std::string hosts_table(const json& rows) {
  wire::table t({"NAME", "CPU", "MEMORY", "VMS", "LEASE", "STATE"});
  for (const auto& h : rows) {
    auto limit = field_int(h, "cpu_limit");
    auto cpu = field_text(h, "cpu_used") + "/" + field_text(h, "cpu")
               + (limit > 0 && limit != field_int(h, "cpu") ? " (limit " + field_text(h, "cpu_limit") + ")"
                                                           : std::string());
    auto memory = short_mib(field_int(h, "memory_mib_used")) + "/"
                  + short_mib(field_int(h, "memory_mib"));
    const auto& lease = member(h, "lease_age_ms");
    t.add_row({field_text(h, "name"), cpu, memory, field_text(h, "vms"),
               lease.is_number() ? std::to_string(lease.get<std::int64_t>() / 1000) + "s"
                                 : std::string("-"),
               field_text(h, "state")
                   + (flag(h, "leader") && flag(h, "cluster") ? " (leader)" : std::string())});
  }
  return t.render();
}

} // namespace

void add_hosts_commands(CLI::App& app, globals& g, action& run) {
  {
    auto* grp = app.add_subcommand("cluster", "A cluster of volantd hosts on etcd");
    grp->callback([grp] {
      if (grp->get_subcommands().empty())
        throw CLI::CallForHelp();
    });
    auto* cmd = grp->add_subcommand("init", "Create a cluster CA, etcd's certificates and the "
                                            "hosts' join bundle in DIR");
    auto out = std::make_shared<std::string>();
    auto hosts = std::make_shared<std::vector<std::string>>();
    auto days = std::make_shared<int>(tls::leaf_days);
    cmd->add_option("--out", *out, "Directory to write (made 0700)")->required();
    cmd->add_option("--etcd-host", *hosts,
                    "An address or name hosts reach etcd at, for its certificate "
                    "(repeatable)")
        ->required()
        ->allow_extra_args(false);
    cmd->add_option("--days", *days, "Validity in days")->check(CLI::Range(1, tls::ca_days));
    cmd->callback([=, &run] {
      run = [=] {
        auto written = must(tls::init_cluster(*out, *hosts, *days));
        for (const auto& path : written)
          std::cout << "wrote " << path << "\n";
        std::cout << "etcd: --cert-file " << *out << "/etcd/server.pem --key-file " << *out
                  << "/etcd/server.key --trusted-ca-file " << *out
                  << "/etcd/ca.pem --client-cert-auth\n"
                  << "hosts join with " << *out << "/join.bundle; keep " << *out
                  << "/ca.key offline\n";
      };
    });
  }
  auto* grp = app.add_subcommand("hosts", "Hosts that run VMs");
  grp->callback([grp] {
    if (grp->get_subcommands().empty())
      throw CLI::CallForHelp();
  });
  {
    auto* cmd = grp->add_subcommand("list", "List hosts: capacity, use, VMs, lease, state");
    cmd->callback([&g, &run] {
      run = [&g] {
        auto reply = session(g).call("hosts.list", json::object());
        if (g.json)
          print_json(reply);
        else
          std::cout << hosts_table(reply);
      };
    });
  }
  {
    auto* cmd = grp->add_subcommand("drain", "Move a host's replicas to the other hosts "
                                             "(maintenance)");
    auto name = std::make_shared<std::string>();
    cmd->add_option("NAME", *name, "Host name")->required();
    cmd->callback([=, &g, &run] {
      run = [=, &g] {
        auto reply = session(g).call("hosts.drain", {{"name", *name}});
        if (g.json)
          print_json(reply);
        else
          std::cout << "host " << *name << " draining\n";
      };
    });
  }
}

} // namespace volant::cli
