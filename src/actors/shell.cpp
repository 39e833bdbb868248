#include "actors/shell.hpp"

#include "actors/actors.hpp"
#include "actors/directory.hpp"
#include "actors/log.hpp"
#include "actors/wire_error.hpp"
#include "events/explain.hpp"
#include "store/audit.hpp"
#include "wire/explain_json.hpp"
#include "wire/json.hpp"
#include "wire/views.hpp"

#include <caf/all.hpp>

#include <unistd.h>

#include <fstream>
#include <memory>

namespace volant::detail {

/// Work for the detached log reader.
using log_work = std::function<expected<std::string>()>;

} // namespace volant::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<volant::detail::log_work>)

namespace volant {

namespace {

using json = nlohmann::json;
using promise = caf::typed_response_promise<std::string>;
using namespace std::chrono_literals;

using poll_atom = caf::atom_constant<caf::atom("poll")>;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

double seconds_since(std::int64_t ns) {
  return static_cast<double>(now_nanos() - ns) / 1e9;
}

/// "deployments" -> "deployment" etc.; `system` covers the singletons.
std::vector<std::string> kinds_of(const std::string& filter) {
  if (filter.empty())
    return {};
  if (filter == "deployments" || filter == "deployment")
    return {"deployment"};
  if (filter == "vms" || filter == "vm")
    return {"vm"};
  if (filter == "probes" || filter == "probe")
    return {"probe"};
  return {"root", "journal", "controller", "api"};
}

/// What `ls` shows of one actor, from its inspection reply.
json ls_row(const actor_entry& e, const json& reply) {
  return {{"kind", e.kind},
          {"name", e.name},
          {"path", e.path},
          {"status", reply.value("status", "unknown")},
          {"mailbox", reply.value("mailbox", 0)},
          {"started_at", wire::format_time(e.started_at)},
          {"uptime_s", seconds_since(e.started_at)},
          {"restarts", e.restarts}};
}

/// The api's own inspection (it is the published actor: it answers inspection
/// only through token-checked requests, never as a remote `inspect` handler).
json inspect_api(api_actor::pointer self) {
  return {{"actor", "api"},
          {"name", "api"},
          {"status", "serving"},
          {"mailbox", self->mailbox().size()}};
}

/// Threads of this process, from /proc.
int thread_count() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "Threads:") {
      int n = 0;
      in >> n;
      return n;
    }
    in.ignore(4096, '\n');
  }
  return 0;
}

json inspect_daemon(api_actor::pointer self, daemon_context* ctx) {
  json by_kind = json::object();
  for (const auto& e : ctx->actors->list())
    by_kind[e.kind] = by_kind.value(e.kind, 0) + 1;
  return {{"actor", "daemon"},
          {"name", "volantd"},
          {"status", "running"},
          {"version", ctx->version},
          {"caf_version", "0.17.6"},
          {"pid", ::getpid()},
          {"started_at", wire::format_time(ctx->started_at)},
          {"uptime_s", seconds_since(ctx->started_at)},
          {"data_dir", ctx->data_dir},
          {"driver", ctx->driver->name()},
          {"scheduler_threads", self->system().scheduler().num_workers()},
          {"threads", thread_count()},
          {"actors", by_kind},
          {"last_seq", ctx->store->last_seq()}};
}

