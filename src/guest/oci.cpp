#include "guest/oci.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

namespace volant::guest {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

struct reader_deleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct writer_deleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
using reader = std::unique_ptr<archive, reader_deleter>;

error bad(const std::string& archive_path, const std::string& what) {
  return make_error(ec::invalid_manifest, "guest.oci_archive " + archive_path + ": " + what);
}

expected<reader> open_tar(const std::string& path) {
  reader a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK)
    return make_error(ec::io_error, "cannot read " + path + ": "
                                        + (archive_error_string(a.get()) ? archive_error_string(a.get()) : "?"));
  return a;
}

/// "./a/b/" -> "a/b"; empty for a path that leaves the root ("..", absolute
/// paths are made relative).
std::string clean(std::string p) {
  std::vector<std::string> parts;
  std::stringstream in(p);
  std::string part;
  while (std::getline(in, part, '/')) {
    if (part.empty() || part == ".")
      continue;
    if (part == "..")
      return {};
    parts.push_back(part);
  }
  std::string out;
  for (const auto& x : parts)
    out += (out.empty() ? "" : "/") + x;
  return out;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// The outer tar's regular files, into `dir` (the layout's small files and
/// its blobs).
status extract_outer(const std::string& path, const fs::path& dir) {
  auto a = open_tar(path);
  if (!a)
    return bad(path, a.error_value().message);
  archive_entry* e = nullptr;
  int rc;
  while ((rc = archive_read_next_header(a->get(), &e)) == ARCHIVE_OK) {
    auto name = clean(archive_entry_pathname(e));
    if (name.empty() || archive_entry_filetype(e) != AE_IFREG)
      continue;
    auto out = dir / name;
    std::error_code ec_;
    fs::create_directories(out.parent_path(), ec_);
    std::ofstream f(out, std::ios::binary);
    const void* buf;
    size_t size;
    la_int64_t offset;
    while (archive_read_data_block(a->get(), &buf, &size, &offset) == ARCHIVE_OK)
      f.write(static_cast<const char*>(buf), static_cast<std::streamsize>(size));
  }
  if (rc != ARCHIVE_EOF)
    return bad(path, std::string("not a readable tar (")
                         + (archive_error_string(a->get()) ? archive_error_string(a->get()) : "?") + ")");
  return ok();
}

/// blobs/sha256/HEX for "sha256:HEX".
fs::path blob(const fs::path& dir, const std::string& digest) {
  auto colon = digest.find(':');
  if (colon == std::string::npos)
    return {};
  auto alg = digest.substr(0, colon), hex = digest.substr(colon + 1);
  if (clean(alg) != alg || clean(hex) != hex || alg.empty() || hex.empty())
    return {};
  return dir / "blobs" / alg / hex;
}

/// One layer: whiteouts first (they delete what lower layers put there), then
/// the layer's own entries.
status apply_layer(const std::string& archive_path, const fs::path& layer, const fs::path& root) {
  std::error_code ec_;
  {
    auto a = open_tar(layer.string());
    if (!a)
      return a.error_value();
    archive_entry* e = nullptr;
    while (archive_read_next_header(a->get(), &e) == ARCHIVE_OK) {
      auto name = clean(archive_entry_pathname(e));
      if (name.empty())
        continue;
      auto slash = name.rfind('/');
      auto base = slash == std::string::npos ? name : name.substr(slash + 1);
      auto parent = slash == std::string::npos ? fs::path{} : fs::path(name.substr(0, slash));
      if (base == ".wh..wh..opq") {
        for (const auto& child : fs::directory_iterator(root / parent, ec_))
          fs::remove_all(child.path(), ec_);
      } else if (base.rfind(".wh.", 0) == 0) {
        fs::remove_all(root / parent / base.substr(4), ec_);
      }
    }
  }
  auto a = open_tar(layer.string());
  if (!a)
    return a.error_value();
  std::unique_ptr<archive, writer_deleter> disk(archive_write_disk_new());
  archive_write_disk_set_options(disk.get(), ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER
                                                 | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_UNLINK
                                                 | ARCHIVE_EXTRACT_SECURE_NODOTDOT
                                                 | ARCHIVE_EXTRACT_SECURE_SYMLINKS);
  archive_entry* e = nullptr;
  int rc;
  while ((rc = archive_read_next_header(a->get(), &e)) == ARCHIVE_OK) {
    auto name = clean(archive_entry_pathname(e));
    if (name.empty())
      continue;
    auto base = name.substr(name.rfind('/') == std::string::npos ? 0 : name.rfind('/') + 1);
    auto type = archive_entry_filetype(e);
    if (base.rfind(".wh.", 0) == 0 || type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO)
      continue;
    archive_entry_set_pathname(e, (root / name).c_str());
    if (const char* hard = archive_entry_hardlink(e)) {
      auto target = clean(hard);
      if (target.empty())
        continue;
      archive_entry_set_hardlink(e, (root / target).c_str());
    }
    if (archive_write_header(disk.get(), e) != ARCHIVE_OK)
      return bad(archive_path, "cannot unpack " + name + " ("
                                   + (archive_error_string(disk.get()) ? archive_error_string(disk.get()) : "?") + ")");
    const void* buf;
    size_t size;
    la_int64_t offset;
    while (archive_read_data_block(a->get(), &buf, &size, &offset) == ARCHIVE_OK)
      archive_write_data_block(disk.get(), buf, size, offset);
    archive_write_finish_entry(disk.get());
  }
  if (rc != ARCHIVE_EOF)
    return bad(archive_path, "layer " + layer.filename().string() + " is not a readable tar");
  return ok();
}

} // namespace

