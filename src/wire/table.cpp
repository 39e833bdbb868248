#include "wire/table.hpp"

#include <algorithm>

namespace volant::wire {

table::table(std::vector<std::string> header) {
  rows_.push_back(std::move(header));
}

void table::add_row(std::vector<std::string> row) {
  row.resize(rows_.front().size());
  rows_.push_back(std::move(row));
}

std::string table::render() const {
  std::vector<std::size_t> widths(rows_.front().size(), 0);
  for (const auto& row : rows_)
    for (std::size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  std::string out;
  for (const auto& row : rows_) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size())
        line.append(widths[i] - row[i].size() + 3, ' ');
    }
    out += line;
    out += '\n';
  }
  return out;
}

} // namespace volant::wire
