// Fuzz target `manifest`: plugin manifest JSON (src/wire/manifest.hpp), the
// text `volar plugins install --manifest FILE` sends. Any bytes are either
// rejected with an error naming what is wrong, or give a manifest that passed
// validation and survives manifest_to_json -> parse_manifest unchanged (what
// `plugins show` prints can be installed again).

#include "fuzz.hpp"

#include "events/validate.hpp"
#include "wire/manifest.hpp"

#include <nlohmann/json.hpp>

bool volant::fuzz::accepts(std::span<const std::uint8_t> input) {
  auto m = wire::parse_manifest(text_of(input));
  if (!m) {
    VOLANT_FUZZ_ASSERT(!m.error_value().message.empty());
    return false;
  }
  VOLANT_FUZZ_ASSERT(validate_manifest(*m).has_value());
  auto shown = wire::manifest_to_json(*m).dump();
  auto again = wire::parse_manifest(shown);
  VOLANT_FUZZ_ASSERT(again.has_value());
  VOLANT_FUZZ_ASSERT(*again == *m);
  return true;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  volant::fuzz::accepts({data, size});
  return 0;
}
