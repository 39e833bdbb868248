#pragma once

// volant-replay's subcommands. Each returns the process exit code and prints its
// own one-line error on failure.

#include "events/types.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace volant::replay {

struct events_options {
  std::string data_dir;
  std::uint64_t from = 1;
  std::uint64_t to = UINT64_MAX;
  std::string aggregate; ///< "web", "web-3" or "vm/web-3"; empty: all
  bool json = false;
};

struct state_options {
  std::string data_dir;
  std::string at; ///< a seq or an RFC 3339 time; empty: the end of the log
  bool json = false;
};

int run_events(const events_options& opts);
int run_state(const state_options& opts);
int run_verify(const std::string& data_dir);

/// Without `accept_loss`: reports what the journal lost (exit 1) or that it is
/// whole (exit 0), changing nothing. With it: records the loss as a
/// `journal_loss_accepted` event and makes the journal open again.
int run_repair(const std::string& data_dir, bool accept_loss);

/// Writes a scripted history (host, plugin, a deployment scaled up and down, a
/// crash and restart, a snapshot) through the core's decide, into an empty journal.
int run_demo(const std::string& data_dir);

} // namespace volant::replay
