#include "actors/root.hpp"

#include "actors/api_actor.hpp"
#include "actors/controller.hpp"
#include "actors/journal.hpp"
#include "actors/log.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <fstream>

namespace volant {

namespace {

using self_ptr = caf::stateful_actor<root_state>*;

std::atomic<std::uint16_t> bound_port{0};

void spawn_controller(self_ptr self, world w) {
  auto& st = self->state;
  st.controller = self->spawn<caf::linked>(controller, st.ctx, st.journal, std::move(w));
}

bool spawn_api(self_ptr self) {
  auto& st = self->state;
  st.api = self->spawn<caf::linked>(api, st.ctx, st.controller, st.journal);
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
  if (who.empty() || msg.reason == caf::exit_reason::user_shutdown) {
    self->quit(msg.reason);
    return;
  }
  auto reason = self->system().render(msg.reason);
  auto count = ++st.crashes[who];
  VLOG_WARN("root", "{} crashed ({}), restarting (crash {})", who, reason, count);
  if (who == "journal") {
    st.journal = self->spawn<caf::linked>(journal, st.ctx);
    // The controller holds the old handle: restart it too, from the log.
    self->send_exit(st.controller, caf::exit_reason::kill);
    return;
  }
  if (who == "controller") {
    auto w = st.ctx->store->load();
    if (!w) {
      VLOG_ERROR("root", "cannot reload state: {}", w.error_value().message);
      self->quit(msg.reason);
      return;
    }
    spawn_controller(self, std::move(*w));
    self->send_exit(st.api, caf::exit_reason::kill); // it holds the old handle
  } else if (who == "api") {
    self->system().middleman().unpublish(caf::actor_cast<caf::actor>(st.api), st.port);
    spawn_api(self);
  }
  self->send(st.controller, command_atom::value,
             command{record_actor_crash{who, reason, count}});
}

} // namespace

std::uint16_t published_port(const caf::actor&) {
  return bound_port;
}

caf::behavior root(caf::stateful_actor<root_state>* self, daemon_context* ctx,
                   world initial, std::string host, std::uint16_t port) {
  auto& st = self->state;
  st.ctx = ctx;
  st.host = std::move(host);
  st.port = port;
  self->set_exit_handler([=](caf::exit_msg& msg) { on_exit(self, msg); });
  st.journal = self->spawn<caf::linked>(journal, ctx);
  spawn_controller(self, std::move(initial));
  spawn_api(self);
  return {
    [=](inspect_atom) -> std::string {
      return nlohmann::json{{"actor", "root"}, {"port", self->state.port}}.dump();
    },
  };
}

} // namespace volant
