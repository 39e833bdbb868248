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
#include "events/admission.hpp"
#include "events/undo.hpp"
#include "runtime/volumes.hpp"
#include "wire/json.hpp"
#include "wire/reply_cache.hpp"
#include "wire/request_check.hpp"
#include "wire/requests.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <variant>

namespace volant {

namespace {

using json = nlohmann::json;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

/// `vms.logs`: a chunk of the VM's log file from `offset` (default: the tail).
/// The arguments were checked (wire/request_check.cpp): the name is a VM name.
expected<std::string> read_log(const daemon_context& ctx, const json& args) {
  auto name = args.at("name").get<std::string>();
  auto path = ctx.log_path(name);
  if (name.find('@') == std::string::npos) {
    // A slot's name: its newest surge VM's log if it has one (rollouts).
    std::uint64_t newest = 0;
    auto dir = std::filesystem::path(path).parent_path();
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      auto file = entry.path().filename().string();
      auto prefix = name + "@";
      if (!file.starts_with(prefix) || !file.ends_with(".log"))
        continue;
      auto digits = file.substr(prefix.size(), file.size() - prefix.size() - 4);
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos)
        continue;
      if (auto rev = std::stoull(digits); rev > newest) {
        newest = rev;
        path = entry.path().string();
      }
    }
  }
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return make_error(ec::unknown_vm, "no logs for VM '" + name + "'");
  in.seekg(0, std::ios::end);
  auto size = std::max<std::int64_t>(0, static_cast<std::int64_t>(in.tellg()));
  std::int64_t max = args.value("max", std::int64_t{65536});
  std::int64_t offset = args.contains("offset") ? args["offset"].get<std::int64_t>()
                                                : std::max<std::int64_t>(0, size - max);
  offset = std::clamp<std::int64_t>(offset, 0, size);
  auto count = std::min(max, size - offset);
  std::string data(static_cast<std::size_t>(count), '\0');
  in.seekg(offset);
  in.read(data.data(), count);
  return dump({{"data", data}, {"offset", offset + count}, {"size", size}});
}

/// Seals secret env with the data dir's key: what a request carries in clear
/// is sealed here, before it becomes a command, an event or a log line.
wire::seal_fn sealing(const daemon_context* ctx) {
  if (ctx->sealer == nullptr)
    return {};
  return [s = ctx->sealer](const std::string& deployment, const std::string& key,
                           const std::string& value) {
    return s->seal(deployment, key, value);
  };
}

