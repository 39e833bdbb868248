#pragma once

// A thread-safe inbox for values that callbacks deliver from another thread
// (an event loop, a watcher): tests wait on the event itself, bounded by a
// generous limit, instead of sleeping.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

namespace volant::test {

template <class T> class mailbox {
public:
  void put(T value) {
    {
      std::lock_guard guard(mtx_);
      items_.push_back(std::move(value));
    }
    cv_.notify_all();
  }

  /// The oldest value, waiting up to `limit` for one; nullopt if none came.
  std::optional<T> take(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::unique_lock lock(mtx_);
    if (!cv_.wait_for(lock, limit, [&] { return !items_.empty(); }))
      return std::nullopt;
    T value = std::move(items_.front());
    items_.pop_front();
    return value;
  }

  std::size_t size() const {
    std::lock_guard guard(mtx_);
    return items_.size();
  }

private:
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<T> items_;
};

} // namespace volant::test
