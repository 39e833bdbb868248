// volar credentials show | export FILE | import FILE | rotate | revoke SERIAL
// (docs/protocol.md, "Handshake"; README, "Security").

#include "cli/commands.hpp"
#include "events/limits.hpp"
#include "tls/credentials.hpp"
#include "tls/pki.hpp"

#include <CLI/CLI.hpp>

#include <ctime>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

namespace volant::cli {

using json = nlohmann::json;

namespace {

std::string date_of(std::int64_t t) {
  char buf[32];
  auto tt = static_cast<time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

/// The certificate this volar presents (<data-dir>/tls/client.pem), or null.
json local_client(const std::string& data_dir) {
  auto text = tls::read_text(tls::layout{data_dir}.client_cert());
  if (!text)
    return nullptr;
  auto info = tls::read_info(*text);
  if (!info)
    return nullptr;
  auto left = (info->not_after - static_cast<std::int64_t>(std::time(nullptr)))
              / 86400;
  return {{"subject", info->subject},
          {"serial", info->serial},
          {"not_before", date_of(info->not_before)},
          {"not_after", date_of(info->not_after)},
          {"days_left", left}};
}

std::string text_of(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null())
    return "-";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

void print_cert_line(const std::string& label, const json& c) {
  std::cout << std::left << std::setw(12) << label;
  if (!c.is_object()) {
    std::cout << "(none)\n";
    return;
  }
  std::cout << "serial " << text_of(c, "serial") << "  "
            << text_of(c, "subject") << "  valid " << text_of(c, "not_before")
            << " .. " << text_of(c, "not_after");
  if (c.contains("days_left"))
    std::cout << "  (" << text_of(c, "days_left") << " days left)";
  std::cout << "\n";
}

void run_show(const globals& g) {
  session s(g);
  auto mine = local_client(s.data_dir());
  auto reply = s.call("credentials.show", json::object());
  if (g.json) {
    print_json({{"this_volar", mine}, {"volantd", reply}});
    return;
  }
  print_cert_line("THIS VOLAR", mine);
  print_cert_line("CA", reply.value("ca", json(nullptr)));
  print_cert_line("SERVER", reply.value("server", json(nullptr)));
  std::cout << "\n"
            << std::left << std::setw(8) << "SERIAL" << std::setw(20) << "NAME"
            << std::setw(8) << "KIND" << std::setw(22) << "NOT AFTER"
            << "REVOKED\n";
  for (const auto& c : reply.value("issued", json::array()))
    std::cout << std::left << std::setw(8) << text_of(c, "serial")
              << std::setw(20) << text_of(c, "name") << std::setw(8)
              << text_of(c, "kind") << std::setw(22) << text_of(c, "not_after")
              << text_of(c, "revoked_at") << "\n";
}

void run_export(const globals& g, const std::string& file,
                const std::string& name, int days, const std::string& address) {
  session s(g);
  auto* c = must(s.try_connect());
  auto reply = s.call("credentials.export", {{"name", name}, {"days", days}});
  tls::bundle b;
  try {
    b.ca_pem = reply.at("ca").get<std::string>();
    b.cert_pem = reply.at("cert").get<std::string>();
    b.key_pem = reply.at("key").get<std::string>();
    b.serial = reply.at("serial").get<std::uint64_t>();
    b.name = reply.at("name").get<std::string>();
  } catch (const json::exception&) {
    fail(make_error(ec::io_error, "volantd sent an incomplete bundle"));
  }
  auto text = tls::encode_bundle(b, c->token(),
                                 address.empty() ? c->endpoint() : address);
  must(tls::write_private(file, text));
  if (g.json) {
    print_json({{"file", file},
                {"name", b.name},
                {"serial", b.serial},
                {"not_after", reply.value("not_after", "")}});
    return;
  }
  std::cout << "exported credentials '" << b.name << "' (serial " << b.serial
            << ", valid until " << text_of(reply, "not_after") << ") to "
            << file << " (mode 0600: it holds a private key and the token)\n"
            << "on the other machine: volar --data-dir DIR credentials import "
               "FILE; revoke with: volar credentials revoke "
            << b.serial << "\n";
}

void run_import(const globals& g, const std::string& file) {
  session s(g);
  auto text = must(read_input(file, max_manifest_bytes, "credentials bundle"));
  auto serial = must(tls::import_bundle(s.data_dir(), text));
  if (g.json) {
    print_json({{"data_dir", s.data_dir()}, {"serial", serial}});
    return;
  }
  std::cout << "imported credentials (serial " << serial << ") into "
            << s.data_dir() << "; volar --data-dir " << s.data_dir()
            << " now reaches volantd at " << resolve_endpoint({s.data_dir()})
            << "\n";
}

void run_rotate(const globals& g) {
  auto reply = session(g).call("credentials.rotate", json::object());
  if (g.json) {
    print_json(reply);
    return;
  }
  std::cout << "rotated: new server and client certificates from the same CA "
               "(the old client certificate is revoked; exported bundles stay "
               "valid)\n";
  print_cert_line("SERVER", reply.value("server", json(nullptr)));
  print_cert_line("CLIENT", reply.value("client", json(nullptr)));
}

void run_revoke(const globals& g, std::uint64_t serial) {
  auto reply = session(g).call("credentials.revoke", {{"serial", serial}});
  if (g.json)
    print_json(reply);
  else
    std::cout << "certificate " << serial
              << " revoked: volantd refuses it at the next handshake\n";
}

} // namespace

void add_credentials_commands(CLI::App& app, globals& g, action& run) {
  auto* grp = app.add_subcommand(
      "credentials", "The control endpoint's TLS certificates (mutual TLS)");
  grp->callback([grp] {
    if (grp->get_subcommands().empty())
      throw CLI::CallForHelp();
  });
  {
    auto* cmd = grp->add_subcommand(
        "show",
        "Validity of this volar's certificate, the CA, the server's and "
        "every certificate issued");
    cmd->callback([&g, &run] { run = [&g] { run_show(g); }; });
  }
  {
    auto* cmd = grp->add_subcommand(
        "export", "Issue a client certificate for another machine and write a "
                  "bundle (certificate, key, CA, token, endpoint) to FILE");
    auto file = std::make_shared<std::string>();
    auto name = std::make_shared<std::string>();
    auto days = std::make_shared<int>(tls::leaf_days);
    auto address = std::make_shared<std::string>();
    cmd->add_option("FILE", *file, "The bundle file to write (mode 0600)")
        ->required();
    cmd->add_option("--name", *name, "A name for the certificate");
    cmd->add_option("--days", *days, "Validity in days")
        ->check(CLI::Range(1, tls::ca_days));
    cmd->add_option("--address", *address,
                    "HOST:PORT the other machine reaches volantd at (default: "
                    "the endpoint this volar uses)");
    cmd->callback([=, &g, &run] {
      run = [=, &g] { run_export(g, *file, *name, *days, *address); };
    });
  }
  {
    auto* cmd = grp->add_subcommand(
        "import", "Use a bundle from `credentials export` in this --data-dir");
    auto file = std::make_shared<std::string>();
    cmd->add_option("FILE", *file, "The bundle file (- for stdin)")->required();
    cmd->callback([=, &g, &run] { run = [=, &g] { run_import(g, *file); }; });
  }
  {
    auto* cmd = grp->add_subcommand(
        "rotate", "New server and client certificates from the same CA");
    cmd->callback([&g, &run] { run = [&g] { run_rotate(g); }; });
  }
  {
    auto* cmd = grp->add_subcommand(
        "revoke", "Revoke a client certificate (an exported bundle) by serial");
    auto serial = std::make_shared<std::uint64_t>(0);
    cmd->add_option("SERIAL", *serial, "Its serial (see: credentials show)")
        ->required();
    cmd->callback([=, &g, &run] { run = [=, &g] { run_revoke(g, *serial); }; });
  }
}

} // namespace volant::cli
