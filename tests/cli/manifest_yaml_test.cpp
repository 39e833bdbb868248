// The spec's "Deployment Manifest (YAML)" read into a deployment_spec.

#include "cli/manifest_yaml.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace volant;
using volant::cli::deployment_from_yaml;
using volant::cli::deployment_documents_from_yaml;
using volant::cli::quotas_from_yaml;

namespace {

/// The spec's web-deployment.yaml, verbatim.
constexpr const char* spec_example = R"(apiVersion: volant.io/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: nginx
    env: production
spec:
  replicas: 5
  plugin: nginx
  resources:
    cpu: 2
    memory: 1024
  networking:
    mode: bridge
  labels:
    tier: frontend
  healthCheck:
    enabled: true
    http:
      port: 80
      path: /health
      intervalSeconds: 10
)";

std::string error_of(const std::string& yaml) {
  auto spec = deployment_from_yaml(yaml);
  REQUIRE_FALSE(spec.has_value());
  return spec.error_value().message;
}

/// A minimal valid manifest with `extra` appended under spec.
std::string with_spec(const std::string& extra) {
  return "apiVersion: volant.io/v1\nkind: Deployment\nmetadata:\n  name: web\n"
         "spec:\n  plugin: nginx\n"
         + extra;
}

} // namespace

TEST_CASE("the spec's web-deployment.yaml parses to the spec it describes") {
  auto spec = deployment_from_yaml(spec_example);
  REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error_value().message));
  deployment_spec want;
  want.name = "web";
  want.replicas = 5;
  want.tmpl.plugin = {"nginx", ""};
  want.tmpl.cpu = 2;
  want.tmpl.memory_mib = 1024;
  want.tmpl.vm_labels
      = {{"app", "nginx"}, {"env", "production"}, {"tier", "frontend"}};
  health_check hc;
  hc.enabled = true;
  hc.probe = http_check{80, "/health"};
  hc.interval_seconds = 10;
  want.tmpl.health = hc;
  CHECK(*spec == want);
}

TEST_CASE(
    "the spec's short web-cluster example parses with defaults elsewhere") {
  auto spec = deployment_from_yaml(R"(apiVersion: volant.io/v1
kind: Deployment
metadata:
  name: web-cluster
spec:
  replicas: 5
  plugin: nginx
  resources:
    cpu: 2
    memory: 1024
)");
  REQUIRE(spec.has_value());
  CHECK(spec->name == "web-cluster");
  CHECK(spec->replicas == 5);
  CHECK(spec->tmpl.cpu == 2);
  CHECK(spec->tmpl.memory_mib == 1024);
  CHECK_FALSE(spec->tmpl.health.has_value());
  CHECK(spec->auto_restart);
  CHECK(spec->strategy == update_strategy{});
}

TEST_CASE("replicas, cpu and memory default as on the command line") {
  auto spec = deployment_from_yaml(with_spec(""));
  REQUIRE(spec.has_value());
  CHECK(spec->replicas == 1);
  CHECK(spec->tmpl.cpu == 1);
  CHECK(spec->tmpl.memory_mib == 128);
}

TEST_CASE("an unknown field is an error naming the field and its line") {
  CHECK(error_of(with_spec("  replica: 3\n"))
        == "spec.replica: unknown field (line 7)");
  CHECK(error_of(with_spec("  healthCheck:\n    http:\n      prot: 80\n"))
            .starts_with("spec.healthCheck.http.prot: unknown field"));
  CHECK(
      error_of(
          "apiVersion: volant.io/v1\nkind: Deployment\nmetadata:\n  name: web\n"
          "  namespace: default\nspec:\n  plugin: nginx\n")
          .starts_with("metadata.namespace: unknown field"));
  CHECK(
      error_of(with_spec("status: {}\n")).starts_with("status: unknown field"));
  CHECK(error_of(with_spec("  resources:\n    gpu: 1\n"))
            .starts_with("spec.resources.gpu: unknown field"));
}

