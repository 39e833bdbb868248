#include "events/events.hpp"

#include <charconv>

namespace volant {

namespace {

template <class T>
concept named_event = requires(const T& x) {
  x.name;
};

aggregate_id aggregate_of_one(const plugin_installed& x) {
  return {aggregate_kind::plugin, x.manifest.name};
}

aggregate_id aggregate_of_one(const plugin_removed& x) {
  return {aggregate_kind::plugin, x.name};
}

aggregate_id aggregate_of_one(const host_configured& x) {
  return {aggregate_kind::host, x.config.id};
}

aggregate_id aggregate_of_one(const deployment_created& x) {
  return {aggregate_kind::deployment, x.spec.name};
}

aggregate_id aggregate_of_one(const actor_crashed& x) {
  return {aggregate_kind::system, x.actor};
}

aggregate_id aggregate_of_one(const lb_created& x) {
  return {aggregate_kind::lb, x.spec.name};
}

aggregate_id aggregate_of_one(const lb_switched& x) {
  return {aggregate_kind::lb, x.name};
}

aggregate_id aggregate_of_one(const lb_deleted& x) {
  return {aggregate_kind::lb, x.name};
}

aggregate_id aggregate_of_one(const volume_created& x) {
  return {aggregate_kind::volume, volume_name(x.deployment, x.index, x.path)};
}

aggregate_id aggregate_of_one(const autoscaler_set& x) {
  return {aggregate_kind::autoscaler, x.spec.name};
}

aggregate_id aggregate_of_one(const autoscaler_deleted& x) {
  return {aggregate_kind::autoscaler, x.name};
}

aggregate_id aggregate_of_one(const host_joined& x) {
  return {aggregate_kind::host, x.host.name};
}

aggregate_id aggregate_of_one(const host_lost& x) {
  return {aggregate_kind::host, x.name};
}

aggregate_id aggregate_of_one(const quota_set& x) {
  return {aggregate_kind::quota, x.spec.name};
}

aggregate_id aggregate_of_one(const journal_loss_accepted&) {
  return {aggregate_kind::system, "journal"};
}

/// Every other event names its aggregate in `name`: deployments by
/// `deployment_*`, VMs by `vm_*`, volumes by `volume_*`, quotas by `quota_*`.
template <named_event T> aggregate_id aggregate_of_one(const T& x) {
  constexpr auto kind = T::kind_name.starts_with("vm_")       ? aggregate_kind::vm
                        : T::kind_name.starts_with("volume_") ? aggregate_kind::volume
                        : T::kind_name.starts_with("quota_")  ? aggregate_kind::quota
                                                              : aggregate_kind::deployment;
  return {kind, x.name};
}

} // namespace

std::string_view to_string(aggregate_kind kind) noexcept {
  switch (kind) {
  case aggregate_kind::system:
    return "system";
  case aggregate_kind::host:
    return "host";
  case aggregate_kind::plugin:
    return "plugin";
  case aggregate_kind::deployment:
    return "deployment";
  case aggregate_kind::vm:
    return "vm";
  case aggregate_kind::probe:
    return "probe";
  case aggregate_kind::lb:
    return "lb";
  case aggregate_kind::volume:
    return "volume";
  case aggregate_kind::quota:
    return "quota";
  case aggregate_kind::autoscaler:
    return "autoscaler";
  }
  return "unknown";
}

std::string volume_name(std::string_view deployment, std::uint32_t index,
                        std::string_view path) {
  std::string out(deployment);
  out += '-';
  out += std::to_string(index);
  out += ':';
  out += path;
  return out;
}

aggregate_id aggregate_of(const event& ev) {
  return std::visit([](const auto& x) { return aggregate_of_one(x); }, ev);
}

std::string_view kind_name(const event& ev) {
  return std::visit(
      [](const auto& x) { return std::decay_t<decltype(x)>::kind_name; }, ev);
}

std::string_view to_string(vm_status status) noexcept {
  switch (status) {
  case vm_status::pending:
    return "pending";
  case vm_status::starting:
    return "starting";
  case vm_status::running:
    return "running";
  case vm_status::ready:
    return "ready";
  case vm_status::unhealthy:
    return "unhealthy";
  case vm_status::stopping:
    return "stopping";
  case vm_status::stopped:
    return "stopped";
  case vm_status::exited:
    return "exited";
  case vm_status::failed:
    return "failed";
  case vm_status::restarting:
    return "restarting";
  case vm_status::paused:
    return "paused";
  case vm_status::terminating:
    return "terminating";
  }
  return "unknown";
}

std::string_view to_string(lb_algorithm algorithm) noexcept {
  switch (algorithm) {
  case lb_algorithm::round_robin:
    return "round-robin";
  case lb_algorithm::least_conn:
    return "least-conn";
  case lb_algorithm::source:
    return "source";
  }
  return "unknown";
}

std::string_view to_string(rollout_phase phase) noexcept {
  switch (phase) {
  case rollout_phase::progressing:
    return "progressing";
  case rollout_phase::complete:
    return "complete";
  case rollout_phase::failed:
    return "failed";
  }
  return "unknown";
}

std::string_view to_string(strategy_kind kind) noexcept {
  switch (kind) {
  case strategy_kind::recreate:
    return "recreate";
  case strategy_kind::rolling:
    return "rolling";
  }
  return "unknown";
}

std::string to_string_ip(ipv4 ip) {
  std::string out;
  for (int shift = 24; shift >= 0; shift -= 8) {
    if (!out.empty())
      out += '.';
    out += std::to_string((ip >> shift) & 0xFFu);
  }
  return out;
}

// Octets with leading zeros ("010") are rejected: some tools read them as
// octal.
std::optional<ipv4> parse_ipv4(std::string_view text) {
  ipv4 result = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (text.empty() || text.front() != '.')
        return std::nullopt;
      text.remove_prefix(1);
    }
    auto digits = text.substr(0, text.find('.'));
    if (digits.empty() || digits.size() > 3
        || (digits.size() > 1 && digits.front() == '0'))
      return std::nullopt;
    unsigned value = 0;
    auto [end, err]
        = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (err != std::errc{} || end != digits.data() + digits.size()
        || value > 255)
      return std::nullopt;
    result = (result << 8) | value;
    text.remove_prefix(digits.size());
  }
  if (!text.empty())
    return std::nullopt;
  return result;
}

} // namespace volant
