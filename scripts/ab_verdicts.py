#!/usr/bin/env python3
"""What a gate report (`gupbench ab` or `compare --baseline`, --format json) said about the
scenario the slowdown build slowed (unpin-each in C) and about the others (scripts/ab-check).

    ab_verdicts.py AB.json          -> "<1 if unpin-each/c slower else 0> <others slower>"
    ab_verdicts.py --single RUN.json -> the verdict and min_detectable_change of unpin-each/c
    ab_verdicts.py --change AB.json  -> how much slower unpin-each/c measured, and its detectable change
"""
import json
import sys


def is_target(identity):
    fields = dict(kv.split("=", 1) for kv in identity.split())
    return fields.get("strategy") == "unpin-each" and fields.get("impl") == "c"


def main(argv):
    if argv[:1] == ["--change"]:
        for e in json.load(open(argv[1]))["entries"]:
            if is_target(e["scenario"]):
                print(f"{1 / e['speedup']['median'] - 1:+.1%} slower, detectable {e['min_detectable_change']:.0%}")
                return 0
        print("not judged")
        return 0
    if argv[:1] == ["--single"]:
        gate = json.load(open(argv[1]))["baseline"]
        for e in gate["entries"]:
            if is_target(e["scenario"]):
                print(f"(unpin-each/c {e['verdict']}, change {1 / e['speedup']['median'] - 1:+.1%}, "
                      f"detectable {e['min_detectable_change']:.1%}; outcome {gate['outcome']})")
                return 0
        print(f"(unpin-each/c not judged; outcome {gate['outcome']})")
        return 0
    gate = json.load(open(argv[0]))
    hit = sum(1 for e in gate["entries"] if is_target(e["scenario"]) and e["verdict"] == "slower")
    others = sum(1 for e in gate["entries"] if not is_target(e["scenario"]) and e["verdict"] == "slower")
    print(hit, others)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
