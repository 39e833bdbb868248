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
  auto reason = self->system().render(msg.reason);
  auto count = ++st.crashes[who];
  if (on_crash(st.recent[who], now_nanos()).escalate) {
    // The top of the tree: escalate to the operating system (a service manager
    // restarts volantd; the workloads keep running and are adopted).
    VLOG_ERROR("root", "{} keeps crashing ({}): volantd gives up", who, reason);
    gave_up = true;
    self->system().registry().erase(controller_key);
    self->system().registry().erase(journal_key);
    self->quit(msg.reason);
    ::raise(SIGTERM);
    return;
  }
  // Restarted at once: these three are the daemon; a delay would only leave the
  // endpoint without a controller or journal for longer.
  VLOG_WARN("root", "{} crashed ({}), restarting (crash {})", who, reason, count);
  if (who == "journal") {
    // Appends in flight to the old one fail, and the controller restarts from the
    // log; everybody else finds the new journal in the registry.
    spawn_journal(self);
    caf::anon_send(st.controller, command_atom::value,
                   command{record_actor_crash{who, reason, count}});
    return;
  }
  if (who == "controller") {
    auto w = st.ctx->store->load();
    if (!w) {
      VLOG_ERROR("root", "cannot reload state: {}", w.error_value().message);
      self->quit(msg.reason);
      return;
    }
    spawn_controller(self, std::move(*w)); // the api finds it in the registry
  } else if (who == "api") {
    self->system().middleman().unpublish(caf::actor_cast<caf::actor>(st.api), st.port);
    spawn_api(self);
  }
  // anon: the root has no use for the reply (and no handler for it).
  caf::anon_send(st.controller, command_atom::value,
                 command{record_actor_crash{who, reason, count}});
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
                {"child_crashes", st.crashes},
                {"children", {"journal", "controller", "api"}}});
      return j.dump();
    },
  };
}

} // namespace volant
