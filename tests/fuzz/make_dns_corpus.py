#!/usr/bin/env python3
# Writes the seed corpus of the `dns` fuzz target (tests/fuzz/corpus/dns/):
# real query packets (as dig sends them: RD, EDNS) that must be answered or
# forwarded (valid-*), and malformed ones that must be dropped or get FORMERR
# (invalid-*). Run again after changing it: python3 tests/fuzz/make_dns_corpus.py
import os
import struct

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "dns")


def name(text):
    b = b""
    for label in text.rstrip(".").split("."):
        if label:
            b += bytes([len(label)]) + label.encode()
    return b + b"\0"


def header(qid, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack(">HHHHHH", qid, flags, qd, an, ns, ar)


OPT = b"\0" + struct.pack(">HHIH", 41, 1232, 0, 0)  # EDNS0, 1232 bytes


def query(qid, qname, qtype, edns=True, qclass=1):
    q = header(qid, ar=1 if edns else 0) + name(qname) + struct.pack(">HH", qtype, qclass)
    return q + (OPT if edns else b"")


seeds = {
    "valid-a-deployment": query(0x1001, "web.volant.local", 1),
    "valid-a-deployment-no-edns": query(0x1002, "web.volant.local", 1, edns=False),
    "valid-a-mixed-case": query(0x1003, "WeB.VoLaNt.LoCaL", 1),
    "valid-a-vm": query(0x1004, "web-0.web.volant.local", 1),
    "valid-a-lb": query(0x1005, "web-lb.lb.volant.local", 1),
    "valid-srv": query(0x1006, "_http._tcp.web.volant.local", 33),
    "valid-nxdomain": query(0x1007, "nope.volant.local", 1),
    "valid-nodata-aaaa": query(0x1008, "web.volant.local", 28),
    "valid-soa-apex": query(0x1009, "volant.local", 6),
    "valid-any": query(0x100A, "web.volant.local", 255),
    "valid-forward": query(0x100B, "example.com", 1),
    "valid-forward-root": query(0x100C, ".", 2),
    "valid-class-chaos": query(0x100D, "web.volant.local", 16, qclass=3),
    "invalid-empty": b"",
    "invalid-short-header": b"\x12\x34\x01\x00\x00",
    "invalid-header-only-qd1": header(0x2001),
    "invalid-truncated-name": header(0x2002) + b"\x03web\x06vol",
    "invalid-label-past-end": header(0x2003) + b"\x3fabc",
    "invalid-pointer-loop": header(0x2004) + b"\xc0\x0c" + struct.pack(">HH", 1, 1),
    "invalid-pointer-forward": header(0x2005) + b"\xc0\x20" + struct.pack(">HH", 1, 1),
    "invalid-qdcount-2-one-question": header(0x2006, qd=2) + name("web.volant.local")
    + struct.pack(">HH", 1, 1),
    "invalid-no-question": header(0x2007, qd=0),
    "invalid-response-reflected": header(0x2008, flags=0x8180) + name("web.volant.local")
    + struct.pack(">HH", 1, 1),
    "invalid-opcode-update": header(0x2009, flags=0x2800) + name("volant.local")
    + struct.pack(">HH", 6, 1),
    "invalid-ancount-lies": header(0x200A, an=5) + name("web.volant.local")
    + struct.pack(">HH", 1, 1),
    "invalid-name-too-long": header(0x200B) + b"".join(b"\x3f" + b"a" * 63 for _ in range(5))
    + b"\0" + struct.pack(">HH", 1, 1),
}

os.makedirs(out, exist_ok=True)
for n, data in seeds.items():
    with open(os.path.join(out, n), "wb") as f:
        f.write(data)
print(f"{len(seeds)} seeds in {out}")
