#pragma once

// The api's edge (issue 11, items 4-6): every request is checked here, before
// volantd acts on it or makes a promise, against one table of what each verb
// takes (docs/protocol.md, "Verbs"). A request that passes can be decoded
// without an exception; one that does not gets one error naming the argument.
// Names are held to the rules of create, so that no path is ever built from an
// unvalidated name. Pure: no I/O.

#include "events/error.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace volant::wire {

/// What an argument must be.
enum class arg_kind : std::uint8_t {
  deployment, ///< a deployment name (create's rules)
  vm,         ///< a VM name (a DNS label, as `<deployment>-<index>`)
  plugin,     ///< a plugin name
  version,    ///< a plugin version
  subject,    ///< the name of a deployment, VM or actor (a DNS label)
  actor,      ///< NAME or KIND/NAME ("controller", "vm/web-0")
  text,       ///< printable text of at most `max` bytes (default 256)
  integer,    ///< an integer in [min, max]
  boolean,    ///< true or false
  object,     ///< an object, decoded further by its verb
  manifest,   ///< a plugin manifest object, at most max_manifest_bytes
  spec,       ///< a deployment spec object whose name is a deployment name
  label_map,  ///< {key: string value}, at most max_labels
  env_list,   ///< [{"key": string, "value"?: string}]
  time,       ///< an RFC 3339 UTC time
  ls_kind,    ///< deployments, vms, probes or system
  vm_list,    ///< [VM name], at most max_labels of them (scale --remove)
  key_list,   ///< [env key], at most 1024 of them (secret_env_remove)
  list,       ///< an array, decoded further by its verb (volumes, quotas)
};

/// One argument of a verb.
struct arg_rule {
  std::string_view key;
  arg_kind kind;
  bool required = false;
  std::int64_t min = 0;
  std::int64_t max = 0;  ///< integers: the bound; text: bytes (0: 256)
  bool nullable = false; ///< null stands for "not given"
};

/// A verb and every argument it reads; other keys are ignored.
struct verb_rule {
  std::string_view verb;
  std::vector<arg_rule> args;
};

/// Every verb volantd answers, with its arguments: the api dispatches only
/// these.
const std::vector<verb_rule>& request_table();

/// Arguments nested deeper than this are refused before they are parsed.
inline constexpr int max_request_depth = 32;

/// Checks one request: `verb` and `args_text` at most `max_bytes` together, the
/// arguments a JSON object of at most max_request_depth levels, the verb in
/// the table, every argument of its kind. The parsed arguments, or an error
/// that names the argument (ec::invalid_argument; ec::invalid_name for a name,
/// ec::invalid_label for labels, as create).
expected<nlohmann::json> check_request(std::string_view verb,
                                       std::string_view args_text,
                                       std::size_t max_bytes);

/// `text` as a JSON string literal (quoted, control characters escaped): how
/// an error shows what the user sent.
std::string shown(std::string_view text);

} // namespace volant::wire
