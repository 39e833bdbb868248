#pragma once

// A NULL-terminated char* array over owned strings, for execve: built before fork,
// so that the child only reads memory and calls async-signal-safe functions.

#include <string>
#include <vector>

namespace volant::runtime {

class c_strings {
public:
  explicit c_strings(std::vector<std::string> items) : items_(std::move(items)) {
    for (auto& s : items_)
      ptrs_.push_back(s.data());
    ptrs_.push_back(nullptr);
  }
  char** get() { return ptrs_.data(); }

private:
  std::vector<std::string> items_;
  std::vector<char*> ptrs_;
};

} // namespace volant::runtime
