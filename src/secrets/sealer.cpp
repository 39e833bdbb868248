#include "secrets/sealer.hpp"

#include <sodium.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

namespace volant::secrets {

namespace {

constexpr std::string_view prefix = "vs1.";
constexpr char kdf_context[crypto_kdf_CONTEXTBYTES]
    = {'v', 'o', 'l', 'a', 'n', 't', 's', 'k'};
constexpr std::uint64_t subkey_encrypt = 1;
constexpr std::uint64_t subkey_nonce = 2;
constexpr std::uint64_t subkey_id = 3;
constexpr std::size_t nonce_bytes
    = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t tag_bytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr std::size_t hex_digits = 2 * key_bytes;

static_assert(crypto_kdf_KEYBYTES == key_bytes);
static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == key_bytes);

error io_fail(const std::string& what) {
  return make_error(ec::io_error, what + ": " + std::strerror(errno));
}

/// Deployment and key, unambiguously (neither may hold a NUL): the associated
/// data of a sealed value, and the start of what its nonce is derived from.
std::string context_of(std::string_view deployment, std::string_view key) {
  std::string ad = "volant secret env v1";
  ad += '\0';
  ad += deployment;
  ad += '\0';
  ad += key;
  return ad;
}

status sodium_ready() {
  if (sodium_init() < 0)
    return make_error(ec::io_error, "libsodium could not be initialised");
  return ok();
}

/// The key file's text, after the checks the header promises.
expected<std::string> read_key_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return io_fail("cannot open the secret key " + path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    auto err = io_fail("cannot stat the secret key " + path);
    ::close(fd);
    return err;
  }
  auto refuse = [&](const std::string& why) -> error {
    ::close(fd);
    return make_error(ec::io_error,
                      "refusing the secret key " + path + ": " + why);
  };
  if (!S_ISREG(st.st_mode))
    return refuse("not a regular file");
  if (st.st_uid != ::geteuid())
    return refuse("owned by uid " + std::to_string(st.st_uid)
                  + ", not by volantd's uid " + std::to_string(::geteuid()));
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o",
                  static_cast<unsigned>(st.st_mode & 07777));
    return refuse(std::string("mode ") + mode
                  + " lets group or others read or write it (chmod 600 it, and "
                    "treat the secrets sealed with it as exposed)");
  }
  std::string text(256, '\0');
  auto n = ::read(fd, text.data(), text.size());
  ::close(fd);
  if (n < 0) {
    sodium_memzero(text.data(), text.size());
    return io_fail("cannot read the secret key " + path);
  }
  text.resize(static_cast<std::size_t>(n));
  while (!text.empty()
         && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r'))
    text.pop_back();
  if (text.size() != hex_digits) {
    sodium_memzero(text.data(), text.size());
    return make_error(ec::io_error,
                      "refusing the secret key " + path + ": expected "
                          + std::to_string(hex_digits) + " hex digits");
  }
  return text;
}

/// Writes a fresh key to `path` without ever replacing one that exists.
status create_key_file(const std::string& path) {
  std::array<std::uint8_t, key_bytes> key{};
  randombytes_buf(key.data(), key.size());
  std::array<char, hex_digits + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), key.data(), key.size());
  sodium_memzero(key.data(), key.size());
  std::string text(hex.data(), hex_digits);
  text += '\n';
  sodium_memzero(hex.data(), hex.size());
  auto tmp = path + ".tmp";
  ::unlink(tmp.c_str()); // a leftover of a start that died half-way
  int fd = ::open(tmp.c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    sodium_memzero(text.data(), text.size());
    return io_fail("cannot create the secret key " + tmp);
  }
  bool written = ::fchmod(fd, 0600) == 0
                 && ::write(fd, text.data(), text.size())
                        == static_cast<ssize_t>(text.size())
                 && ::fsync(fd) == 0;
  sodium_memzero(text.data(), text.size());
  if (!written) {
    auto err = io_fail("cannot write the secret key " + tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return err;
  }
  ::close(fd);
  // link(2) fails if the key appeared meanwhile: an existing key always wins.
  if (::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) {
    auto e = io_fail("cannot create the secret key " + path);
    ::unlink(tmp.c_str());
    return e;
  }
  ::unlink(tmp.c_str());
  auto dir = std::filesystem::path(path).parent_path().string();
  if (int dfd = ::open(dir.empty() ? "." : dir.c_str(),
                       O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return ok();
}

} // namespace

struct sealer::keys {
  std::uint8_t encrypt[key_bytes];
  std::uint8_t nonce[key_bytes];
};

std::string key_path(const std::string& data_dir) {
  return data_dir + "/secret.key";
}

sealer::sealer(std::unique_ptr<keys, void (*)(keys*)> k, std::string id)
    : keys_(std::move(k)), id_(std::move(id)) {}

sealer::sealer(sealer&&) noexcept = default;
sealer& sealer::operator=(sealer&&) noexcept = default;
sealer::~sealer() = default;

expected<sealer>
sealer::from_key(const std::array<std::uint8_t, key_bytes>& key) {
  if (auto st = sodium_ready(); !st)
    return st.error_value();
  // Locked, guarded memory, wiped by sodium_free.
  auto* raw = static_cast<keys*>(sodium_malloc(sizeof(keys)));
  if (raw == nullptr)
    return make_error(ec::io_error,
                      "cannot allocate memory for the secret key");
  std::unique_ptr<keys, void (*)(keys*)> k(raw,
                                           [](keys* p) { sodium_free(p); });
  std::uint8_t id[16];
  if (crypto_kdf_derive_from_key(k->encrypt, key_bytes, subkey_encrypt,
                                 kdf_context, key.data())
          != 0
      || crypto_kdf_derive_from_key(k->nonce, key_bytes, subkey_nonce,
                                    kdf_context, key.data())
             != 0
      || crypto_kdf_derive_from_key(id, sizeof id, subkey_id, kdf_context,
                                    key.data())
             != 0)
    return make_error(ec::io_error, "cannot derive the secret subkeys");
  char hex[9];
  sodium_bin2hex(hex, sizeof hex, id, 4);
  return sealer(std::move(k), std::string(hex, 8));
}

expected<sealer> sealer::load(const std::string& path) {
  if (auto st = sodium_ready(); !st)
    return st.error_value();
  auto text = read_key_file(path);
  if (!text)
    return text.error_value();
  std::array<std::uint8_t, key_bytes> key{};
  std::size_t len = 0;
  int rc = sodium_hex2bin(key.data(), key.size(), text->data(), text->size(),
                          nullptr, &len, nullptr);
  sodium_memzero(text->data(), text->size());
  if (rc != 0 || len != key_bytes) {
    sodium_memzero(key.data(), key.size());
    return make_error(ec::io_error,
                      "refusing the secret key " + path + ": expected "
                          + std::to_string(hex_digits) + " hex digits");
  }
  auto s = from_key(key);
  sodium_memzero(key.data(), key.size());
  return s;
}

expected<sealer> sealer::load_or_create(const std::string& path) {
  if (auto st = sodium_ready(); !st)
    return st.error_value();
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT)
      return io_fail("cannot stat the secret key " + path);
    if (auto made = create_key_file(path); !made)
      return made.error_value();
  }
  return load(path);
}

