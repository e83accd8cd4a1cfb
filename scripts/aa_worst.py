#!/usr/bin/env python3
"""The largest slowdown of an A/A report made with --baseline, and its Holm-adjusted p-value:
what a threshold has to stay above (scripts/aa-check prints it per pair)."""
import json
import sys

entries = json.load(open(sys.argv[1]))["baseline"]["entries"]
if not entries:
    print("none judged")
    sys.exit(0)
worst = min(entries, key=lambda e: e["speedup"]["median"])
fields = dict(kv.split("=", 1) for kv in worst["scenario"].split())
slowdown = 1 / worst["speedup"]["median"] - 1
p = worst["p_holm"]
p_text = "-" if p is None else f"{p:.2g}"
print(f"{slowdown:+.1%} (Holm p {p_text}, detectable {worst['min_detectable_change']:.0%}) "
      f"{fields.get('strategy')}/{fields.get('impl')} {fields.get('backing')} t{fields.get('threads')}")
