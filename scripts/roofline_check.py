#!/usr/bin/env python3
"""Across gupbench/1 JSON reports: how often a result beat its roofline beyond its CI
(ci95_high below the roofline), and each strategy's median efficiency, overall and per
backing x threads. The check behind docs/roofline.md's numbers:

    scripts/roofline_check.py .build/aa-check/*.json
"""
import json
import statistics
import sys
from collections import defaultdict


def main(paths):
    if not paths:
        print("usage: roofline_check.py REPORT.json...", file=sys.stderr)
        return 2
    beaten, results = [], 0
    eff = defaultdict(list)
    cell = defaultdict(list)
    for path in paths:
        with open(path) as f:
            report = json.load(f)
        for r in report.get("results", []):
            roof, ns = r.get("roofline_ns_per_page"), r.get("ns_per_page", {})
            if roof is None or ns.get("median") is None:
                continue
            results += 1
            if ns["ci95_high"] is not None and roof > ns["ci95_high"]:
                beaten.append((path, r["strategy"], r["backing"], r["threads"], r.get("roofline_wrong_terms")))
            e = min(1.0, roof / ns["median"])
            eff[r["strategy"]].append(e)
            cell[(r["strategy"], r["backing"], r["threads"])].append(e)
    print(f"{len(paths)} reports, {results} results; beyond-CI roofline violations: {len(beaten)}")
    for b in beaten:
        print("  beaten:", *b)
    print("median efficiency per strategy (all results):")
    for s, xs in eff.items():
        print(f"  {s:14} {statistics.median(xs):.2f}  (n={len(xs)})")
    print("median efficiency per strategy, backing, threads:")
    for (s, b, t), xs in sorted(cell.items()):
        print(f"  {s:14} {b:4} t{t}  {statistics.median(xs):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
