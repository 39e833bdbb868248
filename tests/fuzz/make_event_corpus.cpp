// Writes the seed corpus of the `event` fuzz target (tests/fuzz/corpus/event/):
// one record per event type and two snapshots, as the journal stores them, and
// records that must be refused (truncated, foreign, newer). Run by hand after
// the schema changes:
//   ninja -C build tests/fuzz/make_event_corpus
//   build/tests/fuzz/make_event_corpus tests/fuzz/corpus/event

#include "../store/samples.hpp"

#include "store/codec.hpp"

#include "events_generated.h"

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

using namespace volant;

namespace {

std::string dir;

void write(const std::string& name, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(dir + "/" + name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out)
    std::fprintf(stderr, "cannot write %s/%s\n", dir.c_str(), name.c_str());
}

std::vector<std::uint8_t> envelope(fb::Event type, std::uint16_t version) {
  flatbuffers::FlatBufferBuilder b;
  auto body = fb::CreateVmReady(b, b.CreateString("web-1"), 1, 1);
  auto id = b.CreateString("web-1");
  fb::FinishEventEnvelopeBuffer(
      b, fb::CreateEventEnvelope(b, version, 7, 42, fb::AggregateKind::vm, id,
                                 type, body.Union()));
  return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_event_corpus DIR\n");
    return 2;
  }
  dir = argv[1];
  auto events = test::every_event();
  std::vector<std::uint8_t> created;
  for (std::size_t i = 0; i < events.size(); ++i) {
    recorded_event rec{100 + i, 1'764'000'000'000'000'000 + static_cast<unix_nanos>(i),
                       events[i]};
    auto bytes = store::pack_event(rec);
    write("valid-" + std::string(kind_name(events[i])) + ".bin", bytes);
    if (std::holds_alternative<deployment_created>(events[i]))
      created = bytes;
  }
  write("valid-snapshot.bin", store::pack_snapshot(test::sample_world()));
  write("valid-snapshot-empty.bin", store::pack_snapshot(world{}));
  write("invalid-empty.bin", {});
  write("invalid-truncated.bin",
        std::vector<std::uint8_t>(created.begin(), created.begin() + created.size() / 2));
  auto foreign = created;
  foreign[4] = 'X'; // the file identifier VEVT
  write("invalid-identifier.bin", foreign);
  write("invalid-unknown-tag.bin", envelope(static_cast<fb::Event>(57), 1));
  write("invalid-newer-version.bin", envelope(fb::Event::VmReady, 2));
  write("invalid-no-version.bin", envelope(fb::Event::VmReady, 0));
  return 0;
}
