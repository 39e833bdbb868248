#include "actors/root.hpp"

#include "actors/api_actor.hpp"
#include "actors/controller.hpp"
#include "actors/inspect.hpp"
#include "actors/journal.hpp"
#include "actors/log.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

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
  self->system().registry().erase(journal_key); // put() does not overwrite
  self->system().registry().put(journal_key,
                                caf::actor_cast<caf::strong_actor_ptr>(st.journal));
}

void spawn_controller(self_ptr self, world w) {
  auto& st = self->state;
  st.controller = self->spawn<caf::linked>(controller, st.ctx, std::move(w));
  self->system().registry().erase(controller_key); // put() does not overwrite
  self->system().registry().put(controller_key,
                                caf::actor_cast<caf::strong_actor_ptr>(st.controller));
}

bool spawn_api(self_ptr self) {
  auto& st = self->state;
  st.api = self->spawn<caf::linked>(api, st.ctx);
  auto port = self->system().middleman().publish(st.api, st.port, st.host.c_str(), true);
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
    // log; everybody else finds the new journal in the registry.
    spawn_journal(self);
  } else if (who == "controller") {
    auto w = st.ctx->store->load();
    if (!w) {
      VLOG_ERROR("root", "cannot reload state: {}", w.error_value().message);
      self->quit(caf::make_error(caf::sec::runtime_error));
      return;
    }
    spawn_controller(self, std::move(*w)); // the api finds it in the registry
  } else {
    self->system().middleman().unpublish(caf::actor_cast<caf::actor>(st.api), st.port);
    spawn_api(self);
  }
}

void on_exit(self_ptr self, const caf::exit_msg& msg) {
  auto& st = self->state;
  std::string who = msg.source == st.journal.address()      ? "journal"
                    : msg.source == st.controller.address() ? "controller"
                    : msg.source == st.api.address()        ? "api"
                                                            : "";
  if (who.empty()) {
    self->system().registry().erase(controller_key);
    self->system().registry().erase(journal_key);
    self->quit(msg.reason);
    return;
  }
  // Journaled after the respawn, through the controller of the moment (a new
  // one when the controller itself crashed).
  bool restarted = supervise_crash(self, st.children, "root", who, msg.reason,
                                   controller_actor{}, [=](std::chrono::milliseconds) {
                                     respawn(self, who);
                                   });
  if (restarted) {
    auto count = st.children.crashes[who];
    caf::anon_send(st.controller, command_atom::value,
                   command{record_actor_crash{who, self->system().render(msg.reason), count}});
    return;
  }
  // The top of the tree gave up: escalate to the operating system (a service
  // manager restarts volantd; the workloads keep running and are adopted). The
  // signal goes to the process, not this thread: only main waits for it.
  gave_up = true;
  self->system().registry().erase(controller_key);
  self->system().registry().erase(journal_key);
  ::kill(::getpid(), SIGTERM);
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
