// volant-replay: reads Volant's event log (also while volantd runs), audits it and
// rebuilds the state at any point.

#include "replay.hpp"
#include "store/paths.hpp"

#include <CLI/CLI.hpp>

#include <iostream>

int main(int argc, char** argv) {
  using namespace volant;
  CLI::App app{"volant-replay: audit Volant's event log and rebuild state from it"};
  app.require_subcommand(1);
  std::string data_dir;

  replay::events_options ev;
  auto* events = app.add_subcommand("events", "List committed events (the audit log)");
  events->add_option("--data-dir", data_dir, "Data directory (default: $VOLANT_HOME or ~/.volant)");
  events->add_option("--from", ev.from, "First seq to list")->check(CLI::PositiveNumber);
  events->add_option("--to", ev.to, "Last seq to list")->check(CLI::PositiveNumber);
  events->add_option("--aggregate", ev.aggregate,
                     "Only this aggregate: NAME or KIND/NAME (e.g. web, vm/web-3)");
  events->add_flag("--json", ev.json, "One JSON object per line");

  replay::state_options st;
  auto* state = app.add_subcommand("state", "Rebuild the state from snapshot + log");
  state->add_option("--data-dir", data_dir, "Data directory");
  state->add_option("--at", st.at, "A seq or an RFC 3339 UTC time (default: the end)");
  state->add_flag("--json", st.json, "Print JSON");

  auto* verify = app.add_subcommand("verify", "Check every record, seq and snapshot");
  verify->add_option("--data-dir", data_dir, "Data directory");

  bool accept_loss = false;
  auto* repair = app.add_subcommand(
    "repair", "Go on from a journal that lost acknowledged events, recording the loss");
  repair->add_option("--data-dir", data_dir, "Data directory");
  repair->add_flag("--accept-loss", accept_loss,
                   "Record the loss and make the journal open again (without it: "
                   "only report what was lost)");

  auto* demo = app.add_subcommand("demo", "Write a demo history into an empty data directory");
  demo->add_option("--data-dir", data_dir, "Data directory");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  data_dir = store::resolve_data_dir(data_dir);
  if (*events) {
    ev.data_dir = data_dir;
    if (ev.from > ev.to) {
      std::cerr << "volant-replay: --from " << ev.from << " is after --to " << ev.to
                << '\n';
      return 2;
    }
    return replay::run_events(ev);
  }
  if (*state) {
    st.data_dir = data_dir;
    return replay::run_state(st);
  }
  if (*verify)
    return replay::run_verify(data_dir);
  if (*repair)
    return replay::run_repair(data_dir, accept_loss);
  return replay::run_demo(data_dir);
}
