#include "tls/pki.hpp"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <ctime>
#include <memory>

namespace volant::tls {

namespace {

template <class T, void (*Free)(T*)> struct deleter {
  void operator()(T* p) const { Free(p); }
};

using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509, X509_free>>;
using crl_ptr = std::unique_ptr<X509_CRL, deleter<X509_CRL, X509_CRL_free>>;
using asn1_time_ptr
    = std::unique_ptr<ASN1_TIME, deleter<ASN1_TIME, ASN1_TIME_free>>;

struct bio_free {
  void operator()(BIO* b) const { BIO_free(b); }
};
using bio_ptr = std::unique_ptr<BIO, bio_free>;

/// OpenSSL's queued errors as one line, after `what`.
error ssl_error(const std::string& what) {
  std::string text = what;
  while (auto code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    text += text == what ? ": " : "; ";
    text += buf;
  }
  return make_error(ec::io_error, text);
}

bio_ptr reader(const std::string& pem) {
  return bio_ptr{BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))};
}

std::string drain(BIO* bio) {
  char* data = nullptr;
  auto len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

x509_ptr parse_cert(const std::string& pem) {
  auto bio = reader(pem);
  return x509_ptr{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)};
}

pkey_ptr parse_key(const std::string& pem) {
  auto bio = reader(pem);
  return pkey_ptr{
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)};
}

expected<std::string> cert_pem(X509* cert) {
  bio_ptr bio{BIO_new(BIO_s_mem())};
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1)
    return ssl_error("cannot encode a certificate");
  return drain(bio.get());
}

expected<std::string> key_pem(EVP_PKEY* key) {
  bio_ptr bio{BIO_new(BIO_s_mem())};
  if (!bio
      || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr,
                                  nullptr)
             != 1)
    return ssl_error("cannot encode a private key");
  return drain(bio.get());
}

std::int64_t to_unix(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1)
    return 0;
  return static_cast<std::int64_t>(timegm(&tm));
}

std::string common_name(const X509_NAME* name) {
  auto idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0)
    return "";
  auto* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                     static_cast<std::size_t>(ASN1_STRING_length(data)));
}

bool add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr)
    return false;
  bool added = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return added;
}

/// A certificate for `key` named `name`, issued by `issuer` (itself when null),
/// valid from five minutes ago (clock skew between hosts) for `days`, capped at
/// `cap` when that is not 0.
expected<x509_ptr> new_cert(EVP_PKEY* key, const std::string& name,
                            std::uint64_t serial, int days, X509* issuer,
                            std::int64_t cap) {
  x509_ptr cert{X509_new()};
  if (!cert)
    return ssl_error("cannot allocate a certificate");
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  auto until = now + static_cast<std::int64_t>(days) * 86400;
  if (cap != 0)
    until = std::min(until, cap);
  auto* subject = X509_get_subject_name(cert.get());
  bool ok
      = X509_set_version(cert.get(), 2) == 1
        && ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial)
               == 1
        && X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, -300, &now)
               != nullptr
        && ASN1_TIME_set(X509_getm_notAfter(cert.get()),
                         static_cast<time_t>(until))
               != nullptr
        && X509_NAME_add_entry_by_txt(
               subject, "O", MBSTRING_UTF8,
               reinterpret_cast<const unsigned char*>("Volant"), -1, -1, 0)
               == 1
        && X509_NAME_add_entry_by_txt(
               subject, "CN", MBSTRING_UTF8,
               reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0)
               == 1
        && X509_set_issuer_name(
               cert.get(), issuer ? X509_get_subject_name(issuer) : subject)
               == 1
        && X509_set_pubkey(cert.get(), key) == 1;
  if (!ok)
    return ssl_error("cannot fill in the certificate of " + name);
  auto* signer = issuer ? issuer : cert.get();
  ok = add_ext(cert.get(), signer, NID_subject_key_identifier, "hash")
       && add_ext(cert.get(), signer, NID_authority_key_identifier,
                  "keyid:always");
  if (!ok)
    return ssl_error("cannot add key identifiers to the certificate of "
                     + name);
  return cert;
}

expected<key_pair> sign_and_encode(x509_ptr cert, EVP_PKEY* key,
                                   EVP_PKEY* signer) {
  if (X509_sign(cert.get(), signer, EVP_sha256()) <= 0)
    return ssl_error("cannot sign a certificate");
  auto c = cert_pem(cert.get());
  if (!c)
    return c.error_value();
  auto k = key_pem(key);
  if (!k)
    return k.error_value();
  return key_pair{std::move(*c), std::move(*k)};
}

} // namespace

expected<key_pair> make_ca(const std::string& name, std::uint64_t serial,
                           int days) {
  pkey_ptr key{EVP_EC_gen("P-256")};
  if (!key)
    return ssl_error("cannot generate the CA's key");
  auto cert = new_cert(key.get(), name, serial, days, nullptr, 0);
  if (!cert)
    return cert.error_value();
  auto* c = cert->get();
  if (!add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE,pathlen:0")
      || !add_ext(c, c, NID_key_usage, "critical,keyCertSign,cRLSign"))
    return ssl_error("cannot mark the CA certificate");
  return sign_and_encode(std::move(*cert), key.get(), key.get());
}

