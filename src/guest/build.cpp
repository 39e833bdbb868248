#include "guest/build.hpp"

#include "guest/cpio.hpp"
#include "guest/debs.hpp"
#include "guest/oci.hpp"
#include "guest/tools.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

namespace volant::guest {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

/// Bump when what a build produces changes: every cached image is rebuilt.
/// 3: directories 0755 whatever the umask; 4: the init mounts volumes.
constexpr const char* builder_version = "volant-guest 4";

/// What the guest needs that Debian's cloud kernel builds as modules, in load
/// order: virtio-mmio (microvm's ACPI tables describe the devices), the block
/// device, the console ports, the network, the ACPI power button.
constexpr const char* guest_modules[] = {"virtio_ring", "virtio",        "virtio_mmio",
                                         "virtio_blk",  "virtio_console", "failover",
                                         "net_failover", "virtio_net",   "button",
                                         "evdev"};

class sha256 {
public:
  sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~sha256() { EVP_MD_CTX_free(ctx_); }
  sha256(const sha256&) = delete;
  sha256& operator=(const sha256&) = delete;

  sha256& add(std::string_view s) {
    EVP_DigestUpdate(ctx_, s.data(), s.size());
    EVP_DigestUpdate(ctx_, "\0", 1); // fields never run together
    return *this;
  }

  /// Adds a file's bytes; false if it cannot be read.
  bool add_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
      return false;
    char buf[1 << 16];
    while (in.read(buf, sizeof buf) || in.gcount() > 0)
      EVP_DigestUpdate(ctx_, buf, static_cast<std::size_t>(in.gcount()));
    return true;
  }

  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_, md, &n);
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < n; ++i) {
      out += digits[md[i] >> 4];
      out += digits[md[i] & 0xf];
    }
    return out;
  }

private:
  EVP_MD_CTX* ctx_;
};

error io(const std::string& what, const std::error_code& ec_) {
  return make_error(ec::io_error, what + ": " + ec_.message());
}

/// Creates the missing directories of `dir`, each 0755 whatever volantd's
/// umask: a guest's unprivileged users (a CGI run as nobody) traverse them.
void make_dirs(const fs::path& dir) {
  std::error_code ec_;
  std::vector<fs::path> missing;
  for (auto d = dir; !d.empty() && !fs::exists(d, ec_); d = d.parent_path())
    missing.push_back(d);
  for (auto it = missing.rbegin(); it != missing.rend(); ++it)
    if (fs::create_directory(*it, ec_))
      fs::permissions(*it, fs::perms(0755), ec_);
}

status write_file(const fs::path& path, const std::string& content, fs::perms mode) {
  std::error_code ec_;
  make_dirs(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out)
    return make_error(ec::io_error, "cannot write " + path.string());
  fs::permissions(path, mode, ec_);
  return ok();
}

std::string mib(std::uint64_t bytes) {
  return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB";
}

/// A scratch directory next to `final_dir`, removed unless released.
class scratch {
public:
  explicit scratch(const std::string& final_dir)
    : path_(final_dir + ".tmp." + std::to_string(::getpid())) {
    std::error_code ec_;
    fs::remove_all(path_, ec_);
    fs::create_directories(path_, ec_);
  }
  ~scratch() {
    std::error_code ec_;
    if (!path_.empty())
      fs::remove_all(path_, ec_);
  }
  scratch(const scratch&) = delete;
  scratch& operator=(const scratch&) = delete;
  const std::string& path() const { return path_; }

  /// Moves the scratch directory to `final_dir` (someone else's finished copy
  /// wins a race: both are the same inputs).
  void commit(const std::string& final_dir) {
    std::error_code ec_;
    fs::rename(path_, final_dir, ec_);
    if (!ec_)
      path_.clear();
  }

private:
  std::string path_;
};

