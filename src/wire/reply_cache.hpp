#pragma once

// Exactly-once replies for retried requests (docs/protocol.md, "Request ids").
//
// volar tags every command with a request id and, when no reply comes on a
// live connection, sends the same request again on a new connection. The api
// keeps, per id, either the request still in flight (a retry joins it instead
// of running the command twice) or its outcome (a retry gets the same answer).
// Outcomes are kept for `ttl` and within `max_entries` / `max_bytes`, oldest
// dropped first; requests in flight are never dropped. Plain C++: the api
// actor instantiates it with CAF's promise and error types.

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace volant::wire {

/// Whether `id` can be a request id: 1 to 64 characters of [A-Za-z0-9_-].
inline bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 64)
    return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '-' || c == '_';
    if (!ok)
      return false;
  }
  return true;
}

template <class Outcome, class Waiter>
class reply_cache {
public:
  using clock = std::chrono::steady_clock;

  struct limits {
    std::size_t max_entries = 4096;
    std::size_t max_bytes = 16u << 20;
    std::chrono::seconds ttl{600};
  };

  /// What to do with an arriving request.
  enum class verdict {
    run,    ///< first time: run it, then `finish`
    joined, ///< in flight: the waiter is answered by `finish`
    answer, ///< done before: answer with `outcome`
  };

  struct admission {
    verdict what;
    std::optional<Outcome> outcome; ///< for `answer`
  };

  reply_cache() = default;
  explicit reply_cache(limits lim) : lim_(lim) {}

  /// A request with `id` arrives; `w` answers it.
  admission admit(const std::string& id, Waiter w, clock::time_point now) {
    expire(now);
    auto i = entries_.find(id);
    if (i == entries_.end()) {
      auto& e = entries_[id];
      e.waiters.push_back(std::move(w));
      return {verdict::run, std::nullopt};
    }
    if (!i->second.outcome) {
      i->second.waiters.push_back(std::move(w));
      return {verdict::joined, std::nullopt};
    }
    return {verdict::answer, i->second.outcome};
  }

  /// The request `id` ended with `outcome` (`bytes` long): the waiters to
  /// answer with it, in arrival order. The outcome is kept for retries.
  std::vector<Waiter> finish(const std::string& id, Outcome outcome, std::size_t bytes,
                             clock::time_point now) {
    auto i = entries_.find(id);
    if (i == entries_.end() || i->second.outcome)
      return {};
    auto waiters = std::move(i->second.waiters);
    i->second.waiters.clear();
    i->second.outcome = std::move(outcome);
    i->second.bytes = bytes;
    i->second.done_at = now;
    bytes_ += bytes;
    done_.push_back(id);
    expire(now);
    return waiters;
  }

  /// Requests in flight plus outcomes kept.
  std::size_t size() const { return entries_.size(); }

  /// Bytes of the outcomes kept.
  std::size_t bytes() const { return bytes_; }

private:
  struct entry {
    std::vector<Waiter> waiters;
    std::optional<Outcome> outcome;
    std::size_t bytes = 0;
    clock::time_point done_at{};
  };

  /// Drops outcomes past their time, then the oldest while over a limit.
  void expire(clock::time_point now) {
    while (!done_.empty()) {
      auto i = entries_.find(done_.front());
      bool stale = now - i->second.done_at >= lim_.ttl;
      bool over = entries_.size() > lim_.max_entries || bytes_ > lim_.max_bytes;
      if (!stale && !over)
        break;
      bytes_ -= i->second.bytes;
      entries_.erase(i);
      done_.pop_front();
    }
  }

  limits lim_;
  std::unordered_map<std::string, entry> entries_;
  std::deque<std::string> done_; ///< ids with an outcome, oldest first
  std::size_t bytes_ = 0;
};

} // namespace volant::wire
