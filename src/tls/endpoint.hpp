#pragma once

// The control endpoint over CAF's openssl module (libcaf_openssl 0.17.6): both
// ends present a certificate of the data directory's CA and require one from
// the other (docs/protocol.md, "Handshake").

#include "events/error.hpp"

#include <string>

namespace caf {
class actor_system_config;
}

namespace volant::tls {

/// Loads CAF's openssl module into `cfg`, presenting `cert` and `key` and
/// trusting `cafile`. With any of these set, CAF 0.17.6 makes every SSL
/// context it creates (one per connection, reading the files again each time)
/// verify the peer with SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT and
/// the cipher list "HIGH:!aNULL:!MD5", on both sides.
void use_tls(caf::actor_system_config& cfg, const std::string& cert,
             const std::string& key, const std::string& cafile);

/// volantd: every client certificate is also checked against the CRL in the
/// trust file, so that a revoked certificate fails the handshake. CAF offers
/// no hook into its SSL contexts, so this sets OpenSSL's process-wide
/// verification defaults for SSL clients (X509_V_FLAG_CRL_CHECK): call it once
/// before the first connection. Without a CRL for the CA every client fails.
status check_client_revocations();

/// The last TLS alert a peer sent this process that was not a normal close
/// ("tlsv1 alert unknown ca", "sslv3 alert certificate revoked"), or empty.
/// CAF 0.17.6 reports a refused client certificate and a peer that died
/// mid-handshake alike (sec::disconnect_during_handshake); only a refusal
/// comes with an alert.
std::string last_peer_alert();

} // namespace volant::tls
