#pragma once

// The journal and controller of the moment. The root replaces a crashed one;
// holders that outlive a restart (the api, the controller) look them up here
// per use instead of keeping a stale handle. Kept in the daemon's own context
// and never in CAF's named registry: a remote peer can address any actor of
// that registry by name (remote_lookup), and nothing but the api is meant to
// be reachable.

#include "actors/actors.hpp"

#include <mutex>

namespace volant {

class live_actors {
public:
  journal_actor journal() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return journal_;
  }
  controller_actor controller() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return controller_;
  }
  void set(journal_actor j) {
    std::lock_guard<std::mutex> guard{mtx_};
    journal_ = std::move(j);
  }
  void set(controller_actor c) {
    std::lock_guard<std::mutex> guard{mtx_};
    controller_ = std::move(c);
  }
  /// Drops both (at shutdown, so that no strong reference outlives the root).
  void clear() {
    std::lock_guard<std::mutex> guard{mtx_};
    journal_ = nullptr;
    controller_ = nullptr;
  }

private:
  mutable std::mutex mtx_;
  journal_actor journal_;
  controller_actor controller_;
};

} // namespace volant
