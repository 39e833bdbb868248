// volar: the command line of Volant (docs/protocol.md, the spec's scaling
// guide). Errors are one line on stderr, "volar: <message>", with exit code 1
// for a rejected request, 2 for a usage error and 3 when volantd cannot be
// reached.

#include "cli/commands.hpp"

#include <CLI/CLI.hpp>

#include <iostream>

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
  // Global options may also follow the subcommand ("vms list --json").
  app.fallthrough();
  app.callback([&app] {
    if (app.get_subcommands().empty())
      throw CLI::CallForHelp();
  });
  add_deployment_commands(app, g, run);
  add_vm_commands(app, g, run);
  add_plugin_commands(app, g, run);
  add_misc_commands(app, g, run);
  add_shell_commands(app, g, run);
  add_credentials_commands(app, g, run);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success))
      return app.exit(e); // --help
    std::cerr << "volar: " << first_line(e.what())
              << " (see: " << command_path(app) << " --help)\n";
    return exit_usage;
  }
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
