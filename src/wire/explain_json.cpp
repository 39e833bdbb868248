#include "wire/explain_json.hpp"

#include "wire/json.hpp"

namespace volant::wire {

nlohmann::json explanation_to_json(const explanation& x) {
  auto chain = nlohmann::json::array();
  for (const auto& step : x.chain)
    chain.push_back({{"seq", step.seq},
                     {"at", format_time(step.at)},
                     {"kind", step.kind},
                     {"text", step.text}});
  return {{"subject", x.subject}, {"summary", x.summary}, {"chain", std::move(chain)}};
}

} // namespace volant::wire