TEST_CASE("bad values name the field") {
  CHECK(error_of(with_spec("  replicas: -3\n"))
            .starts_with("spec.replicas: replicas must be >= 0, got -3"));
  CHECK(error_of(with_spec("  replicas: five\n"))
            .starts_with("spec.replicas: expected an integer, got 'five'"));
  CHECK(error_of(with_spec("  replicas: \"5\"\n"))
            .starts_with("spec.replicas: expected an integer"));
  CHECK(error_of(with_spec("  resources:\n    cpu: two\n"))
            .starts_with("spec.resources.cpu: expected an integer, got 'two'"));
  CHECK(error_of(with_spec("  resources:\n    cpu: 0\n"))
        == "cpu must be >= 1, got 0");
  CHECK(error_of(with_spec("  resources:\n    memory: 1GB\n"))
            .starts_with("spec.resources.memory: expected MiB or a quantity"));
  CHECK(
      error_of(with_spec("  networking:\n    mode: host\n"))
          .starts_with(
              "spec.networking.mode: only 'bridge' is supported, got 'host'"));
  CHECK(error_of(with_spec("  labels:\n    env: pro d\n"))
            .starts_with("spec.labels.env: invalid label 'env=pro d'"));
  CHECK(error_of(with_spec("  autoRestart: maybe\n"))
            .starts_with("spec.autoRestart: expected true or false"));
  CHECK(error_of(with_spec("  healthCheck:\n    http:\n      port: 0\n"))
            .starts_with("spec.healthCheck.http.port: expected an integer "
                         "1-65535, got 0"));
  CHECK(error_of(
            with_spec(
                "  healthCheck:\n    http: {port: 80}\n    tcp: {port: 81}\n"))
            .starts_with(
                "spec.healthCheck: give exactly one of http, tcp or process"));
  CHECK(error_of(with_spec("  healthCheck:\n    enabled: true\n"))
            .starts_with("spec.healthCheck: enabled but none"));
  CHECK(
      error_of(
          "apiVersion: volant.io/v1\nkind: Deployment\nmetadata:\n  name: web\n"
          "spec:\n  plugin: Nginx\n")
          .find("plugin name 'Nginx'")
      != std::string::npos);
}

TEST_CASE("document-level mistakes are reported") {
  CHECK(error_of(with_spec("  plugin: apache\n"))
        == "spec.plugin: given twice (line 7)");
  CHECK(error_of("") == "the manifest is empty");
  CHECK(error_of("kind: Deployment\n  bad: [indent\n")
            .starts_with("not valid YAML: "));
  CHECK(error_of("- a\n- b\n").starts_with("manifest: expected a mapping"));
  CHECK(error_of("apiVersion: volant.io/v1\nmetadata: {name: web}\n")
            .starts_with("kind: required field is missing"));
  CHECK(error_of("apiVersion: volant.io/v2\nkind: Deployment\n")
            .starts_with(
                "apiVersion: expected volant.io/v1, got 'volant.io/v2'"));
  CHECK(error_of("apiVersion: volant.io/v1\nkind: Service\n")
            .starts_with("kind: 'Service' is unknown (expected Deployment or HorizontalPodAutoscaler)"));
  CHECK(error_of("apiVersion: volant.io/v1\nkind: Deployment\nmetadata:\n  "
                 "name: web\n")
            .starts_with("spec: required field is missing"));
  CHECK(
      error_of(
          "apiVersion: volant.io/v1\nkind: Deployment\nmetadata:\n  name: web\n"
          "spec:\n  replicas: 2\n")
          .starts_with("spec.plugin: required field is missing"));
  CHECK(error_of(with_spec("") + "---\n" + with_spec(""))
        == "document 2 (line 8): deployment 'web' is also document 1");
  CHECK(
      error_of(
          "apiVersion: volant.io/v1\nkind: Deployment\nmetadata:\n  name: Web\n"
          "spec:\n  plugin: nginx\n")
          .find("deployment name 'Web'")
      != std::string::npos);
}

