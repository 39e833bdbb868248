#pragma once

#include "actors/actors.hpp"
#include "actors/context.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <deque>

namespace volant {

/// The group-commit writer: a detached actor that blocks in fsync so that nobody
/// else does.
using journal_writer_actor
  = caf::typed_actor<caf::replies_to<append_atom, event_batch>::with<record_batch>,
                     caf::replies_to<append_atom, event_batch, std::uint64_t>::with<record_batch>>;

struct journal_state {
  struct pending {
    event_batch events;
    caf::typed_response_promise<record_batch> promise;
  };
  daemon_context* ctx = nullptr;
  journal_writer_actor writer;
  std::deque<pending> queue;   ///< appends waiting for the next batch
  bool writing = false;        ///< a batch is at the writer
  std::uint64_t batches = 0;
  std::uint64_t appends = 0;
  std::int64_t last_batch_us = 0;
  /// Appends per second over the last full window of at least a second.
  double append_rate = 0;
  std::chrono::steady_clock::time_point window_start = std::chrono::steady_clock::now();
  std::uint64_t window_appends = 0;
  static inline const char* name = "journal";
};

/// The single writer of the log: appends queued while a batch is being synced go
/// out together in the next one.
journal_actor::behavior_type
journal(journal_actor::stateful_pointer<journal_state> self, daemon_context* ctx);

} // namespace volant