/// The boot part of every initramfs: /init, the modules and their order, the
/// device nodes the kernel opens before devtmpfs is mounted.
void add_boot(cpio_writer& w, const std::string& init, const std::string& modules) {
  w.dir("dev");
  w.device("dev/console", 5, 1, 0600);
  w.device("dev/null", 1, 3, 0666);
  w.dir("proc", 0555);
  w.dir("sys", 0555);
  w.file("init", read_whole_file(init), 0755);
  w.dir("lib");
  w.dir("lib/modules");
  w.dir("lib/modules/volant");
  std::string order;
  std::error_code ec_;
  for (const auto* m : guest_modules) {
    auto ko = fs::path(modules) / (std::string(m) + ".ko");
    if (!modules.empty() && fs::exists(ko, ec_)) {
      w.file("lib/modules/volant/" + std::string(m) + ".ko", read_whole_file(ko), 0644);
      order += std::string(m) + "\n";
    }
  }
  w.file("lib/modules/volant/order", order);
}

/// The kernel's modules directory when `kernel` is one this cache extracted.
std::string modules_of(const std::string& kernel) {
  auto dir = fs::path(kernel).parent_path() / "modules";
  std::error_code ec_;
  return fs::is_directory(dir, ec_) ? dir.string() : std::string{};
}

/// The boot initramfs for `kernel`: cached by the init binary and modules.
expected<std::string> boot_initramfs(const paths& p, const std::string& kernel) {
  if (p.init.empty() || ::access(p.init.c_str(), R_OK) != 0)
    return make_error(ec::not_found, "volant-guest-init not found (" + p.init
                                         + "): build it with meson, or pass --guest-init");
  auto modules = modules_of(kernel);
  sha256 h;
  h.add(builder_version).add_file(p.init);
  h.add(modules);
  std::error_code ec_;
  if (!modules.empty())
    for (const auto* m : guest_modules)
      h.add(m).add(std::to_string(fs::file_size(fs::path(modules) / (std::string(m) + ".ko"), ec_)));
  auto dir = fs::path(p.cache) / "boot";
  fs::create_directories(dir, ec_);
  auto out = (dir / (h.hex().substr(0, 24) + ".cpio")).string();
  if (fs::exists(out, ec_))
    return out;
  auto tmp = out + ".tmp." + std::to_string(::getpid());
  cpio_writer w(tmp);
  add_boot(w, p.init, modules);
  if (!w.close()) {
    fs::remove(tmp, ec_);
    return make_error(ec::io_error, "writing " + out + ": " + w.error());
  }
  fs::permissions(tmp, fs::perms(0644), ec_);
  fs::rename(tmp, out, ec_);
  return out;
}

/// The offset of every `magic` in `data`.
std::vector<std::size_t> find_all(const std::string& data, std::string_view magic) {
  std::vector<std::size_t> out;
  for (auto pos = data.find(magic); pos != std::string::npos; pos = data.find(magic, pos + 1))
    out.push_back(pos);
  return out;
}

/// The ELF kernel inside a bzImage: its compressed payload found by magic and
/// decompressed with the matching tool (extract-vmlinux's method).
status extract_vmlinux(const std::string& bzimage, const std::string& out,
                       const std::string& work) {
  auto data = read_whole_file(bzimage);
  const std::pair<std::string_view, std::vector<std::string>> kinds[] = {
      {std::string_view("\x02\x21\x4c\x18", 4), {"lz4", "-dc"}},
      {std::string_view("\x1f\x8b\x08", 3), {"gzip", "-dc"}},
      {std::string_view("\xfd" "7zXZ\x00", 6), {"xz", "-dc"}},
      {std::string_view("\x28\xb5\x2f\xfd", 4), {"zstd", "-dc"}}};
  for (const auto& [magic, tool] : kinds) {
    if (!have_tool(tool.front()))
      continue;
    for (auto pos : find_all(data, magic)) {
      auto payload = work + "/payload";
      std::ofstream(payload, std::ios::binary).write(data.data() + pos,
                                                     static_cast<std::streamsize>(data.size() - pos));
      auto argv = tool;
      argv.push_back(payload);
      static_cast<void>(run_tool(argv, out)); // trailing garbage makes the tools complain
      auto head = read_whole_file(out).substr(0, 4);
      if (head == "\x7f" "ELF")
        return ok();
    }
  }
  return make_error(ec::io_error, "no ELF kernel inside " + bzimage
                                      + " (needs lz4, gzip, xz or zstd for its payload)");
}

