// The qemu driver's volumes without QEMU: where they go on the command line
// (disks after the root disk, written through, named to the guest init) and
// the guest's report of one that did not mount.

#include "events/events.hpp"
#include "runtime/qemu_driver.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace volant;
using namespace volant::runtime;

namespace {

template <class T> std::string why(const volant::expected<T>& e) {
  return e ? std::string() : e.error_value().message;
}

launch_spec volume_spec() {
  launch_spec spec;
  spec.vm_name = "db-0";
  spec.workdir = "/run/volant/vms/db-0";
  spec.log_path = "/var/log/volant/db-0.log";
  spec.kernel = "/guests/vmlinux";
  spec.initramfs = "/guests/initramfs.cpio";
  spec.ip = *parse_ipv4("192.168.127.10");
  return spec;
}

std::string after(const std::vector<std::string>& v, const std::string& flag) {
  auto it = std::find(v.begin(), v.end(), flag);
  return it == v.end() || it + 1 == v.end() ? std::string() : *(it + 1);
}

/// The values of every `flag` in `argv`, in order.
std::vector<std::string> all_of(const std::vector<std::string>& argv,
                                const std::string& flag) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == flag)
      out.push_back(argv[i + 1]);
  return out;
}

std::size_t count_of(const std::string& text, const std::string& word) {
  std::size_t n = 0;
  for (auto at = text.find(word); at != std::string::npos;
       at = text.find(word, at + 1))
    ++n;
  return n;
}

} // namespace

TEST_CASE(
    "without volumes no disk is added and no volume is named to the guest") {
  auto spec = volume_spec();
  spec.rootfs = "/cache/rootfs.ext4";
  auto argv = qemu_command(spec, qemu_options{}, "tcg");
  REQUIRE_MESSAGE(argv, why(argv));
  CHECK(all_of(*argv, "-drive").size() == 1);  // the root disk
  CHECK(all_of(*argv, "-add-fd").size() == 1); // the log
  CHECK(after(*argv, "-append").find("volant.vol=") == std::string::npos);
}

TEST_CASE("without a root disk the first volume is /dev/vda, written through to "
          "its image") {
  auto spec = volume_spec();
  spec.volumes = {{"/data/vols/db-0,a.img", "/var/lib/db", 64, true}};
  auto argv = qemu_command(spec, qemu_options{}, "tcg");
  REQUIRE_MESSAGE(argv, why(argv));
  auto append = after(*argv, "-append");
  CHECK(append.find(" volant.vol=/dev/vda:/var/lib/db") != std::string::npos);
  CHECK(append.find("volant.root=") == std::string::npos);
  // Two descriptors of fd set 2 (read-write 5, read-only 6), the image's
  // name as their label, commas doubled.
  auto fds = all_of(*argv, "-add-fd");
  REQUIRE(fds.size() == 3);
  CHECK(fds[1] == "fd=5,set=2,opaque=/data/vols/db-0,,a.img");
  CHECK(fds[2] == "fd=6,set=2,opaque=/data/vols/db-0,,a.img");
  auto drives = all_of(*argv, "-drive");
  REQUIRE(drives.size() == 1);
  CHECK(drives[0]
        == "file=/dev/fdset/2,format=raw,if=none,id=vol0,cache=writeback");
  CHECK(drives[0].find("snapshot") == std::string::npos);
  auto devices = all_of(*argv, "-device");
  CHECK(
      std::count(devices.begin(), devices.end(), "virtio-blk-device,drive=vol0")
      == 1);
}