TEST_CASE("the guide's HorizontalPodAutoscaler is read; its errors name the field") {
  auto docs = deployment_documents_from_yaml(R"(# web-hpa.yaml
apiVersion: volant.io/v1
kind: HorizontalPodAutoscaler
metadata:
  name: web-hpa
spec:
  deploymentRef: web
  minReplicas: 3
  maxReplicas: 20
  metrics:
    - type: cpu
      target:
        averageUtilization: 70
    - type: memory
      target:
        averageUtilization: 80
    - type: requests
      target:
        averageValue: 1000
)");
  REQUIRE_MESSAGE(docs.has_value(), (docs ? "" : docs.error_value().message));
  REQUIRE(docs->size() == 1);
  const auto& doc = docs->front();
  REQUIRE(doc.is_autoscaler);
  const auto& a = doc.autoscaler;
  CHECK(a.name == "web-hpa");
  CHECK(a.deployment == "web");
  CHECK(a.min_replicas == 3);
  CHECK(a.max_replicas == 20);
  CHECK(a.metrics == std::vector<metric_target>{{metric_kind::cpu, 70},
                                                {metric_kind::memory, 80},
                                                {metric_kind::requests, 1000}});
  CHECK(a.tolerance == doctest::Approx(0.1));
  CHECK(a.down.stabilization_seconds == 300); // Kubernetes' defaults
  CHECK(a.up == scaling_rules{0, 100, 4, 15});

  auto tuned = deployment_documents_from_yaml(R"(apiVersion: volant.io/v1
kind: HorizontalPodAutoscaler
metadata: {name: api-hpa}
spec:
  deploymentRef: api
  maxReplicas: 6
  tolerance: 0.05
  metrics: [{type: cpu, target: {averageUtilization: 30}}]
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 10
      policies: [{type: Pods, value: 1, periodSeconds: 5}]
)");
  REQUIRE_MESSAGE(tuned.has_value(), (tuned ? "" : tuned.error_value().message));
  const auto& t = tuned->front().autoscaler;
  CHECK(t.min_replicas == 1);
  CHECK(t.tolerance == doctest::Approx(0.05));
  CHECK(t.down == scaling_rules{10, -1, 1, 5});

  auto hpa = [](const std::string& spec) {
    return "apiVersion: volant.io/v1\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: h\n"
           "spec:\n"
           + spec;
  };
  auto metric = std::string("  metrics: [{type: cpu, target: {averageUtilization: 70}}]\n");
  CHECK(error_of(hpa("  deploymentRef: web\n" + metric))
        == "spec.maxReplicas: required field is missing (line 6)");
  CHECK(error_of(hpa("  deploymentRef: web\n  minReplicas: 5\n  maxReplicas: 2\n" + metric))
            .find("spec.maxReplicas: must be >= minReplicas (5)")
        != std::string::npos);
  CHECK(error_of(hpa("  deploymentRef: web\n  maxReplicas: 2\n  metrics: [{type: gpu, "
                     "target: {averageUtilization: 70}}]\n"))
            .find("spec.metrics[0].type: expected cpu, memory or requests")
        != std::string::npos);
  CHECK(error_of(hpa("  deploymentRef: web\n  maxReplicas: 2\n  metrics: [{type: requests, "
                     "target: {averageUtilization: 70}}]\n"))
            .find("spec.metrics[0].target")
        != std::string::npos);
  CHECK(error_of(hpa("  deploymentRef: web\n  maxReplicas: 2\n  metrics: [{type: cpu, "
                     "target: {averageUtilization: -5}}]\n"))
            .find("must be > 0")
        != std::string::npos);
  CHECK(error_of(hpa("  deploymentRef: Web\n  maxReplicas: 2\n" + metric))
            .find("spec.deploymentRef")
        != std::string::npos);
  CHECK(error_of(hpa("  deploymentRef: web\n  maxReplicas: 2\n  metrics: []\n"))
            .find("spec.metrics: expected a list of at least one metric")
        != std::string::npos);
}

