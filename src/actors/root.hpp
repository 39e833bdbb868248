#pragma once

#include "actors/actors.hpp"
#include "actors/context.hpp"
#include "actors/supervise.hpp"

#include <caf/stateful_actor.hpp>

#include <map>
#include <memory>
#include <string>

namespace volant {

struct root_state {
  daemon_context* ctx = nullptr;
  journal_actor journal;
  controller_actor controller;
  api_actor api;
  /// The api of the moment, for the functor that stops it when the root ends
  /// (which runs after the state is gone).
  std::shared_ptr<api_actor> api_cell = std::make_shared<api_actor>();
  std::string host;
  std::uint16_t port = 0;
  supervision children; ///< crashes of the journal, controller and api
  static inline const char* name = "root";
};

/// The root supervisor: spawns the journal, the controller (from `initial`) and the
/// published api, and restarts whichever crashes (a controller from the log).
/// `port` 0 lets the OS choose; the bound endpoint is written to
/// <data-dir>/endpoint. If publishing fails the root quits with that error.
caf::behavior root(caf::stateful_actor<root_state>* self, daemon_context* ctx,
                   world initial, std::string host, std::uint16_t port);

/// The published port, once the root runs (0 before or on failure).
std::uint16_t published_port();

/// Whether the root gave up on a child that kept crashing (volantd then exits 1).
bool root_gave_up();

} // namespace volant
