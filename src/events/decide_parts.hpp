#pragma once

// The parts of `decide` (events/state.hpp) kept in files of their own: what
// they share with decide.cpp. Internal to src/events.

#include "events/commands.hpp"
#include "events/error.hpp"
#include "events/placement.hpp"
#include "events/state.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace volant::decide_detail {

using events = std::vector<event>;
using result = expected<events>;

/// 'text', for messages.
std::string quoted(std::string_view text);

error no_deployment(const std::string& name);

/// True when `a` and `b` differ at most in their health and readiness checks:
/// such a change needs no new VM (an in-place update), the probe restarts.
bool checks_only(vm_template a, vm_template b);

// Load balancers (decide_lb.cpp).
result decide_one(const world& w, const create_lb& cmd, unix_nanos now);
result decide_one(const world& w, const switch_lb& cmd, unix_nanos now);
result decide_one(const world& w, const delete_lb& cmd, unix_nanos now);

// Rollouts (decide_rollout.cpp).
result decide_one(const world& w, const record_rollout& cmd, unix_nanos now);
result decide_one(const world& w, const check_rollout& cmd, unix_nanos now);

// Volumes and quotas (decide_volumes.cpp).

/// The volume events of VM `vm` in slot `index` of `d` at its creation or
/// recreation: its template's persistent volumes created (the first time) and
/// attached, the ones its template dropped detached; an error while one is
/// still attached to another VM.
result attach_volumes(const world& w, const deployment_state& d, std::uint32_t index,
                      const std::string& vm, unix_nanos now);

/// VM `vm` is removed: its volumes are detached (and deleted when purged).
events release_volumes(const world& w, const std::string& vm, unix_nanos now);

/// `delete --purge-volumes`: the deployment's detached volumes go at once.
events purge_detached(const world& w, const std::string& deployment, unix_nanos now);

result decide_one(const world& w, const delete_volume& cmd, unix_nanos now);
result decide_one(const world& w, const set_quotas& cmd, unix_nanos now);
result decide_one(const world& w, const set_autoscaler& cmd, unix_nanos now);
result decide_one(const world& w, const delete_autoscaler& cmd, unix_nanos now);

// Cluster hosts (decide_hosts.cpp).

/// The host a new VM of `d` goes to: the world's one host, or in a cluster
/// where `place` puts it; an error naming why no host can take it.
expected<std::string> place_vm(const world& w, const deployment_state& d);

/// The lowest free address of `host`'s /24 (in a cluster), else of the pool.
expected<ipv4> allocate_ip_on(const world& w, const std::string& host);

/// A spread deployment's scale-down in a cluster: the slots that go, `n` of
/// them, so that its replicas stay even across hosts (as Kubernetes ranks a
/// ReplicaSet's pods): empty slots first, then the highest index on the
/// host with the most of its replicas.
std::vector<std::uint32_t> spread_victims(const world& w, const deployment_state& d,
                                          std::int32_t n);

result decide_one(const world& w, const join_host& cmd, unix_nanos now);
result decide_one(const world& w, const lose_host& cmd, unix_nanos now);
result decide_one(const world& w, const drain_host& cmd, unix_nanos now);

} // namespace volant::decide_detail
