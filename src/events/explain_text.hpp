#pragma once

// The words of `explain` (events/explain.hpp), shared by explain.cpp and
// explain_text.cpp. Internal to src/events.

#include "events/events.hpp"

#include <cstdint>
#include <string>

namespace volant::explain_detail {

template <class... Fs> struct overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs> overloaded(Fs...) -> overloaded<Fs...>;

/// "nginx:1.0" or "nginx".
std::string plugin_text(const plugin_ref& p);
/// " (detail)", or nothing for an empty one.
std::string in_parens(const std::string& detail);
std::string exit_text(const vm_exited& x);
std::string recreate_reason(const vm_recreated& x);
/// Whether a recreate was for a new revision (a rollout), not a restart.
bool for_revision(const vm_recreated& x);
std::string seq_range(std::uint64_t first, std::uint64_t last);
std::string loss_text(const journal_loss_accepted& x);
/// Why `ev` happened, when it says (a failure, a reason); empty otherwise.
std::string cause_of(const event& ev);
/// What `ev` did, one line.
std::string step_text(const event& ev);

} // namespace volant::explain_detail
