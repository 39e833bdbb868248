#pragma once

// Human output of `volar shell`: the replies of shell.ls, shell.inspect,
// events, shell.state and shell.explain (docs/protocol.md) as tables and
// aligned key/value blocks. Pure, and lenient like render.hpp: a missing or
// oddly typed field renders as "-".

#include <nlohmann/json.hpp>

#include <string>

namespace volant::cli {

/// shell.ls -> KIND NAME STATUS MAILBOX UPTIME RESTARTS.
std::string render_ls(const nlohmann::json& reply);

/// shell.inspect -> "key: value" lines, "actor" and "name" first; nested
/// objects indented under their key, arrays of scalars comma-separated, arrays
/// of objects as small tables. Generic: knows no actor.
std::string render_inspect(const nlohmann::json& reply);

/// One recorded event (as in `events` and `deployments show`) on one line:
/// "SEQ  HH:MM:SS.mmm  KIND  AGGREGATE/ID  key=value ...", no newline.
std::string event_line(const nlohmann::json& ev);

/// The events of an `events` reply, one event_line each.
std::string render_events(const nlohmann::json& reply);

/// shell.state -> a "State at seq N (TIME)" line, then the deployments and
/// VMs tables of `deployments list` / `vms list`, ages as of that time.
std::string render_state(const nlohmann::json& reply);

/// shell.explain -> the summary, then "  #SEQ HH:MM:SS  text" per step.
std::string render_explain(const nlohmann::json& reply);

/// "10:02:11" from an RFC 3339 time (with ".123" when `millis`); "-" if
/// malformed.
std::string clock_of(const nlohmann::json& time, bool millis = false);

} // namespace volant::cli
