#pragma once

// FlatBuffers codec between core values and the on-disk / wire format of
// schemas/*.fbs. The generated headers are included only inside src/store
// (codec.cpp, and codec_types.{hpp,cpp} for the shared domain tables). `unpack_*`
// always runs the FlatBuffers verifier and checks the file identifier first, and its
// errors name the missing or bad field (ec::corrupt_record / ec::unsupported_version).

#include "events/error.hpp"
#include "events/events.hpp"
#include "events/state.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace volant::store {

/// Encodes one committed event as an `EventEnvelope` (identifier "VEVT").
std::vector<std::uint8_t> pack_event(const recorded_event& rec);

/// Decodes and verifies an `EventEnvelope`. Errors: ec::corrupt_record naming
/// the event kind and field path (e.g. "event vm_created: missing field
/// 'name'"); ec::unsupported_version for an unknown union tag, enum value or
/// newer envelope version. Any alignment of `bytes` is accepted.
expected<recorded_event> unpack_event(std::span<const std::uint8_t> bytes);

/// Encodes the whole state as a `Snapshot` (identifier "VSNP").
std::vector<std::uint8_t> pack_snapshot(const world& w);

/// Decodes and verifies a `Snapshot`.
expected<world> unpack_snapshot(std::span<const std::uint8_t> bytes);

} // namespace volant::store
