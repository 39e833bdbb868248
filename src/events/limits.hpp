#pragma once

// Size limits of what a user hands volantd (issue 11, item 6). They bound what
// an authenticated peer can make volantd hold; a peer without a certificate of
// the data directory's CA never gets that far (CAF's own frames have no size
// cap: mutual TLS is what keeps others out, README "Security").

#include <cstddef>
#include <string>

namespace volant {

/// A request (token + verb + JSON arguments), by default; volantd
/// --max-request-bytes changes it.
inline constexpr std::size_t default_max_request_bytes = 1 << 20;

/// A plugin manifest (its JSON text).
inline constexpr std::size_t max_manifest_bytes = 256 << 10;

/// A plugin's description.
inline constexpr std::size_t max_description_bytes = 4 << 10;

/// Labels of one object (a deployment's VM labels, a label filter).
inline constexpr std::size_t max_labels = 64;

/// A YAML Deployment manifest.
inline constexpr std::size_t max_yaml_bytes = 1 << 20;

/// A chunk of a VM's log in one `vms.logs` reply.
inline constexpr std::size_t max_log_chunk_bytes = 1 << 20;

/// "262144 bytes (256 KiB)": a limit as the errors spell it.
std::string describe_bytes(std::size_t bytes);

} // namespace volant
