#include "cli/client.hpp"

#include "actors/api.hpp"
#include "actors/wire_error.hpp"
#include "tls/credentials.hpp"
#include "tls/endpoint.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/manager.hpp>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace volant::cli {

namespace {

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

/// Refuses a secret of volar's that other users can read, as ssh refuses an
/// open private key: volantd writes them 0600, so a wider mode is a copy or a
/// chmod that leaked it. A missing file is left to the caller's message.
status private_file(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || (st.st_mode & 077) == 0)
    return ok();
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return make_error(ec::unauthorized, "refusing " + what + " " + path + ": mode "
                                        + mode + " lets other users read it (chmod 600 "
                                        + path + ")");
}

expected<std::string> resolve_token(const client_options& opts) {
  if (!opts.token.empty())
    return opts.token;
  if (const char* env = std::getenv("VOLANT_TOKEN"); env && *env)
    return std::string(env);
  auto path = opts.data_dir + "/token";
  if (auto open = private_file(path, "the token"); !open)
    return open.error_value();
  std::ifstream in(path);
  if (!in)
    return make_error(ec::unauthorized,
                      "cannot read the token " + path
                        + " (run volar as the daemon's user, pass --data-dir, or set "
                          "VOLANT_TOKEN)");
  std::string token;
  std::getline(in, token);
  return token;
}

using expected_api = caf::expected<api_actor>;

/// The listing that shows whether `verb` took effect.
std::string check_with(const std::string& verb) {
  if (verb.rfind("plugins.", 0) == 0)
    return "volar plugins list";
  if (verb.rfind("vms.", 0) == 0)
    return "volar vms list";
  return "volar deployments list";
}

/// What to tell the user when the connection to volantd drops mid-request: the
/// command may have been carried out before it went, and where to look.
std::string went_away(const std::string& verb, const std::string& endpoint) {
  return "volantd went away during the request (connection to " + endpoint
         + " lost); the command may or may not have taken effect: check with `"
         + check_with(verb) + "` once volantd is back";
}

/// No reply within the request timeout on a connection that is still open (a
/// stopped volantd, or a reply lost on the way: bench/chaos, issue 10).
std::string no_answer(const std::string& verb, const std::string& endpoint,
                      std::chrono::milliseconds timeout) {
  return "volantd at " + endpoint + " did not answer " + verb + " within "
         + std::to_string(timeout.count() / 1000)
         + " s (the connection is open: is volantd stopped or overloaded?); the "
           "command may or may not have taken effect: check with `"
         + check_with(verb) + "`";
}

/// caf::openssl::remote_actor, with a limit: CAF's own waits without one for
/// the middleman's reply, so a peer that accepts the connection and then stays
/// silent would hang volar for good.
expected_api connect_api(caf::actor_system& sys, std::string host, std::uint16_t port,
                         std::chrono::milliseconds limit) {
  expected_api out{caf::sec::cannot_connect_to_node};
  caf::scoped_actor self{sys};
  self
    ->request(sys.openssl_manager().actor_handle(), limit, caf::connect_atom::value,
              std::move(host), port)
    .receive(
      [&](const caf::node_id&, caf::strong_actor_ptr& ptr, std::set<std::string>& ifs) {
        if (!ptr)
          out = caf::sec::no_actor_published_at_port;
        else if (!sys.assignable(ifs, sys.message_types<api_actor>()))
          out = caf::sec::unexpected_actor_messaging_interface;
        else
          out = caf::actor_cast<api_actor>(std::move(ptr));
      },
      [&](caf::error& err) { out = std::move(err); });
  return out;
}

/// Whether a plain TCP connection to host:port succeeds within 2 s.
bool accepts_tcp(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0)
    return false;
  bool ok = false;
  for (auto* ai = res; ai && !ok; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
      continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      ok = true;
    } else if (errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof err;
      ok = ::poll(&p, 1, 2000) == 1
           && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return ok;
}

