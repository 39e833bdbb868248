// volar plugins install | list | show | remove

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/render.hpp"
#include "events/limits.hpp"
#include "wire/manifest.hpp"

#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>

#include <unistd.h>
#include <memory>

namespace volant::cli {

using json = nlohmann::json;

namespace {

void run_install(const globals& given, const std::string& file) {
  auto text = must(read_input(file, max_manifest_bytes, "plugin manifest"));
  auto manifest = must(wire::parse_manifest(text));
  auto g = given;
  if (!manifest.guest.empty()) {
    // volantd builds the guest image first (cached: seconds once built).
    if (!g.request_timeout_given)
      g.request_timeout = 900;
    if (!g.json && ::isatty(2))
      std::cerr << "volar: volantd builds the guest of " << manifest.name
                << " (once, then cached)\n";
  }
  // At a terminal, the build's progress as volantd reports it, polled on a
  // connection of its own while the install waits; once the install replied,
  // one last poll prints the lines not shown yet (volantd keeps them a minute).
  std::atomic<bool> installed{false};
  std::thread progress;
  if (!manifest.guest.empty() && !g.json && ::isatty(2))
    progress = std::thread([&installed, g, name = manifest.name] {
      try {
        session s(g);
        std::int64_t from = 0;
        for (bool last = false; !last;) {
          last = installed;
          if (!last)
            std::this_thread::sleep_for(std::chrono::milliseconds(250));
          auto p = s.call("plugins.progress", {{"name", name}, {"from", from}});
          for (const auto& line : p.value("lines", json::array()))
            if (line.is_string())
              std::cerr << "volar: " << line.get<std::string>() << "\n";
          from = p.value("next", from);
        }
      } catch (...) {
        // Progress is a courtesy: the install's own reply says how it went.
      }
    });
  struct joiner {
    std::atomic<bool>& done;
    std::thread& t;
    ~joiner() {
      done = true;
      if (t.joinable())
        t.join();
    }
  } join_progress{installed, progress};
  // Sent as the user wrote it (it validated); the daemon validates it again.
  auto reply
      = session(g).call("plugins.install", {{"manifest", json::parse(text)}});
  installed = true;
  if (progress.joinable())
    progress.join(); // its last lines before the result
  if (g.json) {
    print_json(reply);
    return;
  }
  std::cout << "plugin " << field_text(reply, "name", manifest.name) << " "
            << field_text(reply, "version", manifest.version) << " installed\n";
  if (manifest.guest.empty())
    return;
  auto shown = session(g).call("plugins.show",
                               {{"name", manifest.name}, {"version", manifest.version}});
  if (auto image = shown.find("image"); image != shown.end() && image->is_object())
    std::cout << "guest: " << field_text(*image, "summary", "-") << ", "
              << ((image->value("bytes", std::int64_t{0}) + (1 << 20) - 1) >> 20) << " MiB\n";
}

void run_list(const globals& g) {
  auto reply = session(g).call("plugins.list", json::object());
  if (g.json)
    print_json(reply);
  else
    std::cout << render_plugins(reply);
}

void run_show(const globals& g, const std::string& ref, bool manifest) {
  auto req = must(plugin_request(ref));
  auto reply = session(g).call("plugins.show", req);
  if (manifest && !g.json) {
    // Normalised to the spec's spelling when it parses as a manifest; what
    // the daemon built (root disk, image) is not part of one.
    auto plain = reply;
    if (plain.is_object()) {
      plain.erase("rootfs");
      plain.erase("image");
    }
    auto parsed = wire::parse_manifest(plain.dump());
    print_json(parsed ? wire::manifest_to_json(*parsed) : reply);
  } else if (g.json) {
    print_json(reply);
  } else
    std::cout << render_plugin(reply);
}

void run_remove(const globals& g, const std::string& ref) {
  auto req = must(plugin_request(ref));
  auto reply = session(g).call("plugins.remove", req);
  if (g.json)
    print_json(reply);
  else
    std::cout << "plugin " << ref << " removed\n";
}

} // namespace

void add_plugin_commands(CLI::App& app, globals& g, action& run) {
  auto* grp = app.add_subcommand("plugins", "Install and inspect plugins");
  grp->callback([grp] {
    if (grp->get_subcommands().empty())
      throw CLI::CallForHelp();
  });
  {
    auto* cmd
        = grp->add_subcommand("install", "Install a plugin from its manifest");
    auto file = std::make_shared<std::string>();
    cmd->add_option("--manifest", *file,
                    "The plugin's manifest JSON file (- for stdin)")
        ->required();
    cmd->callback([=, &g, &run] { run = [=, &g] { run_install(g, *file); }; });
  }
  {
    auto* cmd = grp->add_subcommand("list", "List installed plugins");
    cmd->callback([&g, &run] { run = [&g] { run_list(g); }; });
  }
  {
    auto* cmd = grp->add_subcommand("show", "Show a plugin");
    auto name = std::make_shared<std::string>();
    auto manifest = std::make_shared<bool>(false);
    cmd->add_option("NAME", *name, "Plugin, NAME or NAME:VERSION")->required();
    cmd->add_flag("--manifest", *manifest, "Print the manifest JSON");
    cmd->callback(
        [=, &g, &run] { run = [=, &g] { run_show(g, *name, *manifest); }; });
  }
  {
    auto* cmd
        = grp->add_subcommand("remove", "Remove a plugin no deployment uses");
    auto name = std::make_shared<std::string>();
    cmd->add_option("NAME", *name, "Plugin, NAME or NAME:VERSION")->required();
    cmd->callback([=, &g, &run] { run = [=, &g] { run_remove(g, *name); }; });
  }
}

} // namespace volant::cli