/// Every file under `dir` with its size and mtime, for a directory source's key.
void hash_tree(sha256& h, const std::string& dir) {
  std::error_code ec_;
  std::vector<std::string> lines;
  for (auto it = fs::recursive_directory_iterator(dir, ec_); it != fs::recursive_directory_iterator();
       it.increment(ec_)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0)
      continue;
    lines.push_back(it->path().string() + " " + std::to_string(st.st_size) + " "
                    + std::to_string(st.st_mtime) + " " + std::to_string(st.st_mode));
  }
  std::sort(lines.begin(), lines.end());
  for (const auto& l : lines)
    h.add(l);
}

std::uint64_t tree_bytes(const fs::path& root) {
  std::uint64_t total = 0;
  std::error_code ec_;
  for (auto it = fs::recursive_directory_iterator(root, ec_); it != fs::recursive_directory_iterator();
       it.increment(ec_)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) == 0)
      total += static_cast<std::uint64_t>(st.st_blocks) * 512 + 256;
  }
  return total;
}

/// Links every busybox applet the root lacks to /bin/busybox (a shell and the
/// usual commands for guests whose packages bring none).
status add_busybox(const fs::path& root, const std::vector<deb_package>& cache,
                   const std::string& work) {
  auto it = std::find_if(cache.begin(), cache.end(),
                         [](const deb_package& d) { return d.name == "busybox-static"; });
  if (it == cache.end())
    return make_error(ec::not_found, "the package cache lacks busybox-static (fetch it with: "
                                     "volar guest fetch busybox-static)");
  auto unpacked = work + "/busybox";
  if (auto st = run_tool({"dpkg-deb", "-x", it->file, unpacked}); !st)
    return st.error_value();
  std::error_code ec_;
  fs::create_directories(root / "bin", ec_);
  fs::copy_file(unpacked + "/bin/busybox", root / "bin/busybox",
                fs::copy_options::overwrite_existing, ec_);
  if (ec_)
    return io("copying busybox", ec_);
  auto list = run_tool({unpacked + "/bin/busybox", "--list-full"});
  if (!list)
    return list.error_value();
  std::istringstream lines(*list);
  std::string applet;
  while (std::getline(lines, applet)) {
    if (applet.empty() || applet == "bin/busybox")
      continue;
    auto target = root / applet;
    struct stat st {};
    if (::lstat(target.c_str(), &st) == 0)
      continue; // a real package's file wins
    fs::create_directories(target.parent_path(), ec_);
    fs::create_symlink("/bin/busybox", target, ec_);
  }
  return ok();
}

