#pragma once

// Guest images for microVMs (docs/guests.md): what `plugins install` builds
// from a manifest's `guest`, once, into a content-addressed cache shared by
// every daemon of the host.
//
//   <cache>/kernel/<deb>/vmlinux, modules/*.ko   the default kernel, from the
//                                                cloud kernel .deb of the package cache
//   <cache>/boot/<key>.cpio                      boot initramfs: volant-guest-init,
//                                                the kernel's virtio modules
//   <cache>/images/<key>/rootfs.ext4, info.json  one root disk per set of inputs
//
// Works offline: packages come only from the package cache.

#include "events/error.hpp"
#include "events/types.hpp"

#include <functional>
#include <string>

namespace volant::guest {

struct paths {
  std::string cache;    ///< built kernels, boot initramfs and images
  std::string packages; ///< the .deb cache (`volar guest fetch`)
  std::string init;     ///< the volant-guest-init binary
  std::string kernel;   ///< the daemon's kernel; empty: from the package cache
};

/// The defaults: /var/cache/volant/{guests,packages} for root, else under
/// $XDG_CACHE_HOME (or ~/.cache)/volant; $VOLANT_PACKAGE_CACHE overrides the
/// package cache.
std::string default_cache_dir();
std::string default_package_dir();

/// volant-guest-init next to the running binary (the build tree, or an
/// installed libexec directory); empty if none.
std::string find_init(const std::string& self_exe);

/// The daemon's default guest kernel: `p.kernel` if set, else the vmlinux of
/// the newest linux-image-*-cloud-amd64 .deb in the package cache (extracted
/// once into the cache).
expected<std::string> default_kernel(const paths& p);

using progress_fn = std::function<void(const std::string&)>;

/// Builds (or finds in the cache) the guest of `m` and returns `m` with
/// `kernel` (unless set), `initramfs`, `rootfs` and `image` filled in. A
/// manifest without `guest` gets the default kernel if it has none.
expected<plugin_manifest> build(const plugin_manifest& m, const paths& p,
                                const progress_fn& progress = {});

} // namespace volant::guest
