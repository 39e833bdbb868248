#include "actors/journal.hpp"

#include "actors/crash.hpp"
#include "actors/inspect.hpp"
#include "actors/wire_error.hpp"
#include "wire/json.hpp"

#include <caf/all.hpp>

#include <chrono>

namespace volant {

using namespace std::chrono_literals;

std::int64_t now_nanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

namespace {

journal_writer_actor::behavior_type writer(journal_writer_actor::pointer self,
                                           store::journal* store, cluster_log* cluster) {
  (void) self;
  return {
    [=](append_atom, event_batch& events) -> caf::result<record_batch> {
      auto recs = store->append(std::move(events));
      if (!recs)
        return to_caf(recs.error_value());
      return std::move(*recs);
    },
    [=](append_atom, event_batch& events, std::uint64_t after) -> caf::result<record_batch> {
      if (cluster == nullptr)
        return to_caf({ec::invalid_argument, "volantd runs without --cluster"});
      auto recs = cluster->append(after, std::move(events));
      if (!recs)
        return to_caf(recs.error_value());
      return std::move(*recs);
    },
  };
}

/// Sends every queued append to the writer as one batch.
void flush(journal_actor::stateful_pointer<journal_state> self) {
  auto& st = self->state;
  if (st.writing || st.queue.empty())
    return;
  st.writing = true;
  auto batch = std::make_shared<std::vector<journal_state::pending>>();
  event_batch all;
  while (!st.queue.empty()) {
    auto& p = st.queue.front();
    all.insert(all.end(), p.events.begin(), p.events.end());
    batch->push_back(std::move(p));
    st.queue.pop_front();
  }
  auto started = std::chrono::steady_clock::now();
  self->request(st.writer, caf::infinite, append_atom::value, std::move(all))
    .then(
      [=](record_batch& recs) {
        auto& st = self->state;
        st.writing = false;
        ++st.batches;
        st.window_appends += batch->size();
        if (auto now = std::chrono::steady_clock::now(); now - st.window_start >= 1s) {
          st.append_rate = static_cast<double>(st.window_appends)
                           / std::chrono::duration<double>(now - st.window_start).count();
          st.window_start = now;
          st.window_appends = 0;
        }
        st.last_batch_us = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::steady_clock::now() - started)
                             .count();
        std::size_t offset = 0;
        for (auto& p : *batch) {
          record_batch mine(recs.begin() + static_cast<std::ptrdiff_t>(offset),
                            recs.begin()
                              + static_cast<std::ptrdiff_t>(offset + p.events.size()));
          offset += p.events.size();
          p.promise.deliver(std::move(mine));
        }
        flush(self);
      },
      [=](caf::error& err) {
        self->state.writing = false;
        for (auto& p : *batch)
          p.promise.deliver(err);
        flush(self);
      });
}

} // namespace

journal_actor::behavior_type
journal(journal_actor::stateful_pointer<journal_state> self, daemon_context* ctx) {
  self->state.ctx = ctx;
  enlist(self, ctx, "journal");
  self->state.writer
    = self->spawn<caf::detached + caf::linked>(writer, ctx->store, ctx->cluster);
  return {
    [=](append_atom, event_batch& events) -> caf::result<record_batch> {
      auto& st = self->state;
      ++st.appends;
      auto rp = self->make_response_promise<record_batch>();
      st.queue.push_back({std::move(events), rp});
      flush(self);
      return rp;
    },
    [=](append_atom a, event_batch& events, std::uint64_t after) -> caf::result<record_batch> {
      // A cluster append is conditioned on the head: one at a time, from the
      // controller, so no batching here.
      ++self->state.appends;
      auto rp = self->make_response_promise<record_batch>();
      self->request(self->state.writer, caf::infinite, a, std::move(events), after)
        .then([rp](record_batch& recs) mutable { rp.deliver(std::move(recs)); },
              [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [=](crash_atom, const std::string& path) { crash_now(path); },
    [=](inspect_atom) -> std::string {
      auto& st = self->state;
      auto stats = st.ctx->store->stats();
      auto idle = std::chrono::steady_clock::now() - st.window_start >= 2s;
      auto j = inspect_header(self, "journal", "journal", st.writing ? "writing" : "idle");
      j.update({{"last_seq", st.ctx->store->last_seq()},
                          {"appends_per_s", idle ? 0.0 : st.append_rate},
                          {"pending", st.queue.size()},
                          {"writing", st.writing},
                          {"appends", st.appends},
                          {"batches", st.batches},
                          {"last_batch_us", st.last_batch_us},
                          {"syncs", stats.syncs},
                          {"last_sync_us", stats.last_sync_us},
                          {"high_water", stats.high_water},
                          {"high_water_error", stats.high_water_error}});
      return j.dump();
    },
  };
}

} // namespace volant
