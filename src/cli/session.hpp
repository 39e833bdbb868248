#pragma once

// What every volar command shares: the global options, the (lazy) connection to
// volantd, output helpers, and the one way to fail: throw cli_error, which main
// prints as one line "volar: <message>" with the exit code of its kind.

#include "cli/client.hpp"
#include "events/error.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace volant::cli {

/// --data-dir, --endpoint, --json.
struct globals {
  std::string data_dir; ///< as given; empty: $VOLANT_HOME or ~/.volant
  std::string
      endpoint; ///< as given; empty: $VOLANT_ENDPOINT, endpoint file, default
  bool json = false;
  std::int64_t request_timeout = 60; ///< seconds to wait for each reply
  bool request_timeout_given = false; ///< --request-timeout on the command line
};

/// Exit codes: 1 rejected request, 2 usage, 3 daemon unreachable.
inline constexpr int exit_rejected = 1;
inline constexpr int exit_usage = 2;
inline constexpr int exit_unreachable = 3;

struct cli_error {
  error err;
  int exit_code = exit_rejected;
};

/// The exit code of an error: 3 for an unreachable daemon, else 1.
int exit_code_of(const error& err);

[[noreturn]] void fail(error err);

/// The value, or fail with the error.
template <class T> T must(expected<T> result) {
  if (!result)
    fail(result.error_value());
  return std::move(*result);
}

/// Connects on the first call, so that commands validate their input first.
class session {
public:
  explicit session(const globals& g);
  ~session();

  /// One request; fails (throws cli_error) with the daemon's message.
  nlohmann::json call(const std::string& verb, const nlohmann::json& args);

  /// Tries to connect; the error instead of failing.
  expected<client*> try_connect();

  const globals& options() const noexcept { return g_; }
  std::string data_dir() const;

private:
  const globals& g_;
  std::unique_ptr<client> client_;
};

/// Pretty JSON on stdout.
void print_json(const nlohmann::json& j);

/// Now, in Unix nanoseconds.
std::int64_t now_nanos();

/// stdin and stdout are both terminals.
bool interactive();

} // namespace volant::cli
