#pragma once

// The control endpoint's credentials in a data directory (docs/protocol.md,
// "Handshake"). volantd's data directory holds a private CA and everything it
// issued; a data directory that only runs volar (an imported bundle) holds the
// CA's certificate and one client certificate and key:
//
//   <data-dir>/tls/            mode 0700; every file in it mode 0600
//     ca.pem ca.key            the CA (ca.key only where volantd runs)
//     server.pem server.key    volantd's certificate
//     client.pem client.key    the certificate volar presents
//     trust.pem                ca.pem + the CRL: what volantd checks clients by
//     issued.json              every certificate the CA issued, revoked or not

#include "events/error.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace volant::tls {

/// The files of one data directory.
struct layout {
  std::string dir; ///< <data-dir>/tls
  explicit layout(const std::string& data_dir) : dir(data_dir + "/tls") {}
  std::string ca_cert() const { return dir + "/ca.pem"; }
  std::string ca_key() const { return dir + "/ca.key"; }
  std::string server_cert() const { return dir + "/server.pem"; }
  std::string server_key() const { return dir + "/server.key"; }
  std::string client_cert() const { return dir + "/client.pem"; }
  std::string client_key() const { return dir + "/client.key"; }
  std::string trust() const { return dir + "/trust.pem"; }
  std::string issued() const { return dir + "/issued.json"; }
};

/// Validity of what volantd issues, in days.
inline constexpr int ca_days = 3650;
inline constexpr int leaf_days = 365;
/// volantd renews its own server and client certificates at start when they
/// expire within this many days.
inline constexpr int renew_days = 30;

/// One certificate the CA issued, as recorded in issued.json.
struct issued_cert {
  std::uint64_t serial = 0;
  std::string name;
  std::string kind; ///< "ca", "server", "client" (volantd's host), "export"
  std::int64_t not_before = 0; ///< Unix seconds
  std::int64_t not_after = 0;
  std::int64_t revoked_at = 0; ///< 0: valid
};

/// At volantd's start: creates the CA, the server certificate, the local client
/// certificate and trust.pem where missing, and renews a server or client
/// certificate that is unreadable, not from the CA or about to expire. One line
/// per thing done, for the log.
expected<std::vector<std::string>> prepare_daemon(const std::string& data_dir);

/// Every certificate the CA issued, in serial order.
expected<std::vector<issued_cert>> list_issued(const std::string& data_dir);

/// A client certificate for another machine, its key and the CA.
struct bundle {
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
  std::uint64_t serial = 0;
  std::string name;
  std::int64_t not_after = 0;
};

/// Issues a client certificate named `name` valid `days`, recorded as "export".
expected<bundle> issue_export(const std::string& data_dir,
                              const std::string& name, int days);

/// Revokes a client certificate: its next handshake fails (volantd reads
/// trust.pem again at every handshake).
status revoke(const std::string& data_dir, std::uint64_t serial);

/// New server and local client certificates from the same CA; the old local
/// client certificate is revoked. Exported bundles stay valid.
expected<std::vector<std::string>> rotate(const std::string& data_dir);

/// The bundle file: JSON with the PEMs, the token and the endpoint to use.
std::string encode_bundle(const bundle& b, const std::string& token,
                          const std::string& endpoint);

/// Writes a bundle's CA, certificate and key into `data_dir`/tls and its token
/// and endpoint into `data_dir`, after checking that they fit together. Refuses
/// a data directory of volantd (one with a CA key). Returns the serial.
expected<std::uint64_t> import_bundle(const std::string& data_dir,
                                      const std::string& text);

/// `volar cluster init --out DIR` (issue 16): a cluster CA and what the
/// hosts and etcd need from it, written into `out_dir` (made 0700; refused
/// when it holds a cluster already):
/// - ca.pem, ca.key: the cluster CA (keep ca.key offline);
/// - etcd/ca.pem, etcd/server.pem, etcd/server.key: for etcd's --trusted-ca-file,
///   --cert-file, --key-file (with --client-cert-auth), valid for `etcd_hosts`
///   ("127.0.0.1", "10.0.0.5", "node-1": IPs and names);
/// - join.bundle (0600): the CA certificate and a member certificate and key
///   (server and client auth) that volantd hosts join with.
/// The paths written.
expected<std::vector<std::string>> init_cluster(const std::string& out_dir,
                                                const std::vector<std::string>& etcd_hosts,
                                                int days);

/// A cluster join bundle, read back.
struct join_bundle {
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
};
expected<join_bundle> read_join_bundle(const std::string& path);

/// Writes `path` atomically (a temporary file renamed) with mode 0600.
status write_private(const std::string& path, const std::string& data);

/// The whole file, or an error naming it.
expected<std::string> read_text(const std::string& path);

} // namespace volant::tls
