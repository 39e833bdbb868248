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

} // namespace

bool volant::fuzz::accepts(std::span<const std::uint8_t> input) {
  auto rec = store::unpack_event(input);
  if (rec) {
    auto again = store::unpack_event(store::pack_event(*rec));
    VOLANT_FUZZ_ASSERT(again.has_value());
    VOLANT_FUZZ_ASSERT(*again == *rec);
    // What `volant-replay events` and the api print of it.
    auto line = wire::to_json(*rec);
    VOLANT_FUZZ_ASSERT(
        !line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).empty());
    return true;
  }
  VOLANT_FUZZ_ASSERT(rejected_well(rec.error_value()));
  auto snap = store::unpack_snapshot(input);
  if (snap) {
    auto again = store::unpack_snapshot(store::pack_snapshot(*snap));
    VOLANT_FUZZ_ASSERT(again.has_value());
    VOLANT_FUZZ_ASSERT(*again == *snap);
    auto state = wire::to_json(*snap);
    VOLANT_FUZZ_ASSERT(
        !state.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).empty());
    return true;
  }
  VOLANT_FUZZ_ASSERT(rejected_well(snap.error_value()));
  return false;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  volant::fuzz::accepts({data, size});
  return 0;
}