void answer_ls(api_actor::pointer self, daemon_context* ctx, const json& args, promise rp) {
  auto filter = args.value("kind", std::string{});
  if (!filter.empty() && filter != "deployments" && filter != "vms" && filter != "probes"
      && filter != "system") {
    rp.deliver(to_caf({ec::invalid_argument, "ls: unknown kind '" + filter
                                                 + "' (deployments, vms, probes or system)"}));
    return;
  }
  std::vector<actor_entry> entries;
  auto kinds = kinds_of(filter);
  for (auto& e : ctx->actors->list())
    if (kinds.empty() || std::find(kinds.begin(), kinds.end(), e.kind) != kinds.end())
      entries.push_back(std::move(e));
  struct gather {
    json rows = json::array();
    std::size_t left = 0;
    promise rp;
  };
  auto g = std::make_shared<gather>();
  g->rp = rp;
  g->left = entries.size();
  auto done = [g] {
    if (--g->left > 0)
      return;
    std::sort(g->rows.begin(), g->rows.end(), [](const json& a, const json& b) {
      return std::tie(a["kind"].get_ref<const std::string&>(),
                      a["name"].get_ref<const std::string&>())
             < std::tie(b["kind"].get_ref<const std::string&>(),
                        b["name"].get_ref<const std::string&>());
    });
    g->rp.deliver(dump(g->rows));
  };
  if (entries.empty()) {
    rp.deliver(std::string("[]"));
    return;
  }
  for (const auto& e : entries) {
    if (e.kind == "api") {
      g->rows.push_back(ls_row(e, inspect_api(self)));
      done();
      continue;
    }
    auto target = caf::actor_cast<inspectable_actor>(e.addr);
    if (!target) {
      g->rows.push_back(ls_row(e, {{"status", "gone"}}));
      done();
      continue;
    }
    self->request(target, 5s, inspect_atom::value)
      .then(
        [=](const std::string& text) {
          auto reply = json::parse(text, nullptr, false);
          g->rows.push_back(ls_row(e, reply.is_object() ? reply : json::object()));
          done();
        },
        [=](caf::error&) {
          g->rows.push_back(ls_row(e, {{"status", "unresponsive"}}));
          done();
        });
  }
}

void answer_inspect(api_actor::pointer self, daemon_context* ctx, const json& args,
                    promise rp) {
  auto name = args.value("name", std::string{});
  if (name.empty()) {
    rp.deliver(to_caf({ec::invalid_argument, "inspect: missing NAME (try ls)"}));
    return;
  }
  if (name == "daemon" || name == "volantd" || name == "system") {
    rp.deliver(dump(inspect_daemon(self, ctx)));
    return;
  }
  auto entry = ctx->actors->find(name);
  if (!entry) {
    rp.deliver(to_caf({ec::invalid_argument,
                       "no live actor named '" + name + "' (try ls)"}));
    return;
  }
  auto extend = [e = *entry](json j) {
    j["path"] = e.path;
    j["started_at_actor"] = wire::format_time(e.started_at);
    j["uptime_s"] = seconds_since(e.started_at);
    j["actor_restarts"] = e.restarts;
    return j;
  };
  if (entry->kind == "api") {
    rp.deliver(dump(extend(inspect_api(self))));
    return;
  }
  auto target = caf::actor_cast<inspectable_actor>(entry->addr);
  if (!target) {
    rp.deliver(to_caf({ec::invalid_argument, "actor '" + name + "' just ended (try ls)"}));
    return;
  }
  self->request(target, 5s, inspect_atom::value)
    .then(
      [=](const std::string& text) mutable {
        auto j = json::parse(text, nullptr, false);
        rp.deliver(dump(extend(j.is_object() ? j : json{{"raw", text}})));
      },
      [=](caf::error& err) mutable {
        rp.deliver(to_caf({ec::invalid_argument, "actor '" + name + "' did not answer: "
                                                     + self->system().render(err)}));
      });
}

// -- events, with a long poll --------------------------------------------------------

/// Whether `rec` belongs to `aggregate`: an id ("web-0") or kind/id ("vm/web-0").
bool matches(const recorded_event& rec, const std::string& aggregate) {
  if (aggregate.empty())
    return true;
  auto agg = aggregate_of(rec.ev);
  if (agg.id == aggregate)
    return true;
  auto slash = aggregate.find('/');
  return slash != std::string::npos && aggregate.substr(slash + 1) == agg.id
         && aggregate.substr(0, slash) == to_string(agg.kind);
}

struct poller_state {
  daemon_context* ctx = nullptr;
  std::uint64_t from = 1;
  std::uint64_t limit = 1000;
  std::string aggregate;
  std::chrono::steady_clock::time_point deadline;
  caf::response_promise rp;
  static inline const char* name = "events-poller";
};

/// One scan from `from`: matching events (at most `limit`); `from` moves past
/// everything scanned, so that a filtered follow never rescans.
expected<json> scan(poller_state& st) {
  json events = json::array();
  std::uint64_t matched = 0;
  auto read = st.ctx->store->read(st.from, store::max_seq, [&](const recorded_event& rec) {
    st.from = rec.seq + 1;
    if (matches(rec, st.aggregate)) {
      events.push_back(wire::to_json(rec));
      ++matched;
    }
    return matched < st.limit;
  });
  if (!read)
    return read.error_value();
  return events;
}