TEST_CASE("with a root disk volumes are /dev/vdb, /dev/vdc in order; only the "
          "root is a snapshot") {
  auto spec = volume_spec();
  spec.rootfs = "/cache/rootfs.ext4";
  spec.volumes = {{"/vols/a.img", "/srv/my data", 64, true},
                  {"/run/volant/vms/db-0/scratch.img", "/scratch", 128, false}};
  auto argv = qemu_command(spec, qemu_options{}, "tcg");
  REQUIRE_MESSAGE(argv, why(argv));
  auto append = after(*argv, "-append");
  CHECK(append.find(" volant.root=/dev/vda") != std::string::npos);
  // One word per volume, the space percent-encoded.
  CHECK(append.find(" volant.vol=/dev/vdb:/srv/my%20data ")
        != std::string::npos);
  CHECK(append.find(" volant.vol=/dev/vdc:/scratch") != std::string::npos);
  CHECK(count_of(append, "volant.vol=") == 2);

  auto drives = all_of(*argv, "-drive");
  REQUIRE(drives.size() == 3);
  CHECK(drives[0].find("id=root,snapshot=on") != std::string::npos);
  CHECK(drives[1]
        == "file=/dev/fdset/2,format=raw,if=none,id=vol0,cache=writeback");
  CHECK(drives[2]
        == "file=/dev/fdset/3,format=raw,if=none,id=vol1,cache=writeback");
  // The guest numbers disks in command-line order: root, vol0, vol1.
  auto devices = all_of(*argv, "-device");
  auto at = [&](const std::string& d) {
    return std::find(devices.begin(), devices.end(), d) - devices.begin();
  };
  CHECK(at("virtio-blk-device,drive=root")
        < at("virtio-blk-device,drive=vol0"));
  CHECK(at("virtio-blk-device,drive=vol0")
        < at("virtio-blk-device,drive=vol1"));
  CHECK(at("virtio-blk-device,drive=vol1")
        < static_cast<std::ptrdiff_t>(devices.size()));
  auto fds = all_of(*argv, "-add-fd");
  REQUIRE(fds.size() == 5);
  CHECK(fds[3] == "fd=7,set=3,opaque=/run/volant/vms/db-0/scratch.img");
  CHECK(fds[4] == "fd=8,set=3,opaque=/run/volant/vms/db-0/scratch.img");
}

TEST_CASE("volumes a guest cannot mount are refused before anything starts") {
  auto refused = [](std::vector<volume_mount> volumes) {
    auto spec = volume_spec();
    spec.volumes = std::move(volumes);
    auto argv = qemu_command(spec, qemu_options{}, "tcg");
    return argv ? std::string() : argv.error_value().message;
  };
  CHECK(refused({{"/v/a.img", "data", 64, true}}).find("absolute path")
        != std::string::npos);
  CHECK(refused({{"/v/a.img", "/", 64, true}}).find("absolute path")
        != std::string::npos);
  CHECK(refused({{"", "/data", 64, true}}).find("image file")
        != std::string::npos);
  CHECK(refused(
            {{"/v/a.img", "/data", 64, true}, {"/v/b.img", "/data", 64, true}})
            .find("another volume's")
        != std::string::npos);
  CHECK(refused({{"/v/a.img", "/a", 64, true}, {"/v/a.img", "/b", 64, true}})
            .find("another volume's")
        != std::string::npos);
  std::vector<volume_mount> many;
  for (int i = 0; i < 17; ++i)
    many.push_back({"/v/" + std::to_string(i) + ".img",
                    "/d" + std::to_string(i), 64, true});
  CHECK(refused(many).find("at most 16 volumes") != std::string::npos);
  many.pop_back();
  CHECK(refused(many).empty());
  // The kernel command line's limit counts the volumes' paths too.
  std::vector<volume_mount> long_paths;
  for (int i = 0; i < 16; ++i)
    long_paths.push_back({"/v/" + std::to_string(i) + ".img",
                          "/" + std::string(150, 'p') + std::to_string(i), 64,
                          true});
  auto too_long = refused(long_paths);
  CHECK(too_long.find("too long") != std::string::npos);
  CHECK(too_long.find("volume paths") != std::string::npos);
}

TEST_CASE("a volume the guest could not mount is reported as the run's end, "
          "with its words") {
  auto report = parse_control_report(
      "failed mounting volume /dev/vdb at /data: No such device\n");
  REQUIRE(report);
  CHECK(report->first == 127);
  CHECK(report->second
        == "the workload did not run: mounting volume /dev/vdb at /data: "
           "No such device (in the guest)");
  // Control characters never reach the reason; an unfinished line is none.
  report = parse_control_report(std::string("failed at /a\x1b[2J\n"));
  REQUIRE(report);
  CHECK(report->second.find('\x1b') == std::string::npos);
  CHECK_FALSE(parse_control_report("failed mounting volume"));
}
