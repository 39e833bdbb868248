// FlatBuffers codec: core values <-> schemas/*.fbs. With codec_types.cpp the
// only code that includes the generated headers.
//
// Events: union tag == index in the volant::event variant + 1, pinned at
// compile time below. Unpack checks size and identifier, runs the verifier,
// checks the format version, then reads every field; `decode_failure`
// (codec_types.hpp) becomes a `volant::error` naming the record and the field.

#include "store/codec.hpp"

#include "store/codec_types.hpp"

#include "events_generated.h"
#include "snapshot_generated.h"

#include <array>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace volant::store {
namespace {

using namespace detail;
using detail::get; // overloaded below for event and snapshot tables
using detail::pack;

/// Format versions written into every record. A reader rejects newer ones.
constexpr std::uint16_t envelope_version = 1;
constexpr std::uint16_t snapshot_version = 1;

/// Verifier limits: a snapshot of a large world holds many tables.
constexpr flatbuffers::uoffset_t max_depth = 64;
constexpr flatbuffers::uoffset_t max_event_tables = 1u << 20;
constexpr flatbuffers::uoffset_t max_snapshot_tables = 1u << 30;

/// The table of each event; the static_assert below pins union tag == index
/// + 1.
template <class E> struct table_of;

#define VOLANT_TABLE(E, T)                                                     \
  template <> struct table_of<E> { using type = fb::T; }

VOLANT_TABLE(plugin_installed, PluginInstalled);
VOLANT_TABLE(plugin_removed, PluginRemoved);
VOLANT_TABLE(host_configured, HostConfigured);
VOLANT_TABLE(deployment_created, DeploymentCreated);
VOLANT_TABLE(deployment_scaled, DeploymentScaled);
VOLANT_TABLE(deployment_updated, DeploymentUpdated);
VOLANT_TABLE(deployment_auto_restart_set, DeploymentAutoRestartSet);
VOLANT_TABLE(deployment_paused, DeploymentPaused);
VOLANT_TABLE(deployment_resumed, DeploymentResumed);
VOLANT_TABLE(deployment_deleted, DeploymentDeleted);
VOLANT_TABLE(vm_created, VmCreated);
VOLANT_TABLE(vm_started, VmStarted);
VOLANT_TABLE(vm_adopted, VmAdopted);
VOLANT_TABLE(vm_ready, VmReady);
VOLANT_TABLE(vm_unhealthy, VmUnhealthy);
VOLANT_TABLE(vm_exited, VmExited);
VOLANT_TABLE(vm_start_failed, VmStartFailed);
VOLANT_TABLE(vm_restart_scheduled, VmRestartScheduled);
VOLANT_TABLE(vm_stopped, VmStopped);
VOLANT_TABLE(vm_removed, VmRemoved);
VOLANT_TABLE(actor_crashed, ActorCrashed);
VOLANT_TABLE(vm_paused, VmPaused);
VOLANT_TABLE(vm_resumed, VmResumed);
VOLANT_TABLE(vm_recreated, VmRecreated);
VOLANT_TABLE(journal_loss_accepted, JournalLossAccepted);
VOLANT_TABLE(vm_replace_requested, VmReplaceRequested);
VOLANT_TABLE(vm_terminating, VmTerminating);
VOLANT_TABLE(deployment_rollout, DeploymentRollout);
VOLANT_TABLE(lb_created, LbCreated);
VOLANT_TABLE(lb_switched, LbSwitched);
VOLANT_TABLE(lb_deleted, LbDeleted);
VOLANT_TABLE(vm_drained, VmDrained);
VOLANT_TABLE(vm_not_ready, VmNotReady);
VOLANT_TABLE(volume_created, VolumeCreated);
VOLANT_TABLE(volume_attached, VolumeAttached);
VOLANT_TABLE(volume_detached, VolumeDetached);
VOLANT_TABLE(volume_deleted, VolumeDeleted);
VOLANT_TABLE(quota_set, QuotaSet);
VOLANT_TABLE(quota_deleted, QuotaDeleted);
VOLANT_TABLE(deployment_quota_set, DeploymentQuotaSet);
VOLANT_TABLE(autoscaler_set, AutoscalerSet);
VOLANT_TABLE(autoscaler_deleted, AutoscalerDeleted);
VOLANT_TABLE(host_joined, HostJoined);
VOLANT_TABLE(host_lost, HostLost);

#undef VOLANT_TABLE

template <std::size_t... Is>
constexpr bool tags_match(std::index_sequence<Is...>) {
  return ((num(fb::EventTraits<typename table_of<
                   std::variant_alternative_t<Is, event>>::type>::enum_value)
           == Is + 1)
          && ...);
}

static_assert(
    tags_match(std::make_index_sequence<std::variant_size_v<event>>{}),
    "union Event member order differs from volant::event");

// -- packing events -----------------------------------------------------------

// One overload per event: the body of the union.

off<void> body(builder& b, const plugin_installed& e) {
  return fb::CreatePluginInstalled(b, pack(b, e.manifest), e.at).Union();
}
off<void> body(builder& b, const plugin_removed& e) {
  return fb::CreatePluginRemoved(b, str(b, e.name), str(b, e.version), e.at)
      .Union();
}
off<void> body(builder& b, const host_configured& e) {
  return fb::CreateHostConfigured(b, pack(b, e.config), e.at).Union();
}
off<void> body(builder& b, const deployment_created& e) {
  return fb::CreateDeploymentCreated(b, pack(b, e.spec), e.revision, e.at)
      .Union();
}
off<void> body(builder& b, const deployment_scaled& e) {
  auto removed = e.removed.empty() ? 0 : b.CreateVector(e.removed);
  auto cause = e.cause.empty() ? 0 : str(b, e.cause);
  auto detail = e.detail.empty() ? 0 : str(b, e.detail);
  return fb::CreateDeploymentScaled(b, str(b, e.name), e.from, e.to, e.at, removed, cause,
                                    detail)
      .Union();
}
off<void> body(builder& b, const deployment_updated& e) {
  return fb::CreateDeploymentUpdated(b, str(b, e.name), pack(b, e.tmpl),
                                     pack(b, e.strategy), e.revision, e.at,
                                     e.in_place, str(b, e.reason), e.revert_of)
      .Union();
}
off<void> body(builder& b, const deployment_auto_restart_set& e) {
  return fb::CreateDeploymentAutoRestartSet(b, str(b, e.name), e.enabled, e.at)
      .Union();
}
off<void> body(builder& b, const deployment_paused& e) {
  return fb::CreateDeploymentPaused(b, str(b, e.name), e.at).Union();
}
off<void> body(builder& b, const deployment_resumed& e) {
  return fb::CreateDeploymentResumed(b, str(b, e.name), e.at).Union();
}
off<void> body(builder& b, const deployment_deleted& e) {
  return fb::CreateDeploymentDeleted(b, str(b, e.name), e.at, e.purge_volumes).Union();
}
off<void> body(builder& b, const vm_created& e) {
  return fb::CreateVmCreated(b, str(b, e.name), str(b, e.deployment), e.index,
                             str(b, e.host), e.ip, e.revision, e.cpu,
                             e.memory_mib, e.at, e.restarts, e.backoff_ms,
                             e.reason.empty() ? off<flatbuffers::String>{} : str(b, e.reason))
      .Union();
}
off<void> body(builder& b, const vm_started& e) {
  return fb::CreateVmStarted(b, str(b, e.name), pack(b, e.handle), e.at, e.incarnation)
      .Union();
}
off<void> body(builder& b, const vm_adopted& e) {
  return fb::CreateVmAdopted(b, str(b, e.name), pack(b, e.handle), e.at, e.incarnation)
      .Union();
}
off<void> body(builder& b, const vm_ready& e) {
  return fb::CreateVmReady(b, str(b, e.name), e.at, e.incarnation).Union();
}
off<void> body(builder& b, const vm_unhealthy& e) {
  return fb::CreateVmUnhealthy(b, str(b, e.name), str(b, e.reason), e.at, e.incarnation)
      .Union();
}
off<void> body(builder& b, const vm_exited& e) {
  return fb::CreateVmExited(b, str(b, e.name), e.exit_code, str(b, e.reason),
                            e.at, e.incarnation)
      .Union();
}
off<void> body(builder& b, const vm_start_failed& e) {
  return fb::CreateVmStartFailed(b, str(b, e.name), str(b, e.error), e.at, e.incarnation)
      .Union();
}
off<void> body(builder& b, const vm_restart_scheduled& e) {
  return fb::CreateVmRestartScheduled(b, str(b, e.name), str(b, e.reason),
                                      e.backoff_ms, e.at, e.incarnation)
      .Union();
}
off<void> body(builder& b, const vm_stopped& e) {
  return fb::CreateVmStopped(b, str(b, e.name), e.at, e.incarnation).Union();
}
off<void> body(builder& b, const vm_removed& e) {
  return fb::CreateVmRemoved(b, str(b, e.name), e.at).Union();
}
off<void> body(builder& b, const actor_crashed& e) {
  return fb::CreateActorCrashed(b, str(b, e.actor), str(b, e.reason), e.count,
                                e.at)
      .Union();
}
off<void> body(builder& b, const vm_paused& e) {
  return fb::CreateVmPaused(b, str(b, e.name), e.at, e.incarnation).Union();
}
off<void> body(builder& b, const vm_resumed& e) {
  return fb::CreateVmResumed(b, str(b, e.name), e.at, e.incarnation).Union();
}
off<void> body(builder& b, const vm_recreated& e) {
  return fb::CreateVmRecreated(b, str(b, e.name), e.revision, e.cpu,
                               e.memory_mib, e.restarts, e.backoff_ms,
                               str(b, e.reason), e.at)
      .Union();
}
off<void> body(builder& b, const vm_replace_requested& e) {
  return fb::CreateVmReplaceRequested(b, str(b, e.name), e.at).Union();
}
off<void> body(builder& b, const vm_terminating& e) {
  return fb::CreateVmTerminating(b, str(b, e.name), str(b, e.reason), e.grace_ms,
                                 e.at, e.incarnation)
      .Union();
}
off<void> body(builder& b, const lb_created& e) {
  return fb::CreateLbCreated(b, pack(b, e.spec), e.at).Union();
}
off<void> body(builder& b, const lb_switched& e) {
  return fb::CreateLbSwitched(b, str(b, e.name), str(b, e.from), str(b, e.to), e.at)
      .Union();
}
off<void> body(builder& b, const lb_deleted& e) {
  return fb::CreateLbDeleted(b, str(b, e.name), e.at).Union();
}
off<void> body(builder& b, const volume_created& e) {
  return fb::CreateVolumeCreated(b, e.id, str(b, e.deployment), e.index, str(b, e.path),
                                 e.size_mib, e.at)
      .Union();
}
off<void> body(builder& b, const volume_attached& e) {
  return fb::CreateVolumeAttached(b, e.id, str(b, e.name), str(b, e.vm), e.at).Union();
}
off<void> body(builder& b, const volume_detached& e) {
  return fb::CreateVolumeDetached(b, e.id, str(b, e.name), str(b, e.vm), e.at).Union();
}
off<void> body(builder& b, const volume_deleted& e) {
  return fb::CreateVolumeDeleted(b, e.id, str(b, e.name), str(b, e.reason), e.at).Union();
}
off<void> body(builder& b, const quota_set& e) {
  return fb::CreateQuotaSet(b, pack(b, e.spec), str(b, e.source), e.at).Union();
}
off<void> body(builder& b, const quota_deleted& e) {
  return fb::CreateQuotaDeleted(b, str(b, e.name), str(b, e.source), e.at).Union();
}
off<void> body(builder& b, const deployment_quota_set& e) {
  return fb::CreateDeploymentQuotaSet(b, str(b, e.name), str(b, e.from), str(b, e.to), e.at)
      .Union();
}
off<void> body(builder& b, const autoscaler_set& e) {
  return fb::CreateAutoscalerSet(b, pack(b, e.spec), e.at).Union();
}
off<void> body(builder& b, const autoscaler_deleted& e) {
  return fb::CreateAutoscalerDeleted(b, str(b, e.name), e.at).Union();
}
off<void> body(builder& b, const host_joined& e) {
  return fb::CreateHostJoined(b, pack(b, e.host), e.at).Union();
}
off<void> body(builder& b, const host_lost& e) {
  return fb::CreateHostLost(b, str(b, e.name), str(b, e.reason), e.at).Union();
}
off<void> body(builder& b, const vm_not_ready& e) {
  return fb::CreateVmNotReady(b, str(b, e.name), str(b, e.reason), e.at, e.incarnation)
      .Union();
}
off<void> body(builder& b, const vm_drained& e) {
  return fb::CreateVmDrained(b, str(b, e.name), str(b, e.lb), e.at, e.incarnation).Union();
}
off<void> body(builder& b, const deployment_rollout& e) {
  return fb::CreateDeploymentRollout(b, str(b, e.name), e.revision,
                                     static_cast<fb::RolloutPhase>(e.phase),
                                     e.updated, e.replicas, str(b, e.reason), e.at)
      .Union();
}
off<void> body(builder& b, const journal_loss_accepted& e) {
  return fb::CreateJournalLossAccepted(b, e.last_good_seq, e.high_water_seq,
                                       e.lost, str(b, e.damage),
                                       str(b, e.saved_to), e.at)
      .Union();
}

std::vector<std::uint8_t> finished(const builder& b) {
  const auto* p = b.GetBufferPointer();
  return {p, p + b.GetSize()};
}

// -- unpacking events ---------------------------------------------------------

// One overload per event table. `at` is the root path (empty).

plugin_installed get(const fb::PluginInstalled& x, const path& at) {
  return {get(x.manifest(), {&at, "manifest"}), x.at()};
}
plugin_removed get(const fb::PluginRemoved& x, const path& at) {
  return {get(x.name(), {&at, "name"}), get(x.version(), {&at, "version"}),
          x.at()};
}
host_configured get(const fb::HostConfigured& x, const path& at) {
  return {get(x.config(), {&at, "config"}), x.at()};
}
deployment_created get(const fb::DeploymentCreated& x, const path& at) {
  return {get(x.spec(), {&at, "spec"}), x.revision(), x.at()};
}
deployment_scaled get(const fb::DeploymentScaled& x, const path& at) {
  deployment_scaled e{get(x.name(), {&at, "name"}), x.from(), x.to(), x.at()};
  if (const auto* removed = x.removed())
    e.removed.assign(removed->begin(), removed->end());
  if (x.cause() != nullptr) // appended: absent before autoscalers
    e.cause = x.cause()->str();
  if (x.detail() != nullptr)
    e.detail = x.detail()->str();
  return e;
}
deployment_updated get(const fb::DeploymentUpdated& x, const path& at) {
  // reason and revert_of were appended: absent in older records.
  return {get(x.name(), {&at, "name"}),
          get(x.tmpl(), {&at, "tmpl"}),
          get(x.strategy(), {&at, "strategy"}),
          x.revision(),
          x.at(),
          x.in_place(),
          x.reason() != nullptr ? x.reason()->str() : std::string(),
          x.revert_of()};
}
deployment_auto_restart_set get(const fb::DeploymentAutoRestartSet& x,
                                const path& at) {
  return {get(x.name(), {&at, "name"}), x.enabled(), x.at()};
}
deployment_paused get(const fb::DeploymentPaused& x, const path& at) {
  return {get(x.name(), {&at, "name"}), x.at()};
}
deployment_resumed get(const fb::DeploymentResumed& x, const path& at) {
  return {get(x.name(), {&at, "name"}), x.at()};
}
deployment_deleted get(const fb::DeploymentDeleted& x, const path& at) {
  return {get(x.name(), {&at, "name"}), x.at(), x.purge_volumes()};
}
volume_created get(const fb::VolumeCreated& x, const path& at) {
  return {x.id(), get(x.deployment(), {&at, "deployment"}), x.index(),
          get(x.path(), {&at, "path"}), x.size_mib(), x.at()};
}
volume_attached get(const fb::VolumeAttached& x, const path& at) {
  return {x.id(), get(x.name(), {&at, "name"}), get(x.vm(), {&at, "vm"}), x.at()};
}
volume_detached get(const fb::VolumeDetached& x, const path& at) {
  return {x.id(), get(x.name(), {&at, "name"}), get(x.vm(), {&at, "vm"}), x.at()};
}
volume_deleted get(const fb::VolumeDeleted& x, const path& at) {
  return {x.id(), get(x.name(), {&at, "name"}), get(x.reason(), {&at, "reason"}), x.at()};
}
quota_set get(const fb::QuotaSet& x, const path& at) {
  return {get(x.spec(), {&at, "spec"}), get(x.source(), {&at, "source"}), x.at()};
}
quota_deleted get(const fb::QuotaDeleted& x, const path& at) {
  return {get(x.name(), {&at, "name"}), get(x.source(), {&at, "source"}), x.at()};
}
autoscaler_set get(const fb::AutoscalerSet& x, const path& at) {
  return {get(x.spec(), {&at, "spec"}), x.at()};
}
autoscaler_deleted get(const fb::AutoscalerDeleted& x, const path& at) {
  return {get(x.name(), {&at, "name"}), x.at()};
}
host_joined get(const fb::HostJoined& x, const path& at) {
  return {get(x.host(), {&at, "host"}), x.at()};
}
host_lost get(const fb::HostLost& x, const path& at) {
  return {get(x.name(), {&at, "name"}), get(x.reason(), {&at, "reason"}), x.at()};
}
deployment_quota_set get(const fb::DeploymentQuotaSet& x, const path& at) {
  return {get(x.name(), {&at, "name"}), get(x.from(), {&at, "from"}), get(x.to(), {&at, "to"}),
          x.at()};
}
vm_created get(const fb::VmCreated& x, const path& at) {
  return {get(x.name(), {&at, "name"}),
          get(x.deployment(), {&at, "deployment"}),
          x.index(),
          get(x.host(), {&at, "host"}),
          x.ip(),
          x.revision(),
          x.cpu(),
          x.memory_mib(),
          x.at(),
          x.restarts(),
          x.backoff_ms(),
          x.reason() ? x.reason()->str() : std::string()};
}
vm_started get(const fb::VmStarted& x, const path& at) {
  return {get(x.name(), {&at, "name"}), get(x.handle(), {&at, "handle"}),
          x.at(), x.incarnation()};
}
vm_adopted get(const fb::VmAdopted& x, const path& at) {
  return {get(x.name(), {&at, "name"}), get(x.handle(), {&at, "handle"}),
          x.at(), x.incarnation()};
}
vm_ready get(const fb::VmReady& x, const path& at) {
  return {get(x.name(), {&at, "name"}), x.at(), x.incarnation()};
}
vm_unhealthy get(const fb::VmUnhealthy& x, const path& at) {
  return {get(x.name(), {&at, "name"}), get(x.reason(), {&at, "reason"}),
          x.at(), x.incarnation()};
}
vm_exited get(const fb::VmExited& x, const path& at) {
  return {get(x.name(), {&at, "name"}), x.exit_code(),
          get(x.reason(), {&at, "reason"}), x.at(), x.incarnation()};
}
vm_start_failed get(const fb::VmStartFailed& x, const path& at) {
  return {get(x.name(), {&at, "name"}), get(x.error(), {&at, "error"}), x.at(),
          x.incarnation()};
}
vm_restart_scheduled get(const fb::VmRestartScheduled& x, const path& at) {
  return {get(x.name(), {&at, "name"}), get(x.reason(), {&at, "reason"}),
          x.backoff_ms(), x.at(), x.incarnation()};
}
vm_stopped get(const fb::VmStopped& x, const path& at) {
  return {get(x.name(), {&at, "name"}), x.at(), x.incarnation()};
}
vm_removed get(const fb::VmRemoved& x, const path& at) {
  return {get(x.name(), {&at, "name"}), x.at()};
}
actor_crashed get(const fb::ActorCrashed& x, const path& at) {
  return {get(x.actor(), {&at, "actor"}), get(x.reason(), {&at, "reason"}),
          x.count(), x.at()};
}
vm_paused get(const fb::VmPaused& x, const path& at) {
  return {get(x.name(), {&at, "name"}), x.at(), x.incarnation()};
}
vm_resumed get(const fb::VmResumed& x, const path& at) {
  return {get(x.name(), {&at, "name"}), x.at(), x.incarnation()};
}
vm_recreated get(const fb::VmRecreated& x, const path& at) {
  return {get(x.name(), {&at, "name"}),   x.revision(), x.cpu(),
          x.memory_mib(),                 x.restarts(), x.backoff_ms(),
          get(x.reason(), {&at, "reason"}), x.at()};
}
vm_replace_requested get(const fb::VmReplaceRequested& x, const path& at) {
  return {get(x.name(), {&at, "name"}), x.at()};
}
vm_terminating get(const fb::VmTerminating& x, const path& at) {
  return {get(x.name(), {&at, "name"}), get(x.reason(), {&at, "reason"}),
          x.grace_ms(), x.at(), x.incarnation()};
}
lb_created get(const fb::LbCreated& x, const path& at) {
  return {get(x.spec(), {&at, "spec"}), x.at()};
}
lb_switched get(const fb::LbSwitched& x, const path& at) {
  return {get(x.name(), {&at, "name"}), get(x.from(), {&at, "from"}),
          get(x.to(), {&at, "to"}), x.at()};
}
lb_deleted get(const fb::LbDeleted& x, const path& at) {
  return {get(x.name(), {&at, "name"}), x.at()};
}
vm_not_ready get(const fb::VmNotReady& x, const path& at) {
  return {get(x.name(), {&at, "name"}), get(x.reason(), {&at, "reason"}), x.at(),
          x.incarnation()};
}
vm_drained get(const fb::VmDrained& x, const path& at) {
  return {get(x.name(), {&at, "name"}), get(x.lb(), {&at, "lb"}), x.at(), x.incarnation()};
}
rollout_phase get_phase(fb::RolloutPhase p, const path& at) {
  if (num(p) > num(fb::RolloutPhase::MAX))
    newer({&at, "phase"}, "rollout phase", num(p));
  return static_cast<rollout_phase>(p);
}
deployment_rollout get(const fb::DeploymentRollout& x, const path& at) {
  return {get(x.name(), {&at, "name"}),
          x.revision(),
          get_phase(x.phase(), at),
          x.updated(),
          x.replicas(),
          get(x.reason(), {&at, "reason"}),
          x.at()};
}
journal_loss_accepted get(const fb::JournalLossAccepted& x, const path& at) {
  return {x.last_good_seq(),
          x.high_water_seq(),
          x.lost(),
          get(x.damage(), {&at, "damage"}),
          get(x.saved_to(), {&at, "saved_to"}),
          x.at()};
}

/// Decodes the union body of alternative `I`; errors name the event kind.
template <std::size_t I>
expected<event> unpack_body(const fb::EventEnvelope& env) {
  using E = std::variant_alternative_t<I, event>;
  using T = typename table_of<E>::type;
  try {
    path root;
    const auto* t = static_cast<const T*>(env.event());
    if (t == nullptr)
      return make_error(ec::corrupt_record, "event " + std::string{E::kind_name}
                                                + ": missing its table");
    return event{get(*t, root)};
  } catch (const decode_failure& f) {
    return make_error(f.code,
                      "event " + std::string{E::kind_name} + ": " + f.detail);
  }
}

using body_reader = expected<event> (*)(const fb::EventEnvelope&);

template <std::size_t... Is>
constexpr std::array<body_reader, sizeof...(Is)>
make_body_readers(std::index_sequence<Is...>) {
  return {&unpack_body<Is>...};
}

constexpr auto body_readers
    = make_body_readers(std::make_index_sequence<std::variant_size_v<event>>{});

/// FlatBuffers needs its buffer aligned to the largest scalar; RocksDB values
/// are not. Copies into `scratch` only when needed.
const std::uint8_t* aligned(std::span<const std::uint8_t> bytes,
                            std::vector<std::uint8_t>& scratch) {
  if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(std::uint64_t)
      == 0)
    return bytes.data();
  scratch.assign(bytes.begin(), bytes.end());
  return scratch.data();
}

