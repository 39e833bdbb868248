"""Sums doctest's per-binary summaries from meson's JSON test log and prints
"N passed, N failed". A test binary that failed without a doctest summary (a crash,
a time-out) counts as one failed case. Exits non-zero on failures or on no test."""
import json
import re
import sys

SUMMARY = re.compile(r"\[doctest\] test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed")
passed = failed = 0
try:
    lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
except OSError as e:
    print(f"no test log: {e}", file=sys.stderr)
    lines = []
for line in lines:
    if not line.strip():
        continue
    test = json.loads(line)
    found = SUMMARY.findall(test.get("stdout") or "")
    p, f = (int(found[-1][1]), int(found[-1][2])) if found else (0, 0)
    if test.get("result") not in ("OK", "EXPECTEDFAIL", "SKIP") and f == 0:
        f = 1
    passed += p
    failed += f
print(f"{passed} passed, {failed} failed")
sys.exit(0 if failed == 0 and passed > 0 else 1)
