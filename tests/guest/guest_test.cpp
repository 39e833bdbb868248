// Guest images (src/guest): the control fields and dependency closure of the
// package cache, resolved offline, and OCI archives unpacked with whiteouts
// (a real layout made with tar and sha256sum, read with libarchive).

#include "guest/debs.hpp"
#include "guest/oci.hpp"

#include "support/oci_image.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

using namespace volant;
using namespace volant::guest;
namespace fs = std::filesystem;

namespace {

deb_package pkg(std::string name, std::string depends = "", std::string provides = "") {
  deb_package p;
  p.name = name;
  p.file = "/cache/" + name + "_1_amd64.deb";
  p.depends = parse_depends(depends);
  for (auto& g : parse_depends(provides))
    p.provides.push_back(g.front());
  return p;
}

std::vector<std::string> names(const std::vector<deb_package>& ps) {
  std::vector<std::string> out;
  for (const auto& p : ps)
    out.push_back(p.name);
  return out;
}

struct scratch_dir {
  std::string path;
  scratch_dir() {
    char tmpl[] = "/tmp/volant-guest-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~scratch_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void write(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << content;
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace

TEST_CASE("control fields: one per line, continuation lines joined") {
  auto f = parse_control("Package: nginx\nVersion: 1.22.1-9\nDepends: libc6 (>= 2.34),\n libssl3\n");
  CHECK(f["Package"] == "nginx");
  CHECK(f["Version"] == "1.22.1-9");
  CHECK(f["Depends"] == "libc6 (>= 2.34), libssl3");
}

TEST_CASE("a Depends field as groups of alternatives, without versions or architectures") {
  auto d = parse_depends("libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0, perl:any, "
                         "iproute2 [amd64]");
  REQUIRE(d.size() == 4);
  CHECK(d[0] == std::vector<std::string>{"libc6"});
  CHECK(d[1] == std::vector<std::string>{"debconf", "debconf-2.0"});
  CHECK(d[2] == std::vector<std::string>{"perl"});
  CHECK(d[3] == std::vector<std::string>{"iproute2"});
  CHECK(parse_depends("").empty());
  CHECK(parse_depends("  ").empty());
}

TEST_CASE("the closure follows Depends and Pre-Depends, once per package") {
  std::vector<deb_package> cache = {
      pkg("nginx", "nginx-common, libc6, libssl3"), pkg("nginx-common", "debconf | debconf-2.0"),
      pkg("libssl3", "libc6"), pkg("libc6", "libgcc-s1"), pkg("libgcc-s1", "libc6"),
      pkg("debconf", "perl-base"), pkg("perl-base"), pkg("unrelated", "libc6")};
  auto c = closure(cache, {"nginx"}, "volar guest fetch");
  REQUIRE_MESSAGE(c.has_value(), c.error_value().message);
  CHECK(names(*c) == std::vector<std::string>{"debconf", "libc6", "libgcc-s1", "libssl3",
                                              "nginx", "nginx-common", "perl-base"});
}

TEST_CASE("of alternatives, one already chosen wins, else the first the cache has, else a "
          "provider") {
  std::vector<deb_package> cache = {
      pkg("app", "mawk | gawk, awk-user"), pkg("gawk"), pkg("mawk"),
      pkg("awk-user", "gawk"), pkg("web", "httpd"), pkg("nginx-light", "", "httpd")};
  auto c = closure(cache, {"app"}, "volar guest fetch");
  REQUIRE(c.has_value());
  // mawk is first in the group and present.
  CHECK(names(*c) == std::vector<std::string>{"app", "awk-user", "gawk", "mawk"});
  auto v = closure(cache, {"web"}, "volar guest fetch");
  REQUIRE(v.has_value());
  CHECK(names(*v) == std::vector<std::string>{"nginx-light", "web"});
  // A virtual package already provided by a chosen one is not added again.
  auto both = closure(cache, {"nginx-light", "web"}, "volar guest fetch");
  REQUIRE(both.has_value());
  CHECK(names(*both) == std::vector<std::string>{"nginx-light", "web"});
}

TEST_CASE("a package the cache lacks is an error naming every missing one and the fetch "
          "command") {
  std::vector<deb_package> cache = {pkg("nginx", "libc6, libssl3, libpcre2-8-0"), pkg("libc6")};
  auto c = closure(cache, {"nginx", "redis-server"}, "volar guest fetch");
  REQUIRE_FALSE(c.has_value());
  CHECK(c.error_value().code == ec::not_found);
  CHECK(c.error_value().message
        == "the package cache lacks libpcre2-8-0 libssl3 redis-server (fetch them with: volar "
           "guest fetch libpcre2-8-0 libssl3 redis-server)");
}

TEST_CASE("an OCI layout's layers are unpacked in order, whiteouts applied, and its config's "
          "defaults returned") {
  scratch_dir tmp;
  auto base = tmp.path + "/l1", top = tmp.path + "/l2";
  write(base + "/etc/app.conf", "base\n");
  write(base + "/etc/old.conf", "to be deleted\n");
  write(base + "/var/cache/a", "a\n");
  write(base + "/var/cache/b", "b\n");
  fs::create_directories(base + "/bin");
  fs::create_symlink("app", base + "/bin/app-link");
  write(base + "/bin/app", "#!/bin/sh\n");
  write(top + "/etc/app.conf", "top\n");       // replaces
  write(top + "/etc/.wh.old.conf", "");        // deletes
  write(top + "/var/cache/.wh..wh..opq", "");  // empties the directory below
  write(top + "/var/cache/c", "c\n");          // ... but keeps this layer's own
  nlohmann::json config = {
      {"architecture", "amd64"},
      {"os", "linux"},
      {"config",
       {{"Entrypoint", {"/bin/app"}},
        {"Cmd", {"--serve", "80"}},
        {"Env", {"PATH=/usr/bin:/bin", "GREETING=hello from oci"}},
        {"WorkingDir", "/srv"}}},
      {"rootfs", {{"type", "layers"}, {"diff_ids", nlohmann::json::array()}}}};
  auto archive = tmp.path + "/image.tar";
  test::make_oci_image(tmp.path, {base, top}, config, archive);

  auto root = tmp.path + "/root";
  auto cfg = unpack_oci(archive, root, tmp.path + "/work");
  REQUIRE_MESSAGE(cfg.has_value(), cfg.error_value().message);
  CHECK(cfg->argv == std::vector<std::string>{"/bin/app", "--serve", "80"});
  REQUIRE(cfg->env.size() == 2);
  CHECK(cfg->env[1].key == "GREETING");
  CHECK(cfg->env[1].value == "hello from oci");
  CHECK(cfg->workdir == "/srv");
  CHECK(read(root + "/etc/app.conf") == "top\n");
  CHECK_FALSE(fs::exists(root + "/etc/old.conf"));
  CHECK_FALSE(fs::exists(root + "/etc/.wh.old.conf"));
  CHECK_FALSE(fs::exists(root + "/var/cache/a"));
  CHECK_FALSE(fs::exists(root + "/var/cache/b"));
  CHECK(read(root + "/var/cache/c") == "c\n");
  CHECK(fs::is_symlink(root + "/bin/app-link"));
}

TEST_CASE("what is not an OCI image is a clear error") {
  scratch_dir tmp;
  write(tmp.path + "/junk.tar", "not a tar at all");
  auto r = unpack_oci(tmp.path + "/junk.tar", tmp.path + "/root", tmp.path + "/work");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error_value().message.find("guest.oci_archive " + tmp.path + "/junk.tar") == 0);
  write(tmp.path + "/dir/hello.txt", "hi");
  test::run("tar -C " + tmp.path + "/dir -cf " + tmp.path + "/plain.tar .");
  auto p = unpack_oci(tmp.path + "/plain.tar", tmp.path + "/root2", tmp.path + "/work2");
  REQUIRE_FALSE(p.has_value());
  CHECK(p.error_value().message.find("neither an OCI layout") != std::string::npos);
}
