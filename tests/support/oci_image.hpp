#pragma once

// Makes a real OCI image layout tarball for tests (oci-layout, index.json, a
// manifest, a config and one tar.gz blob per layer, all content-addressed with
// sha256), with the host's tar and sha256sum.

#include "support/process.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace volant::test {

/// `layers`: directories whose contents become the layers, lowest first (a
/// file named `.wh.NAME` deletes NAME of the layers below). Writes `out`.
inline void make_oci_image(const std::string& work, const std::vector<std::string>& layers,
                           const nlohmann::json& config, const std::string& out) {
  namespace fs = std::filesystem;
  auto layout = work + "/layout";
  fs::create_directories(layout + "/blobs/sha256");
  auto put_blob = [&](const std::string& file) {
    auto r = run("sha256sum " + file + " | cut -d' ' -f1");
    auto hex = r.out.substr(0, 64);
    fs::rename(file, layout + "/blobs/sha256/" + hex);
    return std::pair{"sha256:" + hex, fs::file_size(layout + "/blobs/sha256/" + hex)};
  };
  nlohmann::json manifest = {{"schemaVersion", 2},
                             {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                             {"layers", nlohmann::json::array()}};
  std::vector<std::string> diff_ids;
  int i = 0;
  for (const auto& dir : layers) {
    auto tgz = work + "/layer" + std::to_string(i++) + ".tar.gz";
    auto r = run("tar --numeric-owner --owner=0 --group=0 -C " + dir + " -czf " + tgz + " .");
    if (r.exit_code != 0)
      throw std::runtime_error("tar failed: " + r.err);
    auto [digest, size] = put_blob(tgz);
    manifest["layers"].push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                                  {"digest", digest},
                                  {"size", size}});
  }
  auto cfg = work + "/config.json";
  std::ofstream(cfg) << config.dump();
  auto [cfg_digest, cfg_size] = put_blob(cfg);
  manifest["config"] = {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                        {"digest", cfg_digest},
                        {"size", cfg_size}};
  auto man = work + "/manifest.json";
  std::ofstream(man) << manifest.dump();
  auto [man_digest, man_size] = put_blob(man);
  std::ofstream(layout + "/oci-layout") << R"({"imageLayoutVersion":"1.0.0"})";
  nlohmann::json index = {{"schemaVersion", 2},
                          {"manifests",
                           {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                             {"digest", man_digest},
                             {"size", man_size}}}}};
  std::ofstream(layout + "/index.json") << index.dump();
  auto r = run("tar -C " + layout + " -cf " + out + " .");
  if (r.exit_code != 0)
    throw std::runtime_error("tar failed: " + r.err);
}

} // namespace volant::test
