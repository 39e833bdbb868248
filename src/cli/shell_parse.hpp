#pragma once

// `volar shell`: a command line typed at the `volant> ` prompt (or given with
// -c) -> the request it makes (docs/protocol.md, `shell.*` and `events`). Pure:
// text and the current time in, a command or an error naming the problem out.
//
//   ls [deployments|vms|probes|system]
//   inspect NAME
//   events [--follow|-f] [--aggregate|-a NAME] [--from SEQ] [--limit N]
//   state [NAME] [--at SEQ|TIME]
//   explain NAME
//   help | quit | exit
//
// `--json` anywhere on a line prints that command's raw reply.

#include "events/error.hpp"
#include "events/types.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace volant::cli {

/// One parsed shell command.
struct shell_command {
  enum class op { none, help, quit, ls, inspect, events, state, explain };
  op what = op::none;
  std::string verb = {}; ///< The daemon's verb; empty for none, help and quit.
  nlohmann::json args = nlohmann::json::object();
  bool follow = false; ///< events --follow
  bool json = false;   ///< --json on this line
};

/// Follow polls ask the daemon to hold an empty reply this long.
inline constexpr std::int64_t follow_wait_ms = 1000;
/// Follow polls read at most this many records at a time.
inline constexpr std::uint64_t follow_limit = 1000;
/// `events --follow` without --from starts this many records before the end.
inline constexpr std::uint64_t follow_backlog = 10;

/// Splits -c's text into commands at ';' outside quotes; empty ones dropped.
expected<std::vector<std::string>> split_commands(std::string_view text);

/// Words separated by blanks, with '...' and "..." quoting and \ escapes (as
/// in sh, without expansions). An unterminated quote is an error.
expected<std::vector<std::string>> split_words(std::string_view line);

/// Parses one command line. Usage errors are ec::invalid_argument, e.g.
/// "unknown command 'x' (try help)". `now` resolves relative --at times.
expected<shell_command> parse_shell_line(std::string_view line, unix_nanos now);

/// --at's TIME: RFC 3339 ("2026-11-28T10:02:11Z"), a time of day today in UTC
/// ("10:02:11", "10:02"), or relative to now ("-5m", "-30s", "-1h30m", units s,
/// m, h, d).
expected<unix_nanos> parse_at_time(std::string_view text, unix_nanos now);

/// The arguments of the next `events` poll of `events --follow`: the command's
/// aggregate, from `next_seq`, with wait_ms and limit.
nlohmann::json follow_request(const shell_command& cmd, std::uint64_t next_seq);

/// Where a follow continues after a poll from `from` (with follow_limit)
/// returned `reply`: its "next" (past every record the daemon scanned) when
/// given; else after the last event printed, or, when the aggregate filter
/// left nothing, after the records the daemon can have read.
std::uint64_t next_follow_seq(std::uint64_t from, const nlohmann::json& reply);

/// The text of `help`.
std::string shell_help();

} // namespace volant::cli
