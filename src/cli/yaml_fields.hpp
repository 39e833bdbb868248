#pragma once

// The field readers of volar's YAML documents (cli/manifest_yaml.cpp): each
// checks one node and throws `field_error` naming the field and its line,
// caught once at the top. Also the readers of the two documents besides a
// Deployment: the guide's quota file and its HorizontalPodAutoscaler.

#include "events/autoscale.hpp"
#include "events/error.hpp"
#include "events/types.hpp"

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace volant::cli::yaml_fields {

/// A rejected field; caught once at the top and turned into an `error`.
struct field_error {
  error err;
};

[[noreturn]] void fail(const YAML::Node& node, const std::string& field, const std::string& what);

/// "path.key" ("key" at the top).
std::string join(const std::string& path, const std::string& key);

/// "'text'", "a list", "a mapping" or "nothing": a node in an error.
std::string describe(const YAML::Node& node);

/// A mapping whose keys are all in `known`.
void only(const YAML::Node& node, const std::string& path,
          std::initializer_list<std::string_view> known);

std::string text(const YAML::Node& node, const std::string& field);

/// A plain (unquoted) decimal integer in [min, max].
std::int64_t integer(const YAML::Node& node, const std::string& field, std::int64_t min,
                     std::int64_t max);

bool boolean(const YAML::Node& node, const std::string& field);

/// MiB as an integer, or a string with a Mi / Gi suffix ("512Mi", "2Gi").
std::int64_t memory_mib(const YAML::Node& node, const std::string& field);

/// A finite number.
double decimal(const YAML::Node& node, const std::string& field);

/// The guide's quota document (`quotas: [{name, max_vms, max_cpu, max_memory_gb}]`).
std::vector<quota_spec> read_quotas(const YAML::Node& doc);

/// The guide's HorizontalPodAutoscaler document.
autoscaler_spec read_autoscaler(const YAML::Node& doc);

} // namespace volant::cli::yaml_fields