/// Checks size and identifier; an error message or empty.
std::string check_identifier(std::span<const std::uint8_t> bytes,
                             const char* id, std::string_view what) {
  constexpr std::size_t header
      = sizeof(flatbuffers::uoffset_t) + flatbuffers::kFileIdentifierLength;
  if (bytes.size() < header)
    return std::string{what} + ": truncated (" + std::to_string(bytes.size())
           + " bytes)";
  if (!flatbuffers::BufferHasIdentifier(bytes.data(), id)) {
    std::string found;
    for (std::size_t i = 0; i < flatbuffers::kFileIdentifierLength; ++i) {
      auto c = static_cast<char>(bytes[sizeof(flatbuffers::uoffset_t) + i]);
      found += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    return std::string{what} + ": wrong file identifier '" + found
           + "' (expected '" + id + "')";
  }
  return {};
}

// -- snapshots ----------------------------------------------------------------

off<fb::HostState> pack(builder& b, const host_state& h) {
  std::vector<off<fb::Lease>> leases;
  leases.reserve(h.leases.size());
  for (const auto& [ip, vm] : h.leases)
    leases.push_back(fb::CreateLease(b, ip, str(b, vm)));
  auto lease_vec = b.CreateVector(leases);
  return fb::CreateHostState(b, h.configured, pack(b, h.config), lease_vec,
                             h.memory_used_mib, h.cpu_used);
}

host_state get(const fb::HostState* t, const path& at) {
  const auto& x = need(t, at);
  host_state out;
  out.configured = x.configured();
  out.config = get(x.config(), {&at, "config"});
  each(x.leases(), {&at, "leases"}, [&](const fb::Lease& l, const path& p) {
    if (!out.leases.emplace(l.ip(), get(l.vm(), {&p, "vm"})).second)
      bad(p, "duplicate lease of " + to_string_ip(l.ip()));
  });
  out.memory_used_mib = x.memory_used_mib();
  out.cpu_used = x.cpu_used();
  return out;
}

world get(const fb::Snapshot& x) {
  path root;
  world w;
  w.host = get(x.host(), {&root, "host"});
  each(x.plugins(), {&root, "plugins"},
       [&](const fb::PluginVersions& pv, const path& p) {
         auto name = get(pv.name(), {&p, "name"});
         // Not a structured binding: clang 14 cannot capture one below.
         auto emplaced = w.plugins.by_name.try_emplace(name);
         auto it = emplaced.first;
         if (!emplaced.second)
           bad(p, "duplicate plugin '" + name + "'");
         each(pv.versions(), {&p, "versions"},
              [&](const fb::PluginVersion& v, const path& vp) {
                auto version = get(v.version(), {&vp, "version"});
                auto manifest = get(v.manifest(), {&vp, "manifest"});
                if (!it->second.emplace(version, std::move(manifest)).second)
                  bad(vp, "duplicate version '" + version + "'");
              });
       });
  each(x.deployments(), {&root, "deployments"},
       [&](const fb::DeploymentState& d, const path& p) {
         auto name = get(d.name(), {&p, "name"});
         deployment_state s{get(d.spec(), {&p, "spec"}), d.revision(),
                            d.created_at(), d.updated_at()};
         if (const auto* holes = d.holes())
           s.holes.insert(holes->begin(), holes->end());
         if (const auto* r = d.rollout()) { // appended: absent in old snapshots
           path rp{&p, "rollout"};
           s.rollout = {r->revision(),    get_phase(r->phase(), rp),
                        r->started_at(),  r->progress_at(),
                        r->updated(),     get(r->reason(), {&rp, "reason"}),
                        r->revert_of()};
         }
         s.stable_revision = d.stable_revision();
         if (d.stable_tmpl() != nullptr)
           s.stable_tmpl = get(d.stable_tmpl(), {&p, "stable_tmpl"});
         if (!w.deployments.emplace(name, std::move(s)).second)
           bad(p, "duplicate deployment '" + name + "'");
       });
  each(x.vms(), {&root, "vms"}, [&](const fb::VmEntry& v, const path& p) {
    auto name = get(v.name(), {&p, "name"});
    if (!w.vms.emplace(name, get(v.record(), {&p, "record"})).second)
      bad(p, "duplicate VM '" + name + "'");
  });
  w.last_seq = x.last_seq();
  w.last_at = x.last_at();
  w.last_incarnation = x.last_incarnation();
  if (x.lbs() != nullptr) // appended: absent in old snapshots
    each(x.lbs(), {&root, "lbs"}, [&](const fb::LbSpec& l, const path& p) {
      auto spec = get(&l, p);
      if (!w.lbs.emplace(spec.name, spec).second)
        bad(p, "duplicate load balancer '" + spec.name + "'");
    });
  if (x.volumes() != nullptr) // appended: absent in old snapshots
    each(x.volumes(), {&root, "volumes"}, [&](const fb::VolumeRecord& v, const path& p) {
      auto vol = get(&v, p);
      if (!w.volumes.emplace(vol.id, vol).second)
        bad(p, "duplicate volume " + std::to_string(vol.id));
    });
  w.last_volume_id = x.last_volume_id();
  if (x.quotas() != nullptr) // appended: absent in old snapshots
    each(x.quotas(), {&root, "quotas"}, [&](const fb::QuotaSpec& q, const path& p) {
      auto spec = get(&q, p);
      if (!w.quotas.emplace(spec.name, spec).second)
        bad(p, "duplicate quota '" + spec.name + "'");
    });
  if (x.autoscalers() != nullptr) // appended: absent in old snapshots
    each(x.autoscalers(), {&root, "autoscalers"},
         [&](const fb::AutoscalerSpec& a, const path& p) {
           auto spec = get(&a, p);
           if (!w.autoscalers.emplace(spec.name, spec).second)
             bad(p, "duplicate autoscaler '" + spec.name + "'");
         });
  if (x.hosts() != nullptr) // appended: absent in old snapshots
    each(x.hosts(), {&root, "hosts"}, [&](const fb::ClusterHost& h, const path& p) {
      auto host = get(&h, p);
      if (!w.hosts.emplace(host.name, host).second)
        bad(p, "duplicate host '" + host.name + "'");
    });
  return w;
}

} // namespace

