#pragma once

// volar's connection to volantd: a CAF remote actor handle to `api`, the token,
// and JSON in and out (docs/protocol.md).

#include "events/error.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace volant::cli {

struct client_options {
  std::string data_dir; ///< resolved data directory (token, endpoint files)
  std::string endpoint; ///< HOST:PORT; empty: $VOLANT_ENDPOINT, endpoint file, default
  std::string token;    ///< empty: $VOLANT_TOKEN, else <data-dir>/token
  std::chrono::milliseconds timeout{60000};
  /// How long the TCP connect plus the TLS and CAF handshakes may take: a port
  /// that accepts but never completes them (a stopped or wedged volantd, or
  /// another program) is an error after this, not a hang.
  std::chrono::milliseconds connect_timeout{15000};
  /// With no reply after this on an open connection, the same request (same
  /// id) is sent again on a new connection, twice at most (client::call).
  std::chrono::milliseconds retry_after{5000};
};

class client {
public:
  /// Connects to the daemon; a clear error if it is not running.
  static expected<std::unique_ptr<client>> connect(const client_options& opts);

  ~client();

  /// One request; the reply JSON or the daemon's error.
  expected<nlohmann::json> call(const std::string& verb, const nlohmann::json& args);

  /// The endpoint connected to, "HOST:PORT".
  const std::string& endpoint() const;

  /// The token this client sends.
  const std::string& token() const;

  struct impl;

  /// A second connection to the daemon `first` reached, for a retry, within
  /// `limit`; null when it cannot be made.
  static std::unique_ptr<impl> connect_again(const impl& first,
                                             std::chrono::milliseconds limit);

private:
  explicit client(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// The endpoint volar would use: flag, $VOLANT_ENDPOINT, <data-dir>/endpoint, or
/// 127.0.0.1:7462.
std::string resolve_endpoint(const client_options& opts);

} // namespace volant::cli
