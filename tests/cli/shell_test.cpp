// `volar shell`: command lines -> requests, and sample replies -> text.

#include "cli/render_shell.hpp"
#include "cli/shell_parse.hpp"
#include "events/explain.hpp"
#include "wire/explain_json.hpp"
#include "wire/json.hpp"

#include <doctest/doctest.h>

using namespace volant;
using namespace volant::cli;
using json = nlohmann::json;
using op = shell_command::op;

namespace {

constexpr std::int64_t s = 1'000'000'000;
const unix_nanos now = *wire::parse_time("2026-11-28T12:00:00Z");

shell_command parse(const std::string& line) {
  auto cmd = parse_shell_line(line, now);
  REQUIRE_MESSAGE(cmd, line << ": " << cmd.error_value().message);
  return *cmd;
}

std::string parse_error(const std::string& line) {
  auto cmd = parse_shell_line(line, now);
  REQUIRE_MESSAGE(!cmd, line << " parsed");
  CHECK(cmd.error_value().code == ec::invalid_argument);
  return cmd.error_value().message;
}

std::vector<std::string> words(const std::string& line) {
  auto w = split_words(line);
  REQUIRE_MESSAGE(w, w.error_value().message);
  return *w;
}

} // namespace

// -- splitting ----------------------------------------------------------------

TEST_CASE("words split at blanks, with sh quoting and escapes") {
  using v = std::vector<std::string>;
  CHECK(words("") == v{});
  CHECK(words("   \t ") == v{});
  CHECK(words("inspect web-0") == v{"inspect", "web-0"});
  CHECK(words("  ls   vms  ") == v{"ls", "vms"});
  CHECK(words("explain 'a b' \"c d\"") == v{"explain", "a b", "c d"});
  CHECK(words(R"(x a\ b "q\"t" 'no\esc' "back\slash")")
        == v{"x", "a b", "q\"t", "no\\esc", "back\\slash"});
  CHECK(words("x ''") == v{"x", ""});
  CHECK(words("x a'b'c") == v{"x", "abc"});
  CHECK(split_words("x 'open").error_value().message
        == "unterminated ' quote");
  CHECK(split_words("x \"open").error_value().message
        == "unterminated \" quote");
}

TEST_CASE("-c text splits into commands at ';' outside quotes") {
  using v = std::vector<std::string>;
  CHECK(*split_commands("ls") == v{"ls"});
  CHECK(*split_commands("ls; inspect web-0 ;;  explain web ")
        == v{"ls", "inspect web-0", "explain web"});
  CHECK(*split_commands("explain 'a;b'; ls") == v{"explain 'a;b'", "ls"});
  CHECK(*split_commands(R"(explain a\;b)") == v{R"(explain a\;b)"});
  CHECK(*split_commands("  ;  ") == v{});
  CHECK(!split_commands("ls 'x; y"));
}

// -- parsing ------------------------------------------------------------------

TEST_CASE("ls takes an optional kind, singular or plural") {
  auto all = parse("ls");
  CHECK(all.what == op::ls);
  CHECK(all.verb == "shell.ls");
  CHECK(all.args == json::object());
  CHECK(parse("ls vms").args == json{{"kind", "vms"}});
  CHECK(parse("ls vm").args == json{{"kind", "vms"}});
  CHECK(parse("ls deployments").args == json{{"kind", "deployments"}});
  CHECK(parse("ls deployment").args == json{{"kind", "deployments"}});
  CHECK(parse("ls probes").args == json{{"kind", "probes"}});
  CHECK(parse("ls system").args == json{{"kind", "system"}});
  CHECK(parse_error("ls actors")
        == "ls: unknown kind 'actors' (one of deployments, vms, probes, "
           "system)");
  CHECK(parse_error("ls vms probes")
        == "ls: unexpected argument 'probes' (try help)");
}

