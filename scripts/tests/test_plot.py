"""scripts/plot on stored gupbench reports: valid PNGs out, exit 2 on what is not a report.

    python3 -m unittest discover -s scripts/tests -v

Runs the real entry point (bash scripts/plot, which creates .venv-plot/ with matplotlib on first
use). samples/small-report.json is a real `gupbench compare --size 64MiB --repetitions 5
--format json`; samples/sweep-threads.json is a real `gupbench sweep --param threads
--size 64MiB --repetitions 5 --format json`. Stdlib only.
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.dirname(HERE)
PLOT = os.path.join(SCRIPTS, "plot")
SAMPLES = os.path.join(HERE, "samples")
SMALL = os.path.join(SAMPLES, "small-report.json")
SWEEP = os.path.join(SAMPLES, "sweep-threads.json")

sys.path.insert(0, SCRIPTS)
import plot_report  # noqa: E402  (the pure helpers need no matplotlib)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_info(path):
    """(width, height, bytes) of a PNG, checking its signature and IHDR chunk (CRC included)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != PNG_SIGNATURE:
        raise AssertionError(f"{path}: no PNG signature")
    length, kind = struct.unpack(">I4s", data[8:16])
    if kind != b"IHDR" or length != 13:
        raise AssertionError(f"{path}: first chunk is {kind!r}, not a 13-byte IHDR")
    body = data[16:29]
    (crc,) = struct.unpack(">I", data[29:33])
    if zlib.crc32(b"IHDR" + body) != crc:
        raise AssertionError(f"{path}: IHDR CRC mismatch")
    width, height = struct.unpack(">II", body[:8])
    if not data.endswith(b"IEND\xaeB`\x82"):
        raise AssertionError(f"{path}: no IEND chunk at the end")
    return width, height, len(data)


def run_plot(*args):
    return subprocess.run(["bash", PLOT, *args], capture_output=True, text=True, timeout=600)


def setUpModule():
    # First use builds the venv (pip install matplotlib); do it once, outside the error tests,
    # whose stderr must be exactly one line.
    result = run_plot("--help")
    if result.returncode != 0:
        raise RuntimeError(f"scripts/plot --help failed ({result.returncode}): {result.stderr}")


class PlotWritesPNGs(unittest.TestCase):
    def setUp(self):
        self.out = tempfile.mkdtemp(prefix="gupbench-plot-")
        self.addCleanup(shutil.rmtree, self.out)

    def assertGoodPNG(self, path, min_width=800, min_height=500):
        self.assertTrue(os.path.isfile(path), f"{path} was not written")
        width, height, size = png_info(path)
        self.assertGreaterEqual(width, min_width)
        self.assertGreaterEqual(height, min_height)
        self.assertLessEqual(width, 4000)
        self.assertLessEqual(height, 4000)
        # A plot with bars, text and a legend compresses to tens of KB; a blank canvas to a few.
        self.assertGreater(size, 20_000, f"{path} is only {size} bytes")

    def test_compare_report_gives_strategies_png_and_no_sweep_png(self):
        result = run_plot(SMALL, "--out", self.out)
        self.assertEqual(result.returncode, 0, result.stderr)
        written = result.stdout.split()
        self.assertEqual(written, [os.path.join(self.out, "strategies.png")])
        self.assertGoodPNG(written[0])
        self.assertFalse(os.path.exists(os.path.join(self.out, "sweep.png")))

    def test_report_with_sweep_key_gives_strategies_and_sweep_png(self):
        result = run_plot(SWEEP, "--out", self.out)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.split(), [os.path.join(self.out, "strategies.png"),
                                                 os.path.join(self.out, "sweep.png")])
        self.assertGoodPNG(os.path.join(self.out, "strategies.png"))
        self.assertGoodPNG(os.path.join(self.out, "sweep.png"))

    def test_default_output_directory_is_the_reports_own(self):
        report = os.path.join(self.out, "r.json")
        shutil.copy(SMALL, report)
        result = run_plot(report)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.split(), [os.path.join(self.out, "strategies.png")])
        self.assertGoodPNG(os.path.join(self.out, "strategies.png"))

    def test_out_directory_is_created_when_missing(self):
        out = os.path.join(self.out, "a", "b")
        result = run_plot(SMALL, "--out", out)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertGoodPNG(os.path.join(out, "strategies.png"))