/// What every root gets: the mount points, users, hosts, and the workload's
/// argv, env and working directory for volant-guest-init.
status add_base(const fs::path& root, const plugin_manifest& m) {
  std::error_code ec_;
  for (const auto* d : {"dev", "proc", "sys", "run", "var/tmp", "root", "etc/volant"})
    fs::create_directories(root / d, ec_);
  fs::create_directories(root / "tmp", ec_);
  fs::permissions(root / "tmp", fs::perms(01777), ec_);
  auto add_if_missing = [&](const char* name, const std::string& content) -> status {
    if (fs::exists(root / name, ec_))
      return ok();
    return write_file(root / name, content, fs::perms(0644));
  };
  if (auto st = add_if_missing("etc/passwd",
                               "root:x:0:0:root:/root:/bin/sh\n"
                               "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                               "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
                               "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
      !st)
    return st;
  if (auto st = add_if_missing("etc/group",
                               "root:x:0:\ndaemon:x:1:\ntty:x:5:\nwww-data:x:33:\n"
                               "nogroup:x:65534:\n");
      !st)
    return st;
  if (auto st = add_if_missing("etc/hosts", "127.0.0.1 localhost\n"); !st)
    return st;
  if (auto st = add_if_missing("etc/nsswitch.conf",
                               "passwd: files\ngroup: files\nhosts: files dns\n");
      !st)
    return st;
  std::string argv, env;
  for (const auto& a : m.workload.entrypoint)
    argv += a + '\0';
  for (const auto& v : m.workload.env)
    env += v.key + "=" + v.value + '\0';
  if (auto st = write_file(root / "etc/volant/argv", argv, fs::perms(0644)); !st)
    return st;
  if (auto st = write_file(root / "etc/volant/env", env, fs::perms(0644)); !st)
    return st;
  return write_file(root / "etc/volant/workdir", m.workload.workdir, fs::perms(0644));
}

/// The manifest's files, last: mode 0644, or 0755 for a script ("#!").
status add_files(const fs::path& root, const std::vector<guest_file>& files) {
  for (const auto& f : files) {
    auto mode = f.content.rfind("#!", 0) == 0 ? fs::perms(0755) : fs::perms(0644);
    if (auto st = write_file(root / f.path.substr(1), f.content, mode); !st)
      return st;
  }
  return ok();
}

/// Scratch left by builds that died (kill -9, a crash): `NAME.tmp.PID` entries
/// whose process is gone.
void remove_stale_scratch(const fs::path& dir) {
  std::error_code ec_;
  for (const auto& e : fs::directory_iterator(dir, ec_)) {
    auto name = e.path().filename().string();
    auto at = name.rfind(".tmp.");
    if (at == std::string::npos)
      continue;
    auto pid = name.substr(at + 5);
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos)
      continue;
    if (::access(("/proc/" + pid).c_str(), F_OK) != 0)
      fs::remove_all(e.path(), ec_);
  }
}

} // namespace

std::string default_cache_dir() {
  if (::geteuid() == 0)
    return "/var/cache/volant/guests";
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  return (xdg && *xdg ? std::string(xdg) : std::string(home ? home : "/tmp") + "/.cache")
         + "/volant/guests";
}

std::string default_package_dir() {
  if (const char* env = std::getenv("VOLANT_PACKAGE_CACHE"); env && *env)
    return env;
  if (::geteuid() == 0)
    return "/var/cache/volant/packages";
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  return (xdg && *xdg ? std::string(xdg) : std::string(home ? home : "/tmp") + "/.cache")
         + "/volant/packages";
}

std::string find_init(const std::string& self_exe) {
  auto dir = fs::path(self_exe).parent_path();
  for (const auto& candidate :
       {dir / "volant-guest-init", dir / "../guest/volant-guest-init",
        dir / "../src/guest/volant-guest-init", fs::path("/usr/libexec/volant/volant-guest-init"),
        fs::path("/usr/local/libexec/volant/volant-guest-init")}) {
    std::error_code ec_;
    if (fs::exists(candidate, ec_))
      return fs::weakly_canonical(candidate, ec_).string();
  }
  return {};
}

