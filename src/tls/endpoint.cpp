#include "tls/endpoint.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>

#include <openssl/err.h>
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

} // namespace volant::tls