TEST_CASE("inspect and explain take one NAME; explain's without a kind prefix") {
  auto i = parse("inspect vm/web-0");
  CHECK(i.what == op::inspect);
  CHECK(i.verb == "shell.inspect");
  CHECK(i.args == json{{"name", "vm/web-0"}});
  CHECK(parse("inspect journal").args == json{{"name", "journal"}});
  auto e = parse("explain web-3");
  CHECK(e.what == op::explain);
  CHECK(e.verb == "shell.explain");
  CHECK(e.args == json{{"name", "web-3"}});
  CHECK(parse("explain vm/web-3").args == json{{"name", "web-3"}});
  CHECK(parse("explain deployment/web").args == json{{"name", "web"}});
  CHECK(parse_error("inspect") == "inspect needs a NAME (try help)");
  CHECK(parse_error("explain") == "explain needs a NAME (try help)");
  CHECK(parse_error("inspect a b")
        == "inspect: unexpected argument 'b' (try help)");
  CHECK(parse_error("explain --why")
        == "explain: unknown option '--why' (try help)");
}

TEST_CASE("events: follow, aggregate, from and limit") {
  auto plain = parse("events");
  CHECK(plain.what == op::events);
  CHECK(plain.verb == "events");
  CHECK(plain.args == json::object());
  CHECK_FALSE(plain.follow);
  auto full = parse("events --follow --aggregate web-0 --from 12 --limit 5");
  CHECK(full.follow);
  CHECK(full.args == json{{"aggregate", "web-0"}, {"from", 12}, {"limit", 5}});
  auto short_forms = parse("events -f -a vm/web-0 --from=#7");
  CHECK(short_forms.follow);
  CHECK(short_forms.args == json{{"aggregate", "vm/web-0"}, {"from", 7}});
  CHECK(parse("events --aggregate=deployment/web").args
        == json{{"aggregate", "deployment/web"}});
  CHECK(parse_error("events --from")
        == "events: --from needs a value");
  CHECK(parse_error("events --from x")
        == "events --from: expected a sequence number >= 1, got 'x'");
  CHECK(parse_error("events --from 0")
        == "events --from: expected a sequence number >= 1, got '0'");
  CHECK(parse_error("events --limit -3")
        == "events --limit: expected a count >= 1, got '-3'");
  CHECK(parse_error("events --tail") == "events: unknown option '--tail' (try help)");
  CHECK(parse_error("events web") == "events: unexpected argument 'web' (try help)");
}

TEST_CASE("state: an optional NAME and --at a seq or a time") {
  auto now_state = parse("state");
  CHECK(now_state.what == op::state);
  CHECK(now_state.verb == "shell.state");
  CHECK(now_state.args == json::object());
  CHECK(parse("state --at 42").args == json{{"at_seq", 42}});
  CHECK(parse("state deployment/web").args == json{{"name", "web"}});
  CHECK(parse("state web --at #42").args
        == json{{"name", "web"}, {"at_seq", 42}});
  CHECK(parse("state --at=2026-11-28T10:02:11Z web").args
        == json{{"name", "web"}, {"at_time", "2026-11-28T10:02:11.000000000Z"}});
  CHECK(parse("state --at 10:02:11").args
        == json{{"at_time", "2026-11-28T10:02:11.000000000Z"}});
  CHECK(parse("state --at -5m").args
        == json{{"at_time", "2026-11-28T11:55:00.000000000Z"}});
  CHECK(parse_error("state --at") == "state: --at needs a value");
  CHECK(parse_error("state --at 1 --at 2") == "state: --at given twice");
  CHECK(parse_error("state a b") == "state: unexpected argument 'b' (try help)");
  CHECK(parse_error("state --at yesterday")
        == "state --at: expected a sequence number, an RFC 3339 time, "
           "HH:MM:SS (today, UTC) or -5m/-30s, got 'yesterday'");
}

TEST_CASE("--at times: RFC 3339, time of day today in UTC, or relative") {
  auto at = [](const std::string& text) {
    auto t = parse_at_time(text, now);
    REQUIRE_MESSAGE(t, text << ": " << t.error_value().message);
    return wire::format_time(*t);
  };
  CHECK(at("2026-11-27T23:00:00.5Z") == "2026-11-27T23:00:00.500000000Z");
  CHECK(at("00:00:00") == "2026-11-28T00:00:00.000000000Z");
  CHECK(at("10:02:11") == "2026-11-28T10:02:11.000000000Z");
  CHECK(at("23:59") == "2026-11-28T23:59:00.000000000Z");
  CHECK(at("-30s") == "2026-11-28T11:59:30.000000000Z");
  CHECK(at("-5m") == "2026-11-28T11:55:00.000000000Z");
  CHECK(at("-2h") == "2026-11-28T10:00:00.000000000Z");
  CHECK(at("-1h30m") == "2026-11-28T10:30:00.000000000Z");
  CHECK(at("-1d") == "2026-11-27T12:00:00.000000000Z");
  for (const char* bad : {"-", "-5", "-m", "-5x", "24:00:00", "10:60", "1:02:03",
                          "10-02-11", "2026-11-28", "2026-11-28Tnoon", ""})
    CHECK_MESSAGE(!parse_at_time(bad, now), bad);
}

