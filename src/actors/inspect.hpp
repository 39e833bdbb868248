#pragma once

// Helpers every actor uses to take part in inspection (actors.hpp,
// `inspectable_actor`; src/actors/directory.hpp).

#include "actors/context.hpp"
#include "actors/directory.hpp"

#include <caf/error.hpp>
#include <caf/exit_reason.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace volant {

/// Enlists `self` in the daemon's actor directory as `kind`/`name` for as long as
/// it lives. Call once, from the actor's behavior function.
template <class Self>
void enlist(Self* self, daemon_context* ctx, const std::string& kind,
            const std::string& name = {}) {
  if (ctx->actors == nullptr)
    return;
  auto path = actor_path(kind, name);
  auto addr = self->address();
  ctx->actors->enter(kind, name, addr, now_nanos());
  self->attach_functor([dir = ctx->actors, path, addr](const caf::error& reason) {
    bool crashed = reason && reason != caf::make_error(caf::exit_reason::user_shutdown)
                   && reason != caf::make_error(caf::exit_reason::normal);
    dir->leave(path, addr, crashed);
  });
}

/// The fields every inspection reply starts with. Call from inside the actor
/// (the mailbox may only be sized by its owner).
template <class Self>
nlohmann::json inspect_header(Self* self, std::string_view kind, const std::string& name,
                              std::string_view status) {
  return {{"actor", kind},
          {"name", name},
          {"status", status},
          {"mailbox", self->mailbox().size()}};
}

} // namespace volant
