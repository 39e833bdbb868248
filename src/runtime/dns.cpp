#include "runtime/dns.hpp"

#include "events/events.hpp"

#include <ldns/ldns.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

namespace volant::runtime {

namespace {

constexpr std::size_t header_size = 12;

using pkt_ptr = std::unique_ptr<ldns_pkt, decltype(&ldns_pkt_free)>;

pkt_ptr make_pkt(ldns_pkt* p) {
  return {p, &ldns_pkt_free};
}

/// A header-only response to `query` (no question): for what ldns cannot parse.
std::vector<std::uint8_t> bare_reply(std::span<const std::uint8_t> query, dns_rcode rcode) {
  std::vector<std::uint8_t> out(query.begin(), query.begin() + header_size);
  out[2] = static_cast<std::uint8_t>((out[2] & 0x79) | 0x80); // QR, opcode and RD kept
  out[3] = static_cast<std::uint8_t>(rcode);
  std::fill(out.begin() + 4, out.end(), 0);
  return out;
}

std::vector<std::uint8_t> to_wire(const ldns_pkt* p) {
  std::uint8_t* buf = nullptr;
  std::size_t size = 0;
  if (ldns_pkt2wire(&buf, p, &size) != LDNS_STATUS_OK || buf == nullptr) {
    std::free(buf);
    return {};
  }
  std::vector<std::uint8_t> out(buf, buf + size);
  std::free(buf);
  return out;
}

ldns_rdf* dname(const std::string& name) {
  return ldns_dname_new_frm_str(name.c_str());
}

/// The ldns record of `rec`; null if a name does not make a domain name.
ldns_rr* to_ldns(const dns_record& rec) {
  ldns_rdf* owner = dname(rec.name);
  if (owner == nullptr)
    return nullptr;
  ldns_rr* rr = ldns_rr_new();
  ldns_rr_set_owner(rr, owner);
  ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
  ldns_rr_set_ttl(rr, rec.ttl);
  bool ok = true;
  auto push = [&](ldns_rdf* f) {
    ok = ok && f != nullptr && ldns_rr_push_rdf(rr, f);
  };
  if (const auto* ip = std::get_if<ipv4>(&rec.data)) {
    ldns_rr_set_type(rr, LDNS_RR_TYPE_A);
    std::uint32_t be = htonl(*ip);
    push(ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, &be));
  } else if (const auto* srv = std::get_if<dns_srv>(&rec.data)) {
    ldns_rr_set_type(rr, LDNS_RR_TYPE_SRV);
    push(ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, srv->priority));
    push(ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, srv->weight));
    push(ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, srv->port));
    push(dname(srv->target));
  } else if (const auto* soa = std::get_if<dns_soa>(&rec.data)) {
    ldns_rr_set_type(rr, LDNS_RR_TYPE_SOA);
    push(dname(soa->mname));
    push(dname(soa->rname));
    push(ldns_native2rdf_int32(LDNS_RDF_TYPE_INT32, soa->serial));
    push(ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, soa->refresh));
    push(ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, soa->retry));
    push(ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, soa->expire));
    push(ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, soa->minimum));
  }
  if (!ok) {
    ldns_rr_free(rr);
    return nullptr;
  }
  return rr;
}

/// The response header for `q`: id, RD and the question echoed.
pkt_ptr reply_to(const ldns_pkt* q, dns_rcode rcode) {
  auto r = make_pkt(ldns_pkt_new());
  ldns_pkt_set_id(r.get(), ldns_pkt_id(q));
  ldns_pkt_set_qr(r.get(), true);
  ldns_pkt_set_opcode(r.get(), ldns_pkt_get_opcode(q));
  ldns_pkt_set_rd(r.get(), ldns_pkt_rd(q));
  ldns_pkt_set_rcode(r.get(), static_cast<std::uint8_t>(rcode));
  const ldns_rr_list* question = ldns_pkt_question(q);
  for (std::size_t i = 0; question != nullptr && i < ldns_rr_list_rr_count(question); ++i)
    ldns_pkt_push_rr(r.get(), LDNS_SECTION_QUESTION, ldns_rr_clone(ldns_rr_list_rr(question, i)));
  if (ldns_pkt_edns(q))
    ldns_pkt_set_edns_udp_size(r.get(), 1232);
  return r;
}

std::size_t size_limit(const ldns_pkt* q, bool tcp) {
  if (tcp)
    return 65535;
  if (!ldns_pkt_edns(q))
    return 512;
  return std::clamp<std::size_t>(ldns_pkt_edns_udp_size(q), 512, 4096);
}

/// `r` on the wire within `limit`: additional records dropped first, then
/// answers from the end, with TC set when any was dropped.
std::vector<std::uint8_t> fit(ldns_pkt* r, std::size_t limit) {
  auto wire = to_wire(r);
  bool cut = false;
  auto drop_last = [&](ldns_pkt_section section) {
    ldns_rr_list* list = section == LDNS_SECTION_ADDITIONAL ? ldns_pkt_additional(r)
                                                            : ldns_pkt_answer(r);
    ldns_rr* rr = ldns_rr_list_pop_rr(list);
    if (rr == nullptr)
      return false;
    ldns_rr_free(rr);
    if (section == LDNS_SECTION_ADDITIONAL)
      ldns_pkt_set_arcount(r, static_cast<std::uint16_t>(ldns_rr_list_rr_count(list)));
    else
      ldns_pkt_set_ancount(r, static_cast<std::uint16_t>(ldns_rr_list_rr_count(list)));
    return true;
  };
  while (wire.size() > limit) {
    if (!drop_last(LDNS_SECTION_ADDITIONAL) && !drop_last(LDNS_SECTION_ANSWER))
      break;
    cut = true;
    wire = to_wire(r);
  }
  if (cut) {
    ldns_pkt_set_tc(r, true);
    wire = to_wire(r);
  }
  return wire;
}

} // namespace

