// Fuzz target `request`: the api's argument decoding (wire::decode_request,
// src/wire/requests.hpp) and what the daemon does with a decoded request that
// needs no host: a read verb answered from the folded state (answer_query, as
// the controller does), a command decided against it, its events applied and
// reconciled, and the reply read. An input is the verb, a newline, then the
// argument text (any bytes).
//
// A request is either one error (ec::invalid_argument or the core's code, with
// a message) or decoded; nothing here may throw or crash. The state is a host
// with nginx installed and a deployment `web` of 3 replicas, one of them ready.

#include "fuzz.hpp"

#include "events/plan.hpp"
#include "events/state.hpp"
#include "wire/manifest.hpp"
#include "wire/queries.hpp"
#include "wire/requests.hpp"

#include <string>

namespace {

using namespace volant;
using json = nlohmann::json;

constexpr unix_nanos start = 1'764'000'000'000'000'000;

void must(world& w, const command& cmd, unix_nanos now) {
  auto evs = decide(w, cmd, now);
  VOLANT_FUZZ_ASSERT(evs.has_value());
  for (const auto& ev : *evs)
    apply(w, recorded_event{w.last_seq + 1, now, ev});
}

world sample_world() {
  world w;
  host_config host;
  host.pool_first = (127u << 24) | (77u << 16) | 1;
  host.pool_last = (127u << 24) | (77u << 16) | 254;
  host.cpu_total = 4;
  host.memory_total_mib = 8192;
  must(w, configure_host{host}, start);
  auto nginx = wire::parse_manifest(R"({"name": "nginx", "version": "1.0.0",
    "workload": {"entrypoint": ["/usr/sbin/nginx", "-g", "daemon off;"],
                 "env": {"A": "1"},
                 "health_check": {"http": {"port": 80, "path": "/health"}}}})");
  VOLANT_FUZZ_ASSERT(nginx.has_value());
  must(w, install_plugin{*nginx}, start);
  deployment_spec spec;
  spec.name = "web";
  spec.replicas = 3;
  spec.tmpl.plugin = {"nginx", ""};
  spec.tmpl.memory_mib = 128;
  spec.tmpl.vm_labels = {{"app", "web"}};
  must(w, create_deployment{spec}, start);
  for (std::uint32_t i = 0; i < 3; ++i)
    must(w, create_vm{"web", i}, start);
  must(w, record_vm_started{"web-0", {"process", 4242, 1, ""}}, start);
  must(w, record_vm_ready{"web-0"}, start);
  return w;
}

const world& the_world() {
  static const world w = sample_world();
  return w;
}

const wire::daemon_info info{"0.1.0", start, "/var/lib/volant", "process",
                             json::object(), nullptr};

bool rejected_well(const error& err) {
  return !err.message.empty();
}

/// The controller's answer to a read verb; a reply must print.
void query(const world& w, const std::string& verb, const json& args) {
  auto reply = wire::answer_query(w, info, verb, args);
  if (!reply) {
    VOLANT_FUZZ_ASSERT(rejected_well(reply.error_value()));
    return;
  }
  VOLANT_FUZZ_ASSERT(!reply->dump(-1, ' ', false, json::error_handler_t::replace).empty());
}

/// What the controller does with a command: decide, append (here: apply),
/// reconcile the deployments, then the api reads the reply.
void execute(const wire::decoded_request& req) {
  world w = the_world();
  auto now = start + 1'000'000'000;
  auto evs = decide(w, *req.cmd, now);
  if (!evs) {
    VOLANT_FUZZ_ASSERT(rejected_well(evs.error_value()));
    return;
  }
  for (const auto& ev : *evs)
    apply(w, recorded_event{w.last_seq + 1, now, ev});
  for (const auto& [name, d] : w.deployments)
    (void)reconcile(w, name);
  auto [verb, args] = wire::reply_query(req.verb, req.args);
  if (!verb.empty())
    query(w, verb, args);
}

bool answered_by_controller(const std::string& verb) {
  return verb == "ping" || verb == "deployments.list" || verb == "deployments.show"
         || verb == "vms.list" || verb == "vms.show" || verb == "debug.resources"
         || verb == "plugins.list" || verb == "plugins.show";
}

} // namespace

bool volant::fuzz::accepts(std::span<const std::uint8_t> input) {
  auto text = text_of(input);
  auto nl = text.find('\n');
  std::string verb(text.substr(0, nl));
  auto args = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
  auto req = wire::decode_request(verb, args);
  if (!req) {
    VOLANT_FUZZ_ASSERT(rejected_well(req.error_value()));
    return false;
  }
  VOLANT_FUZZ_ASSERT(req->args.is_object());
  VOLANT_FUZZ_ASSERT(req->cmd.has_value() == wire::is_mutation(verb));
  if (req->cmd)
    execute(*req);
  else if (answered_by_controller(verb))
    query(the_world(), verb, req->args);
  return true;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  volant::fuzz::accepts({data, size});
  return 0;
}
