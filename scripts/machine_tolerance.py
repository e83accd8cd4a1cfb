#!/usr/bin/env python3
"""How far each calibration figure moves between processes of one binary on an unchanged
machine, from A/A reports (JSON, `--format json`): per kind of figure, the robust standard
deviation of its log over the reports (1.4826 x the median absolute deviation from each
figure's median, so the runs a busy neighbour disturbed do not set it), and the tolerance a
pair of runs gets, exp(3 x sqrt(2) x that): a difference of two runs beyond three of its
standard deviations. Never below 1 + FLOOR (the gate's default threshold, 10%): a figure that
hardly moves in A/A runs is not called changed for moving less than the change the gate looks
for. CalibrationFigure.tolerance (Sources/GUPBench/Machine/CalibrationFigures.swift) holds, per
figure, the wider of what this gave on the A/A sets of the host the gate was tuned on;
docs/gate.md says how they were made and how they held on reports they were not taken from.

    scripts/machine_tolerance.py REPORT.json...            # the table
    scripts/machine_tolerance.py --check TOL.json REPORT...  # pairs that would exit 4
"""
import json
import math
import statistics
import sys

SKIP = {"llc_bytes", "samples", "rejected_contended", "bytes"}
# Two CPUs of a shared guest rarely run together: contended figures say more about the
# neighbour than about the machine, so they are never compared.
CONTENDED = {"contended_atomic_ns", "contended_lock_pair_ns"}


def figures(report):
    """name -> (value, low, high), as MachineState.read does."""
    calibration = report.get("calibration") or {}
    out = {}

    def add(fields, prefix, suffix):
        spread = fields.get("spread") or {}
        for name, value in fields.items():
            if name in SKIP or isinstance(value, (bool, str, dict, list)) or value is None or value <= 0:
                continue
            rng = spread.get(name) or {}
            out[prefix + name + suffix] = (value, rng.get("min", value), rng.get("max", value))

    add(calibration, "", "")
    for m in calibration.get("memmaps") or []:
        add(m, "memmap_", "@%d" % m["bytes"])
    return out


def kind(name):
    return name.split("@")[0]


FLOOR = 0.10


def tolerances(reports):
    """Per kind of figure (memmaps of every size together): exp(3 sqrt(2) robust sd), at least 1 + FLOOR."""
    logs = {}
    for f in (figures(r) for r in reports):
        for name, (value, _, _) in f.items():
            if kind(name) not in CONTENDED:
                logs.setdefault(kind(name), {}).setdefault(name, []).append(math.log(value))
    tol = {}
    for k, by_name in logs.items():
        deviations = []
        for values in by_name.values():
            m = statistics.median(values)
            deviations += [abs(v - m) for v in values]
        robust_sd = 1.4826 * statistics.median(deviations)
        tol[k] = max(1 + FLOOR, math.exp(3 * math.sqrt(2) * robust_sd))
    return tol


def changed(before, now, tol):
    out = []
    for name in sorted(set(before) & set(now)):
        t = tol.get(kind(name))
        if t is None:
            continue
        (bv, bl, bh), (nv, nl, nh) = before[name], now[name]
        ratio = nv / bv
        if (ratio > t or ratio < 1 / t) and (nl > bh or bl > nh):
            out.append(f"{name} x{ratio:.3f}")
    return out


def main(argv):
    if argv[:1] == ["--check"]:
        tol = json.load(open(argv[1]))
        reports = [json.load(open(p)) for p in argv[2:]]
        pairs = list(zip(reports[0::2], reports[1::2]))
        flagged = 0
        for i, (a, b) in enumerate(pairs, 1):
            c = changed(figures(a), figures(b), tol)
            flagged += bool(c)
            print(f"pair {i}: {'machine changed: ' + ', '.join(c) if c else 'same machine'}")
        print(f"{flagged} of {len(pairs)} pairs would exit 4 on the machine state")
        return 0
    reports = [json.load(open(p)) for p in argv]
    if len(reports) < 2:
        print("machine_tolerance: give at least two reports", file=sys.stderr)
        return 2
    tol = tolerances(reports)
    print(json.dumps({k: round(v, 3) for k, v in sorted(tol.items())}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
