"""Plots of a gupbench JSON report (schema gupbench/1, docs/report-schema.md).

    python plot_report.py REPORT.json [--out DIR]

Writes strategies.png (every strategy as a bar with its 95% CI, per scenario) and, when the
report carries "sweep": {"param", "values"}, sweep.png (ns/page and the batched strategies'
speedup over unpin-each against the swept parameter). Prints the paths written, one a line.
Run through scripts/plot, which provides matplotlib in a virtual environment of its own.

Exit codes: 0 written; 1 the output cannot be written; 2 invalid usage or not a gupbench report.
"""

import argparse
import json
import math
import os
import sys

SCHEMA = "gupbench/1"

# The strategies of docs/model.md, in the order a reader compares them: per-page first, then batched.
STRATEGIES = ["put-page", "unpin-each", "unpin-batched", "unpin-range", "unpin-folios",
              "io-uring-release", "release-pages"]
KERNEL_ANALOGUE = {
    "put-page": "put_page() per page",
    "unpin-each": "unpin_user_page() per page",
    "unpin-batched": "unpin_user_pages()",
    "unpin-range": "unpin_user_page_range_dirty_lock()",
    "unpin-folios": "unpin_folios()",
    "io-uring-release": "io_release_ubuf()",
    "release-pages": "release_pages()",
}
COLORS = {
    "put-page": "#8c8c8c",
    "unpin-each": "#d9622b",
    "unpin-batched": "#2b6cb0",
    "unpin-range": "#2f9e5b",
    "unpin-folios": "#8e5bb5",
    "io-uring-release": "#c49a1a",
    "release-pages": "#4a4a4a",
}
# Strategies compared against unpin-each (the report's comparisons name the same pairs).
BATCHED = ("unpin-batched", "unpin-range", "unpin-folios", "io-uring-release")
IMPLS = ["swift", "c"]

# The sweep parameter (`gupbench sweep <param>`) and the result key that holds its value.
SWEEP_KEYS = {"threads": "threads", "size": "size_bytes", "folio-order": "folio_order", "batch": "batch"}

# Result keys that together name a scenario (everything but strategy and impl). A report lists
# its own identity keys (`identity_keys`); load_report() takes the scenario keys from there, so
# this list is only the fallback for reports written before the key existed.
SCENARIO_KEYS = ["size_bytes", "backing", "folio_order", "threads", "sharing", "layout", "dirty",
                 "batch", "mem_node", "cpu_node", "mem_policy"]
LOOP_KEYS = ("strategy", "impl")

LINESTYLES = ["-", "--", ":", "-."]
# strategies.png wraps into another row past this many bars.
BARS_PER_ROW = 24
MARKERS = ["o", "s", "^", "D", "v", "P"]


class UsageError(Exception):
    """Not a report this script can plot: exit 2."""


# --- reading ---------------------------------------------------------------------------------

def load_report(path):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}")
    try:
        report = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise UsageError(f"{path} is not JSON ({e}); expected a gupbench report "
                         f"(gupbench compare --format json)")
    if not isinstance(report, dict) or not isinstance(report.get("schema"), str) \
            or not report["schema"].startswith("gupbench/"):
        schema = report.get("schema") if isinstance(report, dict) else None
        found = f"schema is {schema!r}" if schema is not None else "no \"schema\" key"
        raise UsageError(f"{path} is not a gupbench report ({found}; expected \"{SCHEMA}\")")
    if report["schema"] != SCHEMA:
        raise UsageError(f"{path} has schema {report['schema']!r}; this script reads \"{SCHEMA}\"")
    results = report.get("results")
    if not isinstance(results, list) or not results:
        raise UsageError(f"{path} has no results to plot (\"results\" is empty or missing)")
    for i, r in enumerate(results):
        if not isinstance(r, dict) or not isinstance(r.get("ns_per_page"), dict) \
                or not isinstance(r["ns_per_page"].get("median"), (int, float)) \
                or not isinstance(r.get("strategy"), str):
            raise UsageError(f"{path}: results[{i}] lacks strategy or ns_per_page.median")
    keys = report.get("identity_keys")
    if isinstance(keys, list) and all(isinstance(k, str) for k in keys):
        SCENARIO_KEYS[:] = [k for k in keys if k not in LOOP_KEYS]
    sweep = report.get("sweep")
    if sweep is not None:
        param = sweep.get("param") if isinstance(sweep, dict) else None
        if param not in SWEEP_KEYS:
            raise UsageError(f"{path}: sweep.param {param!r} is not one of "
                             f"{', '.join(SWEEP_KEYS)}")
    return report


