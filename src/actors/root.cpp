#include "actors/root.hpp"

#include "actors/api_actor.hpp"
#include "actors/controller.hpp"
#include "actors/inspect.hpp"
#include "actors/journal.hpp"
#include "actors/live.hpp"
#include "actors/log.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/publish.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <unistd.h>
#include <fstream>

namespace volant {

namespace {

using self_ptr = caf::stateful_actor<root_state>*;

std::atomic<std::uint16_t> bound_port{0};
std::atomic<bool> gave_up{false};

void spawn_journal(self_ptr self) {
  auto& st = self->state;
  st.journal = self->spawn<caf::linked>(journal, st.ctx);
  st.ctx->live->set(st.journal);
}

void spawn_controller(self_ptr self, world w) {
  auto& st = self->state;
  st.controller = self->spawn<caf::linked>(controller, st.ctx, std::move(w));
  st.ctx->live->set(st.controller);
}

/// The api is monitored, not linked: an exit message with reason `kill` always
/// kills its receiver and travels along links, so a peer that sends one to
/// the api would take the whole tree down with it. Published over TLS
/// (docs/protocol.md, "Handshake").
bool spawn_api(self_ptr self) {
  auto& st = self->state;
  st.api = self->spawn(api, st.ctx);
  *st.api_cell = st.api;
  self->monitor(st.api);
  auto port = caf::openssl::publish(st.api, st.port, st.host.c_str(), true);
  if (!port) {
    VLOG_ERROR("root", "cannot listen on {}:{}: {}", st.host, st.port,
               self->system().render(port.error()));
    self->quit(port.error());
    return false;
  }
  st.port = *port;
  bound_port = *port;
  std::ofstream(st.ctx->data_dir + "/endpoint") << st.host << ":" << *port << "\n";
  return true;
}

/// Restarts the journal, controller or api at once (they are the daemon: a
/// delay would only leave the endpoint without them for longer).
void respawn(self_ptr self, const std::string& who) {
  auto& st = self->state;
  if (who == "journal") {
    // Appends in flight to the old one fail, and the controller restarts from the
    // log; everybody else finds the new journal in the context.
    spawn_journal(self);
  } else if (who == "controller") {
    auto w = st.ctx->store->load();
    if (!w) {
      VLOG_ERROR("root", "cannot reload state: {}", w.error_value().message);
      self->quit(caf::make_error(caf::sec::runtime_error));
      return;
    }
    spawn_controller(self, std::move(*w)); // the api finds it in the context
  } else {
    self->system().middleman().unpublish(caf::actor_cast<caf::actor>(st.api), st.port);
    spawn_api(self);
  }
}

/// A child crashed: restart it, or give up (after too many crashes in a row).
void on_child_crash(self_ptr self, const std::string& who, const caf::error& reason) {
  auto& st = self->state;
  // Journaled after the respawn, through the controller of the moment (a new
  // one when the controller itself crashed).
  bool restarted = supervise_crash(self, st.children, "root", who, reason,
                                   controller_actor{}, [=](std::chrono::milliseconds) {
                                     respawn(self, who);
                                   });
  if (restarted) {
    auto count = st.children.crashes[who];
    caf::anon_send(st.controller, command_atom::value,
                   command{record_actor_crash{who, self->system().render(reason), count}});
    return;
  }
  // The top of the tree gave up: escalate to the operating system (a service
  // manager restarts volantd; the workloads keep running and are adopted). The
  // signal goes to the process, not this thread: only main waits for it.
  gave_up = true;
  st.ctx->live->clear();
  ::kill(::getpid(), SIGTERM);
}

void on_exit(self_ptr self, const caf::exit_msg& msg) {
  auto& st = self->state;
  std::string who = msg.source == st.journal.address()      ? "journal"
                    : msg.source == st.controller.address() ? "controller"
                                                            : "";
  if (who.empty()) {
    st.ctx->live->clear();
    self->quit(msg.reason);
    return;
  }
  on_child_crash(self, who, msg.reason);
}

void on_down(self_ptr self, const caf::down_msg& msg) {
  auto& st = self->state;
  if (msg.source != st.api.address())
    return;
  if (msg.reason != caf::sec::runtime_error) {
    // Not a crash of its own (an exception): something from outside stopped
    // it, an exit message with reason `kill` (the only one its exit handler
    // cannot ignore). Restarted at once and not counted, so that no peer can
    // make the supervision give up.
    VLOG_WARN("root", "the api was stopped from outside ({}): restarting it",
              self->system().render(msg.reason));
    respawn(self, "api");
    return;
  }
  on_child_crash(self, "api", msg.reason);
}

} // namespace

std::uint16_t published_port() {
  return bound_port;
}

bool root_gave_up() {
  return gave_up;
}

caf::behavior root(caf::stateful_actor<root_state>* self, daemon_context* ctx,
                   world initial, std::string host, std::uint16_t port) {
  auto& st = self->state;
  st.ctx = ctx;
  st.host = std::move(host);
  st.port = port;
  self->set_exit_handler([=](caf::exit_msg& msg) { on_exit(self, msg); });
  self->set_down_handler([=](caf::down_msg& msg) { on_down(self, msg); });
  // The api is not linked: it ends with the root (with `kill`, the one exit
  // reason it does not ignore).
  self->attach_functor([cell = st.api_cell](const caf::error&) {
    if (*cell)
      caf::anon_send_exit(*cell, caf::exit_reason::kill);
  });
  enlist(self, ctx, "root");
  spawn_journal(self);
  spawn_controller(self, std::move(initial));
  spawn_api(self);
  return {
    [=](inspect_atom) -> std::string {
      auto& st = self->state;
      auto j = inspect_header(self, "root", "root", "supervising");
      j.update({{"host", st.host},
                {"port", st.port},
                {"child_crashes", st.children.crashes},
                {"children", {"journal", "controller", "api"}}});
      return j.dump();
    },
  };
}

} // namespace volant