TEST_CASE("help, quit, exit, empty lines and unknown commands") {
  CHECK(parse("help").what == op::help);
  CHECK(parse("?").what == op::help);
  CHECK(parse("quit").what == op::quit);
  CHECK(parse("exit").what == op::quit);
  CHECK(parse("").what == op::none);
  CHECK(parse("   ").what == op::none);
  CHECK(parse_error("frobnicate web") == "unknown command 'frobnicate' (try help)");
  CHECK(parse_error("LS") == "unknown command 'LS' (try help)");
  CHECK(parse_error("quit now") == "quit: unexpected argument 'now' (try help)");
  CHECK(shell_help().find("explain NAME") != std::string::npos);
}

TEST_CASE("--json anywhere on a line asks for the raw reply") {
  CHECK_FALSE(parse("ls").json);
  auto j = parse("ls --json vms");
  CHECK(j.json);
  CHECK(j.args == json{{"kind", "vms"}});
  CHECK(parse("--json explain web").json);
}

TEST_CASE("follow polls continue after what was printed") {
  auto cmd = parse("events -f -a web-0");
  CHECK(follow_request(cmd, 8)
        == json{{"from", 8}, {"limit", follow_limit},
                {"wait_ms", follow_wait_ms}, {"aggregate", "web-0"}});
  CHECK(follow_request(parse("events -f"), 1)
        == json{{"from", 1}, {"limit", follow_limit}, {"wait_ms", follow_wait_ms}});
  // Events printed: after the last one.
  CHECK(next_follow_seq(8, {{"events", {{{"seq", 9}}, {{"seq", 12}}}},
                            {"last_seq", 40}})
        == 13);
  // Nothing new at all.
  CHECK(next_follow_seq(8, {{"events", json::array()}, {"last_seq", 7}}) == 8);
  // Filtered out: skip what was scanned, never beyond one batch.
  CHECK(next_follow_seq(8, {{"events", json::array()}, {"last_seq", 20}}) == 21);
  CHECK(next_follow_seq(8, {{"events", json::array()}, {"last_seq", 5000}})
        == 8 + follow_limit);
  // The daemon's own cursor wins.
  CHECK(next_follow_seq(8, {{"events", {{{"seq", 9}}}}, {"last_seq", 40}, {"next", 41}})
        == 41);
  CHECK(next_follow_seq(8, {{"events", json::array()}, {"last_seq", 5000}, {"next", 5001}})
        == 5001);
  CHECK(next_follow_seq(8, {{"events", json::array()}, {"next", 3}}) == 8);
  // A malformed reply does not move.
  CHECK(next_follow_seq(8, json::object()) == 8);
}

// -- rendering ----------------------------------------------------------------

TEST_CASE("ls renders the actors table") {
  json reply = json::array({
      {{"kind", "daemon"}, {"name", "daemon"}, {"status", "running"},
       {"mailbox", 0}, {"uptime_s", 7260}, {"restarts", 0},
       {"started_at", "2026-11-28T10:00:00Z"}},
      {{"kind", "vm"}, {"name", "vm/web-0"}, {"status", "ready"},
       {"mailbox", 2}, {"uptime_s", 45}, {"restarts", 1},
       {"started_at", "2026-11-28T11:59:15Z"}},
      {{"kind", "probe"}, {"name", "probe/web-0"}, {"status", nullptr}},
  });
  CHECK(render_ls(reply)
        == "KIND     NAME          STATUS    MAILBOX   UPTIME   RESTARTS\n"
           "daemon   daemon        running   0         2h       0\n"
           "vm       vm/web-0      ready     2         45s      1\n"
           "probe    probe/web-0   -         -         -        0\n");
  CHECK(render_ls(json::array()) == "KIND   NAME   STATUS   MAILBOX   UPTIME   RESTARTS\n");
}