# --- labels and formatting -------------------------------------------------------------------

def fmt_bytes(n):
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift}{unit}"
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f}GiB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f}MiB"
    return f"{n}B"


def fmt_num(x):
    """Three significant figures, no exponent for the ns/page range."""
    if x is None or not math.isfinite(x):
        return "n/a"
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def fmt_speedup(x):
    return f"{x:.0f}" if x >= 10 else f"{x:.1f}"


def batch_of(r):
    """The batch as the user asked for it: 'whole' when one call released the whole share."""
    b = r.get("batch")
    if b is None or b == r.get("pages_per_thread"):
        return "whole"
    return b


def scenario_of(r):
    return tuple(batch_of(r) if k == "batch" else r.get(k) for k in SCENARIO_KEYS)


def backing_text(r):
    """'4k · order 0', 'thp · order 9', with the verified THP share when it is not all."""
    text = f"{r.get('backing')} · order {r.get('folio_order')}"
    if r.get("folio_order_forced"):
        text += " (forced)"
    frac = r.get("thp_backed_fraction")
    if r.get("backing") != "4k" and isinstance(frac, (int, float)) and frac < 0.995:
        text += f"\n{frac:.0%} THP-backed"
    return text


def field_text(key, value):
    if key == "size_bytes":
        return fmt_bytes(value)
    if key == "threads":
        return f"{value} thread" + ("" if value == 1 else "s")
    if key == "folio_order":
        return f"order {value}"
    if key == "batch":
        return "batch: whole share" if value == "whole" else f"batch {value}"
    if key == "mem_node":
        return "mem: interleave" if value is None else f"mem node {value}"
    if key == "cpu_node":
        return f"cpu node {value}"
    if key == "dirty":
        return "clean" if value == "none" else str(value)
    return str(value)


def varying(records, keys, always=()):
    """Keys whose value differs between records (plus `always`), in `keys` order; folio_order
    is left out where the backing already determines it."""
    shown = [k for k in keys if k in always or len({rec[k] for rec in records}) > 1]
    if "folio_order" in shown and "backing" in shown and "folio_order" not in always:
        per_backing = {}
        for rec in records:
            per_backing.setdefault(rec["backing"], set()).add(rec["folio_order"])
        if all(len(v) == 1 for v in per_backing.values()):
            shown.remove("folio_order")
    return shown


def machine_line(report):
    m = report.get("machine") or {}
    parts = []
    if m.get("cpu_model"):
        parts.append(str(m["cpu_model"]))
    if m.get("kernel"):
        parts.append(f"Linux {m['kernel']}")
    if m.get("cpus") is not None:
        nodes = m.get("numa_nodes")
        parts.append(f"{m['cpus']} CPUs" + (f", {nodes} NUMA node" + ("s" if nodes != 1 else "")
                                             if nodes is not None else ""))
    if m.get("thp_mode"):
        parts.append(f"THP {m['thp_mode']}")
    return " · ".join(parts) if parts else "machine unknown"


def run_line(report, records):
    """What was run, for the subtitle: command, size (when one), repetitions, commit."""
    parts = []
    if report.get("command"):
        parts.append(f"gupbench {report['command']}")
    sizes = {rec["size_bytes"] for rec in records if rec.get("size_bytes")}
    if len(sizes) == 1:
        parts.append(fmt_bytes(sizes.pop()))
    reps = {rec["result"].get("repetitions") for rec in records}
    if len(reps) == 1 and None not in reps:
        parts.append(f"{reps.pop()} repetitions")
    commit = (report.get("machine") or {}).get("git_commit")
    if commit and commit != "unknown":
        parts.append(f"commit {commit}")
    return " · ".join(parts)


