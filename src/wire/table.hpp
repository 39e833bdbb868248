#pragma once

// Aligned text tables for human output (`volar ... list`, `volant-replay state`).

#include <string>
#include <vector>

namespace volant::wire {

/// Columns padded to their widest cell, separated by three spaces, like kubectl.
class table {
public:
  explicit table(std::vector<std::string> header);

  void add_row(std::vector<std::string> row);

  bool empty() const noexcept { return rows_.empty(); }

  /// The header and rows, each line ending in '\n'.
  std::string render() const;

private:
  std::vector<std::vector<std::string>> rows_; // rows_[0] is the header
};

} // namespace volant::wire