class PlotRejectsWhatIsNotAReport(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="gupbench-plot-")
        self.addCleanup(shutil.rmtree, self.dir)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def assertUsageError(self, result, *fragments):
        self.assertEqual(result.returncode, 2, result.stderr)
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, f"expected one line on stderr, got: {result.stderr!r}")
        self.assertTrue(lines[0].startswith("plot: "), lines[0])
        for fragment in fragments:
            self.assertIn(fragment, lines[0])
        self.assertEqual(result.stdout, "")
        self.assertEqual([f for f in os.listdir(self.dir) if f.endswith(".png")], [])

    def test_json_without_gupbench_schema_exits_2(self):
        path = self.write("other.json", json.dumps({"name": "not a report", "results": []}))
        self.assertUsageError(run_plot(path), "not a gupbench report", "no \"schema\" key")

    def test_json_of_another_schema_exits_2(self):
        path = self.write("other.json", json.dumps({"schema": "pytest-benchmark/4"}))
        self.assertUsageError(run_plot(path), "not a gupbench report", "pytest-benchmark/4")

    def test_json_array_exits_2(self):
        self.assertUsageError(run_plot(self.write("list.json", "[1, 2, 3]")), "not a gupbench report")

    def test_file_that_is_not_json_exits_2(self):
        self.assertUsageError(run_plot(self.write("text.json", "ns/page: 5\n")), "is not JSON")

    def test_missing_file_exits_2(self):
        missing = os.path.join(self.dir, "missing.json")
        self.assertUsageError(run_plot(missing), "cannot read", "missing.json")

    def test_report_without_results_exits_2(self):
        path = self.write("empty.json", json.dumps({"schema": "gupbench/1", "results": []}))
        self.assertUsageError(run_plot(path), "no results")

    def test_unknown_sweep_parameter_exits_2(self):
        with open(SMALL) as f:
            report = json.load(f)
        report["sweep"] = {"param": "colour", "values": [1, 2]}
        self.assertUsageError(run_plot(self.write("bad-sweep.json", json.dumps(report))),
                              "sweep.param", "threads, size, folio-order, batch")

    def test_no_report_argument_exits_2(self):
        result = run_plot()
        self.assertEqual(result.returncode, 2)
        self.assertIn("usage:", result.stderr)


class Helpers(unittest.TestCase):
    def test_sizes_print_as_the_cli_spells_them(self):
        self.assertEqual(plot_report.fmt_bytes(64 << 20), "64MiB")
        self.assertEqual(plot_report.fmt_bytes(1 << 30), "1GiB")
        self.assertEqual(plot_report.fmt_bytes(2 << 10), "2KiB")

    def test_whole_share_batch_is_named_whole(self):
        self.assertEqual(plot_report.batch_of({"batch": 16384, "pages_per_thread": 16384}), "whole")
        self.assertEqual(plot_report.batch_of({"batch": 64, "pages_per_thread": 16384}), 64)

    def test_samples_are_gupbench_reports_with_the_seed_strategies(self):
        # The stored samples predate unpin-folios, io-uring-release and release-pages; the
        # plot knows every strategy of the registry, and these four are in both.
        for path in (SMALL, SWEEP):
            report = plot_report.load_report(path)
            self.assertEqual({r["strategy"] for r in report["results"]},
                             set(plot_report.STRATEGIES[:4]))
        self.assertEqual(plot_report.load_report(SWEEP)["sweep"], {"param": "threads", "values": [1, 2]})


if __name__ == "__main__":
    unittest.main()