def plain_ticks(ax):
    """Tick labels as plain numbers (0.1, 1, 10), not powers of ten; no minor labels."""
    from matplotlib.ticker import FuncFormatter, NullFormatter
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: f"{y:g}"))
    if ax.get_yscale() == "log":
        ax.yaxis.set_minor_formatter(NullFormatter())


def strategy_rank(strategy):
    return STRATEGIES.index(strategy) if strategy in STRATEGIES else len(STRATEGIES)


def series_label(strategy, impl, impls):
    return strategy if len(impls) == 1 else f"{strategy} ({impl})"


# --- strategies.png --------------------------------------------------------------------------

def plot_strategies(report, out_path, plt):
    results = report["results"]
    recs = []
    for r in results:
        rec = {k: r.get(k) for k in SCENARIO_KEYS}
        rec["batch"] = batch_of(r)
        rec.update(strategy=r["strategy"], impl=r.get("impl", "swift"), result=r)
        recs.append(rec)
    impls = sorted({rec["impl"] for rec in recs}, key=lambda i: IMPLS.index(i) if i in IMPLS else 9)

    groups = {}
    for rec in recs:
        groups.setdefault(scenario_of(rec["result"]), []).append(rec)
    group_keys = list(groups)  # report order: the order the matrix ran in
    label_keys = varying(recs, SCENARIO_KEYS, always=("backing", "threads"))

    speedups = comparison_index(report)

    # Rows of at most BARS_PER_ROW bars, so a large matrix wraps instead of squeezing labels.
    bars_per_group = max(len(g) for g in groups.values())
    n_groups = len(groups)
    per_row = max(1, min(n_groups, BARS_PER_ROW // bars_per_group))
    rows = math.ceil(n_groups / per_row)
    width = min(24.0, max(8.0, 1.6 + per_row * (0.62 * bars_per_group + 0.7)))
    fig, axes = plt.subplots(rows, 1, figsize=(width, 1.9 + 4.3 * rows), sharey=True,
                             layout="constrained", squeeze=False)
    axes = axes[:, 0]

    lows, highs = [], []
    bar_w = 0.8 / bars_per_group
    for row, ax in enumerate(axes):
        x_ticks, x_labels = [], []
        for gi, key in enumerate(group_keys[row * per_row:(row + 1) * per_row]):
            members = sorted(groups[key], key=lambda rec: (
                strategy_rank(rec["strategy"]), IMPLS.index(rec["impl"]) if rec["impl"] in IMPLS else 9))
            first = gi - 0.4 + bar_w / 2 + (bars_per_group - len(members)) * bar_w / 2
            for bi, rec in enumerate(members):
                r = rec["result"]
                npp = r["ns_per_page"]
                med = float(npp["median"])
                lo = float(npp.get("ci95_low", med))
                hi = float(npp.get("ci95_high", med))
                lows.append(min(lo, med))
                highs.append(max(hi, med))
                x = first + bi * bar_w
                color = COLORS.get(rec["strategy"], "#666666")
                is_c = rec["impl"] == "c"
                balanced = (r.get("audit") or {}).get("balanced", True)
                ax.bar(x, med, width=bar_w * 0.92, color=color, alpha=0.55 if is_c else 0.9,
                       hatch="//" if is_c else None, edgecolor="#b00000" if not balanced else "white",
                       linewidth=2.0 if not balanced else 0.5, zorder=2)
                ax.errorbar(x, med, yerr=[[max(0.0, med - lo)], [max(0.0, hi - med)]], fmt="none",
                            ecolor="#222222", elinewidth=1.1, capsize=3, zorder=3)
                text = fmt_num(med)
                sp = speedups.get((key_for_comparison(r), rec["impl"], rec["strategy"]))
                if sp is not None and rec["strategy"] in BATCHED:
                    text += f"\n×{fmt_speedup(sp['median'])}"
                if not balanced:
                    text += "\naudit ✗"
                ax.annotate(text, (x, max(hi, med)), xytext=(0, 3), textcoords="offset points",
                            ha="center", va="bottom", fontsize=7.5, color="#222222", zorder=4)
            x_ticks.append(gi)
            rec0 = groups[key][0]
            x_labels.append("\n".join(
                backing_text(rec0["result"]) if k == "backing" else field_text(k, rec0[k])
                for k in label_keys if k != "folio_order"))
        ax.set_xticks(x_ticks, x_labels, fontsize=9)
        ax.set_xlim(-0.6, per_row - 0.4)

    log = min(lows) > 0 and max(highs) / min(lows) > 100
    ax = axes[0]
    if log:
        ax.set_yscale("log")
        ax.set_ylim(min(lows) / 1.6, max(highs) * 3.0)
    else:
        ax.set_ylim(0, max(highs) * 1.22)
    for a in axes:
        a.set_ylabel("ns per page released\n(median, 95% CI)" + (", log scale" if log else ""))
        plain_ticks(a)
        a.grid(axis="y", which="major", color="#dddddd", zorder=0)
        a.set_axisbelow(True)
        for side in ("top", "right"):
            a.spines[side].set_visible(False)

    title = "Page release cost per strategy"
    ax.set_title(f"{title}\n{machine_line(report)}\n{run_line(report, recs)}", fontsize=10.5,
                 loc="left")

    handles, labels = [], []
    from matplotlib.patches import Patch
    for s in sorted({rec["strategy"] for rec in recs}, key=strategy_rank):
        for impl in impls:
            if not any(rec["strategy"] == s and rec["impl"] == impl for rec in recs):
                continue
            handles.append(Patch(facecolor=COLORS.get(s, "#666666"), alpha=0.55 if impl == "c" else 0.9,
                                 hatch="//" if impl == "c" else None, edgecolor="white"))
            labels.append(f"{series_label(s, impl, impls)} — {KERNEL_ANALOGUE.get(s, '')}")
    note = "bar label: median ns/page; ×N: speedup over unpin-each (same scenario)"
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(handles), 2),
               fontsize=9, frameon=False, title=note, title_fontsize=8)
    fig.savefig(out_path, dpi=120)
    plt.close(fig)