expected<oci_config> unpack_oci(const std::string& archive_path, const std::string& root,
                                const std::string& work) {
  fs::path dir = fs::path(work) / "oci";
  std::error_code ec_;
  fs::create_directories(dir, ec_);
  if (auto st = extract_outer(archive_path, dir); !st)
    return st.error_value();
  fs::path config_path;
  std::vector<fs::path> layers;
  if (fs::exists(dir / "index.json", ec_)) {
    // OCI image layout: index -> (index ->) manifest -> config + layers.
    auto index = json::parse(read_all(dir / "index.json"), nullptr, false);
    for (int depth = 0; depth < 3; ++depth) {
      if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array()
          || index["manifests"].empty())
        return bad(archive_path, "index.json lists no manifest");
      auto m_path = blob(dir, index["manifests"][0].value("digest", ""));
      auto m = json::parse(read_all(m_path), nullptr, false);
      if (!m.is_object())
        return bad(archive_path, "manifest blob " + m_path.filename().string() + " is missing or not JSON");
      if (m.contains("manifests")) { // a nested index
        index = m;
        continue;
      }
      if (!m.contains("config") || !m.contains("layers") || !m["layers"].is_array())
        return bad(archive_path, "the manifest has no config or layers");
      config_path = blob(dir, m["config"].value("digest", ""));
      for (const auto& l : m["layers"])
        layers.push_back(blob(dir, l.value("digest", "")));
      break;
    }
  } else if (fs::exists(dir / "manifest.json", ec_)) {
    // docker save: [{"Config": "x.json", "Layers": ["a/layer.tar", ...]}]
    auto m = json::parse(read_all(dir / "manifest.json"), nullptr, false);
    if (!m.is_array() || m.empty() || !m[0].is_object())
      return bad(archive_path, "manifest.json is not a docker-archive manifest");
    config_path = dir / clean(m[0].value("Config", ""));
    for (const auto& l : m[0].value("Layers", json::array()))
      if (l.is_string())
        layers.push_back(dir / clean(l.get<std::string>()));
  } else {
    return bad(archive_path, "neither an OCI layout (index.json) nor a docker archive "
                             "(manifest.json)");
  }
  auto config = json::parse(read_all(config_path), nullptr, false);
  if (!config.is_object())
    return bad(archive_path, "the image config is missing or not JSON");
  fs::create_directories(root, ec_);
  for (const auto& l : layers) {
    if (l.empty() || !fs::exists(l, ec_))
      return bad(archive_path, "a layer blob is missing");
    if (auto st = apply_layer(archive_path, l, root); !st)
      return st.error_value();
  }
  oci_config out;
  auto c = config.value("config", json::object());
  for (const auto* key : {"Entrypoint", "Cmd"})
    if (c.contains(key) && c[key].is_array())
      for (const auto& a : c[key])
        if (a.is_string())
          out.argv.push_back(a.get<std::string>());
  if (c.contains("Env") && c["Env"].is_array())
    for (const auto& kv : c["Env"]) {
      if (!kv.is_string())
        continue;
      auto s = kv.get<std::string>();
      auto eq = s.find('=');
      if (eq != std::string::npos && eq > 0)
        out.env.push_back({s.substr(0, eq), s.substr(eq + 1)});
    }
  out.workdir = c.value("WorkingDir", "");
  fs::remove_all(dir, ec_);
  return out;
}

} // namespace volant::guest
