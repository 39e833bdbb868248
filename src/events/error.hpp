#pragma once

// The one error vocabulary of Volant. The numbers are pinned: they cross the wire
// (CAF error codes) and appear in scripts' exit paths, so never renumber or reuse one.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace volant {

/// Every way a command, a record or the environment can be rejected.
enum class ec : std::uint8_t {
  /// A name breaks the DNS-label rules (1-63 chars of [a-z0-9-], no edge '-').
  invalid_name = 1,
  /// A replica count is negative or not a number.
  invalid_replicas = 2,
  /// A deployment asks for more replicas than the per-deployment limit.
  replica_limit = 3,
  /// The host would hold more VMs than its limit.
  host_vm_limit = 4,
  /// CPU count below 1.
  invalid_cpu = 5,
  /// Memory below 1 MiB.
  invalid_memory = 6,
  /// A label is not `key=value` with a valid key.
  invalid_label = 7,
  /// An environment entry is not `KEY=VALUE` with a valid key.
  invalid_env = 8,
  /// A volume is not `HOST_PATH[:persistent]` with an absolute path.
  invalid_volume = 9,
  /// The named plugin (or version) is not installed.
  unknown_plugin = 10,
  /// A deployment or plugin of that name exists already.
  duplicate_name = 11,
  /// Admission would overcommit host memory.
  insufficient_memory = 12,
  /// No deployment of that name.
  unknown_deployment = 13,
  /// No VM of that name.
  unknown_vm = 14,
  /// A plugin manifest is malformed; the message names the field.
  invalid_manifest = 15,
  /// A plugin cannot be removed while a deployment uses it.
  plugin_in_use = 16,
  /// No free address is left in the IP pool.
  ip_pool_exhausted = 17,
  /// A command argument is malformed (the message says which).
  invalid_argument = 18,
  /// The command conflicts with the aggregate's current state.
  conflict = 19,
  /// The request did not carry the right token.
  unauthorized = 20,
  /// A stored record failed verification; the message names seq and field.
  corrupt_record = 21,
  /// The environment failed: disk, process, socket.
  io_error = 22,
  /// The daemon could not be reached.
  daemon_unreachable = 23,
  /// A record or message was written by a newer, unknown format version.
  unsupported_version = 24,
  /// A strategy or rollout parameter is invalid.
  invalid_strategy = 25,
  /// A health check definition is invalid; the message names the field.
  invalid_health_check = 26,
  /// A host configuration is invalid (pool, capacity, limits).
  invalid_host_config = 27,
  /// Something that was not found, generically (a snapshot, a seq).
  not_found = 28,
  /// A sealed secret does not open: another key, or damaged.
  secret_unreadable = 29,
  /// No load balancer of that name.
  unknown_lb = 30,
  /// Admission would exceed the host's vCPU limit (cores x --cpu-overcommit).
  insufficient_cpu = 31,
  /// No persistent volume of that name.
  unknown_volume = 32,
  /// No quota of that name.
  unknown_quota = 33,
  /// Admission would exceed a deployment's quota (max_vms, max_cpu, max_memory_gb).
  quota_exceeded = 34,
  /// A quota definition is invalid; the message names the field.
  invalid_quota = 35,
  /// No autoscaler of that name.
  unknown_autoscaler = 36,
  /// An autoscaler definition is invalid; the message names the field.
  invalid_autoscaler = 37,
};

/// The stable spelling of an error code, e.g. "insufficient_memory".
std::string_view to_string(ec code) noexcept;

/// An error code with a message a user can act on.
struct error {
  ec code = ec::invalid_argument;
  std::string message;

  friend bool operator==(const error&, const error&) = default;
};

/// Builds an error; `message` is a complete, user-facing sentence fragment.
/// The error for a plugin that is not installed, with how to install one;
/// `label` is its name or name:version.
error plugin_not_installed(const std::string& label);

inline error make_error(ec code, std::string message) {
  return error{code, std::move(message)};
}

/// A value or an error. C++20 has no std::expected; this is the minimal subset.
template <class T>
class expected {
public:
  expected(T value) : data_(std::move(value)) {}
  expected(error err) : data_(std::move(err)) {}

  bool has_value() const noexcept { return data_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { return std::get<0>(data_); }
  const T& value() const& { return std::get<0>(data_); }
  T&& value() && { return std::get<0>(std::move(data_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const error& error_value() const& { return std::get<1>(data_); }

private:
  std::variant<T, error> data_;
};

/// Success-or-error for operations without a value.
using status = expected<std::monostate>;

/// The success value for `status`.
inline status ok() { return std::monostate{}; }

} // namespace volant
