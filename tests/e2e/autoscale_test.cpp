// Horizontal autoscaling end to end (issue 15): the guide's
// HorizontalPodAutoscaler applied with volar, a workload that burns CPU on
// demand scaled up while loaded and back down after the (short, here)
// stabilization window; each scale journaled with the autoscaler as its cause.
//
// On 2 cores, n busy VMs of 1 vCPU get at most 200/n % each: the target (30 %)
// is one the machine can exceed with 3 VMs (about 66 % each). The request
// rate comes from HAProxy's counters: wrk at a fixed rate through a load
// balancer settles the deployment at ceil(rate / averageValue), +- 1.

#include "e2e/e2e.hpp"
#include "e2e/wrk.hpp"

#include <filesystem>
#include <fstream>

namespace volant::e2e {

TEST_CASE("an autoscaler scales a CPU-bound deployment up while it is loaded and back to "
          "its minimum after") {
  daemon d({.pool_octet = 171, .extra = {"--metrics-interval", "1s"}});
  // The switch: while this file exists every replica spins (busybox sh's
  // builtin test, no fork); without it they idle.
  auto burn = d.workload_scratch("switch") + "/burn";
  json m = {{"name", "e2e-burner"},
            {"version", "1.0.0"},
            {"runtime", "process"},
            {"workload",
             {{"entrypoint",
               {"/bin/sh", "-c",
                "while :; do while [ -f " + burn + " ]; do :; done; sleep 0.2; done"}}}}};
  d.install(m);
  d.ok("deployments create burn --plugin e2e-burner --replicas 3 --wait --timeout 60");
  auto hpa = d.scratch("burn-hpa.yaml");
  std::ofstream(hpa) << "apiVersion: volant.io/v1\n"
                        "kind: HorizontalPodAutoscaler\n"
                        "metadata:\n  name: burn-hpa\n"
                        "spec:\n"
                        "  deploymentRef: burn\n"
                        "  minReplicas: 3\n"
                        "  maxReplicas: 6\n"
                        "  metrics:\n"
                        "    - type: cpu\n"
                        "      target:\n        averageUtilization: 30\n"
                        "    - type: requests\n"
                        "      target:\n        averageValue: 1000\n"
                        "  behavior:\n"
                        "    scaleDown:\n      stabilizationWindowSeconds: 5\n";
  CHECK(d.ok("apply -f " + hpa) == "horizontalpodautoscaler burn-hpa created\n");
  CHECK(d.ok("apply -f " + hpa) == "horizontalpodautoscaler burn-hpa unchanged\n");
  // Idle: it stays at 3, and says why.
  CHECK(eventually([&] { return d.get_json("hpa show burn-hpa")["last"].is_object(); }));
  std::this_thread::sleep_for(3s);
  CHECK(d.deployment("burn").value("desired", 0) == 3);
  auto shown = d.get_json("hpa show burn-hpa");
  CHECK(shown["last"]["metrics"][1].value("note", "")
        == "missing: deployment 'burn' has no load balancer");

  // Loaded: up to at least 5.
  std::ofstream(burn) << "on\n";
  int peak = 0;
  CHECK_MESSAGE(eventually(
                    [&] {
                      peak = std::max(peak, d.deployment("burn").value("desired", 0));
                      return peak >= 5;
                    },
                    90s, 500ms),
                d.ok("hpa show burn-hpa") << d.log_tail());
  CHECK(peak <= 6);
  auto list = d.ok("hpa list");
  CHECK(list.find("burn-hpa") != std::string::npos);
  CHECK(list.find("cpu 30 %") != std::string::npos);

  // A manual scale is accepted, and the reply says who decides next.
  auto manual = d.ok("deployments scale burn --replicas 4");
  CHECK(manual.find("autoscaler burn-hpa (3..6 replicas) takes over again at its next "
                    "evaluation")
        != std::string::npos);

  // Idle again: back to the minimum once the stabilization window has passed.
  std::filesystem::remove(burn);
  CHECK_MESSAGE(eventually([&] { return d.deployment("burn").value("desired", 0) == 3; }, 90s,
                           500ms),
                d.ok("hpa show burn-hpa") << d.log_tail());
  int by_autoscaler = 0;
  for (const auto& e : d.journal())
    if (e.value("event", "") == "deployment_scaled"
        && e["fields"].value("cause", "") == "autoscaler burn-hpa") {
      ++by_autoscaler;
      CHECK(e["fields"].value("detail", "").find("cpu ") != std::string::npos);
    }
  CHECK(by_autoscaler >= 2); // up, and down again
  auto explained = d.ok("shell -c 'explain burn'");
  CHECK(explained.find("by autoscaler burn-hpa") != std::string::npos);

  // Deleted: the deployment keeps its count.
  d.ok("hpa delete burn-hpa");
  CHECK(d.get_json("hpa list").empty());
  auto gone = d.volar("hpa show burn-hpa");
  CHECK(gone.exit_code != 0);
  CHECK(gone.err.find("not found") != std::string::npos);
}

TEST_CASE("an autoscaler on requests per second settles a load-balanced deployment at "
          "ceil(rate / averageValue) replicas, and goes back to its minimum when the load "
          "stops") {
  daemon d({.pool_octet = 172, .extra = {"--metrics-interval", "2s"}});
  d.install(httpd_manifest());
  d.ok("deployments create web --plugin e2e-httpd --replicas 2 --wait --health-http 80:/ "
       "--health-interval 1");
  auto lb_ip = d.ip(250);
  d.ok("lb create web-lb --deployment web --port 80 --listen " + lb_ip);
  auto hpa = d.scratch("web-hpa.yaml");
  std::ofstream(hpa) << "apiVersion: volant.io/v1\n"
                        "kind: HorizontalPodAutoscaler\n"
                        "metadata:\n  name: web-hpa\n"
                        "spec:\n"
                        "  deploymentRef: web\n"
                        "  minReplicas: 1\n"
                        "  maxReplicas: 8\n"
                        "  metrics:\n"
                        "    - type: requests\n"
                        "      target:\n        averageValue: 10\n"
                        "  behavior:\n"
                        "    scaleDown:\n      stabilizationWindowSeconds: 6\n";
  d.ok("apply -f " + hpa);
  // HAProxy answers through the LB before the load starts.
  REQUIRE_MESSAGE(!http_body_eventually(lb_ip, "/", 30s).empty(), d.log_tail());

  // 35 requests/s over 4 connections: ceil(35 / 10) = 4 replicas.
  const double rate = 35;
  const int want = 4;
  wrk_load load("http://" + lb_ip + ":80/", {.threads = 1, .connections = 4, .rate = rate});
  // Settled: the same count for 16 s (8 evaluations) in a row.
  int settled = 0;
  auto since = std::chrono::steady_clock::now();
  int last = -1;
  CHECK_MESSAGE(eventually(
                    [&] {
                      int now = d.deployment("web").value("desired", 0);
                      if (now != last) {
                        last = now;
                        since = std::chrono::steady_clock::now();
                      }
                      settled = now;
                      return now > 1 && std::chrono::steady_clock::now() - since > 16s;
                    },
                    120s, 1s),
                d.ok("hpa show web-hpa") << d.log_tail());
  auto result = load.finish();
  MESSAGE("wrk: " << result.text << "\n" << result.per_second << " requests/s; settled at " << settled
                  << " replicas; " << d.ok("hpa show web-hpa"));
  CHECK(result.requests > 0);
  CHECK(result.socket_errors + result.bad_status == 0);
  CHECK(settled >= want - 1);
  CHECK(settled <= want + 1);
  auto shown = d.get_json("hpa show web-hpa");
  CHECK(shown["last"]["metrics"][0].value("kind", "") == "requests");
  // deployments show and explain name the autoscaler and its numbers.
  auto text = d.ok("deployments show web");
  CHECK_MESSAGE(text.find("Autoscaler:    web-hpa (1..8 replicas); last evaluation ")
                    != std::string::npos,
                text);
  CHECK(text.find(" req/s of 10 req/s -> ") != std::string::npos);
  CHECK(d.get_json("deployments show web")["autoscaler"]["last"].is_object());
  auto story = d.ok("shell -c 'explain web'");
  CHECK_MESSAGE(story.find("autoscaler web-hpa keeps it at 1..8 replicas; latest scale by "
                           "autoscaler web-hpa: ")
                    != std::string::npos,
                story);

  // No load: back to the minimum after the window.
  CHECK_MESSAGE(eventually([&] { return d.deployment("web").value("desired", 0) == 1; }, 90s,
                           1s),
                d.ok("hpa show web-hpa") << d.log_tail());
  bool by_requests = false;
  for (const auto& e : d.journal())
    if (e.value("event", "") == "deployment_scaled"
        && e["fields"].value("cause", "") == "autoscaler web-hpa")
      by_requests = by_requests || e["fields"].value("detail", "").find("requests") != std::string::npos;
  CHECK(by_requests);
}

} // namespace volant::e2e
