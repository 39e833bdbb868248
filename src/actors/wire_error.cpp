#include "actors/wire_error.hpp"

#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace volant {

error from_caf(const caf::error& err, const std::string& rendered) {
  if (err.category() == error_category) {
    std::string text;
    const auto& ctx = err.context();
    if (ctx.size() == 1 && ctx.match_element<std::string>(0))
      text = ctx.get_as<std::string>(0);
    return {static_cast<ec>(err.code()), text};
  }
  if (err.category() == caf::atom("system")) {
    auto code = static_cast<caf::sec>(err.code());
    if (code == caf::sec::request_timeout)
      return {ec::daemon_unreachable, "volantd did not answer in time"};
    if (code == caf::sec::request_receiver_down)
      return {ec::daemon_unreachable, "volantd went away while answering"};
  }
  return {ec::io_error, rendered};
}

} // namespace volant
