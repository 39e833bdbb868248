// Fuzz target `event`: the journal's FlatBuffers codec (src/store/codec.hpp)
// on arbitrary bytes, as a damaged RocksDB value would hand it over. A record
// is either rejected with ec::corrupt_record / ec::unsupported_version and a
// message, or decoded into a value that packs and decodes back to itself and
// renders as an audit line. Snapshots (identifier VSNP) go through the same
// checks; event records carry VEVT.

#include "fuzz.hpp"

#include "store/codec.hpp"
#include "wire/json.hpp"

namespace {

using namespace volant;

bool rejected_well(const error& err) {
  return (err.code == ec::corrupt_record || err.code == ec::unsupported_version)
         && !err.message.empty();
}

/// A decoded value packs and decodes back to itself and renders as JSON (what
/// `volant-replay` and the api print of it).
template <class T, class Pack, class Unpack>
void round_trips(const T& value, Pack pack, Unpack unpack) {
  auto again = unpack(pack(value));
  VOLANT_FUZZ_ASSERT(again.has_value());
  VOLANT_FUZZ_ASSERT(*again == value);
  auto shown = wire::to_json(value);
  VOLANT_FUZZ_ASSERT(
      !shown.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).empty());
}

} // namespace

bool volant::fuzz::accepts(std::span<const std::uint8_t> input) {
  if (auto rec = store::unpack_event(input)) {
    round_trips(*rec, store::pack_event, store::unpack_event);
    return true;
  } else {
    VOLANT_FUZZ_ASSERT(rejected_well(rec.error_value()));
  }
  if (auto snap = store::unpack_snapshot(input)) {
    round_trips(*snap, store::pack_snapshot, store::unpack_snapshot);
    return true;
  } else {
    VOLANT_FUZZ_ASSERT(rejected_well(snap.error_value()));
  }
  return false;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  volant::fuzz::accepts({data, size});
  return 0;
}
