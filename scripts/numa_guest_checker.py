#!/usr/bin/env python3
"""Checks what gupbench reported inside the two-node QEMU guest.

The guest's /init (written by scripts/numa-guest-check) runs `gupbench topology` and one
`gupbench run` per case below, and prints each command's stdout between markers on the serial
console:

    @@GUPBENCH-BEGIN <name>
    <stdout, the JSON report>
    @@GUPBENCH-END <name> rc=<exit code>
    @@GUPBENCH-STDERR-BEGIN <name>
    <stderr>
    @@GUPBENCH-STDERR-END <name>
    ...
    @@GUPBENCH-DONE

This module parses that console log (kernel lines and CR LF line ends are tolerated outside the
markers), checks the facts the guest must show, and prints a verdict table. Timings under TCG
emulation mean nothing: they are reported, never checked.

    numa_guest_checker.py cases                  the guest's cases, one per line: name<TAB>args
    numa_guest_checker.py check CONSOLE_LOG      verdict table; exit 0 all pass, 1 any failure

Standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field

# Options every guest run shares: small, fast under emulation, one thread, one result.
COMMON_RUN_ARGS = ("run --format json --size 64MiB --backing 4k --threads 1 "
                   "--repetitions 2 --warmup 0")

BIND_MIN_FRACTION = 0.99
INTERLEAVE_SHARE = (0.40, 0.60)


@dataclass(frozen=True)
class Case:
    """One `gupbench run` in the guest and what its placement must show."""
    name: str
    policy: str            # bind or interleave
    mem_node: int | None   # requested node (bind); None for interleave
    cpu_node: int
    what: str

    @property
    def args(self) -> str:
        extra = f"--mem-policy {self.policy} --cpu-node {self.cpu_node}"
        if self.mem_node is not None:
            extra += f" --mem-node {self.mem_node}"
        return f"{COMMON_RUN_ARGS} {extra}"


CASES = (
    Case("remote", "bind", 1, 0, "memory on node 1, threads on node 0"),
    Case("local", "bind", 0, 0, "memory and threads on node 0"),
    Case("node1", "bind", 1, 1, "memory and threads on node 1"),
    Case("interleave", "interleave", None, 0, "memory interleaved, threads on node 0"),
)

TOPOLOGY = "topology"
TOPOLOGY_ARGS = "topology --format json"

MARK = "@@GUPBENCH-"
_BEGIN = re.compile(r"@@GUPBENCH-BEGIN (\S+)\s*$")
_END = re.compile(r"@@GUPBENCH-END (\S+) rc=(-?\d+)\s*$")
_ERR_BEGIN = re.compile(r"@@GUPBENCH-STDERR-BEGIN (\S+)\s*$")
_ERR_END = re.compile(r"@@GUPBENCH-STDERR-END (\S+)\s*$")
_DONE = re.compile(r"@@GUPBENCH-DONE\s*$")
# printk lines that the console may interleave into a section: "[   12.345678] ..."
_KERNEL_LINE = re.compile(r"^\[\s*\d+\.\d+\] ")


@dataclass
class Section:
    """One command's output as read from the console."""
    name: str
    stdout: str = ""
    rc: int | None = None     # None: the END marker never came (guest died or timed out)
    stderr: str = ""

    def report(self) -> tuple[dict | None, str | None]:
        """The JSON report, or None and why not."""
        if self.rc is None:
            return None, "no end marker: the guest stopped before the command finished"
        if not self.stdout.strip():
            return None, f"exit {self.rc}, no output" + _stderr_hint(self.stderr)
        try:
            value = json.loads(self.stdout)
        except json.JSONDecodeError as e:
            return None, f"output is not JSON ({e.msg} at line {e.lineno})"
        if not isinstance(value, dict):
            return None, "output is JSON but not an object"
        return value, None


@dataclass
class Console:
    sections: dict[str, Section] = field(default_factory=dict)
    done: bool = False