/// Answers one `events` request: at once if there are events (or no wait was
/// asked for), else as soon as some commit or the wait ends.
caf::behavior events_poller(caf::stateful_actor<poller_state>* self, daemon_context* ctx,
                            json args) {
  auto& st = self->state;
  st.ctx = ctx;
  st.from = std::max<std::uint64_t>(1, args.value("from", std::uint64_t{1}));
  st.limit = std::max<std::uint64_t>(1, args.value("limit", std::uint64_t{1000}));
  st.aggregate = args.value("aggregate", std::string{});
  auto wait = std::min<std::int64_t>(args.value("wait_ms", std::int64_t{0}), 60000);
  st.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait);
  auto attempt = [=] {
    auto& st = self->state;
    auto events = scan(st);
    if (!events) {
      st.rp.deliver(to_caf(events.error_value()));
      self->quit();
      return;
    }
    if (events->empty() && std::chrono::steady_clock::now() < st.deadline) {
      self->delayed_send(self, 50ms, poll_atom::value);
      return;
    }
    st.rp.deliver(dump({{"events", *events},
                        {"last_seq", st.ctx->store->last_seq()},
                        {"next", st.from}}));
    self->quit();
  };
  return {
    [=](poll_atom, bool first) {
      if (first)
        self->state.rp = self->make_response_promise();
      attempt();
    },
    [=](poll_atom) { attempt(); },
  };
}

void answer_events(api_actor::pointer self, daemon_context* ctx, const json& args,
                   promise rp) {
  auto poller = self->spawn(events_poller, ctx, args);
  self->request(poller, caf::infinite, poll_atom::value, true)
    .then([=](std::string& reply) mutable { rp.deliver(std::move(reply)); },
          [=](caf::error& err) mutable { rp.deliver(err); });
}

// -- whole-log reads on a detached helper ------------------------------------------

using work = detail::log_work;

/// Runs `fn` on its own thread and answers with its result. (`fn` comes as a
/// spawn argument: CAF 0.17.6 dereferences a null argument tuple when a
/// function actor is spawned without any, which UBSan reports.)
caf::behavior log_reader(caf::event_based_actor* self, std::shared_ptr<work> fn) {
  return {
    [=](poll_atom) -> caf::result<std::string> {
      auto r = (*fn)();
      self->quit();
      if (!r)
        return to_caf(r.error_value());
      return std::move(*r);
    },
  };
}

void off_thread(api_actor::pointer self, work fn, promise rp) {
  auto reader = self->spawn<caf::detached>(log_reader, std::make_shared<work>(std::move(fn)));
  self->request(reader, caf::infinite, poll_atom::value)
    .then([=](std::string& reply) mutable { rp.deliver(std::move(reply)); },
          [=](caf::error& err) mutable { rp.deliver(err); });
}

/// `shell.state`: the state as of `at_seq` or `at_time`, by the fold of
/// volant-replay (snapshot at or before it + the log's tail).
expected<std::string> state_at(daemon_context* ctx, const json& args) {
  std::uint64_t seq = ctx->store->last_seq();
  if (args.contains("at_seq")) {
    if (!args["at_seq"].is_number_unsigned())
      return make_error(ec::invalid_argument, "state: --at SEQ must be a sequence number");
    seq = args["at_seq"].get<std::uint64_t>();
  } else if (args.contains("at_time")) {
    auto text = args.value("at_time", std::string{});
    auto t = wire::parse_time(text);
    if (!t)
      return make_error(ec::invalid_argument,
                        "state: --at '" + text + "' is neither a seq nor an RFC 3339 time");
    auto at = store::seq_at_time(*ctx->store, *t);
    if (!at)
      return at.error_value();
    seq = *at;
  }
  if (seq > ctx->store->last_seq())
    return make_error(ec::invalid_argument,
                      "state: seq " + std::to_string(seq) + " is beyond the log (last seq "
                        + std::to_string(ctx->store->last_seq()) + ")");
  auto w = ctx->store->load(seq);
  if (!w)
    return w.error_value();
  json out = {{"seq", w->last_seq},
              {"at", w->last_at == 0 ? json(nullptr) : json(wire::format_time(w->last_at))}};
  auto name = args.value("name", std::string{});
  if (name.empty()) {
    out["deployments"] = wire::deployments_view(*w);
    out["vms"] = wire::vms_view(*w, {});
    return dump(out);
  }
  if (auto d = w->deployments.find(name); d != w->deployments.end()) {
    out["deployment"] = wire::deployment_row(*w, d->second);
    out["vms"] = wire::vms_view(*w, {name, {}});
    return dump(out);
  }
  if (auto vm = w->vms.find(name); vm != w->vms.end()) {
    out["vms"] = json::array({wire::vm_view(*w, vm->second)});
    return dump(out);
  }
  return make_error(ec::invalid_argument, "state: no deployment or VM named '" + name
                                            + "' at seq " + std::to_string(seq));
}

