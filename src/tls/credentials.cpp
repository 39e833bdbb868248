#include "tls/credentials.hpp"

#include "tls/pki.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace volant::tls {

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

std::int64_t now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

std::string date_of(std::int64_t t) {
  char buf[32];
  auto tt = static_cast<time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

status make_private_dir(const std::string& dir) {
  std::error_code err;
  fs::create_directories(dir, err);
  if (err)
    return make_error(ec::io_error,
                      "cannot create " + dir + ": " + err.message());
  if (::chmod(dir.c_str(), 0700) != 0)
    return make_error(ec::io_error,
                      "cannot chmod " + dir + ": " + std::strerror(errno));
  return ok();
}

/// issued.json: the next serial and every certificate issued.
struct register_file {
  std::uint64_t next_serial = 1;
  std::vector<issued_cert> certs;
};

expected<register_file> load_register(const layout& l) {
  register_file reg;
  if (!exists(l.issued()))
    return reg;
  auto text = read_text(l.issued());
  if (!text)
    return text.error_value();
  auto j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return make_error(ec::io_error, l.issued() + " is not JSON");
  try {
    reg.next_serial = j.at("next_serial").get<std::uint64_t>();
    for (const auto& c : j.at("certs")) {
      issued_cert ic;
      ic.serial = c.at("serial").get<std::uint64_t>();
      ic.name = c.at("name").get<std::string>();
      ic.kind = c.at("kind").get<std::string>();
      ic.not_before = c.at("not_before").get<std::int64_t>();
      ic.not_after = c.at("not_after").get<std::int64_t>();
      ic.revoked_at = c.value("revoked_at", std::int64_t{0});
      reg.certs.push_back(std::move(ic));
    }
  } catch (const json::exception& e) {
    return make_error(ec::io_error, l.issued() + ": " + e.what());
  }
  return reg;
}

status save_register(const layout& l, const register_file& reg) {
  json certs = json::array();
  for (const auto& c : reg.certs) {
    json e = {{"serial", c.serial},
              {"name", c.name},
              {"kind", c.kind},
              {"not_before", c.not_before},
              {"not_after", c.not_after}};
    if (c.revoked_at != 0)
      e["revoked_at"] = c.revoked_at;
    certs.push_back(std::move(e));
  }
  return write_private(
      l.issued(),
      json{{"next_serial", reg.next_serial}, {"certs", certs}}.dump(2) + "\n");
}

expected<key_pair> load_pair(const std::string& cert, const std::string& key) {
  auto c = read_text(cert);
  if (!c)
    return c.error_value();
  auto k = read_text(key);
  if (!k)
    return k.error_value();
  return key_pair{std::move(*c), std::move(*k)};
}

status write_pair(const std::string& cert, const std::string& key,
                  const key_pair& p) {
  if (auto st = write_private(key, p.key_pem); !st)
    return st;
  return write_private(cert, p.cert_pem);
}

/// Issues a leaf, records it, and returns it.
expected<key_pair> issue(const key_pair& ca, register_file& reg, leaf_kind kind,
                         const std::string& record_kind,
                         const std::string& name, int days) {
  auto serial = reg.next_serial++;
  auto leaf = make_leaf(ca, kind, name, serial, days);
  if (!leaf)
    return leaf.error_value();
  auto info = read_info(leaf->cert_pem);
  if (!info)
    return info.error_value();
  reg.certs.push_back(
      {serial, name, record_kind, info->not_before, info->not_after, 0});
  return leaf;
}

/// Whether a leaf on disk is usable for another `renew_days`.
bool leaf_fresh(const key_pair& ca, const std::string& cert,
                const std::string& key) {
  auto pair = load_pair(cert, key);
  if (!pair || !check_leaf(ca.cert_pem, pair->cert_pem, pair->key_pem))
    return false;
  auto info = read_info(pair->cert_pem);
  return info && info->not_after - now() > renew_days * 86400LL
         && info->not_before <= now() + 300;
}

/// trust.pem: the CA and a CRL of every revoked serial.
status write_trust(const layout& l, const key_pair& ca,
                   const register_file& reg) {
  std::vector<std::uint64_t> revoked;
  for (const auto& c : reg.certs)
    if (c.revoked_at != 0)
      revoked.push_back(c.serial);
  auto crl = make_crl(ca, revoked);
  if (!crl)
    return crl.error_value();
  return write_private(l.trust(), ca.cert_pem + *crl);
}

/// The CA of a daemon's data directory, with a clear error for a directory that
/// holds an imported bundle or has lost its register.
expected<key_pair> load_ca(const layout& l) {
  if (!exists(l.ca_key()))
    return make_error(ec::invalid_argument,
                      l.dir
                          + " has no CA key: it is not volantd's data "
                            "directory (an imported bundle?)");
  if (!exists(l.issued()))
    return make_error(ec::io_error,
                      l.issued()
                          + " is missing: it lists the revoked certificates; "
                            "restore it, or delete "
                          + l.dir
                          + " to start a new CA (every exported bundle then "
                            "stops working)");
  return load_pair(l.ca_cert(), l.ca_key());
}

/// Marks the current local client certificate revoked (on rotation).
void revoke_local_client(const layout& l, register_file& reg) {
  auto text = read_text(l.client_cert());
  if (!text)
    return;
  auto info = read_info(*text);
  if (!info)
    return;
  for (auto& c : reg.certs)
    if (c.serial == info->serial && c.kind == "client" && c.revoked_at == 0)
      c.revoked_at = now();
}

} // namespace

