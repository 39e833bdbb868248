#pragma once

// Logging through a few macros over spdlog: the actor or VM name first, then a
// stable, greppable message.

#include <spdlog/spdlog.h>

#define VLOG_DEBUG(who, fmt, ...) spdlog::debug("[{}] " fmt, who __VA_OPT__(, ) __VA_ARGS__)
#define VLOG_INFO(who, fmt, ...) spdlog::info("[{}] " fmt, who __VA_OPT__(, ) __VA_ARGS__)
#define VLOG_WARN(who, fmt, ...) spdlog::warn("[{}] " fmt, who __VA_OPT__(, ) __VA_ARGS__)
#define VLOG_ERROR(who, fmt, ...) spdlog::error("[{}] " fmt, who __VA_OPT__(, ) __VA_ARGS__)
