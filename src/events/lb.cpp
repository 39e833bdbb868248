#include "events/lb.hpp"

#include "events/plan.hpp"

#include <algorithm>

namespace volant {

namespace {

lb_check check_of(const world& w, const lb_spec& spec) {
  lb_check out;
  if (!spec.health_check) {
    out.how = lb_check::kind::none;
    return out;
  }
  if (!spec.health_path.empty()) {
    out.how = lb_check::kind::http;
    out.path = spec.health_path;
    return out;
  }
  // As the target's plugin (or deployment) checks readiness, else health: its
  // HTTP path and port, else a TCP connect to the server's port.
  out.how = lb_check::kind::tcp;
  auto d = w.deployments.find(spec.deployment);
  if (d == w.deployments.end())
    return out;
  // The readiness check when the target has one: it is what READY means.
  auto hc = effective_readiness_check(w, d->second);
  if (!hc.enabled)
    hc = effective_health_check(w, d->second);
  if (!hc.enabled)
    return out;
  if (const auto* http = std::get_if<http_check>(&hc.probe)) {
    out.how = lb_check::kind::http;
    out.path = http->path;
    out.port = http->port;
  } else if (const auto* tcp = std::get_if<tcp_check>(&hc.probe)) {
    out.port = tcp->port;
  }
  return out;
}

lb_view view_of(const world& w, const lb_spec& spec, const lb_defaults& defaults) {
  lb_view v;
  v.spec = spec;
  v.listen = spec.listen;
  if (v.listen.empty()) {
    v.listen = defaults.listen;
    auto d = w.deployments.find(spec.deployment);
    const auto* plugin = d == w.deployments.end() ? nullptr
                                                   : w.plugins.find(d->second.spec.tmpl.plugin);
    if (plugin != nullptr && plugin->runtime == "qemu" && !defaults.microvm_listen.empty())
      v.listen = defaults.microvm_listen;
  }
  v.target_port = spec.target_port != 0 ? spec.target_port : spec.port;
  v.check = check_of(w, spec);
  if (v.check.port == v.target_port)
    v.check.port = 0;
  for (const auto* vm : vms_of(w, spec.deployment))
    if (vm->status == vm_status::ready)
      v.servers.push_back({lb_server_name(vm->name), vm->name, vm->ip, v.target_port});
  return v;
}

std::string_view balance_of(lb_algorithm a) {
  switch (a) {
  case lb_algorithm::round_robin:
    return "roundrobin";
  case lb_algorithm::least_conn:
    return "leastconn";
  case lb_algorithm::source:
    return "source";
  }
  return "roundrobin";
}

} // namespace

std::string lb_server_name(std::string_view vm) {
  std::string out;
  for (char c : vm)
    out += c == '@' ? std::string("_r") : std::string(1, c);
  return out;
}

std::string lb_server_vm(std::string_view server) {
  std::string out(server);
  auto at = out.rfind("_r");
  if (at == std::string::npos || at + 2 >= out.size()
      || out.find_first_not_of("0123456789", at + 2) != std::string::npos)
    return out;
  return out.substr(0, at) + "@" + out.substr(at + 2);
}

std::string lb_backend_name(std::string_view lb, char slot) {
  return "lb_" + std::string(lb) + "_" + std::string(1, slot);
}

std::optional<std::pair<std::string, char>> lb_of_backend(std::string_view backend) {
  if (backend.size() < 6 || backend.substr(0, 3) != "lb_" || backend[backend.size() - 2] != '_')
    return std::nullopt;
  char slot = backend.back();
  if (slot != 'a' && slot != 'b')
    return std::nullopt;
  return std::pair{std::string(backend.substr(3, backend.size() - 5)), slot};
}

namespace {

char slot_of(const lb_slots& active, const std::string& lb) {
  auto i = active.find(lb);
  return i == active.end() ? 'a' : i->second;
}

constexpr std::string_view serves_comment = "    # serves ";

} // namespace

std::string lb_server_options(const lb_view& lb) {
  if (lb.check.how == lb_check::kind::none)
    return {};
  std::string out = "check inter 1s fall 2 rise 1";
  if (lb.check.port != 0)
    out += " port " + std::to_string(lb.check.port);
  return out;
}

std::string haproxy_frame(std::string_view config) {
  std::string out;
  std::size_t at = 0;
  while (at < config.size()) {
    auto end = config.find('\n', at);
    auto line = config.substr(at, end == std::string_view::npos ? std::string_view::npos
                                                                : end - at + 1);
    // Servers, and the comment saying what is served: a switch to a
    // deployment checked alike changes servers and the slots map only.
    if (line.rfind("    server ", 0) != 0 && line.rfind(serves_comment, 0) != 0)
      out += line;
    if (end == std::string_view::npos)
      break;
    at = end + 1;
  }
  return out;
}

std::vector<lb_view> project_lbs(const world& w, const lb_defaults& defaults) {
  std::vector<lb_view> out;
  for (const auto& [name, spec] : w.lbs)
    out.push_back(view_of(w, spec, defaults));
  return out;
}

std::optional<lb_view> project_lb(const world& w, const std::string& name,
                                  const lb_defaults& defaults) {
  auto i = w.lbs.find(name);
  if (i == w.lbs.end())
    return std::nullopt;
  return view_of(w, i->second, defaults);
}

std::map<std::string, lb_serving> haproxy_serving(std::string_view config) {
  // "    # serves lb_web_b: deployment web-green"
  std::map<std::string, lb_serving> out;
  std::size_t at = 0;
  while ((at = config.find(serves_comment, at)) != std::string_view::npos) {
    auto end = config.find('\n', at);
    auto line = config.substr(at + serves_comment.size(),
                              end == std::string_view::npos ? std::string_view::npos
                                                            : end - at - serves_comment.size());
    at = end;
    auto colon = line.find(": deployment ");
    if (colon == std::string_view::npos)
      continue;
    if (auto be = lb_of_backend(line.substr(0, colon)))
      out[be->first] = {be->second, std::string(line.substr(colon + 13))};
  }
  return out;
}

std::string render_lb_map(const std::vector<lb_view>& lbs, const lb_slots& active) {
  std::string out;
  for (const auto& lb : lbs)
    out += "lb_" + lb.spec.name + " " + lb_backend_name(lb.spec.name, slot_of(active, lb.spec.name))
           + "\n";
  return out;
}

std::string render_haproxy(const std::vector<lb_view>& lbs, const haproxy_paths& paths,
                           const lb_slots& active) {
  std::string out;
  auto line = [&](std::string text) { out += text + "\n"; };
  line("# Written by volantd for its load balancers (volar lb ...): every change");
  line("# rewrites it. Do not edit.");
  line("global");
  line("    master-worker");
  line("    stats socket " + paths.stats_socket + " mode 600 level admin expose-fd listeners");
  line("    maxconn 4096");
  line("");
  line("defaults");
  line("    mode http");
  line("    timeout connect 2s");
  line("    timeout client 30s");
  line("    timeout server 30s");
  line("    timeout http-request 10s");
  line("    timeout queue 10s");
  // A replica killed with kill -9 must cost no request: the failed attempt is
  // retried, on another server.
  line("    retries 3");
  line("    option redispatch 1");
  line("    retry-on conn-failure empty-response");
  for (const auto& lb : lbs) {
    const auto& name = lb.spec.name;
    auto serving = slot_of(active, name);
    line("");
    line("frontend lb_" + name);
    line(std::string(serves_comment) + lb_backend_name(name, serving) + ": deployment "
         + lb.spec.deployment);
    line("    bind " + lb.listen + ":" + std::to_string(lb.spec.port));
    line("    use_backend %[str(lb_" + name + "),map(" + paths.slots_map + ","
         + lb_backend_name(name, 'a') + ")]");
    auto options = lb_server_options(lb);
    auto check = options.empty() ? options : " " + options;
    for (char slot : {'a', 'b'}) {
      line("");
      line("backend " + lb_backend_name(name, slot));
      line("    balance " + std::string(balance_of(lb.spec.algorithm)));
      if (lb.spec.algorithm == lb_algorithm::source)
        line("    hash-type consistent");
      if (lb.check.how == lb_check::kind::http)
        line("    option httpchk GET " + lb.check.path);
      if (slot != serving)
        continue;
      for (const auto& s : lb.servers)
        line("    server " + s.name + " " + to_string_ip(s.ip) + ":" + std::to_string(s.port)
             + check);
    }
  }
  return out;
}

} // namespace volant
