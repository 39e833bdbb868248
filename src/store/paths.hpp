#pragma once

// Where a data directory keeps things. One place, so that volantd, volar and
// volant-replay agree.

#include <cstdlib>
#include <string>

namespace volant::store {

/// `flag` if given, else $VOLANT_HOME, else ~/.volant.
inline std::string resolve_data_dir(const std::string& flag) {
  if (!flag.empty())
    return flag;
  if (const char* env = std::getenv("VOLANT_HOME"); env && *env)
    return env;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.volant";
}

/// The RocksDB directory of the journal inside a data directory.
inline std::string journal_dir(const std::string& data_dir) {
  return data_dir + "/journal";
}

} // namespace volant::store