TEST_CASE("the guide's quota file is read; its errors name the field") {
  auto q = quotas_from_yaml(R"(# /etc/volant/quotas.yaml
quotas:
  - name: production
    max_vms: 100
    max_cpu: 64
    max_memory_gb: 128

  - name: development
    max_vms: 20
    max_cpu: 16
    max_memory_gb: 0.5
  - name: open
)");
  REQUIRE_MESSAGE(q.has_value(), (q ? "" : q.error_value().message));
  REQUIRE(q->size() == 3);
  CHECK((*q)[0] == quota_spec{"production", 100, 64, 128 * 1024});
  CHECK((*q)[1] == quota_spec{"development", 20, 16, 512});
  CHECK((*q)[2] == quota_spec{"open", -1, -1, -1});
  auto docs = deployment_documents_from_yaml("quotas: []\n");
  REQUIRE(docs.has_value());
  CHECK(docs->front().is_quotas);
  auto fails = [](std::string_view text) {
    auto r = quotas_from_yaml(text);
    REQUIRE_FALSE(r.has_value());
    return r.error_value().message;
  };
  CHECK(fails("quotas:\n  - name: p\n    max_cpus: 4\n").find("quotas[0]") != std::string::npos);
  CHECK(fails("quotas:\n  - name: p\n    max_cpus: 4\n").find("max_cpus") != std::string::npos);
  CHECK(fails("quotas:\n  - name: p\n    max_cpu: -4\n").find("quotas[0].max_cpu")
        != std::string::npos);
  CHECK(fails("quotas:\n  - name: p\n    max_memory_gb: lots\n").find("expected a number")
        != std::string::npos);
  CHECK(fails("quotas:\n  - max_vms: 3\n").find("quotas[0].name: required field is missing")
        != std::string::npos);
  CHECK(fails("quotas:\n  - name: p\n  - name: p\n").find("defined twice") != std::string::npos);
  CHECK(fails("quotas: 5\n").find("expected a list") != std::string::npos);
  CHECK(fails("quotas: []\nextra: 1\n").find("extra") != std::string::npos);
  // A Deployment is not a quota file, nor the other way round.
  CHECK(!quotas_from_yaml(with_spec("")).has_value());
  CHECK(deployment_from_yaml("quotas: []\n").error_value().message
        == "the manifest holds quotas, not a Deployment");
}

TEST_CASE("volumes in YAML: path, persistent and size; spec.quota") {
  auto spec = deployment_from_yaml(with_spec(R"(  quota: production
  volumes:
    - /data:persistent:10G
    - path: /scratch
      size: 512M
)"));
  REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error_value().message));
  CHECK(spec->quota == "production");
  REQUIRE(spec->tmpl.volumes.size() == 2);
  CHECK(spec->tmpl.volumes[0] == volume{"/data", true, 10240});
  CHECK(spec->tmpl.volumes[1] == volume{"/scratch", false, 512});
  auto bad = deployment_from_yaml(with_spec(R"(  volumes:
    - path: /a/../b
)"));
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error_value().message.find("spec.volumes[0]") != std::string::npos);
}

TEST_CASE("env, volumes, strategy, auto-restart and quantities are read") {
  auto spec = deployment_from_yaml(with_spec(R"(  resources:
    memory: 2Gi
  env:
    REDIS_URL: redis://192.168.127.50:6379
    QUEUE_NAME: tasks
  volumes:
    - /var/lib/postgresql/data:persistent
    - hostPath: /srv/cache
  autoRestart: false
  strategy:
    type: RollingUpdate
    maxSurge: 25%
    maxUnavailable: 1
  healthCheck:
    tcp:
      port: 5432
      intervalSeconds: 15
      timeoutSeconds: 3
)"));
  REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error_value().message));
  CHECK(spec->tmpl.memory_mib == 2048);
  REQUIRE(spec->tmpl.env.size() == 2);
  CHECK(spec->tmpl.env[0]
        == env_var{"REDIS_URL", "redis://192.168.127.50:6379"});
  CHECK(spec->tmpl.env[1] == env_var{"QUEUE_NAME", "tasks"});
  REQUIRE(spec->tmpl.volumes.size() == 2);
  CHECK(spec->tmpl.volumes[0] == volume{"/var/lib/postgresql/data", true});
  CHECK(spec->tmpl.volumes[1] == volume{"/srv/cache", false});
  CHECK_FALSE(spec->auto_restart);
  CHECK(spec->strategy.kind == strategy_kind::rolling);
  CHECK(spec->strategy.max_surge == int_or_percent{25, true});
  CHECK(spec->strategy.max_unavailable == int_or_percent{1, false});
  REQUIRE(spec->tmpl.health.has_value());
  CHECK(spec->tmpl.health->probe == probe_kind{tcp_check{5432}});
  CHECK(spec->tmpl.health->interval_seconds == 15);
  CHECK(spec->tmpl.health->timeout_seconds == 3);
}

