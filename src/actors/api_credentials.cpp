#include "actors/api_credentials.hpp"

#include "tls/credentials.hpp"
#include "tls/pki.hpp"
#include "wire/json.hpp"

namespace volant {

namespace {

using json = nlohmann::json;

std::string at(std::int64_t unix_seconds) {
  return wire::format_time(unix_seconds * 1'000'000'000LL);
}

json info_json(const tls::cert_info& i) {
  return {{"subject", i.subject},
          {"issuer", i.issuer},
          {"serial", i.serial},
          {"not_before", at(i.not_before)},
          {"not_after", at(i.not_after)}};
}

/// A certificate file's fields, or null when it cannot be read.
json file_info(const std::string& path) {
  auto text = tls::read_text(path);
  if (!text)
    return nullptr;
  auto info = tls::read_info(*text);
  return info ? info_json(*info) : json(nullptr);
}

expected<std::string> show(const daemon_context& ctx) {
  auto issued = tls::list_issued(ctx.data_dir);
  if (!issued)
    return issued.error_value();
  tls::layout l(ctx.data_dir);
  json certs = json::array();
  for (const auto& c : *issued)
    certs.push_back({{"serial", c.serial},
                     {"name", c.name},
                     {"kind", c.kind},
                     {"not_before", at(c.not_before)},
                     {"not_after", at(c.not_after)},
                     {"revoked_at",
                      c.revoked_at ? json(at(c.revoked_at)) : json(nullptr)}});
  return json{{"ca", file_info(l.ca_cert())},
              {"server", file_info(l.server_cert())},
              {"client", file_info(l.client_cert())},
              {"issued", certs}}
      .dump();
}

expected<std::uint64_t> serial_arg(const json& args) {
  auto it = args.find("serial");
  if (it == args.end() || !it->is_number_unsigned())
    return make_error(ec::invalid_argument,
                      "'serial' must be a positive integer");
  return it->get<std::uint64_t>();
}

} // namespace

bool is_credentials_verb(const std::string& verb) {
  return verb == "credentials.show" || verb == "credentials.export"
         || verb == "credentials.revoke" || verb == "credentials.rotate";
}

expected<std::string> answer_credentials(const daemon_context& ctx,
                                         const std::string& verb,
                                         const json& args) {
  if (verb == "credentials.show")
    return show(ctx);
  if (verb == "credentials.export") {
    auto name = args.value("name", std::string{});
    if (!args.value("name", json("")).is_string() || name.size() > 64)
      return make_error(ec::invalid_argument,
                        "'name' must be a string of at most 64 characters");
    auto days = args.value("days", json(tls::leaf_days));
    if (!days.is_number_integer())
      return make_error(ec::invalid_argument, "'days' must be an integer");
    auto b = tls::issue_export(ctx.data_dir, name, days.get<int>());
    if (!b)
      return b.error_value();
    return json{{"name", b->name},
                {"serial", b->serial},
                {"not_after", at(b->not_after)},
                {"ca", b->ca_pem},
                {"cert", b->cert_pem},
                {"key", b->key_pem}}
        .dump();
  }
  if (verb == "credentials.revoke") {
    auto serial = serial_arg(args);
    if (!serial)
      return serial.error_value();
    if (auto st = tls::revoke(ctx.data_dir, *serial); !st)
      return st.error_value();
    return json{{"serial", *serial}, {"revoked", true}}.dump();
  }
  auto done = tls::rotate(ctx.data_dir);
  if (!done)
    return done.error_value();
  return show(ctx);
}

} // namespace volant
