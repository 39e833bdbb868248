#include "cli/shell_parse.hpp"

#include "wire/json.hpp"

#include <algorithm>
#include <charconv>

namespace volant::cli {

using json = nlohmann::json;

namespace {

constexpr std::int64_t nanos_per_second = 1'000'000'000;
constexpr std::int64_t seconds_per_day = 86'400;

error usage(std::string message) {
  return make_error(ec::invalid_argument, std::move(message));
}

bool all_digits(std::string_view s) {
  return !s.empty()
         && std::all_of(s.begin(), s.end(),
                        [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<std::uint64_t> to_u64(std::string_view s) {
  std::uint64_t v = 0;
  if (!all_digits(s))
    return std::nullopt;
  auto [p, errc] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (errc != std::errc{} || p != s.data() + s.size())
    return std::nullopt;
  return v;
}

/// The words of one command after its name, with their flags.
class word_reader {
public:
  word_reader(std::string command, std::vector<std::string> words)
    : command_(std::move(command)), words_(std::move(words)) {}

  bool done() const { return pos_ >= words_.size(); }
  const std::string& peek() const { return words_[pos_]; }
  std::string next() { return words_[pos_++]; }

  /// The value of `flag`: "--flag V" or "--flag=V".
  expected<std::string> value_of(const std::string& word,
                                 const std::string& flag) {
    if (auto eq = word.find('='); eq != std::string::npos)
      return word.substr(eq + 1);
    if (done())
      return usage(command_ + ": " + flag + " needs a value");
    return next();
  }

  /// Whether `word` is `flag` or "flag=...".
  static bool is(const std::string& word, std::string_view flag) {
    return word == flag
           || (word.size() > flag.size() && word.starts_with(flag)
               && word[flag.size()] == '=' && flag.starts_with("--"));
  }

  error unexpected(const std::string& word) const {
    if (word.starts_with("-"))
      return usage(command_ + ": unknown option '" + word + "' (try help)");
    return usage(command_ + ": unexpected argument '" + word + "' (try help)");
  }

private:
  std::string command_;
  std::vector<std::string> words_;
  std::size_t pos_ = 0;
};

/// The one NAME of inspect / explain.
expected<std::string> one_name(word_reader& r, const std::string& command) {
  if (r.done())
    return usage(command + " needs a NAME (try help)");
  auto name = r.next();
  if (name.starts_with("-"))
    return r.unexpected(name);
  if (!r.done())
    return r.unexpected(r.peek());
  return name;
}

expected<shell_command> parse_ls(word_reader& r) {
  shell_command cmd{shell_command::op::ls, "shell.ls"};
  if (r.done())
    return cmd;
  auto kind = r.next();
  static const std::pair<const char*, const char*> kinds[] = {
      {"deployments", "deployments"}, {"deployment", "deployments"},
      {"vms", "vms"},                 {"vm", "vms"},
      {"probes", "probes"},           {"probe", "probes"},
      {"system", "system"},
  };
  auto it = std::find_if(std::begin(kinds), std::end(kinds),
                         [&](const auto& k) { return kind == k.first; });
  if (it == std::end(kinds))
    return usage("ls: unknown kind '" + kind
                 + "' (one of deployments, vms, probes, system)");
  if (!r.done())
    return r.unexpected(r.peek());
  cmd.args["kind"] = it->second;
  return cmd;
}

/// "vm/web-0" -> "web-0": explain and state take the bare name, as the log
/// spells it.
std::string bare_aggregate(std::string name) {
  for (std::string_view prefix : {"vm/", "deployment/", "probe/", "plugin/"})
    if (name.starts_with(prefix))
      return name.substr(prefix.size());
  return name;
}

expected<std::uint64_t> seq_value(const std::string& text,
                                  const std::string& what) {
  auto digits = std::string_view(text);
  if (digits.starts_with("#"))
    digits.remove_prefix(1);
  auto v = to_u64(digits);
  if (!v || *v == 0)
    return usage(what + ": expected a sequence number >= 1, got '" + text
                 + "'");
  return *v;
}

expected<shell_command> parse_events(word_reader& r) {
  shell_command cmd{shell_command::op::events, "events"};
  while (!r.done()) {
    auto w = r.next();
    if (w == "--follow" || w == "-f") {
      cmd.follow = true;
    } else if (word_reader::is(w, "--aggregate") || w == "-a") {
      auto v = r.value_of(w, "--aggregate");
      if (!v)
        return v.error_value();
      if (v->empty())
        return usage("events: --aggregate needs a NAME");
      cmd.args["aggregate"] = *v;
    } else if (word_reader::is(w, "--from")) {
      auto v = r.value_of(w, "--from");
      if (!v)
        return v.error_value();
      auto seq = seq_value(*v, "events --from");
      if (!seq)
        return seq.error_value();
      cmd.args["from"] = *seq;
    } else if (word_reader::is(w, "--limit")) {
      auto v = r.value_of(w, "--limit");
      if (!v)
        return v.error_value();
      auto n = to_u64(*v);
      if (!n || *n == 0)
        return usage("events --limit: expected a count >= 1, got '" + *v
                     + "'");
      cmd.args["limit"] = *n;
    } else {
      return r.unexpected(w);
    }
  }
  return cmd;
}

expected<shell_command> parse_state(word_reader& r, unix_nanos now) {
  shell_command cmd{shell_command::op::state, "shell.state"};
  while (!r.done()) {
    auto w = r.next();
    if (word_reader::is(w, "--at")) {
      auto v = r.value_of(w, "--at");
      if (!v)
        return v.error_value();
      if (cmd.args.contains("at_seq") || cmd.args.contains("at_time"))
        return usage("state: --at given twice");
      if (v->starts_with("#") || all_digits(*v)) {
        auto seq = seq_value(*v, "state --at");
        if (!seq)
          return seq.error_value();
        cmd.args["at_seq"] = *seq;
      } else {
        auto t = parse_at_time(*v, now);
        if (!t)
          return t.error_value();
        cmd.args["at_time"] = wire::format_time(*t);
      }
    } else if (!w.starts_with("-") && !cmd.args.contains("name")) {
      cmd.args["name"] = bare_aggregate(w);
    } else {
      return r.unexpected(w);
    }
  }
  return cmd;
}

const json& member_or_null(const json& obj, const char* key) {
  static const json null;
  if (!obj.is_object())
    return null;
  auto it = obj.find(key);
  return it == obj.end() ? null : *it;
}

} // namespace

expected<std::vector<std::string>> split_commands(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  char quote = 0;
  auto flush = [&] {
    auto first = cur.find_first_not_of(" \t\r\n");
    if (first != std::string::npos)
      out.push_back(cur.substr(first, cur.find_last_not_of(" \t\r\n") - first + 1));
    cur.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quote == 0 && c == ';') {
      flush();
      continue;
    }
    cur += c;
    if (c == '\\' && quote != '\'' && i + 1 < text.size()) {
      cur += text[++i];
    } else if (quote == 0 && (c == '\'' || c == '"')) {
      quote = c;
    } else if (quote != 0 && c == quote) {
      quote = 0;
    }
  }
  if (quote != 0)
    return usage(std::string("unterminated ") + quote + " quote");
  flush();
  return out;
}

expected<std::vector<std::string>> split_words(std::string_view line) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote == '\'') {
      if (c == '\'')
        quote = 0;
      else
        cur += c;
    } else if (c == '\\' && i + 1 < line.size()) {
      char next = line[++i];
      // Inside "...", a backslash escapes only what sh lets it escape.
      if (quote == '"' && next != '"' && next != '\\' && next != '$'
          && next != '`')
        cur += c;
      cur += next;
      in_word = true;
    } else if (quote == '"') {
      if (c == '"')
        quote = 0;
      else
        cur += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      if (in_word)
        out.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (quote != 0)
    return usage(std::string("unterminated ") + quote + " quote");
  if (in_word)
    out.push_back(std::move(cur));
  return out;
}

expected<shell_command> parse_shell_line(std::string_view line,
                                         unix_nanos now) {
  auto words = split_words(line);
  if (!words)
    return words.error_value();
  bool as_json = false;
  std::erase_if(*words, [&](const std::string& w) {
    if (w != "--json")
      return false;
    as_json = true;
    return true;
  });
  if (words->empty())
    return shell_command{};
  auto name = words->front();
  word_reader r(name, {words->begin() + 1, words->end()});
  expected<shell_command> cmd = shell_command{};
  if (name == "help" || name == "?") {
    cmd = shell_command{shell_command::op::help};
  } else if (name == "quit" || name == "exit") {
    cmd = shell_command{shell_command::op::quit};
  } else if (name == "ls") {
    cmd = parse_ls(r);
  } else if (name == "inspect" || name == "explain") {
    auto n = one_name(r, name);
    if (!n)
      return n.error_value();
    cmd = name == "inspect"
              ? shell_command{shell_command::op::inspect, "shell.inspect"}
              : shell_command{shell_command::op::explain, "shell.explain"};
    // explain names a VM or deployment by its bare name, as the log does.
    cmd->args["name"] = name == "inspect" ? *n : bare_aggregate(*n);
  } else if (name == "events") {
    cmd = parse_events(r);
  } else if (name == "state") {
    cmd = parse_state(r, now);
  } else {
    return usage("unknown command '" + name + "' (try help)");
  }
  if (!cmd)
    return cmd;
  if ((cmd->what == shell_command::op::help
       || cmd->what == shell_command::op::quit)
      && !r.done())
    return r.unexpected(r.peek());
  cmd->json = as_json;
  return cmd;
}

expected<unix_nanos> parse_at_time(std::string_view text, unix_nanos now) {
  auto bad = [&] {
    return usage("state --at: expected a sequence number, an RFC 3339 time, "
                 "HH:MM:SS (today, UTC) or -5m/-30s, got '"
                 + std::string(text) + "'");
  };
  if (text.starts_with("-")) {
    auto rest = text.substr(1);
    if (rest.empty())
      return bad();
    std::int64_t total = 0;
    while (!rest.empty()) {
      std::size_t n = 0;
      while (n < rest.size() && rest[n] >= '0' && rest[n] <= '9')
        ++n;
      if (n == 0 || n == rest.size() || n > 9)
        return bad();
      auto amount = static_cast<std::int64_t>(*to_u64(rest.substr(0, n)));
      std::int64_t unit = 0;
      switch (rest[n]) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = seconds_per_day; break;
        default: return bad();
      }
      total += amount * unit;
      rest.remove_prefix(n + 1);
    }
    return now - total * nanos_per_second;
  }
  if (text.find('T') != std::string_view::npos) {
    auto t = wire::parse_time(text);
    if (!t)
      return bad();
    return *t;
  }
  // HH:MM[:SS], today in UTC.
  auto part = [](std::string_view s) -> std::optional<int> {
    if (s.size() != 2 || !all_digits(s))
      return std::nullopt;
    return (s[0] - '0') * 10 + (s[1] - '0');
  };
  std::optional<int> h, m, sec = 0;
  if (text.size() == 8 && text[2] == ':' && text[5] == ':') {
    h = part(text.substr(0, 2));
    m = part(text.substr(3, 2));
    sec = part(text.substr(6, 2));
  } else if (text.size() == 5 && text[2] == ':') {
    h = part(text.substr(0, 2));
    m = part(text.substr(3, 2));
  } else {
    return bad();
  }
  if (!h || !m || !sec || *h > 23 || *m > 59 || *sec > 59)
    return bad();
  auto day_secs = seconds_per_day * nanos_per_second;
  auto midnight = now - ((now % day_secs) + day_secs) % day_secs;
  return midnight + (*h * 3600LL + *m * 60 + *sec) * nanos_per_second;
}

json follow_request(const shell_command& cmd, std::uint64_t next_seq) {
  json args = {{"from", next_seq},
               {"limit", follow_limit},
               {"wait_ms", follow_wait_ms}};
  if (auto it = cmd.args.find("aggregate"); it != cmd.args.end())
    args["aggregate"] = *it;
  return args;
}

std::uint64_t next_follow_seq(std::uint64_t from, const json& reply) {
  std::uint64_t next = from;
  const auto& events = reply.is_object() && reply.contains("events")
                           ? reply["events"]
                           : json();
  auto seq_of = [](const json& v) -> std::optional<std::uint64_t> {
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0)
      return std::nullopt;
    return v.get<std::uint64_t>();
  };
  // The daemon says where its scan ended; trust it when it does.
  if (auto scanned = seq_of(member_or_null(reply, "next")); scanned && *scanned >= from)
    return *scanned;
  if (events.is_array())
    for (const auto& ev : events)
      if (auto seq = seq_of(member_or_null(ev, "seq")))
        next = std::max(next, *seq + 1);
  if (events.is_array() && !events.empty())
    return next;
  // Nothing matched: skip what the daemon scanned (at most follow_limit
  // records from `from`), never more, so that no later match is lost.
  if (auto last = seq_of(member_or_null(reply, "last_seq")); last && *last >= from)
    next = std::min(*last + 1, from + follow_limit);
  return next;
}

std::string shell_help() {
  return "Commands:\n"
         "  ls [deployments|vms|probes|system]   live actors: kind, name, "
         "status,\n"
         "                                       mailbox, uptime, restarts\n"
         "  inspect NAME                         what an actor holds now "
         "(web-0,\n"
         "                                       probe/web-0, deployment/web, "
         "journal,\n"
         "                                       controller, api, daemon)\n"
         "  events [--follow] [--aggregate NAME] [--from SEQ] [--limit N]\n"
         "                                       the committed events "
         "(Ctrl-C ends\n"
         "                                       --follow)\n"
         "  state [NAME] [--at SEQ|TIME]         the state at an earlier "
         "point;\n"
         "                                       TIME: RFC 3339, HH:MM:SS "
         "(UTC), -5m\n"
         "  explain NAME                         why a VM or deployment is "
         "as it is\n"
         "  help                                 this text\n"
         "  quit, exit                           leave (or Ctrl-D)\n"
         "Add --json to a command for volantd's raw reply.\n";
}

} // namespace volant::cli
