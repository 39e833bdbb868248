// Fuzz target `deployment_yaml`: the Deployment manifests of `volar apply -f`
// (src/cli/manifest_yaml.hpp), one or several documents. Any bytes are either
// rejected with an error naming the field (and the document), or give specs
// that passed validation, have distinct names and cross the wire unchanged:
// volar sends encode_spec and volantd reads it with spec_from_json.

#include "fuzz.hpp"

#include "cli/manifest_yaml.hpp"
#include "events/validate.hpp"
#include "wire/json.hpp"

#include <limits>
#include <set>
#include <string>

bool volant::fuzz::accepts(std::span<const std::uint8_t> input) {
  auto docs = cli::deployment_documents_from_yaml(text_of(input));
  if (!docs) {
    VOLANT_FUZZ_ASSERT(!docs.error_value().message.empty());
    return false;
  }
  VOLANT_FUZZ_ASSERT(!docs->empty() && docs->size() <= cli::max_yaml_documents);
  std::set<std::string> names;
  for (const auto& doc : *docs) {
    const auto& spec = doc.spec;
    VOLANT_FUZZ_ASSERT(names.insert(spec.name).second);
    VOLANT_FUZZ_ASSERT(
        validate_spec(spec, std::numeric_limits<std::int32_t>::max()).has_value());
    auto sent = wire::encode_spec(spec).dump();
    auto received = wire::spec_from_json(nlohmann::json::parse(sent));
    VOLANT_FUZZ_ASSERT(received.has_value());
    VOLANT_FUZZ_ASSERT(*received == spec);
  }
  // The single-deployment reading agrees with the stream's.
  auto one = cli::deployment_from_yaml(text_of(input));
  VOLANT_FUZZ_ASSERT(one.has_value() == (docs->size() == 1));
  if (one)
    VOLANT_FUZZ_ASSERT(*one == docs->front().spec);
  return true;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  volant::fuzz::accepts({data, size});
  return 0;
}
