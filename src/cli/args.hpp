#pragma once

// Command-line values -> request JSON (docs/protocol.md), validated on the
// client with the core's own parsers so that bad input fails before any
// request, with the same message the daemon would give.

#include "events/error.hpp"
#include "events/types.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace volant::cli {

/// Which check a set of --*-http/-tcp/-process/... flags describes: the
/// health check (liveness: restarts) or the readiness check (READY, load
/// balancers and DNS). It names the flags ("--readiness-http") and the
/// fields in messages ("readiness_check.http.port").
enum class check_kind { health, readiness };

/// "health" or "readiness".
std::string check_word(check_kind kind);

/// The --health-* (or --readiness-*) flags of `deployments create` / `update`
/// as typed. At most one of http / tcp / process; the timings need one of
/// them; `disable` (--no-health-check) stands alone.
struct health_args {
  std::optional<std::string> http;      ///< "PORT[:PATH]", PATH default /health
  std::optional<std::int64_t> tcp;      ///< PORT
  std::optional<std::string> process;   ///< process NAME
  std::optional<std::int64_t> interval; ///< seconds
  std::optional<std::int64_t> timeout;  ///< seconds
  std::optional<std::int64_t> threshold; ///< failures in a row
  bool disable = false;
  /// True when any health flag was given.
  bool given() const;
};

/// The check the flags describe (nullopt when none was given: the plugin's
/// check applies), validated with the core's validate_health_check (messages
/// name "health_check.<field>" or "readiness_check.<field>"). A disabled
/// readiness check (--no-readiness-check) switches the plugin's off: the
/// health check decides READY too.
expected<std::optional<health_check>>
build_health(const health_args& args, check_kind kind = check_kind::health);

/// The rollout flags of `deployments create|update` beside --strategy,
/// --max-surge and --max-unavailable (docs/rollout.md), as typed.
struct rollout_args {
  std::optional<std::string> min_ready;         ///< --min-ready-seconds N
  std::optional<std::string> progress_deadline; ///< --progress-deadline 600 | 10m
  std::optional<std::string> termination_grace; ///< --termination-grace 2s | 500ms
  std::optional<bool> auto_revert;              ///< --auto-revert / --no-auto-revert
  std::optional<std::int64_t> revision_history; ///< --revision-history N
  bool given() const {
    return min_ready || progress_deadline || termination_grace || auto_revert
           || revision_history;
  }
};

/// A duration as a user types it: "30" (seconds), "30s", "500ms", "10m",
/// "1h"; in milliseconds. `flag` names it in the error.
expected<std::int64_t> parse_duration_ms(std::string_view text, std::string_view flag);

/// `deployments create NAME ...` as typed. Numbers are signed and wide so that
/// "--replicas -3" reaches validation and gets the core's message.
struct create_args {
  std::string name;
  std::string plugin;
  std::int64_t replicas = 1;
  std::int64_t cpu = 1;
  std::int64_t memory = 128;
  std::vector<std::string> labels;  ///< each "k=v,k2=v2"; merged
  std::vector<std::string> env;     ///< each "KEY=VALUE"
  /// each "KEY=VALUE", or "KEY": the value of KEY in volar's own environment
  std::vector<std::string> secret_env;
  std::vector<std::string> volumes; ///< each "PATH[:persistent|:ephemeral][:SIZE]"
  std::string quota;                ///< --quota NAME
  bool multi_host = false;          ///< --multi-host: spread across hosts
  bool no_auto_restart = false;
  std::optional<std::string> strategy;
  std::optional<std::string> max_surge;
  std::optional<std::string> max_unavailable;
  rollout_args rollout;
  health_args health; ///< sets spec.tmpl.health when given
  health_args readiness; ///< sets spec.tmpl.readiness when given
};

/// The spec of `deployments create`, validated as the daemon validates it
/// (except the per-deployment replica limit, which only the daemon knows).
expected<deployment_spec> build_spec(const create_args& args);

/// {"spec": <encode_spec(spec)>, "secret_env"?: [{"key","value"}]}: secret
/// values travel beside the spec, in clear over the authenticated channel,
/// and volantd seals them before anything else sees them.
nlohmann::json create_request(const deployment_spec& spec,
                              const std::vector<env_var>& secrets = {});

