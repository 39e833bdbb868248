// volantd: the Volant daemon. One CAF actor system holding the journal, the
// controller (state + decisions), a deployment actor per deployment, a vm actor
// per replica and the published control endpoint.

#include "actors/auth.hpp"
#include "actors/context.hpp"
#include "actors/directory.hpp"
#include "actors/live.hpp"
#include "actors/log.hpp"
#include "actors/root.hpp"
#include "cli/args.hpp"
#include "cli/manifest_yaml.hpp"
#include "daemon/cluster_mode.hpp"
#include "daemon/data_dir.hpp"
#include "daemon/host.hpp"
#include "daemon/workloads.hpp"
#include "runtime/dns.hpp"
#include "runtime/exit_watcher.hpp"
#include "runtime/haproxy.hpp"
#include "runtime/netdev.hpp"
#include "runtime/process_driver.hpp"
#include "runtime/routes.hpp"
#include "runtime/qemu_driver.hpp"
#include "runtime/prober.hpp"
#include "secrets/sealer.hpp"
#include "store/journal.hpp"
#include "store/paths.hpp"
#include "tls/credentials.hpp"
#include "tls/endpoint.hpp"

#include <CLI/CLI.hpp>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <malloc.h>
#include <sys/stat.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

namespace {

/// volant.local's responder by default: a loopback address of its own, outside
/// the default pool (127.77.0.0/16) and the tests' pools (127.78.N.0/24, N > 0).
constexpr const char* default_dns_listen = "127.78.0.53";

/// The guide's quota file, read when it exists and no --quotas is given.
constexpr const char* default_quota_file = "/etc/volant/quotas.yaml";

/// The quotas of `file` (the guide's YAML), or why not.
volant::expected<std::vector<volant::quota_spec>> read_quota_file(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return volant::make_error(volant::ec::io_error, "cannot read " + file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto quotas = volant::cli::quotas_from_yaml(text);
  if (!quotas)
    return volant::make_error(quotas.error_value().code,
                              file + ": " + quotas.error_value().message);
  return quotas;
}

struct options {
  std::string data_dir;
  std::string listen = "127.0.0.1:" + std::to_string(volant::default_port);
  bool allow_remote = false;
  std::string log_level = "info";
  volant::host_options host;
  volant::workload_options workloads;
  std::int64_t stop_grace_ms = 10000;
  std::int64_t reconcile_ms = 2000;
  std::string metrics_interval = "15s";
  std::uint64_t snapshot_every = 10000;
  bool crash_hook = false;
  std::size_t max_request_bytes = volant::default_max_request_bytes;
  volant::runtime::qemu_options qemu;
  volant::guest::paths guests;
  volant::restart_policy restarts;
  std::string haproxy_binary = "haproxy";
  std::string dns_listen = default_dns_listen;
  std::vector<std::string> dns_forward;
  std::string quotas = default_quota_file;
  volant::cluster_options cluster;
};

int fail(const std::string& message) {
  std::cerr << "volantd: " << message << '\n';
  return 1;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

/// Waits for SIGTERM or SIGINT; meanwhile, every 10 s, hands the heap's free
/// pages back to the kernel. glibc keeps what a thread's arena once held: the
/// bursts of a 500-VM create or of a `vms list` left 40 MiB of free heap in
/// volantd's arenas, 30 MiB of its RSS (bench/probes); malloc_trim releases it
/// in well under a millisecond.
int wait_for_shutdown(const sigset_t& signals) {
  const timespec every{10, 0};
  for (;;) {
    int sig = sigtimedwait(&signals, nullptr, &every);
    if (sig > 0)
      return sig;
    if (errno == EAGAIN)
      ::malloc_trim(0);
  }
}

/// The DNS server `opts` asks for, or null: off, or the address cannot be
/// bound (then volantd runs without DNS and says so once). A flag that does
/// not parse is an error.
volant::expected<std::unique_ptr<volant::runtime::dns_server>> start_dns(const options& opts,
                                                                        volant::ipv4 bridge) {
  using namespace volant;
  if (opts.dns_listen.empty() || opts.dns_listen == "off")
    return std::unique_ptr<runtime::dns_server>();
  auto at = runtime::parse_dns_endpoint(opts.dns_listen);
  if (!at)
    return make_error(ec::invalid_argument, "--dns-listen " + at.error_value().message);
  runtime::dns_server::options o;
  o.listen = *at;
  // microVMs reach volantd on their gateway, the bridge's address, where the
  // DNS listens too (port 53: resolv.conf takes no port).
  if (!(bridge == at->ip && at->port == 53))
    o.also.push_back({bridge, 53});
  for (const auto& text : opts.dns_forward) {
    auto to = runtime::parse_dns_endpoint(text);
    if (!to)
      return make_error(ec::invalid_argument, "--dns-forward " + to.error_value().message);
    o.forwarders.push_back(*to);
  }
  if (opts.dns_forward.empty()) {
    std::ifstream in("/etc/resolv.conf");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const auto& ns : runtime::resolv_conf_nameservers(text))
      if (ns != *at) // never to itself
        o.forwarders.push_back(ns);
  }
  std::string upstream;
  for (const auto& f : o.forwarders)
    upstream += (upstream.empty() ? "" : ", ") + runtime::to_string(f);
  auto server = runtime::dns_server::start(std::move(o));
  if (!server) {
    spdlog::warn("[volantd] dns: {}: running without DNS for volant.local (--dns-listen "
                 "ADDR[:PORT] picks another address, --dns-listen off turns it off)",
                 server.error_value().message);
    return std::unique_ptr<runtime::dns_server>();
  }
  spdlog::info("[volantd] dns: volant.local on {} (UDP and TCP), other names forwarded to {}",
               runtime::to_string(at.value()), upstream.empty() ? "none (SERVFAIL)" : upstream);
  return std::move(*server);
}

} // namespace

int main(int argc, char** argv) {
  using namespace volant;
  options opts;
  CLI::App app{"volantd: runs Volant deployments of microVMs"};
  app.add_option("--data-dir", opts.data_dir,
                 "Data directory (default: $VOLANT_HOME or ~/.volant)");
  app.add_option("--listen", opts.listen, "Control endpoint HOST:PORT (PORT 0: any)");
  app.add_flag("--allow-remote", opts.allow_remote,
               "Allow a non-loopback --listen address (the token still applies)");
  app.add_option("--log-level", opts.log_level, "trace, debug, info, warn, error")
    ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  add_host_options(app, opts.host);
  add_workload_options(app, opts.workloads);
  add_cluster_options(app, opts.cluster);
  app.add_option("--stop-grace-ms", opts.stop_grace_ms,
                 "Grace period between SIGTERM and SIGKILL when stopping a VM")
    ->check(CLI::Range(0, 3600000));
  app.add_option("--metrics-interval", opts.metrics_interval,
                 "How often autoscalers collect metrics and decide (15s; e.g. 2s, 500ms)")
    ->capture_default_str();
  app.add_option("--reconcile-ms", opts.reconcile_ms, "Reconcile timer period")
    ->check(CLI::Range(50, 600000));
  app.add_option("--restart-backoff-ms", opts.restarts.initial_ms,
                 "Crash-loop back-off before the second restart (then doubling)")
    ->check(CLI::Range(0, 3600000));
  app.add_option("--restart-backoff-max-ms", opts.restarts.max_ms,
                 "Cap of the crash-loop back-off")
    ->check(CLI::Range(0, 86400000));
  app.add_option("--restart-reset-ms", opts.restarts.reset_after_ms,
                 "A VM up this long restarts without back-off again")
    ->check(CLI::Range(0, 86400000));
  app.add_option("--ready-deadline-ms", opts.restarts.ready_deadline_ms,
                 "A VM restarted in place that is not ready this long after its "
                 "start is recreated")
    ->check(CLI::Range(100, 86400000));
  app.add_option("--snapshot-every", opts.snapshot_every,
                 "Write a state snapshot every N events")
    ->check(CLI::Range(1, 100000000));
  app.add_option("--qemu-accel", opts.qemu.accelerator,
                 "Accelerator of microVMs: kvm or tcg (default: KVM where it can boot "
                 "stock kernels, else TCG)")
    ->check(CLI::IsMember({"kvm", "tcg"}));
  app.add_option("--qemu-binary", opts.qemu.binary, "QEMU binary of microVMs");
  app.add_option("--haproxy-binary", opts.haproxy_binary,
                 "HAProxy binary of the load balancers (volar lb ...)")
    ->capture_default_str();
  app.add_option("--dns-listen", opts.dns_listen,
                 "Address of the DNS responder for volant.local, ADDR[:PORT] (port 53 "
                 "by default); off: none")
    ->capture_default_str();
  app.add_option("--dns-forward", opts.dns_forward,
                 "Resolver of names outside volant.local, ADDR[:PORT] (repeatable; "
                 "default: the nameservers of /etc/resolv.conf)");
  app.add_option("--bridge", opts.qemu.bridge.name,
                 "Bridge of microVM TAPs (created at the first microVM start)");
  app.add_option("--bridge-cidr", opts.qemu.bridge.cidr,
                 "Address of the bridge, which microVMs use as their gateway; the "
                 "--pool of a microVM host lies in its subnet");
  opts.guests.cache = guest::default_cache_dir();
  opts.guests.packages = guest::default_package_dir();
  app.add_option("--guest-cache", opts.guests.cache,
                 "Where built guest images are kept, shared by every volantd of the host")
    ->capture_default_str();
  app.add_option("--package-cache", opts.guests.packages,
                 "Debian packages guest images are built from (fill it with `volar guest "
                 "fetch PACKAGE...`; also $VOLANT_PACKAGE_CACHE)")
    ->capture_default_str();
  app.add_option("--guest-kernel", opts.guests.kernel,
                 "Kernel of microVMs whose plugin names none (default: Debian's cloud "
                 "kernel from the package cache)");
  app.add_option("--guest-init", opts.guests.init,
                 "PID 1 of built guests (default: volant-guest-init next to volantd)");
  app.add_option("--max-request-bytes", opts.max_request_bytes,
                 "Largest request (verb and JSON arguments) volantd accepts, in bytes")
    ->check(CLI::Range(std::size_t{4096}, std::size_t{1} << 30));
  app.add_option("--quotas", opts.quotas,
                 "The quota file (the guide's quotas.yaml), re-read when it changes and "
                 "then the only source of quotas; 'none': quotas come from volar apply -f "
                 "(default: /etc/volant/quotas.yaml when it exists)");
  app.add_flag("--enable-crash-hook", opts.crash_hook,
               "Test hook: let `debug.crash` requests make a chosen actor throw")
    ->group(""); // hidden
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  auto colon = opts.listen.rfind(':');
  if (colon == std::string::npos)
    return fail("--listen '" + opts.listen + "' is not HOST:PORT");
  auto listen_host = opts.listen.substr(0, colon);
  int listen_port = -1;
  try {
    listen_port = std::stoi(opts.listen.substr(colon + 1));
  } catch (const std::exception&) {
  }
  if (listen_port < 0 || listen_port > 65535)
    return fail("--listen '" + opts.listen + "' has no valid port");
  if (!is_loopback(listen_host) && !opts.allow_remote)
    return fail("--listen " + listen_host
                + " is not a loopback address; add --allow-remote to expose the "
                  "control endpoint");

  // Block the shutdown signals before any thread starts (the journal's
  // high-water thread and RocksDB's start at its open): main waits for them
  // with sigwait. A thread started with them unblocked would take a SIGTERM
  // meant for main and end the process by the signal, without a clean
  // shutdown and, when supervision gave up, without exit status 1. A signal
  // during start-up waits until volantd is up, then shuts it down.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto logger = spdlog::stderr_color_mt("volantd");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(opts.log_level));
  if (!is_loopback(listen_host))
    spdlog::warn("control endpoint exposed on {}: anyone with the token controls volantd",
                 listen_host);

  daemon_context ctx;
  ctx.data_dir = store::resolve_data_dir(opts.data_dir);
  // An existing data directory, token or key others could read or change is
  // refused as it is (README, "Security").
  if (auto st = prepare_data_dir(ctx.data_dir); !st)
    return fail(st.error_value().message);
  auto token = load_or_create_token(ctx.data_dir + "/token");
  if (!token)
    return fail(token.error_value().message);
  ctx.token = *token;
  // The key of secret env (docs/protocol.md, "Secret env").
  auto sealer = secrets::sealer::load_or_create(secrets::key_path(ctx.data_dir));
  if (!sealer)
    return fail(sealer.error_value().message);
  ctx.sealer = &*sealer;
  // The control endpoint's CA and certificates (docs/protocol.md, "Handshake").
  auto credentials = tls::prepare_daemon(ctx.data_dir);
  if (!credentials)
    return fail(credentials.error_value().message);
  for (const auto& line : *credentials)
    spdlog::info("[volantd] {}", line);
  if (auto st = tls::check_client_revocations(); !st)
    return fail(st.error_value().message);

  auto workloads = prepare_workloads(opts.workloads, ctx.data_dir);
  if (!workloads)
    return fail(workloads.error_value().message);
  ctx.run_dir = workloads->run_dir;

  auto store = store::journal::open(store::journal_dir(ctx.data_dir));
  if (!store)
    return fail(store.error_value().message);
  ctx.store = store->get();
  // A host of a cluster: its journal is a copy of the cluster log, brought
  // up to date before the state is rebuilt from it.
  std::unique_ptr<cluster_link> cluster;
  if (!opts.cluster.endpoints.empty()) {
    auto link = cluster_link::open(opts.cluster, **store, ctx.data_dir);
    if (!link)
      return fail(link.error_value().message);
    cluster = std::move(*link);
    if (auto st = cluster->catch_up(); !st)
      return fail("--cluster: " + st.error_value().message);
    ctx.cluster = cluster.get();
    ctx.host_name = cluster->options().host_name;
  }
  auto w = (*store)->load();
  if (!w)
    return fail("cannot rebuild state from the log: " + w.error_value().message);
  auto bridge = runtime::parse_cidr(opts.qemu.bridge.cidr);
  if (!bridge)
    return fail("--bridge-cidr: " + bridge.error_value().message);
  opts.host.reserved = bridge->address;
  cluster_host me;
  if (cluster != nullptr) {
    auto config = host_config_from(opts.host);
    if (!config)
      return fail(config.error_value().message);
    me = {ctx.host_name, config->cpu_total, config->memory_total_mib,
          config->cpu_overcommit_milli};
    for (const command& cmd : {command{configure_host{*config}}, command{join_host{me}}})
      if (auto st = cluster->commit(*w, cmd); !st)
        return fail("--cluster: " + st.error_value().message);
  } else if (auto st = configure_host_if_needed(**store, *w, opts.host); !st) {
    return fail(st.error_value().message);
  }
  for (const auto& [name, d] : w->deployments)
    for (const auto& var : d.spec.tmpl.secret_env)
      if (secrets::sealed_key_id(var.sealed) != sealer->key_id())
        spdlog::error("[volantd] deployment {}: secret env {} was sealed with another key "
                      "(not {}): its VMs cannot start until it is set again "
                      "(volar deployments update {} --secret-env {}=...)",
                      name, var.key, secrets::key_path(ctx.data_dir), name, var.key);

  // DNS for volant.local (docs/traffic.md): the controller publishes its names.
  auto dns = start_dns(opts, bridge->address);
  if (!dns)
    return fail(dns.error_value().message);
  ctx.dns = dns->get();
  if (ctx.dns != nullptr) {
    for (const auto& w : ctx.dns->warnings())
      spdlog::warn("[volantd] dns: {}: microVMs get no resolver of volant.local", w);
    // microVMs' resolver: the bridge's address (their init writes it to their
    // /etc/resolv.conf from the kernel command line).
    if (ctx.dns->listens_on({bridge->address, 53}))
      opts.qemu.dns = to_string_ip(bridge->address);
  }
  if (ctx.dns != nullptr && ctx.dns->config().listen.port == 53) {
    // The workloads' resolver: their /etc/resolv.conf (process driver, in a
    // mount namespace of their own) names this DNS; resolv.conf takes no port.
    auto path = ctx.data_dir + "/resolv.conf";
    std::ofstream out(path, std::ios::trunc);
    out << "# Written by volantd: volant.local names are answered by its DNS, other\n"
           "# names are forwarded to the host's resolvers.\n"
        << "nameserver " << to_string_ip(ctx.dns->config().listen.ip) << "\n"
        << "search volant.local\n";
    if (out.flush()) {
      ::chmod(path.c_str(), 0644);
      ctx.resolv_conf = path;
    }
  }
  runtime::exit_watcher watcher;
  runtime::prober prober;
  runtime::process_driver driver{
    runtime::cgroups{"/sys/fs/cgroup", cgroup_group(ctx.data_dir), opts.workloads.max_pids},
    workloads->identity};
  ctx.driver = &driver;
  // Hosts on separate machines: VM addresses on a real interface, routed.
  // Without --vm-interface, a cluster pool that is not loopback uses the
  // interface of the route to the cluster's first etcd endpoint.
  std::string host_address;
  if (cluster != nullptr && opts.cluster.vm_interface.empty()) {
    auto pool = parse_pool(opts.host.pool);
    if (pool && (pool->first >> 24) != 127) {
      auto url = opts.cluster.endpoints.substr(0, opts.cluster.endpoints.find(','));
      auto rest = url.substr(url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
      auto host = rest.substr(0, rest.find_first_of(":/"));
      auto dev = runtime::route_interface(host);
      if (!dev)
        return fail("--vm-interface not given and " + dev.error_value().message
                    + ": give it (the interface other hosts reach this one on)");
      if (*dev != "lo")
        opts.cluster.vm_interface = *dev;
    }
  }
  if (!opts.cluster.vm_interface.empty()) {
    if (cluster == nullptr)
      return fail("--vm-interface needs --cluster");
    auto address = runtime::interface_address(opts.cluster.vm_interface);
    if (!address)
      return fail(address.error_value().message);
    host_address = to_string_ip(*address);
    driver.set_vm_interface(opts.cluster.vm_interface);
    ctx.vm_interface = opts.cluster.vm_interface;
  }
  opts.qemu.user = workloads->identity;
  opts.qemu.owner = cgroup_group(ctx.data_dir); // never another volantd's microVMs
  runtime::qemu_driver qemu{opts.qemu};
  ctx.qemu = &qemu;
  ctx.qemu_accelerator = qemu.accelerator();
  ctx.qemu_bridge = opts.qemu.bridge.name + " " + opts.qemu.bridge.cidr;
  // Load balancers: one HAProxy, adopted if it runs from before (docs/traffic.md).
  // A server that left an LB and has no session left: its VM may stop now.
  live_actors live;
  ctx.live = &live;
  auto on_drained = [&live](const std::string& lb, const std::string& vm) {
    if (auto c = live.controller())
      caf::anon_send(c, command_atom::value, command{mark_drained{vm, lb}});
  };
  runtime::haproxy_supervisor haproxy{
    {opts.haproxy_binary, ctx.data_dir + "/haproxy", on_drained}};
  ctx.haproxy = &haproxy;
  ctx.lbs.listen = "127.0.0.1";
  ctx.lbs.microvm_listen = to_string_ip(bridge->address);
  {
    // The runs the log says may be up are adopted (or found dead) by their VM
    // actors; any other run still on the host was forked just before a crash and
    // never recorded, or belongs to a VM deleted since: released now.
    std::vector<std::string> known;
    for (const auto& [name, vm] : w->vms) {
      known.push_back(runtime::run_id(name, vm.incarnation));
      known.push_back(name); // a run of a daemon from before runs were numbered
    }
    for (runtime::driver* d : {ctx.driver, ctx.qemu})
      for (const auto& run : d->reap_unknown(known))
        spdlog::warn("[volantd] {}: released a leftover {} run that is not in the log", run,
                     d->name());
  }
  ctx.watcher = &watcher;
  actor_directory actors;
  ctx.actors = &actors;
  ctx.prober = &prober;
  ctx.stop_grace = std::chrono::milliseconds(opts.stop_grace_ms);
  ctx.reconcile_every = std::chrono::milliseconds(opts.reconcile_ms);
  {
    auto ms = cli::parse_duration_ms(opts.metrics_interval, "--metrics-interval");
    if (!ms || *ms < 100)
      return fail(ms ? "--metrics-interval must be at least 100ms" : ms.error_value().message);
    ctx.metrics_every = std::chrono::milliseconds(*ms);
  }
  ctx.snapshot_every = opts.snapshot_every;
  ctx.crash_hook = opts.crash_hook;
  // The quota file: given, or the default one when it exists. A given file
  // that does not parse stops the start (a later bad edit only warns).
  if (opts.quotas != "none" && !opts.quotas.empty()
      && (opts.quotas != default_quota_file || std::filesystem::exists(opts.quotas))) {
    if (auto quotas = read_quota_file(opts.quotas); !quotas)
      return fail("--quotas " + quotas.error_value().message);
    ctx.quota_file = std::filesystem::absolute(opts.quotas).string();
    ctx.read_quotas = read_quota_file;
  }
  if (opts.guests.init.empty()) {
    std::error_code ignored;
    opts.guests.init = guest::find_init(std::filesystem::read_symlink("/proc/self/exe", ignored));
  }
  ctx.guests = opts.guests;
  ctx.max_request_bytes = opts.max_request_bytes;
  ctx.policy = opts.restarts;
  ctx.machine.policy = opts.restarts;
  ctx.machine.stop_grace_ms = static_cast<std::uint64_t>(opts.stop_grace_ms);
  ctx.started_at = now_nanos();
  {
    caf::actor_system_config cfg;
    cfg.load<caf::io::middleman>();
    tls::layout files{ctx.data_dir};
    tls::use_tls(cfg, files.server_cert(), files.server_key(), files.trust());
    cfg.set("logger.verbosity", caf::atom("quiet"));
    cfg.set("logger.console", caf::atom("none"));
    cfg.set("logger.file-name", "");
    cfg.set("middleman.enable-automatic-connections", false);
    // Idle workers block instead of polling: the work-stealing default spins in
    // 50 us sleeps while messages trickle in (probes, timers), which cost about
    // 40 % of a core at 500 probed VMs (bench/probes).
    cfg.set("scheduler.policy", caf::atom("sharing"));
    caf::actor_system sys{cfg};
    auto root_actor = sys.spawn(root, &ctx, std::move(*w), listen_host,
                                static_cast<std::uint16_t>(listen_port));
    // Wait until the endpoint is bound (or the root gave up).
    for (int i = 0; i < 500 && published_port() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (published_port() == 0) {
      caf::anon_send_exit(root_actor, caf::exit_reason::user_shutdown);
      return fail("cannot listen on " + opts.listen);
    }
    if (cluster != nullptr) {
      cluster->start(live, me, host_address);
      spdlog::info("[volantd] host {} of the cluster at {}{}", ctx.host_name,
                   opts.cluster.endpoints,
                   host_address.empty() ? std::string()
                                        : "; its VMs reached at " + host_address + " ("
                                              + opts.cluster.vm_interface + ")");
    }
    spdlog::info("[volantd] {}", workloads->summary);
    spdlog::info("[volantd] listening on {}:{}, data dir {}, driver {}{}", listen_host,
                 published_port(), ctx.data_dir, driver.name(),
                 driver.limits().note.empty() ? "" : " (" + driver.limits().note + ")");
    int sig = wait_for_shutdown(signals);
    spdlog::info("[volantd] signal {}: shutting down (workloads keep running)", sig);
    caf::anon_send_exit(root_actor, caf::exit_reason::user_shutdown);
  }
  if (cluster != nullptr)
    cluster->stop();
  return root_gave_up() ? 1 : 0;
}
