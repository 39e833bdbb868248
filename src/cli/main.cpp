// volar: the command line of Volant (docs/protocol.md, the spec's scaling
// guide). Errors are one line on stderr, "volar: <message>", with exit code 1
// for a rejected request, 2 for a usage error and 3 when volantd cannot be
// reached.

#include "cli/commands.hpp"

#include <CLI/CLI.hpp>

#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace volant::cli;

/// "volar deployments create": the commands parsed so far, for usage hints.
std::string command_path(const CLI::App& app) {
  std::string path = app.get_name();
  const CLI::App* cur = &app;
  while (true) {
    auto subs = cur->get_subcommands();
    if (subs.empty())
      return path;
    cur = subs.front();
    path += " " + cur->get_name();
  }
}

/// `volar lb create`: the word where a command was expected that names none
/// (CLI11 reports it among "arguments not expected", in reverse order).
std::optional<std::string> unknown_command(const CLI::App& app, int argc, char** argv) {
  std::vector<const CLI::App*> chain{&app};
  while (!chain.back()->get_subcommands().empty())
    chain.push_back(chain.back()->get_subcommands().front());
  if (chain.back()->get_subcommands({}).empty())
    return std::nullopt; // a command: what is left over are its arguments
  std::size_t depth = 1;
  for (int i = 1; i < argc; ++i) {
    std::string word = argv[i];
    if (word.starts_with("-")) {
      if (word.find('=') == std::string::npos)
        for (const auto* a : chain)
          if (const auto* opt = a->get_option_no_throw(word);
              opt != nullptr && opt->get_items_expected_min() > 0) {
            ++i; // its value
            break;
          }
      continue;
    }
    if (depth < chain.size() && word == chain[depth]->get_name()) {
      ++depth;
      continue;
    }
    return word;
  }
  return std::nullopt;
}

/// "deployments, vms, plugins, ...": the commands of the deepest group parsed.
std::string command_list(const CLI::App& app) {
  const CLI::App* cur = &app;
  while (!cur->get_subcommands().empty())
    cur = cur->get_subcommands().front();
  std::string names;
  for (const auto* sub : cur->get_subcommands({}))
    names += (names.empty() ? "" : ", ") + sub->get_name();
  return names;
}

/// One example per command, in the guide's spelling: the last lines of its
/// --help (tests/cli/volar_test.cpp checks every command has one).
const std::map<std::string, std::string, std::less<>>& examples() {
  static const std::map<std::string, std::string, std::less<>> table = {
      {"deployments", "volar deployments create web --plugin nginx --replicas 3"},
      {"deployments create", "volar deployments create web --plugin nginx --replicas 3 --wait"},
      {"deployments scale", "volar deployments scale web --replicas 10"},
      {"deployments list", "volar deployments list"},
      {"deployments show", "volar deployments show web"},
      {"deployments update", "volar deployments update web --plugin nginx:v2 --strategy recreate"},
      {"deployments pause", "volar deployments pause web"},
      {"deployments resume", "volar deployments resume web"},
      {"deployments delete", "volar deployments delete web --force"},
      {"vms", "volar vms list --deployment web"},
      {"vms list", "volar vms list --label env=production"},
      {"vms show", "volar vms show web-0"},
      {"vms delete", "volar vms delete web-1"},
      {"vms logs", "volar vms logs web-0 --follow"},
      {"plugins", "volar plugins install --manifest examples/plugins/nginx.manifest.json"},
      {"plugins install", "volar plugins install --manifest examples/plugins/nginx.manifest.json"},
      {"plugins list", "volar plugins list"},
      {"plugins show", "volar plugins show nginx --manifest"},
      {"plugins remove", "volar plugins remove nginx"},
      {"apply", "volar apply -f web-deployment.yaml"},
      {"deployments rollout", "volar deployments rollout status web --watch"},
      {"deployments rollout status", "volar deployments rollout status web --watch"},
      {"deployments rollout history", "volar deployments rollout history web"},
      {"deployments rollout undo", "volar deployments rollout undo web --to-revision 2"},
      {"deployments rollout pause", "volar deployments rollout pause web"},
      {"deployments rollout resume", "volar deployments rollout resume web"},
      {"lb", "volar lb create web-lb --deployment web --port 80 --algorithm round-robin --health-check /health"},
      {"lb create", "volar lb create web-lb --deployment web --port 80 --algorithm round-robin --health-check /health"},
      {"lb list", "volar lb list"},
      {"lb show", "volar lb show web-lb"},
      {"lb switch", "volar lb switch web --to web-green"},
      {"lb delete", "volar lb delete web-lb"},
      {"volumes", "volar volumes list --deployment postgres"},
      {"volumes list", "volar volumes list --deployment postgres"},
      {"volumes delete", "volar volumes delete postgres-0:/var/lib/postgresql/data"},
      {"hpa", "volar hpa list"},
      {"hpa list", "volar hpa list"},
      {"hpa show", "volar hpa show web-hpa"},
      {"hpa delete", "volar hpa delete web-hpa"},
      {"cluster", "volar cluster init --out /etc/volant/cluster --etcd-host 10.0.0.5"},
      {"cluster init", "volar cluster init --out /etc/volant/cluster --etcd-host 10.0.0.5"},
      {"hosts", "volar hosts list"},
      {"hosts list", "volar hosts list"},
      {"hosts drain", "volar hosts drain node-2"},
      {"quotas", "volar quotas list"},
      {"quotas list", "volar quotas list"},
      {"quotas show", "volar quotas show production"},
      {"guest", "volar guest fetch nginx python3"},
      {"guest fetch", "volar guest fetch nginx python3"},
      {"debug", "volar debug resources"},
      {"debug resources", "volar debug resources"},
      {"version", "volar version"},
      {"shell", "volar shell -c 'explain web-3'"},
      {"credentials", "volar credentials show"},
      {"credentials show", "volar credentials show"},
      {"credentials export", "volar credentials export laptop.bundle --name laptop"},
      {"credentials import", "volar credentials import laptop.bundle"},
      {"credentials rotate", "volar credentials rotate"},
      {"credentials revoke", "volar credentials revoke 3"},
  };
  return table;
}

