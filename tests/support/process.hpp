#pragma once

// Helpers for end-to-end tests that drive real binaries: run a command, capture its
// output and exit code; temporary directories that clean up after themselves.

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>

namespace volant::test {

struct run_result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// A directory under /tmp removed (recursively) when this goes out of scope.
class temp_dir {
public:
  temp_dir() {
    char tmpl[] = "/tmp/volant-test-XXXXXX";
    path_ = mkdtemp(tmpl) ? tmpl : "";
  }
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Runs `command` through /bin/sh; stdout and stderr captured separately.
inline run_result run(const std::string& command) {
  temp_dir tmp;
  auto err_path = tmp / "stderr";
  run_result r;
  auto full = command + " 2>" + err_path;
  FILE* pipe = popen(full.c_str(), "r");
  if (!pipe)
    return r;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0)
    r.out.append(buf.data(), n);
  int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.err = read_file(err_path);
  return r;
}

/// The path of a binary under test, passed by meson in an environment variable.
inline std::string binary(const char* env_name) {
  const char* p = std::getenv(env_name);
  return p ? p : std::string("/nonexistent/") + env_name;
}

/// Counts the lines of `text` that contain `needle`.
inline std::size_t count_lines_with(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    count += line.find(needle) != std::string::npos;
  return count;
}

} // namespace volant::test
