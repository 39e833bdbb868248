// volar shell [-c 'COMMAND[; COMMAND...]']: an operator's prompt attached to a
// running volantd (the issue "The remote actor shell"). Parsing and rendering
// are pure (shell_parse.hpp, render_shell.hpp); this file is the I/O: the
// libedit prompt and history, Ctrl-C, and the `events --follow` poll loop.

#include "cli/commands.hpp"
#include "cli/render.hpp"
#include "cli/render_shell.hpp"
#include "cli/shell_parse.hpp"

#include <CLI/CLI.hpp>
#include <histedit.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <clocale>
#include <csignal>
#include <cstdlib>
#include <cwchar>
#include <iostream>
#include <memory>
#include <optional>
#include <pthread.h>
#include <thread>
#include <unistd.h>

namespace volant::cli {

using json = nlohmann::json;

namespace {

constexpr int history_size = 1000;
/// Between empty polls when the daemon answers at once (no long poll).
constexpr auto empty_poll_pause = std::chrono::milliseconds(200);

/// Set by SIGINT while the interactive shell runs: ends a follow, or the line
/// being edited, never the shell.
volatile std::sig_atomic_t interrupted = 0;

extern "C" void on_sigint(int) {
  interrupted = 1;
}

/// SIGINT handled (not restarted, so that a blocking read returns EINTR) for
/// the lifetime of the object.
class sigint_guard {
public:
  sigint_guard() {
    struct sigaction sa{};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGINT, &sa, &old_);
  }
  ~sigint_guard() { sigaction(SIGINT, &old_, nullptr); }
  sigint_guard(const sigint_guard&) = delete;
  sigint_guard& operator=(const sigint_guard&) = delete;

private:
  struct sigaction old_{};
};

/// Connects with SIGINT blocked, so that CAF's threads (which inherit the mask)
/// never take it: Ctrl-C always reaches the thread that reads the prompt.
client* connect_masked(session& s) {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  auto c = s.try_connect();
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return must(std::move(c));
}

/// Attaches: connects and pings, so that a wrong token or a dead daemon is
/// refused before any command is read.
json attach(session& s, client*& c) {
  c = connect_masked(s);
  return must(c->call("ping", json::object()));
}

void print_line(const std::string& line) {
  std::cout << line << "\n" << std::flush;
}

/// `events --follow`: polls from the next seq, one line per event as it is
/// committed, until Ctrl-C (interactive) or the process is killed.
void follow(session& s, const shell_command& cmd, bool as_json) {
  std::uint64_t next = 1;
  if (auto from = cmd.args.find("from"); from != cmd.args.end()) {
    next = from->get<std::uint64_t>();
  } else {
    auto probe = s.call("events", {{"from", 1}, {"limit", 1}});
    auto last = probe.value("last_seq", std::uint64_t{0});
    next = last >= follow_backlog ? last - follow_backlog + 1 : 1;
  }
  interrupted = 0;
  while (!interrupted) {
    auto started = std::chrono::steady_clock::now();
    auto reply = s.call("events", follow_request(cmd, next));
    const auto& events = member(reply, "events");
    if (events.is_array())
      for (const auto& ev : events)
        print_line(as_json ? ev.dump(-1, ' ', false,
                                     json::error_handler_t::replace)
                           : event_line(ev));
    next = next_follow_seq(next, reply);
    if (events.is_array() && !events.empty())
      continue;
    // A daemon that does not hold empty replies is polled at most 5×/s.
    auto until = started + empty_poll_pause;
    while (!interrupted && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

/// Runs one parsed command; daemon errors throw cli_error.
void execute(session& s, const shell_command& cmd, bool as_json) {
  using op = shell_command::op;
  switch (cmd.what) {
    case op::none:
    case op::quit:
      return;
    case op::help:
      std::cout << shell_help() << std::flush;
      return;
    default:
      break;
  }
  if (cmd.what == op::events && cmd.follow) {
    follow(s, cmd, as_json);
    return;
  }
  auto reply = s.call(cmd.verb, cmd.args);
  if (as_json) {
    print_json(reply);
    std::cout.flush();
    return;
  }
  std::string out;
  switch (cmd.what) {
    case op::ls: out = render_ls(reply); break;
    case op::inspect: out = render_inspect(reply); break;
    case op::events: out = render_events(reply); break;
    case op::state: out = render_state(reply); break;
    case op::explain: out = render_explain(reply); break;
    default: break;
  }
  std::cout << out << std::flush;
}

/// Parses and runs one line; returns false on quit. Errors throw cli_error
/// (usage errors with exit code 2).
bool run_line(session& s, const std::string& line, bool json_default) {
  auto cmd = parse_shell_line(line, now_nanos());
  if (!cmd)
    throw cli_error{cmd.error_value(), exit_usage};
  if (cmd->what == shell_command::op::quit)
    return false;
  execute(s, *cmd, json_default || cmd->json);
  return true;
}

/// Runs a line, printing an error as one line and going on; the error's exit
/// code, or 0.
int run_line_reporting(session& s, const std::string& line, bool json_default,
                       bool& quit) {
  try {
    quit = !run_line(s, line, json_default);
    return 0;
  } catch (const cli_error& e) {
    std::cout.flush();
    std::cerr << "volar: " << e.err.message << "\n" << std::flush;
    return e.exit_code;
  }
}

// -- the libedit prompt --------------------------------------------------------

/// One character from stdin; -1 (an error to el_gets) on Ctrl-C so that the
/// line being edited is dropped, 0 at end of input.
int read_char(EditLine*, wchar_t* out) {
  char buf[MB_LEN_MAX];
  std::size_t n = 0;
  while (true) {
    char c = 0;
    auto r = ::read(STDIN_FILENO, &c, 1);
    if (r == 0)
      return 0;
    if (r < 0) {
      if (errno == EINTR && !interrupted)
        continue;
      return -1;
    }
    buf[n++] = c;
    std::mbstate_t state{};
    auto used = std::mbrtowc(out, buf, n, &state);
    if (used == static_cast<std::size_t>(-2) && n < sizeof buf)
      continue;
    if (used == static_cast<std::size_t>(-1)
        || used == static_cast<std::size_t>(-2))
      *out = static_cast<unsigned char>(buf[0]);
    return 1;
  }
}

char* prompt(EditLine*) {
  static char text[] = "volant> ";
  return text;
}

std::string history_file(const session& s) {
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.volant_shell_history";
  return s.data_dir() + "/shell_history";
}

/// libedit's line editor and history; the history is saved after every line.
class line_editor {
public:
  explicit line_editor(std::string history_path)
    : path_(std::move(history_path)) {
    el_ = el_init("volar", stdin, stdout, stderr);
    hist_ = history_init();
    HistEvent ev;
    history(hist_, &ev, H_SETSIZE, history_size);
    history(hist_, &ev, H_SETUNIQUE, 1);
    history(hist_, &ev, H_LOAD, path_.c_str()); // none yet: fine
    el_set(el_, EL_EDITOR, "emacs");
    el_set(el_, EL_SIGNAL, 0);
    el_set(el_, EL_PROMPT, prompt);
    el_set(el_, EL_GETCFN, read_char);
    el_set(el_, EL_HIST, history, hist_);
    el_source(el_, nullptr); // ~/.editrc, if any
  }

  ~line_editor() {
    history_end(hist_);
    el_end(el_);
  }

  line_editor(const line_editor&) = delete;
  line_editor& operator=(const line_editor&) = delete;

  /// The next line without its newline; nullopt at end of input. A Ctrl-C
  /// gives an empty line.
  std::optional<std::string> read() {
    interrupted = 0;
    int count = 0;
    const char* line = el_gets(el_, &count);
    if (interrupted) {
      interrupted = 0;
      std::cout << "\n" << std::flush;
      return std::string();
    }
    if (!line || count <= 0)
      return std::nullopt;
    std::string text(line, static_cast<std::size_t>(count));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
      text.pop_back();
    return text;
  }

  void remember(const std::string& line) {
    if (line.find_first_not_of(" \t") == std::string::npos)
      return;
    HistEvent ev;
    history(hist_, &ev, H_ENTER, line.c_str());
    history(hist_, &ev, H_SAVE, path_.c_str()); // best effort
  }

private:
  std::string path_;
  EditLine* el_ = nullptr;
  History* hist_ = nullptr;
};

/// The prompt: attach (a ping checks the endpoint and the token), then one
/// command per line until quit, Ctrl-D or end of input.
void run_interactive(session& s, bool json_default) {
  std::setlocale(LC_CTYPE, "");
  client* c = nullptr;
  auto ping = attach(s, c);
  std::cout << "volantd " << field_text(ping, "version") << " at "
            << c->endpoint() << " (driver " << field_text(ping, "driver")
            << "). Type help for commands, quit to leave.\n"
            << std::flush;
  sigint_guard guard;
  line_editor editor(history_file(s));
  while (auto line = editor.read()) {
    editor.remember(*line);
    bool quit = false;
    run_line_reporting(s, *line, json_default, quit);
    if (quit)
      return;
  }
  std::cout << "\n";
}

/// Lines from a pipe: no prompt, errors reported and skipped; exits with the
/// code of the last command that failed.
void run_piped(session& s, bool json_default) {
  client* c = nullptr;
  attach(s, c);
  int code = 0;
  std::string line;
  while (std::getline(std::cin, line)) {
    bool quit = false;
    if (int rc = run_line_reporting(s, line, json_default, quit); rc != 0)
      code = rc;
    if (quit)
      break;
  }
  if (code != 0)
    throw cli_error{make_error(ec::invalid_argument, ""), code};
}

/// -c: each command in turn; the first failure ends the run with its code.
void run_commands(session& s, const std::string& text, bool json_default) {
  auto commands = split_commands(text);
  if (!commands)
    throw cli_error{commands.error_value(), exit_usage};
  for (const auto& line : *commands)
    if (!run_line(s, line, json_default))
      return;
}

void run_shell(const globals& g, const std::optional<std::string>& command) {
  session s(g);
  if (command)
    run_commands(s, *command, g.json);
  else if (interactive())
    run_interactive(s, g.json);
  else
    run_piped(s, g.json);
}

} // namespace

void add_shell_commands(CLI::App& app, globals& g, action& run) {
  auto* cmd = app.add_subcommand(
      "shell", "Attach a shell to volantd: ls, inspect, events, state, explain");
  auto text = std::make_shared<std::string>();
  cmd->add_option("-c,--command", *text,
                  "Run COMMAND (several separated by ';') and exit with its "
                  "exit code");
  cmd->callback([=, &g, &run] {
    std::optional<std::string> command;
    if (cmd->count("--command") > 0)
      command = *text;
    run = [=, &g] { run_shell(g, command); };
  });
}

} // namespace volant::cli