/// volar's certificate, key and CA must be readable before CAF's openssl
/// module loads them (it fails inside its middleman otherwise).
status check_tls_files(const std::string& data_dir) {
  tls::layout files{data_dir};
  for (const auto& path : {files.client_cert(), files.client_key(), files.ca_cert()})
    if (::access(path.c_str(), R_OK) != 0)
      return make_error(ec::unauthorized,
                        "cannot read " + path
                          + " (volar presents the client certificate in <data-dir>/tls: "
                            "run volar as the daemon's user with its --data-dir, or "
                            "import a bundle with `volar credentials import FILE`)");
  return private_file(files.client_key(), "the client key");
}

} // namespace

std::string resolve_endpoint(const client_options& opts) {
  if (!opts.endpoint.empty())
    return opts.endpoint;
  if (const char* env = std::getenv("VOLANT_ENDPOINT"); env && *env)
    return env;
  if (auto line = first_line(opts.data_dir + "/endpoint"); !line.empty())
    return line;
  return "127.0.0.1:" + std::to_string(default_port);
}

struct client::impl {
  /// Without `certified`, CAF's openssl module runs without certificates (it
  /// then offers only anonymous ciphers, which volantd refuses): enough to
  /// tell an absent daemon from a refused handshake.
  impl(const std::string& data_dir, bool certified)
    : sys(configure(cfg, data_dir, certified)) {}

  static caf::actor_system_config& configure(caf::actor_system_config& cfg,
                                             const std::string& data_dir,
                                             bool certified) {
    cfg.load<caf::io::middleman>();
    tls::layout files{data_dir};
    if (certified)
      tls::use_tls(cfg, files.client_cert(), files.client_key(), files.ca_cert());
    else
      cfg.load<caf::openssl::manager>();
    cfg.set("logger.verbosity", caf::atom("quiet"));
    cfg.set("logger.console", caf::atom("none"));
    cfg.set("logger.file-name", "");
    cfg.set("scheduler.max-threads", 1);
    return cfg;
  }

  caf::actor_system_config cfg;
  caf::actor_system sys;
  api_actor api;
  std::string token;
  std::string endpoint;
  std::chrono::milliseconds timeout{60000};
  // What a retry on a new connection needs (client::call).
  std::string data_dir;
  std::string host;
  std::uint16_t port = 0;
  std::chrono::milliseconds connect_timeout{15000};
  std::chrono::milliseconds retry_after{5000};
  /// The connections of retries, each its own actor system (CAF keeps one
  /// connection per node, and a new system is a new node); closed first.
  std::vector<std::unique_ptr<impl>> retries;
};

