#pragma once

// OCI images on disk, offline (docs/guests.md): an OCI image layout or a
// `docker save` archive as one tar file, its layers unpacked in order into a
// root with whiteouts applied, and its config's defaults.

#include "events/error.hpp"
#include "events/types.hpp"

#include <string>
#include <vector>

namespace volant::guest {

/// The defaults an image's config gives: Entrypoint + Cmd, Env, WorkingDir.
struct oci_config {
  std::vector<std::string> argv;
  std::vector<env_var> env;
  std::string workdir;
};

/// Unpacks the image in `archive` (a tar holding an OCI layout — oci-layout,
/// index.json, blobs/ — or a docker-archive with manifest.json) into `root`,
/// using `work` as scratch space.
expected<oci_config> unpack_oci(const std::string& archive, const std::string& root,
                                const std::string& work);

} // namespace volant::guest