TEST_CASE("readinessCheck has the shape of healthCheck and sets the "
          "readiness override") {
  auto spec = deployment_from_yaml(with_spec(R"(  healthCheck:
    tcp: {port: 80}
  readinessCheck:
    http:
      port: 80
      path: /ready
      intervalSeconds: 1
      unhealthyThreshold: 1
)"));
  REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error_value().message));
  REQUIRE(spec->tmpl.readiness.has_value());
  CHECK(*spec->tmpl.readiness
        == health_check{true, http_check{80, "/ready"}, 1, 1, 1});
  REQUIRE(spec->tmpl.health.has_value());
  CHECK(spec->tmpl.health->probe == probe_kind{tcp_check{80}});
  // Absent: the plugin's readiness check applies.
  spec = deployment_from_yaml(with_spec(""));
  REQUIRE(spec.has_value());
  CHECK_FALSE(spec->tmpl.readiness.has_value());
  // enabled: false switches the plugin's off (the health check decides READY).
  spec = deployment_from_yaml(with_spec("  readinessCheck:\n    enabled: false\n"));
  REQUIRE(spec.has_value());
  REQUIRE(spec->tmpl.readiness.has_value());
  CHECK_FALSE(spec->tmpl.readiness->enabled);
  // Its mistakes name spec.readinessCheck.
  CHECK(error_of(with_spec("  readinessCheck:\n    http:\n      prot: 80\n"))
            .starts_with("spec.readinessCheck.http.prot: unknown field"));
  CHECK(error_of(with_spec("  readinessCheck:\n    http: {port: 80}\n"
                           "    tcp: {port: 81}\n"))
            .starts_with("spec.readinessCheck: give exactly one of http, tcp "
                         "or process"));
  CHECK(error_of(with_spec("  readinessCheck:\n    http:\n      path: ready\n"))
            .starts_with("spec.readinessCheck.http.path: must start with '/'"));
  CHECK(error_of(with_spec("  readinessProbe:\n    tcp: {port: 80}\n"))
            .starts_with("spec.readinessProbe: unknown field"));
}

TEST_CASE("env as a Kubernetes-style list, and its mistakes") {
  auto spec = deployment_from_yaml(
      with_spec("  env:\n    - name: A\n      value: \"1\"\n    - B=two=2\n"));
  REQUIRE(spec.has_value());
  CHECK(spec->tmpl.env == std::vector<env_var>{{"A", "1"}, {"B", "two=2"}});
  CHECK(error_of(with_spec("  env:\n    1X: 2\n"))
            .starts_with("spec.env.1X: invalid env"));
  CHECK(error_of(with_spec("  env:\n    - A=1\n    - A=2\n"))
            .starts_with("spec.env[1]: env key 'A' is given twice"));
  CHECK(
      error_of(with_spec("  strategy:\n    maxSurge: 2\n"))
          .starts_with("spec.strategy.maxSurge: applies to type rolling only"));
  CHECK(error_of(with_spec("  volumes:\n    - data\n"))
            .starts_with("spec.volumes[0]: invalid volume 'data'"));
}

TEST_CASE("spec.labels win over metadata.labels on the same key") {
  auto spec
      = deployment_from_yaml("apiVersion: volant.io/v1\nkind: "
                             "Deployment\nmetadata:\n  name: web\n  labels:\n"
                             "    tier: a\n    app: x\nspec:\n  plugin: "
                             "nginx:v2\n  labels:\n    tier: b\n");
  REQUIRE(spec.has_value());
  CHECK(spec->tmpl.vm_labels == labels{{"app", "x"}, {"tier", "b"}});
  CHECK(spec->tmpl.plugin == plugin_ref{"nginx", "v2"});
}

