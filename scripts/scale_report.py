#!/usr/bin/env python3
"""Scale every timing figure of a gupbench/1 report: the result's `ns_per_page` object (median,
min, max, CI bounds, samples, rounds, round medians, per-thread figures) is multiplied by FACTOR;
the ratios in it (cv, within/between-round cv) are left alone. A baseline scaled by 0.87 looks
15% faster than it was, so a fresh run against it is a known 15% regression."""
import json
import sys

TIMINGS = ("median", "min", "max", "ci95_low", "ci95_high", "samples", "rounds", "round_medians", "per_thread")


def scale(value, factor):
    if isinstance(value, list):
        return [scale(v, factor) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value * factor
    return value


def main(argv):
    if len(argv) != 4:
        print("usage: scale_report.py REPORT.json FACTOR OUT.json", file=sys.stderr)
        return 2
    try:
        factor = float(argv[2])
    except ValueError:
        print(f"scale_report.py: FACTOR '{argv[2]}' is not a number; give e.g. 0.87", file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        report = json.load(f)
    for result in report.get("results", []):
        ns = result.get("ns_per_page", {})
        for key in TIMINGS:
            if key in ns:
                ns[key] = scale(ns[key], factor)
    with open(argv[3], "w") as f:
        json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