/// Sets the example of every visible command under `app` as its footer.
void add_examples(CLI::App& app, const std::string& path = "") {
  for (auto* sub : app.get_subcommands({})) {
    if (sub->get_group().empty())
      continue; // hidden (test hooks)
    auto name = path.empty() ? sub->get_name() : path + " " + sub->get_name();
    if (auto it = examples().find(name); it != examples().end())
      sub->footer("\nExample:\n  " + it->second);
    add_examples(*sub, name);
  }
}

std::string first_line(std::string text) {
  if (auto nl = text.find('\n'); nl != std::string::npos)
    text.resize(nl);
  return text;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"volar: run workloads as deployments of identical microVMs",
               "volar"};
  globals g;
  action run;
  app.add_option(
      "--data-dir", g.data_dir,
      "volantd's data directory (default: $VOLANT_HOME or ~/.volant)");
  app.add_option(
      "--endpoint", g.endpoint,
      "volantd's HOST:PORT (default: $VOLANT_ENDPOINT, <data-dir>/endpoint, "
      "127.0.0.1:7462)");
  app.add_flag("--json", g.json, "Print volantd's reply as JSON");
  auto* timeout_opt = app.add_option("--request-timeout", g.request_timeout,
                 "Seconds to wait for each reply of volantd (default 60, 900 for "
                 "installing a microVM plugin; 2..3600)")
    ->check(CLI::Range(2, 3600));
  // Global options may also follow the subcommand ("vms list --json").
  app.fallthrough();
  app.callback([&app] {
    if (app.get_subcommands().empty())
      throw CLI::CallForHelp();
  });
  add_deployment_commands(app, g, run);
  add_vm_commands(app, g, run);
  add_lb_commands(app, g, run);
  add_volume_commands(app, g, run);
  add_hpa_commands(app, g, run);
  add_hosts_commands(app, g, run);
  add_plugin_commands(app, g, run);
  add_misc_commands(app, g, run);
  add_guest_commands(app, g, run);
  add_shell_commands(app, g, run);
  add_credentials_commands(app, g, run);
  add_examples(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success))
      return app.exit(e); // --help
    if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr)
      if (auto word = unknown_command(app, argc, argv)) {
        std::cerr << "volar: unknown command '" << *word << "' for '" << command_path(app)
                  << "' (commands: " << command_list(app) << "; see: " << command_path(app)
                  << " --help)\n";
        return exit_usage;
      }
    std::cerr << "volar: " << first_line(e.what())
              << " (see: " << command_path(app) << " --help)\n";
    return exit_usage;
  }
  g.request_timeout_given = timeout_opt->count() > 0;
  try {
    if (run)
      run();
  } catch (const cli_error& e) {
    std::cout.flush();
    // An empty message: reported already (the shell's piped mode).
    if (!e.err.message.empty())
      std::cerr << "volar: " << first_line(e.err.message) << "\n";
    return e.exit_code;
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "volar: " << first_line(e.what()) << "\n";
    return exit_rejected;
  }
  std::cout.flush();
  return std::cout ? 0 : exit_rejected;
}