expected<key_pair> make_leaf(const key_pair& ca, leaf_kind kind,
                             const std::string& name, std::uint64_t serial,
                             int days, const std::vector<std::string>& alt_names) {
  auto ca_cert = parse_cert(ca.cert_pem);
  auto ca_key = parse_key(ca.key_pem);
  if (!ca_cert || !ca_key)
    return ssl_error("cannot read the CA");
  pkey_ptr key{EVP_EC_gen("P-256")};
  if (!key)
    return ssl_error("cannot generate a key");
  auto cap = to_unix(X509_get0_notAfter(ca_cert.get()));
  auto cert = new_cert(key.get(), name, serial, days, ca_cert.get(), cap);
  if (!cert)
    return cert.error_value();
  auto* c = cert->get();
  const char* usage = kind == leaf_kind::server   ? "serverAuth"
                      : kind == leaf_kind::client ? "clientAuth"
                                                  : "serverAuth,clientAuth";
  if (!add_ext(c, ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE")
      || !add_ext(c, ca_cert.get(), NID_key_usage, "critical,digitalSignature")
      || !add_ext(c, ca_cert.get(), NID_ext_key_usage, usage))
    return ssl_error("cannot mark the certificate of " + name);
  std::string alt;
  for (const auto& a : alt_names)
    alt += (alt.empty() ? "" : ",") + a;
  if (!alt.empty() && !add_ext(c, ca_cert.get(), NID_subject_alt_name, alt.c_str()))
    return ssl_error("cannot add the names " + alt + " to the certificate of " + name);
  return sign_and_encode(std::move(*cert), key.get(), ca_key.get());
}

expected<std::string> make_crl(const key_pair& ca,
                               const std::vector<std::uint64_t>& revoked) {
  auto ca_cert = parse_cert(ca.cert_pem);
  auto ca_key = parse_key(ca.key_pem);
  if (!ca_cert || !ca_key)
    return ssl_error("cannot read the CA");
  crl_ptr crl{X509_CRL_new()};
  auto now = static_cast<time_t>(std::time(nullptr));
  asn1_time_ptr last{ASN1_TIME_set(nullptr, now - 300)};
  if (!crl || !last || X509_CRL_set_version(crl.get(), 1) != 1
      || X509_CRL_set_issuer_name(crl.get(),
                                  X509_get_subject_name(ca_cert.get()))
             != 1
      || X509_CRL_set1_lastUpdate(crl.get(), last.get()) != 1
      || X509_CRL_set1_nextUpdate(crl.get(), X509_get0_notAfter(ca_cert.get()))
             != 1)
    return ssl_error("cannot fill in the CRL");
  for (auto serial : revoked) {
    auto* entry = X509_REVOKED_new();
    ASN1_INTEGER* number = ASN1_INTEGER_new();
    bool ok = entry && number && ASN1_INTEGER_set_uint64(number, serial) == 1
              && X509_REVOKED_set_serialNumber(entry, number) == 1
              && X509_REVOKED_set_revocationDate(entry, last.get()) == 1;
    ASN1_INTEGER_free(number);
    if (!ok || X509_CRL_add0_revoked(crl.get(), entry) != 1) {
      X509_REVOKED_free(entry);
      return ssl_error("cannot add a serial to the CRL");
    }
  }
  if (X509_CRL_sort(crl.get()) != 1
      || X509_CRL_sign(crl.get(), ca_key.get(), EVP_sha256()) <= 0)
    return ssl_error("cannot sign the CRL");
  bio_ptr bio{BIO_new(BIO_s_mem())};
  if (!bio || PEM_write_bio_X509_CRL(bio.get(), crl.get()) != 1)
    return ssl_error("cannot encode the CRL");
  return drain(bio.get());
}

expected<cert_info> read_info(const std::string& pem) {
  auto cert = parse_cert(pem);
  if (!cert)
    return ssl_error("not a PEM certificate");
  cert_info info;
  info.subject = common_name(X509_get_subject_name(cert.get()));
  info.issuer = common_name(X509_get_issuer_name(cert.get()));
  ASN1_INTEGER_get_uint64(&info.serial, X509_get0_serialNumber(cert.get()));
  info.not_before = to_unix(X509_get0_notBefore(cert.get()));
  info.not_after = to_unix(X509_get0_notAfter(cert.get()));
  info.is_ca = X509_check_ca(cert.get()) != 0;
  return info;
}

status check_leaf(const std::string& ca_pem, const std::string& cert_pem,
                  const std::string& key_pem) {
  auto ca = parse_cert(ca_pem);
  if (!ca)
    return ssl_error("the CA is not a PEM certificate");
  auto cert = parse_cert(cert_pem);
  if (!cert)
    return ssl_error("the certificate is not PEM");
  auto key = parse_key(key_pem);
  if (!key)
    return ssl_error("the private key is not PEM");
  pkey_ptr ca_key{X509_get_pubkey(ca.get())};
  if (!ca_key || X509_verify(cert.get(), ca_key.get()) != 1) {
    ERR_clear_error();
    return make_error(ec::invalid_argument,
                      "the certificate is not signed by the CA");
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return make_error(ec::invalid_argument,
                      "the private key does not belong to the certificate");
  }
  return ok();
}

} // namespace volant::tls