def key_for_comparison(r):
    """The fields a comparison record shares with its candidate result."""
    return tuple(r.get(k) for k in SCENARIO_KEYS if k not in ("batch", "detect"))


def comparison_index(report):
    """(scenario, impl, candidate) -> speedup over unpin-each in the same implementation."""
    index = {}
    for c in report.get("comparisons") or []:
        if not isinstance(c, dict) or c.get("baseline") != "unpin-each":
            continue
        impl = c.get("candidate_impl", "swift")
        if c.get("baseline_impl", impl) != impl or not isinstance(c.get("speedup"), dict):
            continue
        index[(key_for_comparison(c), impl, c.get("candidate"))] = c["speedup"]
    return index


# --- sweep.png -------------------------------------------------------------------------------

MAX_COLUMNS = 4


def plot_sweep(report, out_path, plt):
    """Top row: ns/page against the swept value, one line per strategy; bottom row: speedup of
    each batched strategy over unpin-each. One column per variant (e.g. backing) when there are
    at most MAX_COLUMNS of them, else one column with a line style per variant."""
    sweep = report["sweep"]
    param = sweep["param"]
    xkey = SWEEP_KEYS[param]
    recs = []
    for r in report["results"]:
        rec = {k: r.get(k) for k in SCENARIO_KEYS}
        # Batch follows the share size when it is the whole share: no variant of its own.
        rec["batch"] = r.get("batch") if param == "batch" else batch_of(r)
        rec.update(strategy=r["strategy"], impl=r.get("impl", "swift"), result=r)
        recs.append(rec)
    impls = sorted({rec["impl"] for rec in recs}, key=lambda i: IMPLS.index(i) if i in IMPLS else 9)
    rest_keys = varying(recs, [k for k in SCENARIO_KEYS if k != xkey])
    variants = []
    for rec in recs:
        v = tuple(rec[k] for k in rest_keys)
        if v not in variants:
            variants.append(v)
    columns = len(variants) if 1 < len(variants) <= MAX_COLUMNS else 1

    def variant_label(v):
        parts = []
        for k, val in zip(rest_keys, v):
            if k == "backing" and "folio_order" not in rest_keys and xkey != "folio_order":
                orders = {rec["folio_order"] for rec in recs if rec["backing"] == val}
                parts.append(f"{val} · order {orders.pop()}" if len(orders) == 1 else str(val))
            else:
                parts.append(field_text(k, val))
        return ", ".join(parts)

    def place(v):
        """(column, line style, marker) of a variant."""
        vi = variants.index(v) if v in variants else 0
        if columns > 1:
            return vi, "-", "o"
        return 0, LINESTYLES[vi % len(LINESTYLES)], MARKERS[vi % len(MARKERS)]

    fig, axes = plt.subplots(2, columns, figsize=(4.2 + 4.6 * columns, 9.0), sharex=True,
                             sharey="row", layout="constrained", height_ratios=[3, 2], squeeze=False)
    ns_axes, sp_axes = axes[0], axes[1]

    def draw(ax, xs, med, lo, hi, color, style, marker, faint=False):
        ax.plot(xs, med, linestyle=style, color=color, marker=marker, markersize=5, linewidth=1.8,
                alpha=0.6 if faint else 1.0)
        ax.fill_between(xs, lo, hi, color=color, alpha=0.15, linewidth=0)

    # ns/page: one line per (strategy, impl, variant).
    series = {}
    for rec in recs:
        if rec["result"].get(xkey) is None:
            continue
        series.setdefault((rec["strategy"], rec["impl"], tuple(rec[k] for k in rest_keys)), []).append(rec)
    lows, highs, xs_all = [], [], set()
    for (strategy, impl, v), members in series.items():
        members.sort(key=lambda rec: rec["result"][xkey])
        xs = [rec["result"][xkey] for rec in members]
        npp = [rec["result"]["ns_per_page"] for rec in members]
        med = [float(n["median"]) for n in npp]
        lo = [float(n.get("ci95_low", m)) for n, m in zip(npp, med)]
        hi = [float(n.get("ci95_high", m)) for n, m in zip(npp, med)]
        xs_all.update(xs)
        lows += lo
        highs += hi
        col, style, marker = place(v)
        draw(ns_axes[col], xs, med, lo, hi, COLORS.get(strategy, "#666666"),
             ":" if impl == "c" else style, marker, faint=impl == "c")
    log = min(lows) > 0 and max(highs) / min(lows) > 100
    if log:
        ns_axes[0].set_yscale("log")
        ns_axes[0].set_ylim(min(lows) / 1.5, max(highs) * 1.5)
    else:
        ns_axes[0].set_ylim(0, max(highs) * 1.1)
    ns_axes[0].set_ylabel("ns per page released\n(median, 95% CI band)" + (", log scale" if log else ""))

    # Speedup of each batched strategy over unpin-each, from the report's comparisons.
    by_scenario = {}
    for rec in recs:
        by_scenario.setdefault((key_for_comparison(rec["result"]), rec["impl"], rec["strategy"]), []).append(rec)
    sp_series = {}
    for c in report.get("comparisons") or []:
        if not isinstance(c, dict) or c.get("baseline") != "unpin-each" or c.get("candidate") not in BATCHED:
            continue
        impl = c.get("candidate_impl", "swift")
        if c.get("baseline_impl", impl) != impl or not isinstance(c.get("speedup"), dict):
            continue
        match = by_scenario.get((key_for_comparison(c), impl, c["candidate"]))
        if not match:
            continue
        # A comparison's batch is null for the whole share: x comes from its candidate result.
        if c.get("batch") is not None and param == "batch":
            match = [m for m in match if m["result"].get("batch") == c["batch"]] or match
        rec = match[0]
        x = rec["result"].get(xkey)
        if x is not None:
            sp_series.setdefault((c["candidate"], impl, tuple(rec[k] for k in rest_keys)), []).append(
                (x, c["speedup"]))
    sp_values = []
    for (strategy, impl, v), points in sp_series.items():
        points.sort(key=lambda p: p[0])
        xs = [p[0] for p in points]
        med = [float(p[1]["median"]) for p in points]
        lo = [float(p[1].get("ci95_low", m)) for p, m in zip(points, med)]
        hi = [float(p[1].get("ci95_high", m)) for p, m in zip(points, med)]
        sp_values += lo + hi + med
        col, style, marker = place(v)
        draw(sp_axes[col], xs, med, lo, hi, COLORS.get(strategy, "#666666"),
             ":" if impl == "c" else style, marker)
    for ax in sp_axes:
        ax.axhline(1.0, color="#555555", linewidth=1, linestyle="--", zorder=1)
    sp_axes[0].set_ylabel("speedup over unpin-each\n(median, 95% CI band; dashed: 1 = equal)")
    positive = [y for y in sp_values if y > 0]
    if not sp_series:
        for ax in sp_axes:
            ax.text(0.5, 0.5, "no unpin-each comparisons", transform=ax.transAxes,
                    ha="center", va="center", color="#777777")
    elif positive and max(positive) / min(positive + [1.0]) > 10:
        # Ratios: a log axis shows 2x faster and 2x slower alike, and keeps 1.0 in view.
        sp_axes[0].set_yscale("log")
        sp_axes[0].set_ylim(min(positive + [1.0]) / 1.5, max(positive) * 1.5)
    else:
        sp_axes[0].set_ylim(0, max(1.2, max(sp_values) * 1.12))

    # x axis: the swept values, log2-spaced when they span a factor of 8 or more.
    values = sorted({v for v in (sweep.get("values") or []) if isinstance(v, (int, float))} | xs_all)
    if values and min(values) > 0 and max(values) / min(values) >= 8:
        sp_axes[0].set_xscale("log", base=2)
    if values:
        shown = values if len(values) <= 12 else values[::math.ceil(len(values) / 12)]
        sp_axes[0].set_xticks(shown, [fmt_bytes(v) if xkey == "size_bytes" else f"{v:g}" for v in shown])
        sp_axes[0].minorticks_off()
        pad = 0.06 * (max(values) - min(values) or 1)
        if sp_axes[0].get_xscale() == "linear":
            sp_axes[0].set_xlim(min(values) - pad, max(values) + pad)
    xlabel = {"threads": "threads (each pinned to its own CPU)", "size": "region size",
              "folio-order": "folio order (pages per folio = 2^order)",
              "batch": "pages per release call"}[param]
    for ax in list(ns_axes) + list(sp_axes):
        ax.grid(color="#e2e2e2", zorder=0)
        plain_ticks(ax)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    for col in range(columns):
        sp_axes[col].set_xlabel(xlabel)
        if columns > 1:
            ns_axes[col].set_title(variant_label(variants[col]), fontsize=10)

    fig.suptitle(f"Page release cost against {param}\n{machine_line(report)}\n{run_line(report, recs)}",
                 fontsize=10.5, x=0.01, ha="left")

    from matplotlib.lines import Line2D
    handles, labels = [], []
    for s in sorted({rec["strategy"] for rec in recs}, key=strategy_rank):
        for impl in impls:
            if any(rec["strategy"] == s and rec["impl"] == impl for rec in recs):
                handles.append(Line2D([], [], color=COLORS.get(s, "#666666"), linewidth=2.5,
                                      linestyle=":" if impl == "c" else "-"))
                labels.append(f"{series_label(s, impl, impls)} — {KERNEL_ANALOGUE.get(s, '')}")
    if columns == 1 and len(variants) > 1:
        for vi, v in enumerate(variants):
            handles.append(Line2D([], [], color="#333333", linestyle=LINESTYLES[vi % len(LINESTYLES)],
                                  marker=MARKERS[vi % len(MARKERS)]))
            labels.append(variant_label(v))
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=9, frameon=False)
    fig.savefig(out_path, dpi=120)
    plt.close(fig)