TEST_CASE("a disabled health check overrides the plugin's without a probe") {
  auto spec
      = deployment_from_yaml(with_spec("  healthCheck:\n    enabled: false\n"));
  REQUIRE(spec.has_value());
  REQUIRE(spec->tmpl.health.has_value());
  CHECK_FALSE(spec->tmpl.health->enabled);
}

TEST_CASE("a stream yaml-cpp reads as endless empty documents is refused at once") {
  // yaml-cpp 0.7 gives a document per call, forever, for a lone ','; through
  // YAML::LoadAll volar grew without end (tests/fuzz, deployment_yaml target).
  CHECK(error_of(",")
        == "the manifest holds more than 256 documents: apply at most 64 deployments at a "
           "time");
  CHECK(error_of(with_spec("") + ",")
            .starts_with("not valid YAML: end of map not found"));
  CHECK(error_of("---\n...\n") == "the manifest is empty");
  auto named = [](const std::string& name) {
    return "apiVersion: volant.io/v1\nkind: Deployment\nmetadata:\n  name: " + name
           + "\nspec:\n  plugin: nginx\n";
  };
  CHECK(error_of(named("a") + "---\n" + named("b") + "---\n" + named("c"))
        == "the manifest holds 3 deployments; expected one");
}

TEST_CASE("a manifest that is not UTF-8 is refused with the place of the first bad byte") {
  // yaml-cpp passes the bytes through; the spec then could not be sent as JSON
  // (tests/fuzz, deployment_yaml target).
  CHECK(error_of(with_spec("  labels:\n    app: caf\xe9\n"))
        == "the manifest is not valid UTF-8 (line 8, column 13)");
  CHECK(error_of("\xc0\xafkind: Deployment\n")
        == "the manifest is not valid UTF-8 (line 1, column 1)"); // overlong '/'
  CHECK(error_of(with_spec("  labels:\n    app: \xed\xa0\x80\n")) // a surrogate
        == "the manifest is not valid UTF-8 (line 8, column 10)");
  CHECK(error_of(with_spec("  env:\n    A: \xf0\x9f\x98\n")) // cut short
        == "the manifest is not valid UTF-8 (line 8, column 8)");
  // A NUL byte is UTF-8, but yaml-cpp 0.7 reads NUL '_' in a plain scalar as
  // an escape of U+00A0 and writes it as the lone byte 0xA0 (tests/fuzz,
  // deployment_yaml target).
  CHECK(error_of(with_spec(std::string("  env:\n    A: x\0_y\n", 19)))
        == "the manifest has a value that is not valid UTF-8 once decoded (line 8, column 8)");
  // Well-formed multi-byte text is fine where the spec allows it.
  auto spec = deployment_from_yaml(with_spec("  env:\n    GREETING: \"gr\xc3\xbc\xc3\x9f \xf0\x9f\x98\x80\"\n"));
  REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error_value().message));
  CHECK(spec->tmpl.env == std::vector<env_var>{{"GREETING", "gr\xc3\xbc\xc3\x9f \xf0\x9f\x98\x80"}});
}

