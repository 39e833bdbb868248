#include "e2e/wrk.hpp"

#include "e2e/e2e.hpp"

#include <csignal>
#include <fstream>
#include <regex>

namespace volant::e2e {

wrk_result parse_wrk(const std::string& text) {
  wrk_result r;
  r.text = text;
  std::smatch m;
  if (std::regex_search(text, m, std::regex(R"((\d+) requests in)")))
    r.requests = std::stol(m[1]);
  if (std::regex_search(text, m, std::regex(
          R"(Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+))")))
    r.socket_errors = std::stol(m[1]) + std::stol(m[2]) + std::stol(m[3]) + std::stol(m[4]);
  if (std::regex_search(text, m, std::regex(R"(Non-2xx or 3xx responses: (\d+))")))
    r.bad_status = std::stol(m[1]);
  if (std::regex_search(text, m, std::regex(R"(Requests/sec:\s+([0-9.]+))")))
    r.per_second = std::stod(m[1]);
  return r;
}

wrk_load::wrk_load(const std::string& url, wrk_options options) {
  std::string script;
  if (options.rate > 0) {
    auto wait_ms = static_cast<long>(1000.0 * options.connections / options.rate);
    std::ofstream(dir_ / "rate.lua") << "function delay()\n  return " << wait_ms << "\nend\n";
    script = " -s " + (dir_ / "rate.lua");
  }
  // Line-buffered: what it printed survives a crash.
  auto in_ns = options.netns.empty() ? std::string() : "ip netns exec " + options.netns + " ";
  auto command = "{ " + in_ns + "stdbuf -oL -eL wrk -t" + std::to_string(options.threads) + " -c"
                 + std::to_string(options.connections) + " -d600s --timeout 10s" + script
                 + " " + url + " & echo $! > " + (dir_ / "pid") + "; wait; } 2>&1";
  thread_ = std::thread([this, command] {
    auto r = test::run(command);
    out_ = r.out + r.err;
  });
  REQUIRE(eventually([&] { return pid() > 0; }, 10s));
  std::this_thread::sleep_for(1s); // its connections are up
}

wrk_load::~wrk_load() {
  if (thread_.joinable())
    finish();
}

wrk_result wrk_load::finish() {
  ::kill(pid(), SIGINT);
  thread_.join();
  return parse_wrk(out_);
}

int wrk_load::pid() const {
  int p = 0;
  std::ifstream(dir_ / "pid") >> p;
  return p;
}

} // namespace volant::e2e