client::client(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

client::~client() = default;

const std::string& client::endpoint() const {
  return impl_->endpoint;
}

const std::string& client::token() const {
  return impl_->token;
}

expected<std::unique_ptr<client>> client::connect(const client_options& opts) {
  auto token = resolve_token(opts);
  auto endpoint = resolve_endpoint(opts);
  auto colon = endpoint.rfind(':');
  std::uint16_t port = 0;
  try {
    if (colon == std::string::npos)
      throw std::invalid_argument("no port");
    auto value = std::stoul(endpoint.substr(colon + 1));
    if (value == 0 || value > 65535)
      throw std::out_of_range("port");
    port = static_cast<std::uint16_t>(value);
  } catch (const std::exception&) {
    return make_error(ec::invalid_argument,
                      "endpoint '" + endpoint + "' is not HOST:PORT");
  }
  auto host = endpoint.substr(0, colon);
  auto files = check_tls_files(opts.data_dir);
  auto p = std::make_unique<impl>(opts.data_dir, files.has_value());
  auto api = connect_api(p->sys, host, port, opts.connect_timeout);
  if (!api && api.error() == caf::sec::request_timeout) {
    // CAF's TLS session keeps the multiplexer busy in the unfinished handshake,
    // and the actor system's destructor would wait for it for good: the system
    // is left behind on purpose (volar exits after printing this error).
    static_cast<void>(p.release());
    return make_error(ec::daemon_unreachable,
                      "volantd at " + endpoint + " accepted the connection but did not "
                        "complete the handshake within "
                        + std::to_string(opts.connect_timeout.count() / 1000)
                        + " s (is it stopped, overloaded or not volantd? check that "
                          "it runs, then retry)");
  }
  if (!files && (api || api.error() != caf::sec::cannot_connect_to_node))
    return files.error_value();
  if (!api && api.error() == caf::sec::disconnect_during_handshake) {
    // A refusal comes with the daemon's alert; a daemon that died or was
    // stopped mid-handshake just closes the connection.
    auto alert = tls::last_peer_alert();
    // A refusal's alert can be lost (a reset that discards it: seen under
    // ASan); a daemon that still accepts connections refused us, a dead one
    // does not.
    if (alert.empty() && accepts_tcp(host, port))
      alert = "it closed the connection without an alert, and it is up";
    if (alert.empty())
      return make_error(ec::daemon_unreachable,
                        "volantd at " + endpoint
                          + " closed the connection during the TLS handshake (did it "
                            "stop or restart? check that it runs, then retry)");
    return make_error(ec::unauthorized,
                      "volantd at " + endpoint + " refused the TLS handshake (" + alert
                        + "): the client certificate in " + tls::layout{opts.data_dir}.dir
                        + " is revoked, expired or not from that volantd's CA "
                          "(import a current bundle: volar credentials import FILE)");
  }
  if (!api)
    return make_error(ec::daemon_unreachable,
                      "cannot reach volantd at " + endpoint
                        + " (is it running? start it with: volantd --data-dir "
                        + opts.data_dir + ")");
  if (!token)
    return token.error_value();
  p->api = *api;
  p->token = *token;
  p->endpoint = endpoint;
  p->timeout = opts.timeout;
  p->data_dir = opts.data_dir;
  p->host = host;
  p->port = port;
  p->connect_timeout = opts.connect_timeout;
  p->retry_after = opts.retry_after;
  return std::unique_ptr<client>(new client(std::move(p)));
}

namespace {

/// The outcome of one call, set by the first of its attempts to end.
struct call_outcome {
  std::mutex mtx;
  std::condition_variable cv;
  std::optional<expected<nlohmann::json>> result;

  void set(expected<nlohmann::json> r) {
    std::lock_guard<std::mutex> guard{mtx};
    if (!result)
      result = std::move(r);
    cv.notify_all();
  }

  /// Whether there is a result by `until`.
  bool wait_until(std::chrono::steady_clock::time_point until) {
    std::unique_lock<std::mutex> guard{mtx};
    return cv.wait_until(guard, until, [this] { return result.has_value(); });
  }

  void wait() {
    std::unique_lock<std::mutex> guard{mtx};
    cv.wait(guard, [this] { return result.has_value(); });
  }
};

/// A fresh request id: 128 random bits in hex.
std::string new_request_id() {
  std::random_device rd;
  std::string id;
  static constexpr char hex[] = "0123456789abcdef";
  for (int i = 0; i < 8; ++i) {
    auto v = rd();
    for (int j = 0; j < 4; ++j) {
      id += hex[v & 0xf];
      v >>= 4;
    }
  }
  return id;
}

/// One attempt: the request runs in a helper actor that also monitors the
/// daemon's api proxy. When the connection drops, CAF's BASP broker kills
/// every proxy of that node, and the monitor's down_msg arrives at once; the
/// request's own response would never come (it would wait the whole timeout).
/// A proxy that died before this call (between two polls of a long wait) is
/// noticed the same way: monitoring a dead actor sends its down_msg right away.
caf::actor send_attempt(client::impl& link, const std::shared_ptr<call_outcome>& outcome,
                        const std::string& verb, const std::string& body,
                        const std::string& id, std::chrono::milliseconds timeout,
                        std::chrono::milliseconds whole);

} // namespace

expected<nlohmann::json> client::call(const std::string& verb,
                                      const nlohmann::json& args) {
  // Every request carries an id. With no reply after `retry_after` on a
  // connection that is still open (a reply lost on the way, bench/chaos), the
  // same request goes again on a new connection: volantd answers a mutating
  // request it has seen with the first run's outcome, or joins the run still
  // in flight, so the command takes effect once (docs/protocol.md).
  using clock = std::chrono::steady_clock;
  auto start = clock::now();
  auto deadline = start + impl_->timeout;
  auto id = new_request_id();
  auto body = args.dump();
  auto outcome = std::make_shared<call_outcome>();
  std::vector<caf::actor> attempts;
  attempts.push_back(
    send_attempt(*impl_, outcome, verb, body, id, impl_->timeout, impl_->timeout));
  // A long poll answers when its wait ends; debug hooks are never repeated.
  auto patience = impl_->retry_after
                  + std::chrono::milliseconds(args.is_object() ? args.value("wait_ms", 0) : 0);
  bool retry = verb.rfind("debug.", 0) != 0;
  for (int tries = 0; retry && tries < 2; ++tries) {
    auto retry_at = clock::now() + patience * (tries + 1);
    if (retry_at >= deadline || outcome->wait_until(retry_at))
      break;
    auto left = [&] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    };
    auto again = client::connect_again(*impl_, std::min(impl_->connect_timeout, left()));
    if (outcome->wait_until(clock::now()) || left().count() <= 0)
      break;
    if (!again)
      continue; // the first attempt still ends by itself (reply, drop, timeout)
    attempts.push_back(send_attempt(*again, outcome, verb, body, id, left(), impl_->timeout));
    impl_->retries.push_back(std::move(again));
  }
  // The first attempt's own timeout (or the connection's end) bounds this.
  outcome->wait();
  for (auto& attempt : attempts)
    caf::anon_send_exit(attempt, caf::exit_reason::user_shutdown);
  return std::move(*outcome->result);
}

