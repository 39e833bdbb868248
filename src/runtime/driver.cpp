#include "runtime/driver.hpp"

namespace volant::runtime {

std::string run_id(const std::string& vm, std::uint64_t incarnation) {
  return incarnation == 0 ? vm : vm + "." + std::to_string(incarnation);
}

std::string vm_of_run(const std::string& run) {
  // VM names are DNS labels joined by '-': a '.' only ever starts the run number.
  return run.substr(0, run.find('.'));
}

} // namespace volant::runtime
