#include "actors/api_actor.hpp"

#include "actors/auth.hpp"
#include "actors/crash.hpp"
#include "actors/directory.hpp"
#include "actors/inspect.hpp"
#include "actors/live.hpp"
#include "actors/shell.hpp"
#include "actors/log.hpp"
#include "actors/api_credentials.hpp"
#include "actors/api_reads.hpp"
#include "actors/wire_error.hpp"
#include "wire/json.hpp"
#include "wire/requests.hpp"

#include <caf/all.hpp>

#include <fstream>

namespace volant {

namespace {

using json = nlohmann::json;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

/// `vms.logs`: a chunk of the VM's log file from `offset` (default: the tail).
expected<std::string> read_log(const daemon_context& ctx, const json& args) {
  auto name = args.value("name", std::string{});
  if (name.empty())
    return make_error(ec::invalid_argument, "missing argument 'name'");
  std::ifstream in(ctx.log_path(name), std::ios::binary);
  if (!in)
    return make_error(ec::unknown_vm, "no logs for VM '" + name + "'");
  in.seekg(0, std::ios::end);
  auto size = static_cast<std::int64_t>(in.tellg());
  std::int64_t max = args.value("max", std::int64_t{65536});
  std::int64_t offset = args.contains("offset") && args["offset"].is_number_integer()
                          ? args["offset"].get<std::int64_t>()
                          : std::max<std::int64_t>(0, size - max);
  offset = std::clamp<std::int64_t>(offset, 0, size);
  auto count = std::min(max, size - offset);
  std::string data(static_cast<std::size_t>(count), '\0');
  in.seekg(offset);
  in.read(data.data(), count);
  return dump({{"data", data}, {"offset", offset + count}, {"size", size}});
}

} // namespace

api_actor::behavior_type api(api_actor::pointer self, daemon_context* ctx) {
  enlist(self, ctx, "api");
  // Any peer with a certificate can send the published api any message,
  // system messages included. An exit message would end it (one with reason
  // `kill` still does: no handler sees it, and the root restarts the api), and
  // an unhandled error message would too.
  self->set_exit_handler([=](caf::exit_msg& msg) {
    VLOG_WARN("api", "ignored an exit message ({})", self->system().render(msg.reason));
  });
  self->set_error_handler([=](caf::error& err) {
    VLOG_WARN("api", "ignored an error message ({})", self->system().render(err));
  });
  return {
    [=](request_atom, const std::string& token, const std::string& verb,
        const std::string& args_text) -> caf::result<std::string> {
      // The controller of the moment (the root replaces a crashed one).
      auto controller = ctx->live->controller();
      if (!controller)
        return to_caf({ec::daemon_unreachable, "volantd is restarting its controller; retry"});
      if (!token_equal(token, ctx->token))
        return to_caf({ec::unauthorized,
                       "invalid token: use the one volantd wrote to <data-dir>/token "
                       "(or set VOLANT_TOKEN)"});
      auto args = json::parse(args_text, nullptr, false);
      if (args.is_discarded() || !args.is_object())
        return to_caf({ec::invalid_argument, "request arguments are not a JSON object"});
      VLOG_DEBUG("api", "{} {}", verb, args_text);
      if (verb == "debug.crash") {
        if (!ctx->crash_hook)
          return to_caf({ec::invalid_argument,
                         "debug.crash needs volantd --enable-crash-hook (a test hook)"});
        auto path = args.value("actor", std::string{});
        if (path == "api")
          crash_now(path);
        self->send(controller, crash_atom::value, path);
        return std::string("{}");
      }
      if (is_credentials_verb(verb)) {
        auto reply = answer_credentials(*ctx, verb, args);
        if (!reply)
          return to_caf(reply.error_value());
        return std::move(*reply);
      }
      if (verb == "vms.logs") {
        auto chunk = read_log(*ctx, args);
        if (!chunk)
          return to_caf(chunk.error_value());
        return std::move(*chunk);
      }
      auto rp = self->make_response_promise<std::string>();
      if (is_shell_verb(verb)) {
        answer_shell(self, ctx, verb, args, rp);
        return rp;
      }
      if (verb == "vms.show") {
        // The record as committed, its resource use, plus the live probe's
        // latest samples.
        auto name = args.value("name", std::string{});
        self->request(controller, caf::infinite, query_atom::value, verb, args_text)
          .then(
            [=](std::string& reply) mutable {
              auto vm = json::parse(reply, nullptr, false);
              if (vm.is_object()) {
                add_usage(vm, *ctx);
                vm["log"] = ctx->log_path(name);
              }
              auto probe = ctx->actors ? ctx->actors->find("probe/" + name) : std::nullopt;
              auto target = probe ? caf::actor_cast<inspectable_actor>(probe->addr)
                                  : inspectable_actor{};
              if (!target || !vm.is_object()) {
                rp.deliver(dump(vm));
                return;
              }
              self->request(target, std::chrono::seconds(2), inspect_atom::value)
                .then(
                  [=](const std::string& live) mutable {
                    auto p = json::parse(live, nullptr, false);
                    if (p.is_object())
                      vm["probe"] = {{"verdict", p.value("verdict", "")},
                                     {"checks", p.value("checks", 0)},
                                     {"failures_in_row", p.value("failures_in_row", 0)},
                                     {"samples", p.value("samples", json::array())}};
                    rp.deliver(dump(vm));
                  },
                  [=](caf::error&) mutable { rp.deliver(dump(vm)); });
            },
            [=](caf::error& err) mutable { rp.deliver(err); });
        return rp;
      }
      if (!wire::is_mutation(verb)) {
        // Resource use and recent events are read here, not on the controller.
        bool usage = verb == "vms.list" && args.value("usage", false);
        auto events = verb == "deployments.show" ? args.value("events", std::int64_t{20}) : 0;
        auto name = args.value("name", std::string{});
        self->request(controller, caf::infinite, query_atom::value, verb, args_text)
          .then(
            [=](std::string& reply) mutable {
              if (!usage && events <= 0) {
                rp.deliver(std::move(reply));
                return;
              }
              auto j = json::parse(reply, nullptr, false);
              if (usage)
                add_usage(j, *ctx);
              if (events > 0 && j.is_object())
                j["events"] = recent_events(*ctx, name, static_cast<std::size_t>(events));
              rp.deliver(dump(j));
            },
            [=](caf::error& err) mutable { rp.deliver(err); });
        return rp;
      }
      auto cmd = wire::command_from_request(verb, args);
      if (!cmd)
        return to_caf(cmd.error_value());
      json fixed = json::object();
      if (auto* install = std::get_if<install_plugin>(&*cmd))
        fixed = {{"name", install->manifest.name}, {"version", install->manifest.version}};
      auto [query, query_args] = wire::reply_query(verb, args);
      self->request(controller, caf::infinite, command_atom::value, std::move(*cmd))
        .then(
          [=](record_batch&) mutable {
            if (query.empty()) {
              rp.deliver(dump(fixed));
              return;
            }
            self->request(controller, caf::infinite, query_atom::value, query,
                          dump(query_args))
              .then([=](std::string& reply) mutable { rp.deliver(std::move(reply)); },
                    [=](caf::error& err) mutable { rp.deliver(err); });
          },
          [=](caf::error& err) mutable { rp.deliver(err); });
      return rp;
    },
  };
}

} // namespace volant