expected<std::string> default_kernel(const paths& p) {
  if (!p.kernel.empty()) {
    if (::access(p.kernel.c_str(), R_OK) != 0)
      return make_error(ec::not_found, "the guest kernel " + p.kernel + " cannot be read");
    return p.kernel;
  }
  std::error_code ec_;
  fs::path newest;
  if (fs::is_directory(p.packages, ec_))
    for (const auto& e : fs::directory_iterator(p.packages, ec_)) {
      auto name = e.path().filename().string();
      // linux-image-6.1.0-NN-cloud-amd64_..., not the metapackage
      // linux-image-cloud-amd64_... (no kernel in it).
      if (name.rfind("linux-image-", 0) == 0 && name.size() > 12 && name[12] >= '0'
          && name[12] <= '9' && name.find("-cloud-amd64_") != std::string::npos
          && e.path().extension() == ".deb" && e.path() > newest)
        newest = e.path();
    }
  if (newest.empty())
    return make_error(ec::not_found,
                      "no guest kernel: the package cache " + p.packages
                          + " has no linux-image-*-cloud-amd64 (fetch it with: volar guest "
                            "fetch linux-image-cloud-amd64), and no --guest-kernel is given");
  auto dir = fs::path(p.cache) / "kernel" / newest.stem();
  if (fs::exists(dir / "vmlinux", ec_))
    return (dir / "vmlinux").string();
  fs::create_directories(dir.parent_path(), ec_);
  scratch work(dir.string());
  auto root = work.path() + "/root";
  if (auto st = run_tool({"dpkg-deb", "-x", newest.string(), root}); !st)
    return st.error_value();
  std::string bz;
  for (const auto& e : fs::directory_iterator(root + "/boot", ec_))
    if (e.path().filename().string().rfind("vmlinuz-", 0) == 0)
      bz = e.path().string();
  if (bz.empty())
    return make_error(ec::io_error, newest.string() + " has no /boot/vmlinuz-*");
  if (auto st = extract_vmlinux(bz, work.path() + "/vmlinux", work.path()); !st)
    return st.error_value();
  fs::create_directories(work.path() + "/modules", ec_);
  for (auto it = fs::recursive_directory_iterator(root + "/lib/modules", ec_);
       it != fs::recursive_directory_iterator(); it.increment(ec_)) {
    auto name = it->path().filename().string();
    for (const auto* m : guest_modules)
      if (name == std::string(m) + ".ko")
        fs::copy_file(it->path(), work.path() + "/modules/" + name,
                      fs::copy_options::overwrite_existing, ec_);
  }
  fs::remove_all(root, ec_);
  fs::remove(work.path() + "/payload", ec_);
  work.commit(dir.string());
  if (!fs::exists(dir / "vmlinux", ec_))
    return make_error(ec::io_error, "cannot store the guest kernel in " + dir.string());
  fs::permissions(dir, fs::perms(0755), ec_);
  return (dir / "vmlinux").string();
}

