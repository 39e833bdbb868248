// The security tests' own CAF peer (tests/e2e/security_tls_test.cpp): connects
// to volantd as an attacker or a legitimate client would and prints what
// happened, one line per step. A separate process so that a connection CAF
// never gives up on cannot hang the test (the test runs it under `timeout`).
//
//   security_peer plain HOST PORT            plain BASP (no TLS)
//   security_peer anon HOST PORT             TLS without a certificate
//   security_peer tls HOST PORT CERT KEY CA  TLS with a certificate
//   security_peer lookup HOST PORT CERT KEY CA NAME...
//                                            remote_lookup of each NAME
//   security_peer kill HOST PORT CERT KEY CA N
//                                            N times: connect, send the api an
//                                            exit message (reason kill), wait
//                                            for it to go down
//   security_peer requests HOST PORT CERT KEY CA TOKEN
//                                            one request per line of stdin,
//                                            "VERB ARGS"; prints one line per
//                                            request: "reply JSON", "error CODE
//                                            MESSAGE" or "no-reply" (10 s)

#include "actors/api.hpp"
#include "actors/wire_error.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace volant;

caf::actor_system_config& config(caf::actor_system_config& cfg, bool tls,
                                 const std::vector<std::string>& files) {
  cfg.load<caf::io::middleman>();
  if (tls)
    cfg.load<caf::openssl::manager>();
  if (files.size() == 3) {
    cfg.openssl_certificate = files[0];
    cfg.openssl_key = files[1];
    cfg.openssl_cafile = files[2];
  }
  cfg.set("logger.verbosity", caf::atom("quiet"));
  cfg.set("logger.console", caf::atom("none"));
  cfg.set("logger.file-name", "");
  return cfg;
}

/// A request the api answers with an error when it reaches it: proof of a
/// working connection.
void ping(caf::actor_system& sys, const api_actor& api) {
  caf::scoped_actor self{sys};
  self->request(api, std::chrono::seconds(5), request_atom::value,
                std::string("no-token"), std::string("ping"), std::string("{}"))
      .receive([](const std::string&) { std::cout << "answered\n"; },
               [&](const caf::error& err) {
                 std::cout << "answered " << sys.render(err) << "\n";
               });
}

/// One line of output: newlines in `text` escaped.
std::string one_line(std::string text) {
  std::string out;
  for (char c : text)
    out += c == '\n' ? std::string("\\n") : std::string(1, c);
  return out;
}

/// Sends each stdin line "VERB ARGS" as a request with `token`; one line out
/// per request.
void requests(caf::actor_system& sys, const api_actor& api, const std::string& token) {
  caf::scoped_actor self{sys};
  for (std::string line; std::getline(std::cin, line);) {
    auto space = line.find(' ');
    auto verb = line.substr(0, space);
    auto args = space == std::string::npos ? std::string() : line.substr(space + 1);
    self->request(api, std::chrono::seconds(10), request_atom::value, token, verb, args)
        .receive(
            [&](const std::string& reply) {
              std::cout << "reply " << one_line(reply) << "\n";
            },
            [&](const caf::error& err) {
              if (err == caf::sec::request_timeout) {
                std::cout << "no-reply\n";
                return;
              }
              auto e = from_caf(err, sys.render(err));
              std::cout << "error " << to_string(e.code) << " " << one_line(e.message)
                        << "\n";
            });
    std::cout << std::flush;
  }
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() < 3) {
    std::cerr << "usage: security_peer MODE HOST PORT ...\n";
    return 2;
  }
  auto mode = args[0];
  auto host = args[1];
  auto port = static_cast<std::uint16_t>(std::stoi(args[2]));
  std::vector<std::string> files;
  if (args.size() >= 6)
    files = {args[3], args[4], args[5]};
  if (mode == "kill") {
    // A fresh actor system per round: CAF caches the actor behind HOST:PORT.
    int times = args.size() > 6 ? std::stoi(args[6]) : 1;
    for (int i = 0; i < times; ++i) {
      caf::actor_system_config cfg;
      caf::actor_system sys{config(cfg, true, files)};
      caf::expected<api_actor> api = caf::sec::invalid_argument;
      // The root publishes a new api at once; retry until it is there.
      for (int tries = 0; tries < 50 && !api; ++tries) {
        api = caf::openssl::remote_actor<api_actor>(sys, host, port);
        if (!api)
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (!api) {
        std::cout << "refused " << sys.render(api.error()) << "\n";
        return 0;
      }
      auto untyped = caf::actor_cast<caf::actor>(*api);
      if (i == 0) {
        // Exit messages of other reasons and an error message: ignored.
        caf::anon_send_exit(untyped, caf::exit_reason::user_shutdown);
        caf::anon_send_exit(untyped, caf::exit_reason::unknown);
        caf::anon_send(untyped, caf::make_error(caf::sec::runtime_error));
        ping(sys, *api);
      }
      caf::scoped_actor self{sys};
      self->monitor(*api);
      caf::anon_send_exit(untyped, caf::exit_reason::kill);
      bool down = false;
      self->receive([&](caf::down_msg&) { down = true; },
                    caf::after(std::chrono::seconds(5)) >> [] {});
      std::cout << "kill " << i << (down ? " down" : " no-down") << "\n";
    }
    return 0;
  }
  caf::actor_system_config cfg;
  caf::actor_system sys{config(cfg, mode != "plain", files)};
  api_actor api_handle;
  {
    auto api = mode == "plain"
                   ? sys.middleman().remote_actor<api_actor>(host, port)
                   : caf::openssl::remote_actor<api_actor>(sys, host, port);
    if (!api) {
      std::cout << "refused " << sys.render(api.error()) << "\n";
      return 0;
    }
    api_handle = *api;
  }
  std::cout << "connected\n";
  if (mode == "requests") {
    requests(sys, api_handle, args.size() > 6 ? args[6] : std::string());
  } else if (mode == "lookup") {
    auto node = api_handle.node();
    for (std::size_t i = 6; i < args.size(); ++i) {
      auto found
          = sys.middleman().remote_lookup(caf::atom_from_string(args[i]), node);
      std::cout << args[i] << (found ? " found" : " absent") << "\n";
    }
  } else {
    ping(sys, api_handle);
  }
  return 0;
}