expected<std::string> sealer::seal(std::string_view deployment,
                                   std::string_view key,
                                   std::string_view value) const {
  auto ad = context_of(deployment, key);
  std::string material = ad;
  material += '\0';
  material += value;
  std::uint8_t nonce[nonce_bytes];
  crypto_generichash(nonce, sizeof nonce,
                     reinterpret_cast<const unsigned char*>(material.data()),
                     material.size(), keys_->nonce, key_bytes);
  sodium_memzero(material.data(), material.size());
  std::vector<std::uint8_t> box(nonce_bytes + value.size() + tag_bytes);
  std::memcpy(box.data(), nonce, nonce_bytes);
  unsigned long long len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      box.data() + nonce_bytes, &len,
      reinterpret_cast<const unsigned char*>(value.data()), value.size(),
      reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr,
      nonce, keys_->encrypt);
  box.resize(nonce_bytes + static_cast<std::size_t>(len));
  constexpr int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string b64(sodium_base64_ENCODED_LEN(box.size(), variant), '\0');
  sodium_bin2base64(b64.data(), b64.size(), box.data(), box.size(), variant);
  b64.resize(std::strlen(b64.c_str()));
  return std::string(prefix) + id_ + "." + b64;
}

expected<std::string> sealer::open(std::string_view deployment,
                                   std::string_view key,
                                   std::string_view sealed) const {
  auto fail = [&](const std::string& why) -> error {
    return make_error(ec::secret_unreadable,
                      "secret env " + std::string(key) + " of deployment '"
                          + std::string(deployment)
                          + "' cannot be opened: " + why);
  };
  auto id = sealed_key_id(sealed);
  if (id.empty())
    return fail("not a sealed value");
  if (id != id_)
    return fail("it was sealed with another key (id " + id
                + "; this data dir's key is " + id_ + ")");
  auto b64 = sealed.substr(prefix.size() + id.size() + 1);
  // Only the alphabet: libsodium 1.0.18 decodes a byte 0xff like '-', and a
  // sealed value has one spelling.
  for (char c : b64)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
          || (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return fail("damaged (not base64)");
  if (b64.empty()) // (libsodium's decoder takes no null buffer: UBSan)
    return fail("damaged (too short)");
  std::vector<std::uint8_t> box(b64.size()); // base64 never decodes to more
  std::size_t len = 0;
  const char* end = nullptr;
  constexpr int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  if (sodium_base642bin(box.data(), box.size(), b64.data(), b64.size(), nullptr,
                        &len, &end, variant)
          != 0
      || end != b64.data() + b64.size())
    return fail("damaged (not base64)");
  if (len < nonce_bytes + tag_bytes)
    return fail("damaged (too short)");
  auto ad = context_of(deployment, key);
  std::string value(len - nonce_bytes - tag_bytes, '\0');
  unsigned long long out = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(value.data()), &out, nullptr,
          box.data() + nonce_bytes, len - nonce_bytes,
          reinterpret_cast<const unsigned char*>(ad.data()), ad.size(),
          box.data(), keys_->encrypt)
      != 0) {
    sodium_memzero(value.data(), value.size());
    return fail("damaged, or sealed for another deployment or key");
  }
  value.resize(static_cast<std::size_t>(out));
  return value;
}

const std::string& sealer::key_id() const {
  return id_;
}

std::string sealed_key_id(std::string_view sealed) {
  if (!sealed.starts_with(prefix) || sealed.size() < prefix.size() + 9
      || sealed[prefix.size() + 8] != '.')
    return {};
  auto id = sealed.substr(prefix.size(), 8);
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return {};
  return std::string(id);
}

} // namespace volant::secrets
