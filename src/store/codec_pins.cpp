// The persisted numbering of enums and probe kinds is pinned to the core's at
// compile time: a schema change that renumbers what records hold fails the
// build (the event union's order is pinned in codec.cpp, beside its tables).

#include "store/codec_types.hpp"

#include "events/events.hpp"

#include "events_generated.h"

#include <cstddef>
#include <type_traits>
#include <variant>

namespace volant::store {
namespace {

using detail::num;

static_assert(num(fb::VmStatus::MAX) == num(vm_status::terminating));
static_assert(num(fb::VmStatus::terminating) == num(vm_status::terminating));
static_assert(num(fb::RolloutPhase::MAX) == num(rollout_phase::failed));
static_assert(num(fb::RolloutPhase::progressing) == num(rollout_phase::progressing));
static_assert(num(fb::RolloutPhase::complete) == num(rollout_phase::complete));
static_assert(num(fb::VmStatus::pending) == num(vm_status::pending));
static_assert(num(fb::VmStatus::starting) == num(vm_status::starting));
static_assert(num(fb::VmStatus::running) == num(vm_status::running));
static_assert(num(fb::VmStatus::ready) == num(vm_status::ready));
static_assert(num(fb::VmStatus::unhealthy) == num(vm_status::unhealthy));
static_assert(num(fb::VmStatus::stopping) == num(vm_status::stopping));
static_assert(num(fb::VmStatus::stopped) == num(vm_status::stopped));
static_assert(num(fb::VmStatus::exited) == num(vm_status::exited));
static_assert(num(fb::VmStatus::failed) == num(vm_status::failed));
static_assert(num(fb::VmStatus::restarting) == num(vm_status::restarting));
static_assert(num(fb::VmStatus::paused) == num(vm_status::paused));
static_assert(num(fb::StrategyKind::MAX) == num(strategy_kind::rolling));
static_assert(num(fb::StrategyKind::recreate) == num(strategy_kind::recreate));
static_assert(num(fb::AggregateKind::MAX) == num(aggregate_kind::autoscaler));
static_assert(num(fb::AggregateKind::quota) == num(aggregate_kind::quota));
static_assert(num(fb::MetricKind::MAX) == num(metric_kind::requests));
static_assert(num(fb::MetricKind::memory) == num(metric_kind::memory));
static_assert(num(fb::AggregateKind::lb) == num(aggregate_kind::lb));
static_assert(num(fb::AggregateKind::volume) == num(aggregate_kind::volume));
static_assert(num(fb::LbAlgorithm::MAX) == num(lb_algorithm::source));
static_assert(num(fb::AggregateKind::system) == num(aggregate_kind::system));
static_assert(num(fb::AggregateKind::host) == num(aggregate_kind::host));
static_assert(num(fb::AggregateKind::plugin) == num(aggregate_kind::plugin));
static_assert(num(fb::AggregateKind::deployment)
              == num(aggregate_kind::deployment));
static_assert(num(fb::AggregateKind::vm) == num(aggregate_kind::vm));
static_assert(num(fb::Probe::MAX) == std::variant_size_v<probe_kind>);
/// The index of alternative T in variant V, without constructing a value
/// (clang 14 cannot run libstdc++'s std::string constructor at compile time).
template <class T, class V> struct index_in;
template <class T, class... Ts> struct index_in<T, std::variant<Ts...>> {
  static constexpr std::size_t value = [] {
    constexpr bool same[] = {std::is_same_v<T, Ts>...};
    std::size_t i = 0;
    while (i < sizeof...(Ts) && !same[i])
      ++i;
    return i;
  }();
};
static_assert(num(fb::Probe::NoCheck) == index_in<no_check, probe_kind>::value + 1);
static_assert(num(fb::Probe::HttpCheck)
              == index_in<http_check, probe_kind>::value + 1);
static_assert(num(fb::Probe::TcpCheck) == index_in<tcp_check, probe_kind>::value + 1);
static_assert(num(fb::Probe::ProcessCheck)
              == index_in<process_check, probe_kind>::value + 1);
static_assert(num(fb::Event::MAX) == std::variant_size_v<event>,
              "schemas/events.fbs union Event and volant::event disagree");

} // namespace
} // namespace volant::store