std::vector<std::uint8_t> pack_event(const recorded_event& rec) {
  builder b{512};
  auto agg = aggregate_of(rec.ev);
  auto agg_id = str(b, agg.id);
  auto ev = std::visit([&](const auto& e) { return body(b, e); }, rec.ev);
  auto env = fb::CreateEventEnvelope(
      b, envelope_version, rec.seq, rec.at,
      static_cast<fb::AggregateKind>(agg.kind), agg_id,
      static_cast<fb::Event>(rec.ev.index() + 1), ev);
  fb::FinishEventEnvelopeBuffer(b, env);
  return finished(b);
}

expected<recorded_event> unpack_event(std::span<const std::uint8_t> bytes) {
  if (auto err
      = check_identifier(bytes, fb::EventEnvelopeIdentifier(), "envelope");
      !err.empty())
    return make_error(ec::corrupt_record, std::move(err));
  std::vector<std::uint8_t> scratch;
  const auto* data = aligned(bytes, scratch);
  flatbuffers::Verifier verifier{data, bytes.size(), max_depth,
                                 max_event_tables};
  if (!fb::VerifyEventEnvelopeBuffer(verifier))
    return make_error(ec::corrupt_record,
                      "envelope: FlatBuffers verification failed ("
                          + std::to_string(bytes.size()) + " bytes)");
  const auto& env = *fb::GetEventEnvelope(data);
  if (env.version() == 0)
    return make_error(ec::corrupt_record, "envelope: missing field 'version'");
  if (env.version() > envelope_version)
    return make_error(ec::unsupported_version,
                      "envelope format version " + std::to_string(env.version())
                          + " (this volant reads up to "
                          + std::to_string(envelope_version) + ")");
  if (env.aggregate_id() == nullptr)
    return make_error(ec::corrupt_record,
                      "envelope: missing field 'aggregate_id'");
  auto tag = num(env.event_type());
  if (tag == 0)
    return make_error(ec::corrupt_record, "envelope: missing field 'event'");
  if (tag > body_readers.size())
    return make_error(ec::unsupported_version,
                      "unknown event type tag " + std::to_string(tag)
                          + " (written by a newer volant?)");
  auto ev = body_readers[tag - 1](env);
  if (!ev)
    return ev.error_value();
  return recorded_event{env.seq(), env.at(), std::move(*ev)};
}