expected<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return make_error(ec::io_error,
                      "cannot read " + path + ": " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

status write_private(const std::string& path, const std::string& data) {
  auto tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return make_error(ec::io_error,
                      "cannot create " + tmp + ": " + std::strerror(errno));
  bool written = ::write(fd, data.data(), data.size())
                     == static_cast<ssize_t>(data.size())
                 && ::fchmod(fd, 0600) == 0 && ::fsync(fd) == 0;
  ::close(fd);
  if (!written || ::rename(tmp.c_str(), path.c_str()) != 0) {
    auto why = std::string(std::strerror(errno));
    ::unlink(tmp.c_str());
    return make_error(ec::io_error, "cannot write " + path + ": " + why);
  }
  return ok();
}

expected<std::vector<std::string>> prepare_daemon(const std::string& data_dir) {
  layout l(data_dir);
  std::vector<std::string> done;
  if (auto st = make_private_dir(l.dir); !st)
    return st.error_value();
  if (!exists(l.ca_key())) {
    if (exists(l.ca_cert()))
      return make_error(ec::invalid_argument,
                        l.dir
                            + " holds an imported credentials bundle (ca.pem "
                              "without ca.key): use another --data-dir for "
                              "volantd");
    register_file reg;
    auto ca = make_ca("Volant CA", reg.next_serial++, ca_days);
    if (!ca)
      return ca.error_value();
    auto info = read_info(ca->cert_pem);
    if (!info)
      return info.error_value();
    reg.certs.push_back({info->serial, "Volant CA", "ca", info->not_before,
                         info->not_after, 0});
    // The register first: a CA without one would be refused at the next start.
    if (auto st = save_register(l, reg); !st)
      return st.error_value();
    if (auto st = write_pair(l.ca_cert(), l.ca_key(), *ca); !st)
      return st.error_value();
    done.push_back("created a private CA in " + l.dir + ", valid until "
                   + date_of(info->not_after));
  }
  auto ca = load_ca(l);
  if (!ca)
    return ca.error_value();
  auto reg = load_register(l);
  if (!reg)
    return reg.error_value();
  struct leaf {
    std::string cert, key, kind, name;
    leaf_kind role;
  };
  for (const auto& x : {leaf{l.server_cert(), l.server_key(), "server",
                             "volantd", leaf_kind::server},
                        leaf{l.client_cert(), l.client_key(), "client",
                             "volar@local", leaf_kind::client}}) {
    if (leaf_fresh(*ca, x.cert, x.key))
      continue;
    auto pair = issue(*ca, *reg, x.role, x.kind, x.name, leaf_days);
    if (!pair)
      return pair.error_value();
    if (auto st = save_register(l, *reg); !st)
      return st.error_value();
    if (auto st = write_pair(x.cert, x.key, *pair); !st)
      return st.error_value();
    done.push_back("issued the " + x.kind + " certificate (serial "
                   + std::to_string(reg->certs.back().serial)
                   + "), valid until " + date_of(reg->certs.back().not_after));
  }
  if (auto st = write_trust(l, *ca, *reg); !st)
    return st.error_value();
  return done;
}

expected<std::vector<issued_cert>> list_issued(const std::string& data_dir) {
  layout l(data_dir);
  auto ca = load_ca(l);
  if (!ca)
    return ca.error_value();
  auto reg = load_register(l);
  if (!reg)
    return reg.error_value();
  auto certs = std::move(reg->certs);
  std::sort(certs.begin(), certs.end(),
            [](const auto& a, const auto& b) { return a.serial < b.serial; });
  return certs;
}

expected<bundle> issue_export(const std::string& data_dir,
                              const std::string& name, int days) {
  if (days < 1 || days > ca_days)
    return make_error(ec::invalid_argument,
                      "days must be between 1 and " + std::to_string(ca_days));
  layout l(data_dir);
  auto ca = load_ca(l);
  if (!ca)
    return ca.error_value();
  auto reg = load_register(l);
  if (!reg)
    return reg.error_value();
  auto label
      = name.empty() ? "export-" + std::to_string(reg->next_serial) : name;
  auto pair = issue(*ca, *reg, leaf_kind::client, "export", label, days);
  if (!pair)
    return pair.error_value();
  if (auto st = save_register(l, *reg); !st)
    return st.error_value();
  const auto& rec = reg->certs.back();
  return bundle{ca->cert_pem, pair->cert_pem, pair->key_pem,
                rec.serial,   rec.name,       rec.not_after};
}

status revoke(const std::string& data_dir, std::uint64_t serial) {
  layout l(data_dir);
  auto ca = load_ca(l);
  if (!ca)
    return ca.error_value();
  auto reg = load_register(l);
  if (!reg)
    return reg.error_value();
  auto it = std::find_if(reg->certs.begin(), reg->certs.end(),
                         [&](const auto& c) { return c.serial == serial; });
  if (it == reg->certs.end())
    return make_error(ec::not_found, "no certificate with serial "
                                         + std::to_string(serial)
                                         + " (see: volar credentials show)");
  if (it->kind == "ca" || it->kind == "server")
    return make_error(ec::invalid_argument,
                      "serial " + std::to_string(serial) + " is the " + it->kind
                          + " certificate; only client certificates can be "
                            "revoked (rotate replaces the server's)");
  if (it->revoked_at != 0)
    return make_error(ec::conflict, "serial " + std::to_string(serial)
                                        + " is revoked already");
  it->revoked_at = now();
  if (auto st = save_register(l, *reg); !st)
    return st;
  return write_trust(l, *ca, *reg);
}

expected<std::vector<std::string>> rotate(const std::string& data_dir) {
  layout l(data_dir);
  auto ca = load_ca(l);
  if (!ca)
    return ca.error_value();
  auto reg = load_register(l);
  if (!reg)
    return reg.error_value();
  revoke_local_client(l, *reg);
  auto server
      = issue(*ca, *reg, leaf_kind::server, "server", "volantd", leaf_days);
  if (!server)
    return server.error_value();
  auto server_serial = reg->certs.back().serial;
  auto client
      = issue(*ca, *reg, leaf_kind::client, "client", "volar@local", leaf_days);
  if (!client)
    return client.error_value();
  auto client_serial = reg->certs.back().serial;
  if (auto st = save_register(l, *reg); !st)
    return st.error_value();
  if (auto st = write_pair(l.server_cert(), l.server_key(), *server); !st)
    return st.error_value();
  if (auto st = write_pair(l.client_cert(), l.client_key(), *client); !st)
    return st.error_value();
  if (auto st = write_trust(l, *ca, *reg); !st)
    return st.error_value();
  return std::vector<std::string>{
      "server certificate: serial " + std::to_string(server_serial),
      "client certificate: serial " + std::to_string(client_serial)};
}

std::string encode_bundle(const bundle& b, const std::string& token,
                          const std::string& endpoint) {
  json j = {
      {"volant_credentials", 1},  {"name", b.name},       {"serial", b.serial},
      {"not_after", b.not_after}, {"endpoint", endpoint}, {"token", token},
      {"ca", b.ca_pem},           {"cert", b.cert_pem},   {"key", b.key_pem}};
  return j.dump(2) + "\n";
}

expected<std::uint64_t> import_bundle(const std::string& data_dir,
                                      const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("volant_credentials"))
    return make_error(ec::invalid_argument,
                      "not a credentials bundle (made by volar credentials "
                      "export)");
  for (const char* field : {"ca", "cert", "key", "token", "endpoint"})
    if (!j.contains(field) || !j[field].is_string())
      return make_error(ec::invalid_argument,
                        std::string("the bundle has no '") + field + "'");
  auto ca = j["ca"].get<std::string>();
  auto cert = j["cert"].get<std::string>();
  auto key = j["key"].get<std::string>();
  if (auto st = check_leaf(ca, cert, key); !st)
    return make_error(ec::invalid_argument, "the bundle does not fit together: "
                                                + st.error_value().message);
  auto info = read_info(cert);
  if (!info)
    return info.error_value();
  layout l(data_dir);
  if (exists(l.ca_key()))
    return make_error(ec::invalid_argument,
                      data_dir
                          + " is volantd's own data directory (it has "
                            "tls/ca.key): import into another --data-dir");
  if (auto st = make_private_dir(data_dir); !st)
    return st.error_value();
  if (auto st = make_private_dir(l.dir); !st)
    return st.error_value();
  if (auto st = write_private(l.ca_cert(), ca); !st)
    return st.error_value();
  if (auto st = write_pair(l.client_cert(), l.client_key(), {cert, key}); !st)
    return st.error_value();
  if (auto token = j["token"].get<std::string>(); !token.empty())
    if (auto st = write_private(data_dir + "/token", token + "\n"); !st)
      return st.error_value();
  if (auto ep = j["endpoint"].get<std::string>(); !ep.empty())
    if (auto st = write_private(data_dir + "/endpoint", ep + "\n"); !st)
      return st.error_value();
  return info->serial;
}

