#include "tls/endpoint.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>

#include <dlfcn.h>

#include <mutex>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

namespace volant::tls {

void use_tls(caf::actor_system_config& cfg, const std::string& cert,
             const std::string& key, const std::string& cafile) {
  cfg.load<caf::openssl::manager>();
  cfg.openssl_certificate = cert;
  cfg.openssl_key = key;
  cfg.openssl_cafile = cafile;
}

status check_client_revocations() {
  // The server side of a handshake verifies the client's chain with the
  // parameters named "ssl_client" (X509_STORE_CTX_set_default), whose flags
  // are OR-ed into the context's: a table entry of that name adds the CRL
  // check to every SSL context CAF creates.
  auto* param = X509_VERIFY_PARAM_new();
  if (param == nullptr || X509_VERIFY_PARAM_set1_name(param, "ssl_client") != 1
      || X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_CLIENT) != 1
      || X509_VERIFY_PARAM_set_trust(param, X509_TRUST_SSL_CLIENT) != 1
      || X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK) != 1
      || X509_VERIFY_PARAM_add0_table(param) != 1) {
    X509_VERIFY_PARAM_free(param);
    ERR_clear_error();
    return make_error(ec::io_error,
                      "cannot make OpenSSL check client certificates against "
                      "the CRL");
  }
  return ok();
}

namespace {

std::mutex alert_mutex;
std::string alert_text;

} // namespace

std::string last_peer_alert() {
  std::lock_guard lock{alert_mutex};
  return alert_text;
}

/// After a failed SSL call: remembers an alert the peer sent (OpenSSL files
/// one as reason SSL_AD_REASON_OFFSET + the alert's code; +0 is close_notify).
void note_peer_alert(int rc) {
  if (rc > 0)
    return;
  auto e = ERR_peek_error();
  if (e == 0 || ERR_GET_LIB(e) != ERR_LIB_SSL)
    return;
  auto reason = ERR_GET_REASON(e);
  if (reason <= SSL_AD_REASON_OFFSET || reason > SSL_AD_REASON_OFFSET + 255)
    return;
  const char* text = ERR_reason_error_string(e);
  std::lock_guard lock{alert_mutex};
  alert_text = text != nullptr ? text : "alert " + std::to_string(reason - SSL_AD_REASON_OFFSET);
}

} // namespace volant::tls

// OpenSSL requires the thread's error queue to be empty before an SSL I/O call
// (SSL_get_error reads it), and CAF 0.17.6's sessions, which all run on the
// multiplexer thread, neither clear it first nor drain it after a failure
// unless CAF's logging is on. So one peer's failure (a client that exits
// without a close_notify, a refused handshake) made the next SSL_read that
// would block on another connection look failed, and CAF closed that connection
// too: a `volar shell -c 'events --follow'` lost volantd whenever another volar
// finished. These definitions in the executable take precedence over libssl's
// for libcaf_openssl's calls (symbol interposition) and clear the queue first.
namespace {

template <class Fn> Fn next_symbol(const char* name) {
  return reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
}

} // namespace

extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  static auto real = next_symbol<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  auto rc = real(ssl, buf, num);
  volant::tls::note_peer_alert(rc);
  return rc;
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static auto real = next_symbol<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  auto rc = real(ssl, buf, num);
  volant::tls::note_peer_alert(rc);
  return rc;
}

int SSL_accept(SSL* ssl) {
  static auto real = next_symbol<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  auto rc = real(ssl);
  volant::tls::note_peer_alert(rc);
  return rc;
}

int SSL_connect(SSL* ssl) {
  static auto real = next_symbol<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  auto rc = real(ssl);
  volant::tls::note_peer_alert(rc);
  return rc;
}

} // extern "C"
