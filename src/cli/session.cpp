#include "cli/session.hpp"

#include "store/paths.hpp"

#include <chrono>
#include <iostream>
#include <unistd.h>

namespace volant::cli {

int exit_code_of(const error& err) {
  return err.code == ec::daemon_unreachable ? exit_unreachable : exit_rejected;
}

void fail(error err) {
  auto code = exit_code_of(err);
  throw cli_error{std::move(err), code};
}

session::session(const globals& g) : g_(g) {}

session::~session() = default;

std::string session::data_dir() const {
  return store::resolve_data_dir(g_.data_dir);
}

expected<client*> session::try_connect() {
  if (!client_) {
    client_options opts;
    opts.data_dir = data_dir();
    opts.endpoint = g_.endpoint;
    opts.timeout = std::chrono::seconds(g_.request_timeout);
    auto c = client::connect(opts);
    if (!c)
      return c.error_value();
    client_ = std::move(*c);
  }
  return client_.get();
}

nlohmann::json session::call(const std::string& verb,
                             const nlohmann::json& args) {
  auto* c = must(try_connect());
  auto reply = must(c->call(verb, args));
  // What volantd did but wants said (vCPUs overcommitted): one line each.
  if (reply.is_object())
    if (auto w = reply.find("warnings"); w != reply.end() && w->is_array())
      for (const auto& line : *w)
        if (line.is_string())
          std::cerr << "volar: warning: " << line.get<std::string>() << "\n";
  return reply;
}

void print_json(const nlohmann::json& j) {
  std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
            << "\n";
}

std::int64_t now_nanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool interactive() {
  return isatty(0) && isatty(1);
}

} // namespace volant::cli