expected<dns_endpoint> parse_dns_endpoint(std::string_view text, std::uint16_t default_port) {
  auto bad = [&] {
    return make_error(ec::invalid_argument,
                      "'" + std::string(text) + "' is not ADDR or ADDR:PORT (an IPv4 address)");
  };
  dns_endpoint e;
  e.port = default_port;
  auto colon = text.rfind(':');
  auto host = text.substr(0, colon);
  if (colon != std::string_view::npos) {
    auto port = text.substr(colon + 1);
    if (port.empty() || port.size() > 5)
      return bad();
    std::uint32_t p = 0;
    for (char c : port) {
      if (c < '0' || c > '9')
        return bad();
      p = p * 10 + static_cast<std::uint32_t>(c - '0');
    }
    if (p == 0 || p > 65535)
      return bad();
    e.port = static_cast<std::uint16_t>(p);
  }
  auto ip = parse_ipv4(host);
  if (!ip)
    return bad();
  e.ip = *ip;
  return e;
}

std::string to_string(const dns_endpoint& e) {
  return to_string_ip(e.ip) + ":" + std::to_string(e.port);
}

std::vector<dns_endpoint> resolv_conf_nameservers(std::string_view text) {
  std::vector<dns_endpoint> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    auto word = [&]() {
      while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
        line.remove_prefix(1);
      auto end = line.find_first_of(" \t\r#;");
      auto w = line.substr(0, end);
      line = end == std::string_view::npos ? std::string_view{} : line.substr(end);
      return w;
    };
    if (word() != "nameserver")
      continue;
    if (auto ip = parse_ipv4(word()))
      out.push_back({*ip, 53});
  }
  return out;
}

std::vector<std::uint8_t> servfail_for(std::span<const std::uint8_t> query) {
  if (query.size() < header_size || (query[2] & 0x80) != 0)
    return {};
  ldns_pkt* raw = nullptr;
  if (ldns_wire2pkt(&raw, query.data(), query.size()) != LDNS_STATUS_OK) {
    ldns_pkt_free(raw);
    return bare_reply(query, dns_rcode::servfail);
  }
  auto q = make_pkt(raw);
  auto r = reply_to(q.get(), dns_rcode::servfail);
  ldns_pkt_set_ra(r.get(), true);
  return to_wire(r.get());
}

dns_reply respond(const dns_zone& zone, std::span<const std::uint8_t> query,
                  std::uint64_t shuffle_seed, bool tcp) {
  dns_reply out;
  // Responses are never answered (a reflected packet would loop), and a
  // packet without a header has no id to answer to.
  if (query.size() < header_size || (query[2] & 0x80) != 0)
    return out;
  out.what = dns_reply::kind::answer;
  ldns_pkt* raw = nullptr;
  if (ldns_wire2pkt(&raw, query.data(), query.size()) != LDNS_STATUS_OK) {
    ldns_pkt_free(raw);
    out.wire = bare_reply(query, dns_rcode::formerr);
    return out;
  }
  auto q = make_pkt(raw);
  if (ldns_pkt_get_opcode(q.get()) != LDNS_PACKET_QUERY) {
    out.wire = bare_reply(query, dns_rcode::notimp);
    return out;
  }
  const ldns_rr_list* question = ldns_pkt_question(q.get());
  if (question == nullptr || ldns_rr_list_rr_count(question) != 1) {
    out.wire = to_wire(reply_to(q.get(), dns_rcode::formerr).get());
    return out;
  }
  const ldns_rr* qrr = ldns_rr_list_rr(question, 0);
  std::string qname;
  if (char* text = ldns_rdf2str(ldns_rr_owner(qrr))) {
    qname = text;
    std::free(text);
  }
  auto ans = answer_dns(zone, qname, static_cast<std::uint16_t>(ldns_rr_get_type(qrr)),
                        shuffle_seed);
  if (ans.forward) {
    out.what = dns_reply::kind::forward;
    return out;
  }
  auto qclass = ldns_rr_get_class(qrr);
  if (qclass != LDNS_RR_CLASS_IN && qclass != LDNS_RR_CLASS_ANY) {
    out.wire = to_wire(reply_to(q.get(), dns_rcode::refused).get());
    return out;
  }
  auto r = reply_to(q.get(), ans.rcode);
  ldns_pkt_set_aa(r.get(), true);
  auto push = [&](ldns_pkt_section section, const std::vector<dns_record>& recs) {
    for (const auto& rec : recs)
      if (ldns_rr* rr = to_ldns(rec))
        ldns_pkt_push_rr(r.get(), section, rr);
  };
  push(LDNS_SECTION_ANSWER, ans.answer);
  push(LDNS_SECTION_AUTHORITY, ans.authority);
  push(LDNS_SECTION_ADDITIONAL, ans.additional);
  out.wire = fit(r.get(), size_limit(q.get(), tcp));
  if (out.wire.empty())
    out.wire = bare_reply(query, dns_rcode::servfail);
  return out;
}

} // namespace volant::runtime