std::unique_ptr<client::impl> client::connect_again(const impl& first,
                                                    std::chrono::milliseconds limit) {
  auto p = std::make_unique<impl>(first.data_dir, true);
  auto api = connect_api(p->sys, first.host, first.port, limit);
  if (!api) {
    if (api.error() == caf::sec::request_timeout)
      static_cast<void>(p.release()); // CAF's unfinished TLS handshake (see connect)
    return nullptr;
  }
  p->api = *api;
  p->token = first.token;
  p->endpoint = first.endpoint;
  p->timeout = first.timeout;
  return p;
}

namespace {

caf::actor send_attempt(client::impl& link, const std::shared_ptr<call_outcome>& outcome,
                        const std::string& verb, const std::string& body,
                        const std::string& id, std::chrono::milliseconds timeout,
                        std::chrono::milliseconds whole) {
  auto gone = make_error(ec::daemon_unreachable, went_away(verb, link.endpoint));
  auto silent = make_error(ec::daemon_unreachable, no_answer(verb, link.endpoint, whole));
  auto* sys = &link.sys;
  // The handle and token as spawn arguments: CAF 0.17.6 dereferences a null
  // argument tuple when a function actor is spawned without any (UBSan).
  return sys->spawn([=](caf::event_based_actor* self, api_actor api, std::string token) {
    self->monitor(api);
    self->set_down_handler([=](caf::down_msg&) {
      outcome->set(gone);
      self->quit();
    });
    self->request(api, timeout, request_atom::value, token, verb, body, id)
      .then(
        [=](const std::string& reply) {
          auto j = nlohmann::json::parse(reply, nullptr, false);
          if (j.is_discarded())
            outcome->set(make_error(ec::io_error, "volantd sent a malformed reply"));
          else
            outcome->set(std::move(j));
          self->quit();
        },
        [=](const caf::error& err) {
          if (err == caf::sec::request_receiver_down)
            outcome->set(gone);
          else if (err == caf::sec::request_timeout)
            outcome->set(silent);
          else
            outcome->set(from_caf(err, sys->render(err)));
          self->quit();
        });
  }, link.api, link.token);
}

} // namespace

} // namespace volant::cli