expected<plugin_manifest> build(const plugin_manifest& in, const paths& p,
                                const progress_fn& progress) {
  auto say = [&](const std::string& s) {
    if (progress)
      progress(s);
  };
  plugin_manifest m = in;
  if (m.runtime != "qemu")
    return m;
  if (m.kernel.empty()) {
    auto k = default_kernel(p);
    if (!k)
      return k.error_value();
    m.kernel = *k;
  }
  if (m.guest.empty())
    return m; // a prepared initramfs (tools/mkguest)
  std::error_code ec_;
  fs::create_directories(p.cache, ec_);
  if (ec_)
    return io("cannot create the guest cache " + p.cache, ec_);
  fs::permissions(p.cache, fs::perms(0755), ec_);
  for (const auto* sub : {"boot", "images", "kernel"}) {
    fs::create_directories(fs::path(p.cache) / sub, ec_);
    fs::permissions(fs::path(p.cache) / sub, fs::perms(0755), ec_);
    remove_stale_scratch(fs::path(p.cache) / sub);
  }
  auto boot = boot_initramfs(p, m.kernel);
  if (!boot)
    return boot.error_value();
  if (!m.guest.rootfs.empty()) {
    if (::access(m.guest.rootfs.c_str(), R_OK) != 0)
      return make_error(ec::not_found, "guest.rootfs " + m.guest.rootfs + " cannot be read");
    m.initramfs = *boot;
    m.rootfs = m.guest.rootfs;
    m.image = {"", static_cast<std::int64_t>(fs::file_size(m.rootfs, ec_)),
               "prepared rootfs " + m.guest.rootfs};
    return m;
  }

  // The key: every input of the image.
  sha256 h;
  h.add(builder_version).add_file(p.init);
  h.add(m.guest.format.empty() ? "ext4" : m.guest.format);
  for (const auto& a : m.workload.entrypoint)
    h.add(a);
  h.add("env");
  for (const auto& v : m.workload.env)
    h.add(v.key).add(v.value);
  h.add(m.workload.workdir);
  for (const auto& f : m.guest.files)
    h.add(f.path).add(f.content);
  std::vector<deb_package> cache, debs;
  std::string summary;
  if (!m.guest.debian_packages.empty()) {
    auto scanned = scan_cache(p.packages);
    if (!scanned)
      return scanned.error_value();
    cache = std::move(*scanned);
    auto closed = closure(cache, m.guest.debian_packages, "volar guest fetch");
    if (!closed)
      return closed.error_value();
    debs = std::move(*closed);
    for (const auto& d : debs)
      h.add(fs::path(d.file).filename().string());
    std::string names;
    for (const auto& n : m.guest.debian_packages)
      names += (names.empty() ? "" : ", ") + n;
    summary = names + " + " + std::to_string(debs.size() - m.guest.debian_packages.size())
              + " Debian packages";
  } else if (!m.guest.oci_archive.empty()) {
    if (!h.add("oci").add_file(m.guest.oci_archive))
      return make_error(ec::not_found, "guest.oci_archive " + m.guest.oci_archive
                                           + " cannot be read");
    summary = "OCI archive " + fs::path(m.guest.oci_archive).filename().string();
  } else {
    if (!fs::is_directory(m.guest.directory, ec_))
      return make_error(ec::not_found, "guest.directory " + m.guest.directory
                                           + " is not a directory");
    h.add("dir").add(m.guest.directory);
    hash_tree(h, m.guest.directory);
    summary = "directory " + m.guest.directory;
  }
  if (!m.guest.debian_packages.empty() || !m.guest.directory.empty()) {
    // busybox-static is part of the input where it is added.
    if (cache.empty()) {
      if (auto scanned = scan_cache(p.packages))
        cache = std::move(*scanned);
    }
    for (const auto& d : cache)
      if (d.name == "busybox-static")
        h.add(fs::path(d.file).filename().string());
  }
  auto key = h.hex().substr(0, 32);
  bool initramfs_format = m.guest.format == "initramfs";
  auto dir = fs::path(p.cache) / "images" / key;
  auto image_file = dir / (initramfs_format ? "initramfs.cpio" : "rootfs.ext4");
  auto info_file = dir / "info.json";

  if (!fs::exists(info_file, ec_)) {
    fs::create_directories(dir.parent_path(), ec_);
    scratch work(dir.string());
    fs::path root = work.path() + "/root";
    fs::create_directories(root, ec_);
    say("building the guest of " + m.name + ": " + summary);
    if (!debs.empty()) {
      std::size_t i = 0;
      for (const auto& d : debs) {
        ++i;
        if (i == 1 || i % 10 == 0 || i == debs.size())
          say("unpacking " + std::to_string(i) + "/" + std::to_string(debs.size()) + " " + d.name);
        if (auto st = run_tool({"dpkg-deb", "-x", d.file, root.string()}); !st)
          return st.error_value();
      }
    } else if (!m.guest.oci_archive.empty()) {
      say("unpacking " + m.guest.oci_archive);
      auto cfg = unpack_oci(m.guest.oci_archive, root.string(), work.path());
      if (!cfg)
        return cfg.error_value();
      // The image's config gives the defaults; the manifest's workload wins.
      if (m.workload.entrypoint.empty())
        m.workload.entrypoint = cfg->argv;
      std::vector<env_var> env = cfg->env;
      for (const auto& v : m.workload.env) {
        auto it = std::find_if(env.begin(), env.end(),
                               [&](const env_var& e) { return e.key == v.key; });
        if (it != env.end())
          it->value = v.value;
        else
          env.push_back(v);
      }
      m.workload.env = env;
      if (m.workload.workdir.empty())
        m.workload.workdir = cfg->workdir;
    } else {
      say("copying " + m.guest.directory);
      if (auto st = run_tool({"cp", "-a", m.guest.directory + "/.", root.string()}); !st)
        return st.error_value();
    }
    if (m.workload.entrypoint.empty())
      return make_error(ec::invalid_manifest,
                        "workload.entrypoint is empty (and the guest gives no default)");
    if (!cache.empty())
      if (auto st = add_busybox(root, cache, work.path()); !st)
        return st.error_value();
    if (auto st = add_base(root, m); !st)
      return st.error_value();
    if (auto st = add_files(root, m.guest.files); !st)
      return st.error_value();
    if (::geteuid() == 0 && have_tool("ldconfig") && fs::exists(root / "etc/ld.so.conf.d", ec_)) {
      if (!fs::exists(root / "etc/ld.so.conf", ec_))
        static_cast<void>(write_file(root / "etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n",
                                     fs::perms(0644)));
      static_cast<void>(run_tool({"ldconfig", "-r", root.string()}));
    }
    auto bytes = tree_bytes(root);
    auto out = fs::path(work.path()) / image_file.filename();
    if (initramfs_format) {
      say("writing the initramfs (" + mib(bytes) + ")");
      cpio_writer w(out.string());
      add_boot(w, p.init, modules_of(m.kernel));
      w.tree(root);
      if (!w.close())
        return make_error(ec::io_error, "writing " + out.string() + ": " + w.error());
    } else {
      auto size_mib = bytes * 5 / 4 / (1 << 20) + 64;
      say("writing the ext4 image (" + std::to_string(size_mib) + " MiB)");
      if (!have_tool("mke2fs"))
        return make_error(ec::not_found, "mke2fs not found (install e2fsprogs)");
      if (auto st = run_tool({"mke2fs", "-q", "-F", "-t", "ext4", "-L", "volant-root", "-d",
                              root.string(), "-E", "root_owner=0:0", out.string(),
                              std::to_string(size_mib) + "M"});
          !st)
        return st.error_value();
    }
    fs::permissions(out, fs::perms(0644), ec_);
    fs::remove_all(root, ec_);
    fs::remove_all(work.path() + "/busybox", ec_);
    json info = {{"key", key},
                 {"summary", summary + (initramfs_format ? ", initramfs" : ", ext4")},
                 {"bytes", fs::file_size(out, ec_)},
                 {"entrypoint", m.workload.entrypoint},
                 {"workdir", m.workload.workdir}};
    json env = json::array();
    for (const auto& v : m.workload.env)
      env.push_back({{"key", v.key}, {"value", v.value}});
    info["env"] = env;
    if (auto st = write_file(fs::path(work.path()) / "info.json", info.dump(2) + "\n",
                             fs::perms(0644));
        !st)
      return st.error_value();
    fs::permissions(work.path(), fs::perms(0755), ec_);
    work.commit(dir.string());
    say("built " + image_file.string());
  } else {
    say("cached: " + image_file.string());
  }
  auto info = json::parse(read_whole_file(info_file), nullptr, false);
  if (!info.is_object())
    return make_error(ec::io_error, "the guest cache entry " + info_file.string() + " is damaged");
  // What the build resolved (an OCI image's defaults) is what the VM runs.
  m.workload.entrypoint = info.value("entrypoint", m.workload.entrypoint);
  m.workload.workdir = info.value("workdir", m.workload.workdir);
  if (info.contains("env")) {
    m.workload.env.clear();
    for (const auto& v : info["env"])
      m.workload.env.push_back({v.value("key", ""), v.value("value", "")});
  }
  m.image = {key, info.value("bytes", std::int64_t{0}), info.value("summary", summary)};
  if (initramfs_format) {
    m.initramfs = image_file.string();
    m.rootfs.clear();
  } else {
    m.initramfs = *boot;
    m.rootfs = image_file.string();
  }
  return m;
}

} // namespace volant::guest