expected<std::vector<std::string>> init_cluster(const std::string& out_dir,
                                                const std::vector<std::string>& etcd_hosts,
                                                int days) {
  auto ca_key = out_dir + "/ca.key";
  if (exists(ca_key))
    return make_error(ec::conflict, out_dir + " holds a cluster CA already (" + ca_key
                                        + "): give another --out");
  if (etcd_hosts.empty())
    return make_error(ec::invalid_argument, "no --etcd-host given: etcd's certificate must name "
                                            "the addresses hosts dial it at");
  std::vector<std::string> alt;
  for (const auto& h : etcd_hosts) {
    bool ip = !h.empty() && h.find_first_not_of("0123456789.") == std::string::npos;
    bool ip6 = h.find(':') != std::string::npos;
    alt.push_back((ip || ip6 ? "IP:" : "DNS:") + h);
  }
  if (auto st = make_private_dir(out_dir); !st)
    return st.error_value();
  if (auto st = make_private_dir(out_dir + "/etcd"); !st)
    return st.error_value();
  auto ca = make_ca("volant-cluster", 1, days);
  if (!ca)
    return ca.error_value();
  auto server = make_leaf(*ca, leaf_kind::peer, etcd_hosts.front(), 2, days, alt);
  if (!server)
    return server.error_value();
  auto member = make_leaf(*ca, leaf_kind::peer, "volant-member", 3, days);
  if (!member)
    return member.error_value();
  nlohmann::json join = {{"kind", "volant-cluster-join"},
                         {"ca", ca->cert_pem},
                         {"cert", member->cert_pem},
                         {"key", member->key_pem}};
  std::vector<std::pair<std::string, std::string>> files{
      {out_dir + "/ca.pem", ca->cert_pem},
      {ca_key, ca->key_pem},
      {out_dir + "/etcd/ca.pem", ca->cert_pem},
      {out_dir + "/etcd/server.pem", server->cert_pem},
      {out_dir + "/etcd/server.key", server->key_pem},
      {out_dir + "/join.bundle", join.dump(2) + "\n"}};
  std::vector<std::string> written;
  for (const auto& [path, text] : files) {
    if (auto st = write_private(path, text); !st)
      return st.error_value();
    written.push_back(path);
  }
  return written;
}

expected<join_bundle> read_join_bundle(const std::string& path) {
  auto text = read_text(path);
  if (!text)
    return text.error_value();
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("kind", "") != "volant-cluster-join")
    return make_error(ec::invalid_argument,
                      path + " is not a cluster join bundle (from volar cluster init)");
  join_bundle b{j.value("ca", ""), j.value("cert", ""), j.value("key", "")};
  if (auto st = check_leaf(b.ca_pem, b.cert_pem, b.key_pem); !st)
    return make_error(ec::invalid_argument, path + ": " + st.error_value().message);
  return b;
}

} // namespace volant::tls
