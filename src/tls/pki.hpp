#pragma once

// The few X.509 operations Volant's control endpoint needs, through OpenSSL's
// library (libcrypto): EC P-256 keys, a self-signed CA, leaf certificates it
// signs (server or client), a CRL, and reading a certificate's validity. PEM
// text in and out; no files here (credentials.hpp decides where they live).

#include "events/error.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace volant::tls {

/// A private key and its certificate, both PEM.
struct key_pair {
  std::string cert_pem;
  std::string key_pem;
};

/// What a certificate says about itself (times in Unix seconds).
struct cert_info {
  std::string subject; ///< its common name
  std::string issuer;  ///< the issuer's common name
  std::uint64_t serial = 0;
  std::int64_t not_before = 0;
  std::int64_t not_after = 0;
  bool is_ca = false;
};

/// The role of a leaf certificate (its extended key usage). A `peer` is both
/// (a cluster member: etcd's own gateway dials its server with the server's
/// certificate, so with --client-cert-auth the server certificate must be a
/// client one too).
enum class leaf_kind { server, client, peer };

/// A new self-signed CA named `name`, valid `days` from now.
expected<key_pair> make_ca(const std::string& name, std::uint64_t serial,
                           int days);

/// A new key and a certificate for it signed by `ca`, valid `days` from now (at
/// most until the CA expires).
/// `alt_names`: the subjectAltName entries ("IP:10.0.0.5", "DNS:node-1"),
/// which TLS clients (Go's among them) match the host they dialed against.
expected<key_pair> make_leaf(const key_pair& ca, leaf_kind kind,
                             const std::string& name, std::uint64_t serial,
                             int days, const std::vector<std::string>& alt_names = {});

/// A CRL of `ca` listing `revoked` serials, valid until the CA expires.
expected<std::string> make_crl(const key_pair& ca,
                               const std::vector<std::uint64_t>& revoked);

/// The first certificate in `pem`.
expected<cert_info> read_info(const std::string& pem);

/// Whether `cert_pem` is signed by the CA certificate `ca_pem` and `key_pem`
/// is its private key; an error naming what does not match.
status check_leaf(const std::string& ca_pem, const std::string& cert_pem,
                  const std::string& key_pem);

} // namespace volant::tls
