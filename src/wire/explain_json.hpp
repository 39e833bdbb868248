#pragma once

// The JSON of `shell.explain` (docs/protocol.md): an explanation from
// src/events/explain.hpp as {"subject", "summary", "chain": [{"seq", "at",
// "kind", "text"}]}, times in RFC 3339 UTC like every other reply.

#include "events/explain.hpp"

#include <nlohmann/json.hpp>

namespace volant::wire {

/// {"subject", "summary", "chain": [{"seq", "at", "kind", "text"}]}
nlohmann::json explanation_to_json(const explanation& x);

} // namespace volant::wire