TEST_CASE("a multi-document manifest gives every deployment in order, or names the bad "
          "document") {
  auto named = [](const std::string& name, const std::string& extra = "") {
    return "apiVersion: volant.io/v1\nkind: Deployment\nmetadata:\n  name: " + name
           + "\nspec:\n  plugin: nginx\n" + extra;
  };
  // Empty documents (a leading or trailing ---) are skipped.
  auto docs = deployment_documents_from_yaml("---\n" + named("web", "  replicas: 3\n")
                                             + "---\n" + named("api") + "---\n");
  REQUIRE(docs.has_value());
  REQUIRE(docs->size() == 2);
  CHECK((*docs)[0].spec.name == "web");
  CHECK((*docs)[0].spec.replicas == 3);
  CHECK((*docs)[1].spec.name == "api");
  // One document alone: errors as before, without a document number.
  auto one = deployment_documents_from_yaml(named("web", "  replicas: -1\n"));
  REQUIRE_FALSE(one.has_value());
  CHECK(one.error_value().message.find("document") == std::string::npos);
  // The third of three is bad: named, and nothing is returned.
  auto bad = deployment_documents_from_yaml(named("a") + "---\n" + named("b") + "---\n"
                                            + named("c", "  replicas: many\n"));
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error_value().message.starts_with("document 3 (line 15): spec.replicas:"));
  // A syntax error in the second document.
  auto broken = deployment_documents_from_yaml(named("a") + "---\n" + "kind: [\n");
  REQUIRE_FALSE(broken.has_value());
  CHECK(broken.error_value().message.starts_with("document 2: not valid YAML"));
  // Only empty documents.
  auto empty = deployment_documents_from_yaml("---\n---\n");
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.error_value().message == "the manifest is empty");
  // 64 documents are fine, 65 are not.
  std::string many;
  for (int i = 0; i < 65; ++i)
    many += named("d" + std::to_string(i)) + "---\n";
  auto over = deployment_documents_from_yaml(many);
  REQUIRE_FALSE(over.has_value());
  CHECK(over.error_value().message
        == "the manifest holds 65 deployments: apply at most 64 at a time");
  auto within = deployment_documents_from_yaml(many.substr(0, many.rfind("apiVersion")));
  REQUIRE(within.has_value());
  CHECK(within->size() == 64);
}

TEST_CASE("spec.strategy takes Kubernetes' spelling (rollingUpdate, minReadySeconds, "
          "progressDeadlineSeconds, revisionHistoryLimit) plus Volant's fields") {
  auto spec = deployment_from_yaml(with_spec("  minReadySeconds: 5\n"
                                             "  progressDeadlineSeconds: 120\n"
                                             "  revisionHistoryLimit: 4\n"
                                             "  strategy:\n"
                                             "    type: RollingUpdate\n"
                                             "    rollingUpdate:\n"
                                             "      maxSurge: 2\n"
                                             "      maxUnavailable: 0\n"
                                             "    terminationGracePeriod: 500ms\n"
                                             "    autoRevert: false\n"));
  REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error_value().message));
  const auto& s = spec->strategy;
  CHECK(s.kind == strategy_kind::rolling);
  CHECK(s.max_surge == int_or_percent{2, false});
  CHECK(s.max_unavailable == int_or_percent{0, false});
  CHECK(s.min_ready_seconds == 5);
  CHECK(s.progress_deadline_seconds == 120);
  CHECK(s.revision_history == 4);
  CHECK(s.termination_grace_ms == 500);
  CHECK_FALSE(s.auto_revert);
  CHECK(error_of(with_spec("  strategy:\n    rollingUpdate:\n      maxSurge: 1\n"))
            .starts_with("spec.strategy.rollingUpdate: applies to type RollingUpdate only"));
  CHECK(error_of(with_spec("  strategy:\n    type: RollingUpdate\n    rollingUpdate:\n"
                           "      maxSurge: 0\n      maxUnavailable: 0\n"))
            .find("a rolling update needs max_surge or max_unavailable above 0")
        != std::string::npos);
  CHECK(error_of(with_spec("  strategy:\n    terminationGracePeriod: soon\n"))
            .starts_with("spec.strategy.terminationGracePeriod: "));
}

TEST_CASE("spec.multiHost spreads the replicas; it must be a boolean") {
  auto spec = deployment_from_yaml(with_spec("  multiHost: true\n"));
  REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error_value().message));
  CHECK(spec->multi_host);
  auto packed = deployment_from_yaml(with_spec(""));
  REQUIRE(packed.has_value());
  CHECK_FALSE(packed->multi_host);
  auto bad = deployment_from_yaml(with_spec("  multiHost: sometimes\n"));
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error_value().message.find("spec.multiHost") != std::string::npos);
}