def _stderr_hint(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    return f": {lines[-1].strip()}" if lines else ""


def parse_console(text: str) -> Console:
    """Splits a console log into sections by marker. Lines outside markers are ignored."""
    console = Console()
    current: Section | None = None
    in_stderr = False
    buffer: list[str] = []
    for raw in text.replace("\r", "").split("\n"):
        # A marker may follow other text on the same line if the console interleaved them.
        line = raw[raw.index(MARK):] if MARK in raw else raw
        if m := _BEGIN.match(line):
            current, in_stderr, buffer = Section(m.group(1)), False, []
            console.sections[current.name] = current
        elif (m := _END.match(line)) and current and m.group(1) == current.name:
            current.stdout, current.rc = "\n".join(buffer), int(m.group(2))
            buffer = []
        elif (m := _ERR_BEGIN.match(line)) and m.group(1) in console.sections:
            current, in_stderr, buffer = console.sections[m.group(1)], True, []
        elif (m := _ERR_END.match(line)) and current and in_stderr:
            current.stderr, in_stderr, buffer = "\n".join(buffer), False, []
            current = None
        elif _DONE.match(line):
            console.done = True
            current = None
        elif current is not None and not _KERNEL_LINE.match(line):
            buffer.append(line)
    if current is not None and current.rc is None:
        current.stdout = "\n".join(buffer)
    return console


@dataclass
class Row:
    """One line of the verdict table."""
    check: str
    policy: str = "-"
    mem: str = "-"
    cpu: str = "-"
    data: str = "-"
    memmap: str = "-"
    cpus: str = "-"
    audit: str = "-"
    ns_per_page: str = "-"
    failures: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return "FAIL" if self.failures else "PASS"


def _node_counts(placement: dict, key: str) -> dict[int, int]:
    counts = placement.get(key) or {}
    try:
        return {int(k): int(v) for k, v in counts.items()}
    except (AttributeError, TypeError, ValueError):
        return {}


def _spread(counts: dict[int, int]) -> str:
    total = sum(counts.values())
    if not total:
        return "no pages"
    return " ".join(f"n{n} {100 * c / total:.1f}%" for n, c in sorted(counts.items()))


def _fraction_on(node: int, fraction) -> str:
    return f"{100 * fraction:.1f}% on n{node}" if isinstance(fraction, (int, float)) else "-"


def check_topology(console: Console, expect_nodes: int,
                   expect_cpus: dict[int, list[int]] | None) -> tuple[Row, dict[int, list[int]]]:
    """Two nodes, each with CPUs and memory; with expect_cpus, exactly those CPUs."""
    row = Row(TOPOLOGY)
    section = console.sections.get(TOPOLOGY)
    if section is None:
        row.failures.append("no topology output on the console")
        return row, {}
    report, why = section.report()
    if report is None:
        row.failures.append(f"topology: {why}")
        return row, {}
    nodes = report.get("nodes") or []
    node_cpus = {int(n.get("id", -1)): [int(c) for c in n.get("cpus") or []] for n in nodes}
    row.cpus = "; ".join(f"n{n}: {','.join(map(str, cpus)) or 'none'}"
                         for n, cpus in sorted(node_cpus.items()))
    row.data = f"{len(nodes)} node(s)"
    if section.rc != 0:
        row.failures.append(f"topology exited {section.rc}{_stderr_hint(section.stderr)}")
    if not report.get("numa_available", False):
        row.failures.append("libnuma says NUMA is not available")
    if len(nodes) != expect_nodes:
        row.failures.append(f"{len(nodes)} NUMA node(s) seen, expected {expect_nodes}")
    for n in nodes:
        if not n.get("cpus"):
            row.failures.append(f"node {n.get('id')} has no CPUs")
        if not n.get("has_memory", False):
            row.failures.append(f"node {n.get('id')} has no memory")
    if expect_cpus is not None and len(nodes) == expect_nodes:
        for node, cpus in sorted(expect_cpus.items()):
            seen = sorted(node_cpus.get(node, []))
            if seen != sorted(cpus):
                row.failures.append(f"node {node} has CPUs {seen}, expected {sorted(cpus)}")
    return row, node_cpus


def check_case(case: Case, console: Console, node_cpus: dict[int, list[int]],
               nodes: list[int]) -> Row:
    """Placement verified on the requested node (data and memmap), or spread for interleave;
    threads on CPUs of the requested node; audit balanced."""
    row = Row(case.name, policy=case.policy,
              mem="all" if case.mem_node is None else str(case.mem_node), cpu=str(case.cpu_node))
    section = console.sections.get(case.name)
    if section is None:
        row.failures.append("no output on the console")
        return row
    report, why = section.report()
    if report is None:
        row.failures.append(why)
        return row
    if section.rc != 0:
        row.failures.append(f"gupbench exited {section.rc}{_stderr_hint(section.stderr)}")
    results = report.get("results") or []
    if not results:
        row.failures.append("the report has no results")
        return row
    audits, cpus_seen, medians = [], [], []
    for r in results:
        p = r.get("placement") or {}
        data = _node_counts(p, "data_node_pages")
        memmap = _node_counts(p, "memmap_node_pages")
        if r.get("cpu_node") != case.cpu_node:
            row.failures.append(f"cpu_node is {r.get('cpu_node')}, expected {case.cpu_node}")
        if p.get("policy") != case.policy:
            row.failures.append(f"placement policy is {p.get('policy')}, expected {case.policy}")
        if case.mem_node is not None:
            node = case.mem_node
            if p.get("requested_node") != node:
                row.failures.append(f"requested_node is {p.get('requested_node')}, expected {node}")
            row.data = _fraction_on(node, p.get("verified_fraction"))
            row.memmap = _fraction_on(node, p.get("memmap_verified_fraction"))
            for label, key, counts in (("data", "verified_fraction", data),
                                       ("memmap", "memmap_verified_fraction", memmap)):
                fraction = p.get(key)
                if not isinstance(fraction, (int, float)) or fraction < BIND_MIN_FRACTION:
                    row.failures.append(f"{label} {key} {fraction} on node {node} < "
                                        f"{BIND_MIN_FRACTION} (pages per node: {_spread(counts)})")
        else:
            row.data, row.memmap = _spread(data), _spread(memmap)
            total = sum(data.values())
            low, high = INTERLEAVE_SHARE
            for node in nodes:
                share = data.get(node, 0) / total if total else 0.0
                if not low <= share <= high:
                    row.failures.append(f"interleave put {100 * share:.1f}% of the data on node "
                                        f"{node}, outside {100 * low:.0f}-{100 * high:.0f}%")
        cpus = [int(c) for c in r.get("cpus") or []]
        cpus_seen += cpus
        allowed = node_cpus.get(case.cpu_node)
        if not cpus:
            row.failures.append("no CPU ids reported for the threads")
        elif allowed is None:
            row.failures.append(f"node {case.cpu_node} is not in the topology")
        elif bad := [c for c in cpus if c not in allowed]:
            row.failures.append(f"threads ran on CPU(s) {bad}, not on node {case.cpu_node} "
                                f"(CPUs {allowed})")
        audit = r.get("audit") or {}
        audits.append(audit)
        if audit.get("balanced") is not True:
            row.failures.append(f"audit not balanced: {audit.get('detail') or audit}")
        elif audit.get("pins_acquired") != audit.get("pins_released"):
            row.failures.append(f"pins acquired {audit.get('pins_acquired')} != released "
                                f"{audit.get('pins_released')}")
        median = (r.get("ns_per_page") or {}).get("median")
        if isinstance(median, (int, float)):
            medians.append(median)
    row.cpus = ",".join(map(str, cpus_seen)) or "-"
    row.audit = "balanced" if all(a.get("balanced") is True for a in audits) else "UNBALANCED"
    row.ns_per_page = ", ".join(f"{m:.1f}" for m in medians) or "-"
    return row


def check_console(console: Console, expect_nodes: int = 2,
                  expect_cpus: dict[int, list[int]] | None = None) -> list[Row]:
    topology, node_cpus = check_topology(console, expect_nodes, expect_cpus)
    if not console.done:
        topology.failures.append("the guest never printed its end marker (crash or timeout)")
    # Interleave must reach every node expected as well as every node seen.
    expected = set(expect_cpus) if expect_cpus is not None else set(range(expect_nodes))
    nodes = sorted(expected | set(node_cpus))
    return [topology] + [check_case(case, console, node_cpus, nodes) for case in CASES]


HEADER = ("check", "policy", "mem", "cpu", "data pages", "memmap pages", "CPUs",
          "audit", "ns/page*", "verdict")


def render_table(rows: list[Row]) -> str:
    """A markdown table (readable as text too) and the failures under it."""
    cells = [HEADER] + [(r.check, r.policy, r.mem, r.cpu, r.data, r.memmap, r.cpus, r.audit,
                         r.ns_per_page, r.verdict) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]

    def line(c):
        return "| " + " | ".join(v.ljust(w) for v, w in zip(c, widths)) + " |"

    out = [line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(c) for c in cells[1:]]
    out.append("")
    out.append("* median ns per page under TCG emulation: reported, never checked.")
    failed = [r for r in rows if r.failures]
    for r in failed:
        for f in r.failures:
            out.append(f"FAIL {r.check}: {f}")
    passed = len(rows) - len(failed)
    out.append(f"{passed} passed, {len(failed)} failed")
    return "\n".join(out)


def parse_expect_cpus(text: str) -> dict[int, list[int]]:
    """'0=0,1=1' or '0=0+1,1=2+3': node=cpu[+cpu...] per node."""
    out: dict[int, list[int]] = {}
    for item in filter(None, text.split(",")):
        node, _, cpus = item.partition("=")
        out[int(node)] = [int(c) for c in cpus.split("+") if c]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("cases", help="print the guest's commands: name<TAB>gupbench arguments")
    check = sub.add_parser("check", help="check a console log and print the verdict table")
    check.add_argument("console_log")
    check.add_argument("--expect-nodes", type=int, default=2)
    check.add_argument("--expect-node-cpus", type=parse_expect_cpus, default=None,
                       help="node=cpu[+cpu],... as the guest was started, e.g. 0=0,1=1")
    args = parser.parse_args(argv)
    if args.command == "cases":
        print(f"{TOPOLOGY}\t{TOPOLOGY_ARGS}")
        for case in CASES:
            print(f"{case.name}\t{case.args}")
        return 0
    try:
        with open(args.console_log, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as e:
        print(f"numa_guest_checker: cannot read {args.console_log}: {e.strerror}", file=sys.stderr)
        return 2
    rows = check_console(parse_console(text), args.expect_nodes, args.expect_node_cpus)
    print(render_table(rows))
    return 1 if any(r.failures for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