TEST_CASE("inspect renders any object as aligned key/value lines") {
  json vm = {
      {"actor", "vm"},
      {"name", "web-0"},
      {"status", "ready"},
      {"restarts", 2},
      {"ip", "127.78.1.2"},
      {"auto_restart", true},
      {"last_error", ""},
      {"backoff_ms", nullptr},
      {"labels", json::object()},
      {"handle", {{"driver", "process"}, {"pid", 4242}, {"control", ""}}},
      {"entrypoint", {"/bin/sh", "-c", "run"}},
      {"probe",
       {{"samples",
         {{{"at", "2026-11-28T11:59:50Z"}, {"ok", false}, {"latency_ms", 1},
           {"error", "connection refused"}},
          {{"at", "2026-11-28T12:00:00Z"}, {"ok", true}, {"latency_ms", 3},
           {"error", ""}}}}}},
      {"children", {{{"name", "a"}, {"spec", {{"x", 1}}}}, "loose"}},
  };
  CHECK(render_inspect(vm)
        == "actor:        vm\n"
           "name:         web-0\n"
           "auto_restart: true\n"
           "backoff_ms:   -\n"
           "children:\n"
           "  -\n"
           "    name: a\n"
           "    spec:\n"
           "      x: 1\n"
           "  - loose\n"
           "entrypoint:   /bin/sh, -c, run\n"
           "handle:\n"
           "  control: -\n"
           "  driver:  process\n"
           "  pid:     4242\n"
           "ip:           127.78.1.2\n"
           "labels:       -\n"
           "last_error:   -\n"
           "probe:\n"
           "  samples:\n"
           "    AT                     ERROR                LATENCY_MS   OK\n"
           "    2026-11-28T11:59:50Z   connection refused   1            false\n"
           "    2026-11-28T12:00:00Z   -                    3            true\n"
           "restarts:     2\n"
           "status:       ready\n");
  CHECK(render_inspect(json{{"actor", "journal"}, {"last_seq", 12}})
        == "actor:    journal\nlast_seq: 12\n");
  CHECK(render_inspect(json{{"rate", 0.5308808098072861}, {"up", 2.0},
                            {"lat", 1.25}, {"tiny", -0.0001}})
        == "lat:  1.25\nrate: 0.531\ntiny: 0\nup:   2\n");
  CHECK(render_inspect(json::object()).empty());
}

TEST_CASE("event lines: seq, time, kind, aggregate, details") {
  json ev = {{"seq", 42},
             {"at", "2026-11-28T10:02:11.123456789Z"},
             {"aggregate", "vm"},
             {"id", "web-3"},
             {"event", "vm_unhealthy"},
             {"fields", {{"name", "web-3"}, {"reason", "connection refused"}}}};
  CHECK(event_line(ev)
        == "42  10:02:11.123  vm_unhealthy          vm/web-3          "
           "reason=connection refused");
  json scaled = {{"seq", 7},
                 {"at", "2026-11-28T10:00:00Z"},
                 {"aggregate", "deployment"},
                 {"id", "web"},
                 {"event", "deployment_scaled"},
                 {"fields", {{"name", "web"}, {"from", 3}, {"to", 5}}}};
  CHECK(event_line(scaled)
        == "7  10:00:00.000  deployment_scaled     deployment/web    from=3 to=5");
  json ready = {{"seq", 8}, {"at", "2026-11-28T10:00:01.5Z"}, {"aggregate", "vm"},
                {"id", "web-0"}, {"event", "vm_ready"}, {"fields", {{"name", "web-0"}}}};
  CHECK(event_line(ready) == "8  10:00:01.500  vm_ready              vm/web-0");
  json long_one = scaled;
  long_one["fields"] = {{"blob", std::string(300, 'x')}};
  auto line = event_line(long_one);
  CHECK(line.ends_with("..."));
  CHECK(line.size() < 260);
  CHECK(render_events({{"events", {ev, scaled}}, {"last_seq", 42}})
        == event_line(ev) + "\n" + event_line(scaled) + "\n");
  CHECK(render_events({{"events", json::array()}, {"last_seq", 0}}).empty());
  CHECK(event_line(json::object()) == "-  -  -                     -");
}

