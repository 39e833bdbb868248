// Fuzz target `dns`: one packet as volantd's DNS server receives it
// (runtime::respond, src/runtime/dns.hpp), over UDP and over TCP, against a
// zone with a deployment `web` of 3 replicas (2 ready), an HTTP port and a
// load balancer. Any bytes are dropped (no header, or a response), answered
// (FORMERR for what does not parse) or left to the forwarder; nothing may
// throw or crash. An answer carries the query's id with QR set, fits its
// transport, and parses again. "Accepted": answered with another code than
// FORMERR or NOTIMP, or forwarded.

#include "fuzz.hpp"

#include "runtime/dns.hpp"

#include <ldns/ldns.h>

namespace {

using namespace volant;

const dns_zone& the_zone() {
  static const dns_zone z = [] {
    dns_zone z;
    auto& web = z.deployments["web"];
    web.http_port = 80;
    ipv4 base = (127u << 24) | (77u << 16);
    web.ready = {{"web-0", base + 1}, {"web-1", base + 2}};
    web.slots = {{"web-0", base + 1}, {"web-1", base + 2}, {"web-2", 0}};
    z.lbs["web-lb"] = (127u << 24) | 1;
    z.serial = 42;
    return z;
  }();
  return z;
}

bool check(std::span<const std::uint8_t> input, bool tcp) {
  auto reply = runtime::respond(the_zone(), input, 7, tcp);
  if (reply.what == runtime::dns_reply::kind::drop) {
    VOLANT_FUZZ_ASSERT(reply.wire.empty());
    return false;
  }
  if (reply.what == runtime::dns_reply::kind::forward) {
    VOLANT_FUZZ_ASSERT(!runtime::servfail_for(input).empty());
    return true;
  }
  const auto& wire = reply.wire;
  VOLANT_FUZZ_ASSERT(wire.size() >= 12);
  VOLANT_FUZZ_ASSERT(wire.size() <= (tcp ? 65535u : 4096u));
  VOLANT_FUZZ_ASSERT(wire[0] == input[0] && wire[1] == input[1]);
  VOLANT_FUZZ_ASSERT((wire[2] & 0x80) != 0);
  ldns_pkt* parsed = nullptr;
  VOLANT_FUZZ_ASSERT(ldns_wire2pkt(&parsed, wire.data(), wire.size()) == LDNS_STATUS_OK);
  auto rcode = ldns_pkt_get_rcode(parsed);
  ldns_pkt_free(parsed);
  return rcode != LDNS_RCODE_FORMERR && rcode != LDNS_RCODE_NOTIMPL;
}

} // namespace

bool volant::fuzz::accepts(std::span<const std::uint8_t> input) {
  bool udp = check(input, false);
  bool tcp = check(input, true);
  VOLANT_FUZZ_ASSERT(udp == tcp);
  return udp;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  volant::fuzz::accepts({data, size});
  return 0;
}
