#include "events/dns.hpp"

#include "events/plan.hpp"

#include <algorithm>

namespace volant {

namespace {

/// splitmix64: a small, well-mixed generator whose sequence is the same on
/// every platform (std::shuffle's is the library's choice).
struct mixer {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
};

template <class T>
void shuffle(std::vector<T>& v, std::uint64_t seed) {
  mixer m{seed};
  for (std::size_t i = v.size(); i > 1; --i)
    std::swap(v[i - 1], v[m.next() % i]);
}

const std::string zone_suffix = "." + std::string(dns_zone_name);

std::string absolute(std::string_view rel) {
  return rel.empty() ? std::string(dns_zone_name) + "."
                     : std::string(rel) + zone_suffix + ".";
}

dns_record soa_of(const dns_zone& zone) {
  dns_soa soa;
  soa.mname = absolute("ns");
  soa.rname = absolute("hostmaster");
  soa.serial = zone.serial;
  return {absolute(""), dns_ttl, soa};
}

std::vector<std::string_view> labels_of(std::string_view rel) {
  std::vector<std::string_view> out;
  while (!rel.empty()) {
    auto dot = rel.find('.');
    out.push_back(rel.substr(0, dot));
    if (dot == std::string_view::npos)
      break;
    rel.remove_prefix(dot + 1);
    if (rel.empty())
      out.emplace_back(); // "a." : an empty last label, never a name of ours
  }
  return out;
}

bool wants(std::uint16_t qtype, dns_type t) {
  return qtype == static_cast<std::uint16_t>(t) || qtype == static_cast<std::uint16_t>(dns_type::any);
}

/// Answers for a name that exists: `records` if the question asks for their
/// type, else NODATA (NOERROR, the SOA as authority).
struct builder {
  const dns_zone& zone;
  std::uint16_t qtype;
  std::string owner;
  dns_answer out;

  dns_answer nxdomain() {
    out.rcode = dns_rcode::nxdomain;
    out.authority = {soa_of(zone)};
    return std::move(out);
  }
  dns_answer done() {
    if (out.answer.empty())
      out.authority = {soa_of(zone)};
    return std::move(out);
  }
  void a(ipv4 ip) {
    if (ip != 0 && wants(qtype, dns_type::a))
      out.answer.push_back({owner, dns_ttl, ip});
  }
};

} // namespace

dns_type dns_record::type() const {
  if (std::holds_alternative<ipv4>(data))
    return dns_type::a;
  if (std::holds_alternative<dns_srv>(data))
    return dns_type::srv;
  return dns_type::soa;
}

std::string normalize_dns_name(std::string_view qname) {
  if (!qname.empty() && qname.back() == '.')
    qname.remove_suffix(1);
  std::string out(qname);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return out;
}

dns_zone project_dns(const world& w, const lb_defaults& lbd) {
  dns_zone z;
  z.serial = static_cast<std::uint32_t>(w.last_seq);
  for (const auto& [name, d] : w.deployments) {
    auto& dd = z.deployments[name];
    auto hc = effective_health_check(w, d);
    if (const auto* http = std::get_if<http_check>(&hc.probe); hc.enabled && http != nullptr)
      dd.http_port = http->port;
  }
  // One pass over the VMs (vms_of per deployment would be quadratic); the
  // slot's answer is its ready VM of the newest revision.
  std::map<std::string, std::uint64_t> slot_revision;
  std::vector<const vm_record*> ready;
  for (const auto& [key, vm] : w.vms) {
    auto slot = std::string(slot_name(key));
    auto& dd = z.deployments[vm.deployment];
    dd.slots.try_emplace(slot, 0);
    if (vm.status != vm_status::ready)
      continue;
    ready.push_back(&vm);
    auto [it, fresh] = slot_revision.try_emplace(slot, vm.revision);
    if (fresh || vm.revision >= it->second) {
      it->second = vm.revision;
      dd.slots[slot] = vm.ip;
    }
  }
  std::sort(ready.begin(), ready.end(), [](const vm_record* a, const vm_record* b) {
    return std::tie(a->deployment, a->index, a->revision, a->name)
           < std::tie(b->deployment, b->index, b->revision, b->name);
  });
  for (const auto* vm : ready)
    z.deployments[vm->deployment].ready.push_back({std::string(slot_name(vm->name)), vm->ip});
  for (const auto& lb : project_lbs(w, lbd))
    if (auto ip = parse_ipv4(lb.listen); ip && *ip != 0)
      z.lbs[lb.spec.name] = *ip;
  return z;
}

dns_answer answer_dns(const dns_zone& zone, std::string_view qname, std::uint16_t qtype,
                      std::uint64_t shuffle_seed) {
  auto name = normalize_dns_name(qname);
  std::string_view rel = name;
  if (rel == dns_zone_name)
    rel = {};
  else if (rel.ends_with(zone_suffix) && rel.size() > zone_suffix.size())
    rel.remove_suffix(zone_suffix.size());
  else {
    dns_answer fwd;
    fwd.forward = true;
    return fwd;
  }

  builder b{zone, qtype, absolute(rel), {}};
  b.out.rcode = dns_rcode::noerror;
  auto labels = labels_of(rel);
  auto deployment = [&](std::string_view n) -> const dns_deployment* {
    auto it = zone.deployments.find(std::string(n));
    return it == zone.deployments.end() ? nullptr : &it->second;
  };

  if (labels.empty()) { // the apex
    if (wants(qtype, dns_type::soa))
      b.out.answer.push_back(soa_of(zone));
    return b.done();
  }
  if (labels.size() == 1) {
    if (const auto* d = deployment(labels[0])) {
      std::vector<ipv4> ips;
      for (const auto& h : d->ready)
        ips.push_back(h.ip);
      shuffle(ips, shuffle_seed);
      for (auto ip : ips)
        b.a(ip);
      return b.done();
    }
    if (labels[0] == "lb" && !zone.lbs.empty())
      return b.done(); // has names below it
    return b.nxdomain();
  }
  if (labels.size() == 2) {
    if (labels[1] == "lb")
      if (auto it = zone.lbs.find(std::string(labels[0])); it != zone.lbs.end()) {
        b.a(it->second);
        return b.done();
      }
    if (const auto* d = deployment(labels[1])) {
      if (auto it = d->slots.find(std::string(labels[0])); it != d->slots.end()) {
        b.a(it->second);
        return b.done();
      }
      if (labels[0] == "_tcp" && d->http_port != 0)
        return b.done();
    }
    return b.nxdomain();
  }
  if (labels.size() == 3 && labels[0] == "_http" && labels[1] == "_tcp") {
    const auto* d = deployment(labels[2]);
    if (d == nullptr || d->http_port == 0)
      return b.nxdomain();
    if (!wants(qtype, dns_type::srv))
      return b.done();
    std::vector<std::pair<std::string, ipv4>> targets;
    for (const auto& [slot, ip] : d->slots)
      if (ip != 0)
        targets.emplace_back(slot, ip);
    shuffle(targets, shuffle_seed);
    for (const auto& [slot, ip] : targets) {
      auto target = absolute(slot + "." + std::string(labels[2]));
      b.out.answer.push_back({b.owner, dns_ttl, dns_srv{0, 1, d->http_port, target}});
      b.out.additional.push_back({target, dns_ttl, ip});
    }
    return b.done();
  }
  return b.nxdomain();
}

} // namespace volant