std::vector<std::uint8_t> pack_snapshot(const world& w) {
  builder b{4096};
  auto host = pack(b, w.host);
  std::vector<off<fb::PluginVersions>> plugins;
  for (const auto& [name, versions] : w.plugins.by_name) {
    std::vector<off<fb::PluginVersion>> vs;
    for (const auto& [version, manifest] : versions)
      vs.push_back(
          fb::CreatePluginVersion(b, str(b, version), pack(b, manifest)));
    auto vs_vec = b.CreateVector(vs);
    plugins.push_back(fb::CreatePluginVersions(b, str(b, name), vs_vec));
  }
  auto plugin_vec = b.CreateVector(plugins);
  std::vector<off<fb::DeploymentState>> deps;
  for (const auto& [name, d] : w.deployments) {
    const auto& r = d.rollout;
    auto rollout = fb::CreateRolloutState(
      b, r.revision, static_cast<fb::RolloutPhase>(r.phase), r.started_at,
      r.progress_at, r.updated, str(b, r.reason), r.revert_of);
    deps.push_back(fb::CreateDeploymentState(
      b, str(b, name), pack(b, d.spec), d.revision, d.created_at, d.updated_at,
      d.holes.empty() ? 0
                      : b.CreateVector(std::vector<std::uint32_t>(d.holes.begin(),
                                                                  d.holes.end())),
      rollout, d.stable_revision, pack(b, d.stable_tmpl)));
  }
  auto dep_vec = b.CreateVector(deps);
  std::vector<off<fb::VmEntry>> vms;
  for (const auto& [name, vm] : w.vms)
    vms.push_back(fb::CreateVmEntry(b, str(b, name), pack(b, vm)));
  auto vm_vec = b.CreateVector(vms);
  std::vector<off<fb::LbSpec>> lbs;
  for (const auto& [name, lb] : w.lbs)
    lbs.push_back(pack(b, lb));
  auto lb_vec = b.CreateVector(lbs);
  std::vector<off<fb::VolumeRecord>> volumes;
  for (const auto& [id, vol] : w.volumes)
    volumes.push_back(pack(b, vol));
  auto volume_vec = b.CreateVector(volumes);
  std::vector<off<fb::QuotaSpec>> quotas;
  for (const auto& [name, q] : w.quotas)
    quotas.push_back(pack(b, q));
  auto quota_vec = b.CreateVector(quotas);
  std::vector<off<fb::AutoscalerSpec>> autoscalers;
  for (const auto& [name, a] : w.autoscalers)
    autoscalers.push_back(pack(b, a));
  auto autoscaler_vec = b.CreateVector(autoscalers);
  std::vector<off<fb::ClusterHost>> hosts;
  for (const auto& [name, h] : w.hosts)
    hosts.push_back(pack(b, h));
  auto host_vec = b.CreateVector(hosts);
  auto snap = fb::CreateSnapshot(b, snapshot_version, host, plugin_vec, dep_vec,
                                 vm_vec, w.last_seq, w.last_at,
                                 w.last_incarnation, lb_vec, volume_vec,
                                 w.last_volume_id, quota_vec, autoscaler_vec, host_vec);
  fb::FinishSnapshotBuffer(b, snap);
  return finished(b);
}

expected<world> unpack_snapshot(std::span<const std::uint8_t> bytes) {
  if (auto err = check_identifier(bytes, fb::SnapshotIdentifier(), "snapshot");
      !err.empty())
    return make_error(ec::corrupt_record, std::move(err));
  std::vector<std::uint8_t> scratch;
  const auto* data = aligned(bytes, scratch);
  flatbuffers::Verifier verifier{data, bytes.size(), max_depth,
                                 max_snapshot_tables};
  if (!fb::VerifySnapshotBuffer(verifier))
    return make_error(ec::corrupt_record,
                      "snapshot: FlatBuffers verification failed ("
                          + std::to_string(bytes.size()) + " bytes)");
  const auto& snap = *fb::GetSnapshot(data);
  if (snap.version() == 0)
    return make_error(ec::corrupt_record, "snapshot: missing field 'version'");
  if (snap.version() > snapshot_version)
    return make_error(ec::unsupported_version,
                      "snapshot format version "
                          + std::to_string(snap.version())
                          + " (this volant reads up to "
                          + std::to_string(snapshot_version) + ")");
  try {
    return get(snap);
  } catch (const decode_failure& f) {
    return make_error(f.code, "snapshot: " + f.detail);
  }
}

} // namespace volant::store
