#pragma once

// Volume images of microVMs (docs/microvm.md): raw ext4 files on the host,
// attached to a guest as a disk and mounted by its init.

#include "events/error.hpp"

#include <cstdint>
#include <string>

namespace volant::guest {

/// Makes sure `image` is a filesystem the guest can mount at `mount_path`: a
/// missing image is made (`size_mib` MiB, sparse, mode 0600, ext4 by the
/// host's mke2fs, labelled after the mount path) under a temporary name and
/// renamed into place, so that a crash never leaves a half-made image to be
/// mounted later; an existing one is kept byte for byte, whatever size is
/// asked. A directory there (a process-runtime volume), or a file that is not
/// ext4, is an error naming the volume ("volume /data: ..."). Returns whether
/// it made the image.
expected<bool> ensure_volume_image(const std::string& image,
                                   std::int64_t size_mib,
                                   const std::string& mount_path);

} // namespace volant::guest