/// `vms.show`: the record as committed, its resource use, plus the live
/// probe's latest samples.
void show_vm(api_actor::pointer self, daemon_context* ctx, const controller_actor& controller,
             const std::string& args_text, const std::string& name,
             caf::typed_response_promise<std::string> rp) {
  self->request(controller, caf::infinite, query_atom::value, std::string("vms.show"), args_text)
    .then(
      [=](std::string& reply) mutable {
        auto vm = json::parse(reply, nullptr, false);
        // `name` may be a slot's name: the VM's own key is its id.
        auto id = vm.is_object() ? vm.value("id", name) : name;
        if (vm.is_object()) {
          add_usage(vm, *ctx);
          vm["log"] = ctx->log_path(id);
        }
        auto probe = ctx->actors ? ctx->actors->find("probe/" + id) : std::nullopt;
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
}

/// Adds what each volume of a `volumes.list` reply holds on disk (measured
/// here, not on the controller's thread).
void add_volume_usage(json& rows, const daemon_context& ctx) {
  if (!rows.is_array())
    return;
  for (auto& row : rows) {
    auto base = ctx.volumes_dir() + "/" + std::to_string(row.value("id", std::uint64_t{0}));
    auto use = runtime::measure_volume(base);
    if (!use.exists)
      use = runtime::measure_volume(base + ".ext4");
    row["on_disk"] = use.exists;
    row["kind"] = !use.exists ? "not made yet" : use.image ? "ext4 image" : "directory";
    row["used_bytes"] = use.used_bytes;
    if (use.image)
      row["size_mib"] = use.capacity_bytes >> 20;
  }
}

/// The other reads: answered by the controller; resource use and recent
/// events are added here, not on the controller's thread.
void read_query(api_actor::pointer self, daemon_context* ctx, const controller_actor& controller,
                const std::string& verb, const std::string& args_text, const json& args,
                caf::typed_response_promise<std::string> rp) {
  bool usage = verb == "vms.list" && args.value("usage", false);
  auto events = verb == "deployments.show" ? args.value("events", std::int64_t{20}) : 0;
  auto name = args.value("name", std::string{});
  bool lb_stats = verb == "lb.show" || verb == "lb.list";
  self->request(controller, caf::infinite, query_atom::value, verb, args_text)
    .then(
      [=](std::string& reply) mutable {
        if (verb == "volumes.list") {
          auto j = json::parse(reply, nullptr, false);
          add_volume_usage(j, *ctx);
          rp.deliver(dump(j));
          return;
        }
        if (lb_stats) {
          auto j = json::parse(reply, nullptr, false);
          add_lb_stats(j, *ctx);
          rp.deliver(dump(j));
          return;
        }
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
}

/// The progress lines of guest builds, by plugin name (`plugins.progress`):
/// written by the builder threads, kept a minute after the build so that a
/// volar whose first poll comes late still prints every line.
struct build_progress {
  struct build {
    std::vector<std::string> lines;
    bool done = false;
    std::chrono::steady_clock::time_point ended{};
  };
  std::mutex mtx;
  std::map<std::string, build> builds;

  void start(const std::string& plugin) {
    std::lock_guard<std::mutex> guard{mtx};
    builds[plugin] = {};
  }
  void add(const std::string& plugin, const std::string& line) {
    std::lock_guard<std::mutex> guard{mtx};
    builds[plugin].lines.push_back(line);
  }
  void done(const std::string& plugin) {
    std::lock_guard<std::mutex> guard{mtx};
    auto& b = builds[plugin];
    b.done = true;
    b.ended = std::chrono::steady_clock::now();
  }
  /// {"building", "lines": the lines from `from` on, "next"}.
  std::string answer(const std::string& plugin, std::size_t from) {
    std::lock_guard<std::mutex> guard{mtx};
    auto now = std::chrono::steady_clock::now();
    for (auto it = builds.begin(); it != builds.end();)
      it = it->second.done && now - it->second.ended > std::chrono::minutes(1)
               ? builds.erase(it)
               : std::next(it);
    json lines = json::array();
    auto it = builds.find(plugin);
    bool building = it != builds.end() && !it->second.done;
    std::size_t next = from;
    if (it != builds.end()) {
      for (std::size_t i = from; i < it->second.lines.size(); ++i)
        lines.push_back(it->second.lines[i]);
      next = std::max(from, it->second.lines.size());
    }
    return dump({{"building", building}, {"lines", lines}, {"next", next}});
  }
};

/// How a request with an id ended: its reply or its error.
using outcome = std::variant<std::string, caf::error>;
using reply_promise = caf::typed_response_promise<std::string>;

/// The api's own state: the replies of requests with an id, and the test hook
/// that drops replies (`debug.drop_reply`).
struct api_state {
  wire::reply_cache<outcome, reply_promise> replies;
  std::shared_ptr<build_progress> builds = std::make_shared<build_progress>();
  std::map<std::string, std::int64_t> drops; ///< verb -> replies still to drop
  std::vector<reply_promise> dropped;        ///< never delivered, on purpose
};

/// Committed vCPUs in a `debug.resources` reply (-1 if it does not say).
std::pair<std::int64_t, std::int64_t> cpu_of(const std::string& resources) {
  auto j = json::parse(resources, nullptr, false);
  if (!j.is_object())
    return {-1, 0};
  return {j.value("cpu_committed", std::int64_t{-1}), j.value("cpu_total", std::int64_t{0})};
}

/// Commands that may commit more vCPUs (a warning when they overcommit).
bool takes_cpu(const command& cmd) {
  return std::holds_alternative<create_deployment>(cmd)
         || std::holds_alternative<scale_deployment>(cmd)
         || std::holds_alternative<update_deployment>(cmd)
         || std::holds_alternative<resume_deployment>(cmd);
}

/// Delivers `reply`, with the vCPU warning when the command took the
/// committed vCPUs from `cpu_before` over the cores (asked after the commit).
void deliver_reply(api_actor::pointer self, const controller_actor& controller,
                   const std::string& verb, std::string reply, std::int64_t cpu_before,
                   caf::typed_response_promise<std::string> rp) {
  if (cpu_before < 0) {
    VLOG_DEBUG("api", "{}: replied", verb);
    rp.deliver(std::move(reply));
    return;
  }
  self->request(controller, caf::infinite, query_atom::value, std::string("debug.resources"),
                std::string("{}"))
    .then(
      [=](std::string& resources) mutable {
        auto [after, cores] = cpu_of(resources);
        if (auto warning = cpu_overcommit_warning(cpu_before, after, cores)) {
          auto j = json::parse(reply, nullptr, false);
          if (j.is_object()) {
            j["warnings"] = json::array({*warning});
            reply = dump(j);
          }
        }
        VLOG_DEBUG("api", "{}: replied", verb);
        rp.deliver(std::move(reply));
      },
      [=](caf::error&) mutable { rp.deliver(std::move(reply)); });
}

/// A mutating verb, its command decoded (and sealed) before any promise; once
/// committed, `rp` gets the reply: the query `reply_query` names.
void commit_now(api_actor::pointer self, const controller_actor& controller,
                const std::string& verb, const json& args, command cmd,
                caf::typed_response_promise<std::string> rp, std::int64_t cpu_before) {
  json fixed = json::object();
  if (auto* install = std::get_if<install_plugin>(&cmd))
    fixed = {{"name", install->manifest.name}, {"version", install->manifest.version}};
  auto [query, query_args] = wire::reply_query(verb, args);
  self->request(controller, caf::infinite, command_atom::value, std::move(cmd))
    .then(
      [=, query = query, query_args = query_args](record_batch& recs) mutable {
        // At debug, each reply is logged as it leaves (with the request line
        // above), so a reply that a volar never got can be told from one never
        // sent (bench/chaos counts volar calls that hang).
        VLOG_DEBUG("api", "{}: {} events committed, replying", verb, recs.size());
        if (query.empty()) {
          rp.deliver(dump(fixed));
          return;
        }
        self->request(controller, caf::infinite, query_atom::value, query, dump(query_args))
          .then(
            [=](std::string& reply) mutable {
              deliver_reply(self, controller, verb, std::move(reply), cpu_before, rp);
            },
            [=](caf::error& err) mutable {
              VLOG_DEBUG("api", "{}: replied with an error", verb);
              rp.deliver(err);
            });
      },
      [=](caf::error& err) mutable {
        VLOG_DEBUG("api", "{}: not committed, replying with the error", verb);
        rp.deliver(err);
      });
}

/// commit_now, after reading the committed vCPUs for a command that may add
/// some (its reply then says when it overcommitted them).
void commit(api_actor::pointer self, const controller_actor& controller, const std::string& verb,
            const json& args, command cmd, caf::typed_response_promise<std::string> rp) {
  if (!takes_cpu(cmd)) {
    commit_now(self, controller, verb, args, std::move(cmd), rp, -1);
    return;
  }
  self->request(controller, caf::infinite, query_atom::value, std::string("debug.resources"),
                std::string("{}"))
    .then(
      [=](std::string& resources) mutable {
        commit_now(self, controller, verb, args, cmd, rp, cpu_of(resources).first);
      },
      [=](caf::error&) mutable { commit_now(self, controller, verb, args, cmd, rp, -1); });
}

/// `plugins.install` of a microVM plugin: its guest is built (or found in the
/// guest cache) on a thread of its own, never the api's, then the manifest
/// with the built kernel, initramfs and root disk is committed. A build that
/// fails commits nothing.
void install_guest(api_actor::pointer self, daemon_context* ctx,
                   const std::shared_ptr<build_progress>& progress,
                   const controller_actor& controller, const std::string& verb,
                   const json& args, command cmd,
                   caf::typed_response_promise<std::string> rp) {
  // The paths and the progress as spawn arguments: CAF 0.17.6 dereferences a
  // null argument tuple when a function actor is spawned without any (UBSan).
  auto build = [](caf::event_based_actor* b, guest::paths paths,
                  std::shared_ptr<build_progress> progress) -> caf::behavior {
    return {[=](build_atom, command& c) -> caf::result<command> {
      b->quit();
      auto& install = std::get<install_plugin>(c);
      auto name = install.manifest.name;
      progress->start(name);
      auto built = guest::build(install.manifest, paths, [&](const std::string& line) {
        VLOG_INFO("guest", "{}: {}", name, line);
        progress->add(name, line);
      });
      progress->done(name);
      if (!built)
        return to_caf(built.error_value());
      install.manifest = std::move(*built);
      return std::move(c);
    }};
  };
  auto builder = self->spawn<caf::detached>(build, ctx->guests, progress);
  self->request(builder, caf::infinite, build_atom::value, std::move(cmd))
    .then([=](command& built) mutable { commit(self, controller, verb, args, std::move(built), rp); },
          [=](caf::error& err) mutable { rp.deliver(err); });
}

/// `deployments.undo`: the deployment's revisions are read from the journal on
/// a thread of their own (the journal keeps every event), and the update that
/// copies the chosen revision's template into a new revision is committed as
/// any `deployments.update` (the same reply).
void undo_deployment(api_actor::pointer self, daemon_context* ctx,
                     const controller_actor& controller, const json& args,
                     caf::typed_response_promise<std::string> rp) {
  auto name = args.at("name").get<std::string>();
  std::optional<std::uint64_t> to;
  if (args.contains("to_revision"))
    to = args["to_revision"].get<std::uint64_t>();
  // Everything as spawn arguments (CAF 0.17.6 and argument-less spawns: UBSan).
  auto read = [](caf::event_based_actor* b, store::journal* journal, std::string name,
                 std::optional<std::uint64_t> to) -> caf::behavior {
    return {[=](build_atom) -> caf::result<command> {
      b->quit();
      std::vector<revision_record> revs;
      auto st = journal->read(1, store::max_seq, [&](const recorded_event& rec) {
        fold_revision(revs, name, rec.ev);
        return true;
      });
      if (!st)
        return to_caf(st.error_value());
      auto update = undo_to(revs, name, to);
      if (!update)
        return to_caf(update.error_value());
      return command{std::move(*update)};
    }};
  };
  auto reader = self->spawn<caf::detached>(read, ctx->store, name, to);
  json reply_args = {{"name", name}};
  self->request(reader, caf::infinite, build_atom::value)
    .then([=](command& cmd) mutable {
            commit(self, controller, "deployments.update", reply_args, std::move(cmd), rp);
          },
          [=](caf::error& err) mutable { rp.deliver(err); });
}

/// A mutating verb: committed, microVM guests built first.
caf::result<std::string> mutate(api_actor::pointer self, daemon_context* ctx,
                                api_state& st, const controller_actor& controller,
                                const std::string& verb, const json& args, command cmd) {
  auto rp = self->make_response_promise<std::string>();
  if (auto* install = std::get_if<install_plugin>(&cmd); install && install->manifest.runtime == "qemu")
    install_guest(self, ctx, st.builds, controller, verb, args, std::move(cmd), rp);
  else
    commit(self, controller, verb, args, std::move(cmd), rp);
  return rp;
}

/// `debug.crash` (volantd --enable-crash-hook, tests only): makes the actor at
/// `actor` throw; for the api itself, this handler.
caf::result<std::string> crash_hook(api_actor::pointer self, daemon_context* ctx,
                                    const controller_actor& controller, const json& args) {
  if (!ctx->crash_hook)
    return to_caf({ec::invalid_argument,
                   "debug.crash needs volantd --enable-crash-hook (a test hook)"});
  auto path = args.at("actor").get<std::string>();
  if (path == "api")
    crash_now(path);
  self->send(controller, crash_atom::value, path);
  return std::string("{}");
}

error invalid_token() {
  return {ec::unauthorized, "invalid token: use the one volantd wrote to <data-dir>/token "
                            "(or set VOLANT_TOKEN)"};
}

void deliver(reply_promise& rp, const outcome& out) {
  if (auto* reply = std::get_if<std::string>(&out))
    rp.deliver(*reply);
  else
    rp.deliver(std::get<caf::error>(out));
}

/// `debug.drop_reply` (volantd --enable-crash-hook, tests only): the next
/// `count` replies of `verb` to requests with an id are not sent, as if lost
/// on the way; a retry of the same request gets the kept one.
caf::result<std::string> drop_reply_hook(daemon_context* ctx, api_state& st, const json& args) {
  if (!ctx->crash_hook)
    return to_caf({ec::invalid_argument,
                   "debug.drop_reply needs volantd --enable-crash-hook (a test hook)"});
  st.drops[args.at("verb").get<std::string>()] = args.value("count", std::int64_t{1});
  return std::string("{}");
}

/// One decoded request (wire::decode_request passed): every path either
/// returns its answer or makes exactly one promise after the last check that
/// can fail.
caf::result<std::string> dispatch(api_actor::pointer self, daemon_context* ctx,
                                  api_state& st, const controller_actor& controller,
                                  wire::decoded_request& req, const std::string& args_text) {
  const auto& verb = req.verb;
  const auto& args = req.args;
  if (is_credentials_verb(verb)) {
    auto reply = answer_credentials(*ctx, verb, args);
    if (!reply)
      return to_caf(reply.error_value());
    return std::move(*reply);
  }
  if (verb == "debug.drop_reply")
    return drop_reply_hook(ctx, st, args);
  if (verb == "plugins.progress")
    return st.builds->answer(args.at("name").get<std::string>(),
                             static_cast<std::size_t>(args.value("from", std::int64_t{0})));
  if (verb == "deployments.undo") {
    auto rp = self->make_response_promise<std::string>();
    undo_deployment(self, ctx, controller, args, rp);
    return rp;
  }
  if (verb == "vms.logs") {
    auto chunk = read_log(*ctx, args);
    if (!chunk)
      return to_caf(chunk.error_value());
    return std::move(*chunk);
  }
  if (verb == "quotas.apply" && !ctx->quota_file.empty())
    return to_caf({ec::conflict, "volantd reads its quotas from " + ctx->quota_file
                                     + ": edit that file (it is re-read when it changes)"});
  if (req.cmd)
    return mutate(self, ctx, st, controller, verb, args, std::move(*req.cmd));
  auto rp = self->make_response_promise<std::string>();
  if (is_shell_verb(verb))
    answer_shell(self, ctx, verb, args, rp);
  else if (verb == "vms.show")
    show_vm(self, ctx, controller, args_text, args.at("name").get<std::string>(), rp);
  else
    read_query(self, ctx, controller, verb, args_text, args, rp);
  return rp;
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
  auto st = std::make_shared<api_state>();
  // (token, verb, args): checked, decoded and answered.
  auto handle = [=](const std::string& token, const std::string& verb,
                    const std::string& args_text) -> caf::result<std::string> {
    // The controller of the moment (the root replaces a crashed one).
    auto controller = ctx->live->controller();
    if (!controller)
      return to_caf({ec::daemon_unreachable, "volantd is restarting its controller; retry"});
    if (!token_equal(token, ctx->token))
      return to_caf(invalid_token());
    // Everything a verb reads is checked here, before any promise.
    // For a mutating verb, the command too, its secret env sealed.
    auto req = wire::decode_request(verb, args_text, ctx->max_request_bytes, sealing(ctx));
    if (!req)
      return to_caf(req.error_value());
    const auto& args = req->args;
    // Secret env values never reach the log, not even at debug.
    if (spdlog::should_log(spdlog::level::debug))
      VLOG_DEBUG("api", "{} {}", verb, dump(wire::redact_request(args)).substr(0, 512));
    if (verb == "debug.crash") // throws on purpose, so outside the try below
      return crash_hook(self, ctx, controller, args);
    try {
      return dispatch(self, ctx, *st, controller, *req, args_text);
    } catch (const std::exception& e) {
      // A decoding step the check missed: still one error reply, and the
      // api lives on.
      VLOG_WARN("api", "{}: arguments failed to decode: {}", verb, e.what());
      return to_caf({ec::invalid_argument,
                     "request '" + verb + "': malformed arguments (" + e.what() + ")"});
    }
  };
  // A request with an id has ended: every attempt waiting for it gets the
  // outcome (but a reply the test hook drops).
  auto complete = [=](const std::string& id, const std::string& verb, outcome out) {
    auto size = std::holds_alternative<std::string>(out) ? std::get<std::string>(out).size() : 64;
    auto waiters = st->replies.finish(id, out, size, std::chrono::steady_clock::now());
    for (auto& rp : waiters) {
      if (auto drop = st->drops.find(verb); drop != st->drops.end() && drop->second > 0) {
        VLOG_INFO("api", "{}: dropping the reply to request {} (debug.drop_reply)", verb, id);
        --drop->second;
        st->dropped.push_back(std::move(rp));
        continue;
      }
      deliver(rp, out);
    }
  };
  return {
    [=](request_atom, const std::string& token, const std::string& verb,
        const std::string& args_text) -> caf::result<std::string> {
      return handle(token, verb, args_text);
    },
    [=](request_atom, const std::string& token, const std::string& verb,
        const std::string& args_text, const std::string& id) -> caf::result<std::string> {
      // Reads run again when retried; mutations run once per id.
      if (id.empty()
          || !(wire::is_mutation(verb) || is_credentials_verb(verb) || verb == "deployments.undo"))
        return handle(token, verb, args_text);
      if (!token_equal(token, ctx->token))
        return to_caf(invalid_token());
      if (!wire::valid_request_id(id))
        return to_caf({ec::invalid_argument,
                       "the request id must be 1 to 64 characters of [A-Za-z0-9_-]"});
      auto rp = self->make_response_promise<std::string>();
      auto admitted = st->replies.admit(id, rp, std::chrono::steady_clock::now());
      using verdict = decltype(st->replies)::verdict;
      if (admitted.what == verdict::answer) {
        VLOG_INFO("api", "{}: request {} again, answered as before", verb, id);
        deliver(rp, *admitted.outcome);
      } else if (admitted.what == verdict::joined) {
        VLOG_INFO("api", "{}: request {} again, joined the one in flight", verb, id);
      } else {
        self->request(caf::actor_cast<api_actor>(self), caf::infinite, request_atom::value,
                      token, verb, args_text)
          .then([=](std::string& reply) { complete(id, verb, std::move(reply)); },
                [=](caf::error& err) { complete(id, verb, std::move(err)); });
      }
      return rp;
    },
  };
}

} // namespace volant