/// `deployments update NAME ...`: only what was given is sent.
struct update_args {
  std::string name;
  std::optional<std::string> plugin;
  std::optional<std::int64_t> cpu;
  std::optional<std::int64_t> memory;
  std::optional<std::vector<std::string>> labels;
  std::optional<std::vector<std::string>> env;
  /// --secret-env: each sets the value of its key (the other secret keys
  /// stay); "KEY" alone takes the value from volar's environment.
  std::vector<std::string> secret_env;
  /// --secret-env-remove KEY: each must be set.
  std::vector<std::string> secret_env_remove;
  std::optional<bool> auto_restart;
  std::optional<std::string> strategy;
  std::optional<std::string> max_surge;
  std::optional<std::string> max_unavailable;
  rollout_args rollout;
  /// `rollout pause|resume`: holds the rollout (sent as "rollout_paused").
  std::optional<bool> rollout_paused;
  health_args health; ///< sent as "health" (spec spelling) when given
  health_args readiness; ///< sent as "readiness" (spec spelling) when given
  /// --volume (repeatable; replaces the list), or --no-volumes: an empty list.
  std::optional<std::vector<std::string>> volumes;
  std::optional<std::string> quota; ///< --quota NAME ("" with --no-quota)
};

/// True when the update changes max-surge/-unavailable without naming the
/// strategy: the current one must be fetched first and passed to
/// update_request.
bool update_needs_current_strategy(const update_args& args);

/// The deployments.update arguments. `current` is the deployment's strategy
/// (only read when update_needs_current_strategy).
expected<nlohmann::json> update_request(const update_args& args,
                                        const update_strategy* current
                                        = nullptr);

/// `volar apply` on an existing deployment: the deployments.update arguments
/// that turn `have` into `want`, i.e. {"name"} plus only the fields that differ
/// (replicas and paused excluded: apply scales separately, and never pauses).
/// A plugin without a version matches any installed version of that name. A
/// changed health check, readiness check or volume list is sent as "health" /
/// "readiness" / "volumes" (spec spelling).
/// Secret env is never read back (views show "***"): every secret of `want`
/// is sent as "secret_env" (volantd seals equal values to equal bytes, so an
/// unchanged one changes nothing) and every secret key of `have` that
/// `secrets` lacks as "secret_env_remove".
nlohmann::json apply_update_request(const deployment_spec& want,
                                    const deployment_spec& have,
                                    const std::vector<env_var>& secrets = {});

/// {"name", "replicas"[, "remove"]}; rejects negative counts as the daemon
/// does, and VM names that are not well-formed.
expected<nlohmann::json> scale_request(const std::string& name, std::int64_t replicas,
                                       const std::vector<std::string>& remove = {});

/// {"name"} for show / pause / resume / delete, the name checked.
expected<nlohmann::json> name_request(const std::string& name,
                                      std::string_view what);

/// vms.list arguments: {"deployment"?, "labels"?, "usage"?}.
expected<nlohmann::json>
vms_list_request(const std::string& deployment,
                 const std::vector<std::string>& labels, bool usage);

/// {"name", "version"?} from "NAME[:VERSION]".
expected<nlohmann::json> plugin_request(const std::string& ref);

/// Merges several "k=v,..." arguments; a key given twice is an error.
expected<labels> merge_labels(const std::vector<std::string>& args);

/// Parses every "KEY=VALUE"; a key given twice is an error.
expected<std::vector<env_var>>
parse_env_list(const std::vector<std::string>& args);

/// Parses every --secret-env "KEY=VALUE" or "KEY" (then the value of KEY in
/// volar's environment, which must be set: it keeps the value off the command
/// line). A key given twice, or also in `env`, is an error.
expected<std::vector<env_var>>
parse_secret_env_list(const std::vector<std::string>& args,
                      const std::vector<env_var>& env = {});

/// [{"key","value"}] as in the spec JSON.
nlohmann::json env_to_json(const std::vector<env_var>& env);

/// {"value","percent"} as in the spec JSON.
nlohmann::json int_or_percent_to_json(const int_or_percent& v);

} // namespace volant::cli