/// Whether `vm` is a replica name of deployment `dep` ("web-3" of "web").
bool replica_of(const std::string& vm, const std::string& dep) {
  if (vm.size() <= dep.size() + 1 || vm.compare(0, dep.size(), dep) != 0 || vm[dep.size()] != '-')
    return false;
  return vm.find_first_not_of("0123456789", dep.size() + 1) == std::string::npos;
}

/// `shell.explain`: the subject's events (a deployment's with its VMs') explained.
expected<std::string> explain_of(daemon_context* ctx, const json& args) {
  auto name = args.value("name", std::string{});
  if (name.empty())
    return make_error(ec::invalid_argument, "explain: missing NAME");
  std::vector<recorded_event> history;
  bool deployment = false;
  bool named = false; // an event of the subject itself, not only losses
  // For a VM "web-3": the events of deployment "web" tell what caused it.
  auto owner = name.find('-') == std::string::npos
                   ? std::string()
                   : std::string(deployment_of_vm(name));
  auto read = ctx->store->read(1, store::max_seq, [&](const recorded_event& rec) {
    auto agg = aggregate_of(rec.ev);
    // A loss of events may touch any story: explain tells it everywhere.
    bool loss = std::holds_alternative<journal_loss_accepted>(rec.ev);
    bool mine = !loss
                && (agg.id == name
                    || (agg.kind == aggregate_kind::vm && replica_of(agg.id, name))
                    || (std::holds_alternative<actor_crashed>(rec.ev)
                        && (agg.id.ends_with("/" + name))));
    bool cause = !mine && agg.kind == aggregate_kind::deployment && !owner.empty()
                 && agg.id == owner && replica_of(name, owner);
    // Volumes and autoscalers are keyed by their own names: explain picks
    // those of the subject.
    bool related = agg.kind == aggregate_kind::volume || agg.kind == aggregate_kind::autoscaler;
    if (mine || loss || cause || related) {
      named = named || mine;
      deployment = deployment || (mine && agg.kind == aggregate_kind::deployment);
      history.push_back(rec);
    }
    return true;
  });
  if (!read)
    return read.error_value();
  if (!named)
    return make_error(ec::invalid_argument,
                      "explain: no deployment or VM named '" + name + "' in the log");
  if (!deployment) // a VM: replicas of a same-named deployment do not belong here
    std::erase_if(history, [&](const recorded_event& rec) {
      auto agg = aggregate_of(rec.ev);
      return agg.kind == aggregate_kind::vm && agg.id != name;
    });
  return dump(wire::explanation_to_json(explain(history, name)));
}

} // namespace

bool is_shell_verb(const std::string& verb) {
  return verb == "events" || verb == "shell.ls" || verb == "shell.inspect"
         || verb == "shell.state" || verb == "shell.explain";
}

void answer_shell(api_actor::pointer self, daemon_context* ctx, const std::string& verb,
                  const json& args, promise rp) {
  if (verb == "events")
    answer_events(self, ctx, args, rp);
  else if (verb == "shell.ls")
    answer_ls(self, ctx, args, rp);
  else if (verb == "shell.inspect")
    answer_inspect(self, ctx, args, rp);
  else if (verb == "shell.state")
    off_thread(self, [ctx, args] { return state_at(ctx, args); }, rp);
  else if (verb == "shell.explain")
    off_thread(self, [ctx, args] { return explain_of(ctx, args); }, rp);
}

} // namespace volant
