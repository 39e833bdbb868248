// "With Labels" and the HAProxy backend generator of the spec.

#include "e2e/e2e.hpp"

#include <filesystem>
#include <fstream>

namespace volant::e2e {

namespace {

std::set<std::string> names_in(const json& vms) {
  std::set<std::string> out;
  for (const auto& vm : vms)
    out.insert(vm.value("name", ""));
  return out;
}

std::set<std::string> names_in_table(const std::string& table) {
  std::set<std::string> out;
  auto lines = lines_of(table);
  for (std::size_t i = 1; i < lines.size(); ++i)
    out.insert(fields_of(lines[i]).at(0));
  return out;
}

} // namespace

TEST_CASE("Labels land on every VM and vms list --label filters by all of them") {
  daemon d({.pool_octet = 31});
  d.install(httpd_manifest());
  REQUIRE(d.volar("deployments create api --plugin e2e-httpd --replicas 3 "
                  "--labels env=production,tier=backend --wait --timeout 30")
              .exit_code == 0);
  REQUIRE(d.volar("deployments create db --plugin e2e-httpd --replicas 1 "
                  "--labels env=production,tier=database --wait --timeout 30")
              .exit_code == 0);
  REQUIRE(d.volar("deployments create web --plugin e2e-httpd --replicas 2 "
                  "--labels env=staging,tier=frontend --wait --timeout 30")
              .exit_code == 0);
  REQUIRE(d.volar("deployments create plain --plugin e2e-httpd --replicas 1 --wait --timeout 30")
              .exit_code == 0);

  for (const auto& vm : d.vms("--deployment api"))
    CHECK_MESSAGE(vm["labels"] == json({{"env", "production"}, {"tier", "backend"}}), vm.dump());
  for (const auto& vm : d.vms("--deployment plain"))
    CHECK_MESSAGE((vm["labels"].is_null() || vm["labels"].empty()), vm.dump());

  // The spec's queries.
  CHECK(names_in(d.vms("--label env=production"))
        == std::set<std::string>{"api-0", "api-1", "api-2", "db-0"});
  CHECK(names_in(d.vms("--label tier=backend"))
        == std::set<std::string>{"api-0", "api-1", "api-2"});
  // k=v,k=v is an AND.
  CHECK(names_in(d.vms("--label env=production,tier=backend"))
        == std::set<std::string>{"api-0", "api-1", "api-2"});
  CHECK(names_in(d.vms("--label env=production,tier=frontend")).empty());
  CHECK(names_in(d.vms("--label env=staging --deployment web"))
        == std::set<std::string>{"web-0", "web-1"});
  CHECK(names_in(d.vms("--label env=nowhere")).empty());
  // The human table filters the same way.
  CHECK(names_in_table(d.ok("vms list --label env=production"))
        == std::set<std::string>{"api-0", "api-1", "api-2", "db-0"});
  // Scaled-up replicas get the labels too.
  REQUIRE(d.volar("deployments scale api --replicas 4 --wait --timeout 30").exit_code == 0);
  CHECK(names_in(d.vms("--label env=production,tier=backend"))
        == std::set<std::string>{"api-0", "api-1", "api-2", "api-3"});
}

TEST_CASE("The spec's HAProxy backend generator prints one server line per VM") {
  daemon d({.pool_octet = 32});
  d.install(httpd_manifest());
  REQUIRE(d.volar("deployments create web --plugin e2e-httpd --replicas 5 --wait --timeout 30")
              .exit_code == 0);
  REQUIRE(d.volar("deployments create other --plugin e2e-httpd --replicas 1 --wait --timeout 30")
              .exit_code == 0);
  // generate-haproxy-backend.sh exactly as in the spec; `volar` found on PATH, the
  // data directory through VOLANT_HOME.
  auto script = d.scratch("generate-haproxy-backend.sh");
  std::ofstream(script) << R"(#!/bin/bash
# generate-haproxy-backend.sh

DEPLOYMENT="web"

echo "backend ${DEPLOYMENT}_cluster"
echo "    balance roundrobin"
echo "    option httpchk GET /health"

volar vms list --deployment $DEPLOYMENT --json | jq -r '.[] | "    server \(.name) \(.ip):80 check"'
)";
  auto bin_dir = std::filesystem::path(volar_bin()).parent_path().string();
  auto r = test::run("PATH=" + sh_quote(bin_dir) + ":\"$PATH\" VOLANT_HOME=" + sh_quote(d.dir())
                     + " bash " + sh_quote(script) + " </dev/null");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.err.empty());
  auto lines = lines_of(r.out);
  REQUIRE_MESSAGE(lines.size() == 3 + 5, r.out);
  CHECK(lines[0] == "backend web_cluster");
  std::set<std::string> servers(lines.begin() + 3, lines.end());
  std::set<std::string> want;
  for (const auto& vm : d.vms("--deployment web"))
    want.insert("    server " + vm.value("name", "") + " " + vm.value("ip", "") + ":80 check");
  CHECK(servers == want);
  CHECK(servers.size() == 5);
  for (int i = 0; i < 5; ++i)
    CHECK(r.out.find("    server web-" + std::to_string(i) + " 127.78.32.") != std::string::npos);
}

} // namespace volant::e2e