# --- entry -----------------------------------------------------------------------------------

def scaling_points(reports):
    """(backing, size_bytes, peak, predicted, phases, wall) per one-size, one-backing report."""
    points = []
    for path, report in reports:
        backings = {r["backing"] for r in report["results"]}
        sizes = {r["size_bytes"] for r in report["results"]}
        if len(backings) != 1 or len(sizes) != 1:
            raise UsageError(f"{path}: a scaling point is a run of one --size and one --backing")
        if report.get("peak_rss_bytes") is None or report.get("phases") is None:
            raise UsageError(f"{path}: no peak_rss_bytes or phases (made by an older gupbench?)")
        points.append((backings.pop(), sizes.pop(), report["peak_rss_bytes"],
                       report["predicted_peak_bytes"], report["phases"]))
    return sorted(points, key=lambda p: (p[0], p[1]))


def plot_scaling(points, machine, out_path, plt):
    """Peak resident memory and predicted peak, and seconds per phase, against region size."""
    fig, (mem_ax, time_ax) = plt.subplots(1, 2, figsize=(12, 4.8))
    gib = float(1 << 30)
    for backing in sorted({p[0] for p in points}):
        pts = [p for p in points if p[0] == backing]
        sizes = [p[1] / gib for p in pts]
        mem_ax.plot(sizes, [p[2] / gib for p in pts], marker="o", label=f"{backing}: peak RSS (VmHWM)")
        mem_ax.plot(sizes, [p[3] / gib for p in pts], marker="x", linestyle="--",
                    label=f"{backing}: predicted peak")
        for phase, style in (("map", "-"), ("verify", ":"), ("measure", "--")):
            time_ax.plot(sizes, [p[4][phase] for p in pts], marker="o", linestyle=style,
                         label=f"{backing}: {phase}")
    mem_ax.set_yscale("log", base=2)
    time_ax.set_yscale("log")
    for ax in (mem_ax, time_ax):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("region size (GiB)")
        plain_ticks(ax)
        ax.xaxis.set_major_formatter(ax.yaxis.get_major_formatter())
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    mem_ax.set_ylabel("GiB")
    time_ax.set_ylabel("seconds")
    mem_ax.set_title("Peak resident memory against the budget's prediction")
    time_ax.set_title("Wall time per phase")
    fig.suptitle(machine, fontsize=9)
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="scripts/plot",
        description="Plot a gupbench JSON report (schema gupbench/1) as PNG files.")
    parser.add_argument("report", nargs="+",
                        help="a report from `gupbench ... --format json` (with --scaling: several)")
    parser.add_argument("--out", metavar="DIR",
                        help="directory for the PNGs (default: the report's directory)")
    parser.add_argument("--scaling", action="store_true",
                        help="plot scaling.png from one-size runs: peak memory and phase times against size")
    args = parser.parse_args(argv)
    if len(args.report) > 1 and not args.scaling:
        print("plot: several reports are plotted together only with --scaling", file=sys.stderr)
        return 2

    try:
        reports = [(path, load_report(path)) for path in args.report]
        points = scaling_points(reports) if args.scaling else None
    except UsageError as e:
        print(f"plot: {e}", file=sys.stderr)
        return 2
    report = reports[0][1]
    args.report = args.report[0]

    out_dir = args.out or os.path.dirname(os.path.abspath(args.report))
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        print(f"plot: cannot create --out {out_dir}: {e.strerror or e}", file=sys.stderr)
        return 1

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    jobs = [("strategies.png", plot_strategies)]
    if points is not None:
        jobs = [("scaling.png", lambda _, path, plt: plot_scaling(points, machine_line(report), path, plt))]
    elif report.get("sweep") is not None:
        jobs.append(("sweep.png", plot_sweep))
    for name, draw in jobs:
        path = os.path.join(out_dir, name)
        try:
            draw(report, path, plt)
        except OSError as e:
            print(f"plot: cannot write {path}: {e.strerror or e}", file=sys.stderr)
            return 1
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