TEST_CASE("state renders the deployments and VMs tables as of that time") {
  json reply = {
      {"seq", 17},
      {"at", "2026-11-28T10:00:00Z"},
      {"deployments",
       {{{"name", "web"}, {"plugin", "nginx:1.0.0"}, {"desired", 3},
         {"current", 3}, {"ready", 2}, {"created_at", "2026-11-28T09:50:00Z"}}}},
      {"vms",
       {{{"name", "web-0"}, {"deployment", "web"}, {"ip", "10.0.0.10"},
         {"status", "ready"}, {"revision", 1}, {"restarts", 0},
         {"created_at", "2026-11-28T09:50:00Z"}},
        {{"name", "web-1"}, {"deployment", "web"}, {"ip", "10.0.0.11"},
         {"status", "restarting"}, {"revision", 2}, {"restarts", 2}, {"backoff_ms", 4000},
         {"created_at", "2026-11-28T09:59:30Z"}}}},
  };
  CHECK(render_state(reply)
        == "State at seq 17 (2026-11-28T10:00:00Z)\n"
           "\n"
           "Deployments:\n"
           "NAME   PLUGIN        DESIRED   CURRENT   READY   AGE\n"
           "web    nginx:1.0.0   3         3         2       10m\n"
           "\n"
           "VMs:\n"
           "NAME    DEPLOYMENT   IP          STATUS       REVISION   RESTARTS   BACK-OFF   AGE\n"
           "web-0   web          10.0.0.10   ready        1          0          -          10m\n"
           "web-1   web          10.0.0.11   restarting   2          2          4s         30s\n");
  json one = {{"seq", 3},
              {"at", "2026-11-28T10:00:00Z"},
              {"deployment", nullptr},
              {"vms", json::array()}};
  CHECK(render_state(one)
        == "State at seq 3 (2026-11-28T10:00:00Z)\n\nDeployments:\n  (none)\n"
           "\nVMs:\n  (none)\n");
  one["deployment"] = reply["deployments"][0];
  CHECK(render_state(one).find("web    nginx:1.0.0   3") != std::string::npos);
}

TEST_CASE("explain renders the summary, then one line per step") {
  json reply = {{"subject", "vm/web-3"},
                {"summary", "web-3 restarted 1× since 10:02:11: health check "
                            "failed (connection refused)"},
                {"chain",
                 {{{"seq", 41}, {"at", "2026-11-28T10:02:11.5Z"},
                   {"kind", "vm_unhealthy"},
                   {"text", "web-3 health check failed: connection refused"}},
                  {{"seq", 42}, {"at", "2026-11-28T10:02:11.6Z"},
                   {"kind", "vm_restart_scheduled"},
                   {"text", "restart of web-3 scheduled in 1s"}}}}};
  CHECK(render_explain(reply)
        == "web-3 restarted 1× since 10:02:11: health check failed "
           "(connection refused)\n"
           "  #41 10:02:11  web-3 health check failed: connection refused\n"
           "  #42 10:02:11  restart of web-3 scheduled in 1s\n");
  CHECK(render_explain(json::object()) == "-\n");
}

TEST_CASE("an explanation's JSON is what the shell renders") {
  explanation x{"vm/web-3",
                "web-3 is ready since 10:00:05",
                {{3, *wire::parse_time("2026-11-28T10:00:05Z"), "vm_ready",
                  "web-3 ready"}}};
  auto j = wire::explanation_to_json(x);
  CHECK(j
        == json{{"subject", "vm/web-3"},
                {"summary", "web-3 is ready since 10:00:05"},
                {"chain",
                 {{{"seq", 3}, {"at", "2026-11-28T10:00:05.000000000Z"},
                   {"kind", "vm_ready"}, {"text", "web-3 ready"}}}}});
  CHECK(render_explain(j)
        == "web-3 is ready since 10:00:05\n  #3 10:00:05  web-3 ready\n");
}

TEST_CASE("clock of an RFC 3339 time") {
  CHECK(clock_of("2026-11-28T10:02:11Z") == "10:02:11");
  CHECK(clock_of("2026-11-28T10:02:11Z", true) == "10:02:11.000");
  CHECK(clock_of("2026-11-28T10:02:11.1Z", true) == "10:02:11.100");
  CHECK(clock_of("2026-11-28T10:02:11.123456789Z", true) == "10:02:11.123");
  CHECK(clock_of("noon") == "-");
  CHECK(clock_of(json()) == "-");
  CHECK(clock_of(5) == "-");
  (void)s;
}
