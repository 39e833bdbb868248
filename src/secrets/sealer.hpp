#pragma once

// Secret env values at rest: sealed with the data dir's key before they reach
// the core, the journal or any view, and opened only when a workload is
// launched (docs/protocol.md, "Secret env").
//
// The key is 32 random bytes in `<data-dir>/secret.key` (hex, mode 0600),
// made at the first start; an existing file readable or writable by group or
// others, or owned by another user, is refused. Two subkeys are derived from
// it (libsodium's crypto_kdf): one encrypts (XChaCha20-Poly1305, IETF AEAD),
// one derives the nonce from what is sealed (a keyed BLAKE2b of deployment,
// key and value, as SIV does), so that equal values of the same deployment and
// key seal to equal bytes: re-applying a secret changes no template, and a
// changed secret changes it exactly like a changed env value. The price is
// that the journal shows when a value repeats (never the value). Deployment
// and key are the associated data: a sealed value moved to another key or
// deployment does not open.
//
// A sealed value is text: "vs1.<key id, 8 hex>.<base64url(nonce |
// ciphertext)>".

#include "events/error.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace volant::secrets {

/// Bytes of the data dir's key.
inline constexpr std::size_t key_bytes = 32;

/// Where a data dir keeps its key.
std::string key_path(const std::string& data_dir);

/// Seals and opens secret env values with one key. Move-only; the key material
/// lives in memory libsodium locks and wipes.
class sealer {
public:
  /// Reads the key at `path`, or makes one there (mode 0600, written to a
  /// temporary file, synced, renamed) when there is none. Refused: a file
  /// readable or writable by group or others, one owned by another user, not a
  /// regular file, or not 64 hex digits.
  static expected<sealer> load_or_create(const std::string& path);

  /// Reads the key at `path` (the same checks); an absent file is an error.
  static expected<sealer> load(const std::string& path);

  /// A sealer over the given key (tests).
  static expected<sealer>
  from_key(const std::array<std::uint8_t, key_bytes>& key);

  sealer(sealer&&) noexcept;
  sealer& operator=(sealer&&) noexcept;
  ~sealer();

  /// Seals `value` of env `key` in `deployment`. Deterministic (see above).
  expected<std::string> seal(std::string_view deployment, std::string_view key,
                             std::string_view value) const;

  /// Opens what `seal` made for the same deployment and key. Anything else
  /// (another key file, another deployment or key, a changed byte, a cut, not
  /// this format) is one ec::secret_unreadable error naming the key; never a
  /// crash, never a partial value.
  expected<std::string> open(std::string_view deployment, std::string_view key,
                             std::string_view sealed) const;

  /// The public id of the key in sealed values (8 hex digits).
  const std::string& key_id() const;

private:
  struct keys;
  sealer(std::unique_ptr<keys, void (*)(keys*)> k, std::string id);
  std::unique_ptr<keys, void (*)(keys*)> keys_;
  std::string id_;
};

/// The key id a sealed value names, or "" if it is not a sealed value.
std::string sealed_key_id(std::string_view sealed);

} // namespace volant::secrets
