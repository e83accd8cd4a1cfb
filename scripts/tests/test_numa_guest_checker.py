"""Tests of scripts/numa_guest_checker.py on stored guest console logs (samples/README.md).

Run: python3 -m unittest discover -s scripts/tests -v   (standard library only)
"""

import contextlib
import io
import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import numa_guest_checker as checker  # noqa: E402

EXPECT_CPUS = {0: [0], 1: [1]}  # as scripts/numa-guest-check starts the guest


def sample(name: str) -> str:
    with open(os.path.join(HERE, "samples", name), encoding="utf-8", newline="") as f:
        return f.read()


def rows_of(text: str) -> dict:
    rows = checker.check_console(checker.parse_console(text), 2, EXPECT_CPUS)
    return {r.check: r for r in rows}


def edit_report(text: str, name: str, edit) -> str:
    """The console text with section `name`'s JSON report changed by `edit(report)`."""
    begin = text.index(f"@@GUPBENCH-BEGIN {name}")
    start = text.index("\n", begin) + 1
    end = text.index(f"@@GUPBENCH-END {name} ")
    report = json.loads(text[start:end].replace("\r", ""))
    edit(report)
    return text[:start] + json.dumps(report, indent=2).replace("\n", "\r\n") + "\r\n" + text[end:]


class PassingSample(unittest.TestCase):
    """pass.console.log is a real run of scripts/numa-guest-check in the two-node guest."""

    def setUp(self):
        self.text = sample("pass.console.log")

    def test_every_section_is_parsed_with_exit_code_zero_and_the_end_marker(self):
        console = checker.parse_console(self.text)
        self.assertTrue(console.done)
        self.assertEqual(set(console.sections),
                         {checker.TOPOLOGY} | {c.name for c in checker.CASES})
        for section in console.sections.values():
            self.assertEqual(section.rc, 0, section.name)
            report, why = section.report()
            self.assertIsNotNone(report, why)

    def test_every_check_passes(self):
        rows = rows_of(self.text)
        self.assertEqual(list(rows), ["topology", "remote", "local", "node1", "interleave"])
        for row in rows.values():
            self.assertEqual(row.failures, [], row.check)
            self.assertEqual(row.verdict, "PASS")

    def test_table_names_the_placement_cpus_and_ends_with_the_count(self):
        table = checker.render_table(list(rows_of(self.text).values()))
        self.assertIn("| remote ", table)
        self.assertIn("100.0% on n1", table)
        self.assertIn("n0: 0; n1: 1", table)
        self.assertIn("never checked", table)
        self.assertEqual(table.splitlines()[-1], "5 passed, 0 failed")

    def test_main_exits_zero(self):
        with contextlib.redirect_stdout(io.StringIO()):
            rc = checker.main(["check", os.path.join(HERE, "samples", "pass.console.log"),
                               "--expect-node-cpus", "0=0,1=1"])
        self.assertEqual(rc, 0)

    def test_lf_line_ends_parse_as_crlf_do(self):
        rows = rows_of(self.text.replace("\r\n", "\n"))
        self.assertTrue(all(r.verdict == "PASS" for r in rows.values()))

    def test_kernel_lines_inside_a_report_are_ignored(self):
        text = self.text.replace('"placement": {', '"placement": {\r\n[   12.345678] random: crng init done', 1)
        self.assertTrue(all(r.verdict == "PASS" for r in rows_of(text).values()))

    def test_timings_are_reported_but_not_checked(self):
        def absurd(report):
            report["results"][0]["ns_per_page"]["median"] = 1e9
        rows = rows_of(edit_report(self.text, "remote", absurd))
        self.assertEqual(rows["remote"].verdict, "PASS")
        self.assertIn("1000000000.0", rows["remote"].ns_per_page)


class FailingSamples(unittest.TestCase):
    def test_wrong_node_fails_the_remote_case_for_data_and_memmap(self):
        rows = rows_of(sample("wrong-node.console.log"))
        failed = {name for name, r in rows.items() if r.failures}
        self.assertEqual(failed, {"remote"})
        text = "\n".join(rows["remote"].failures)
        self.assertIn("data verified_fraction 0 on node 1", text)
        self.assertIn("memmap memmap_verified_fraction 0 on node 1", text)

    def test_unbalanced_audit_fails_the_local_case(self):
        rows = rows_of(sample("unbalanced-audit.console.log"))
        failed = {name for name, r in rows.items() if r.failures}
        self.assertEqual(failed, {"local"})
        self.assertEqual(rows["local"].audit, "UNBALANCED")
        self.assertTrue(any("audit not balanced" in f for f in rows["local"].failures))
        self.assertTrue(any("exited 1" in f for f in rows["local"].failures))

    def test_one_node_seen_fails_topology_node_1_cases_and_interleave(self):
        # A real boot of the same initramfs without -numa: one node with both CPUs.
        rows = rows_of(sample("one-node.console.log"))
        self.assertIn("1 NUMA node(s) seen, expected 2", rows["topology"].failures)
        for name in ("remote", "node1"):
            self.assertTrue(any("no such NUMA node" in f for f in rows[name].failures), name)
        self.assertTrue(any("0.0% of the data on node 1" in f for f in rows["interleave"].failures))
        self.assertEqual(rows["local"].verdict, "PASS")

    def test_main_exits_one_on_each_failing_sample(self):
        for name in ("wrong-node", "unbalanced-audit", "one-node"):
            with contextlib.redirect_stdout(io.StringIO()) as out:
                rc = checker.main(["check", os.path.join(HERE, "samples", f"{name}.console.log"),
                                   "--expect-node-cpus", "0=0,1=1"])
            self.assertEqual(rc, 1, name)
            self.assertRegex(out.getvalue().splitlines()[-1], r"^\d+ passed, [1-9]\d* failed$")


class EditedFailures(unittest.TestCase):
    """Single faults put into the real passing log, one at a time."""

    def setUp(self):
        self.text = sample("pass.console.log")

    def test_memmap_alone_on_the_wrong_node_fails(self):
        def memmap_local(report):
            p = report["results"][0]["placement"]
            p["memmap_node_pages"] = {"0": p["memmap_pages_sampled"]}
            p["memmap_verified_fraction"] = 0
        row = rows_of(edit_report(self.text, "remote", memmap_local))["remote"]
        self.assertEqual(len(row.failures), 1)
        self.assertIn("memmap", row.failures[0])

    def test_just_under_the_bind_threshold_fails(self):
        def almost(report):
            report["results"][0]["placement"]["verified_fraction"] = 0.989
        self.assertEqual(rows_of(edit_report(self.text, "node1", almost))["node1"].verdict, "FAIL")

    def test_threads_on_a_cpu_of_the_other_node_fail(self):
        def moved(report):
            report["results"][0]["cpus"] = [1]
        row = rows_of(edit_report(self.text, "remote", moved))["remote"]
        self.assertEqual(row.failures, ["threads ran on CPU(s) [1], not on node 0 (CPUs [0])"])

    def test_lopsided_interleave_fails(self):
        def lopsided(report):
            p = report["results"][0]["placement"]
            total = sum(p["data_node_pages"].values())
            p["data_node_pages"] = {"0": int(total * 0.7), "1": total - int(total * 0.7)}
        row = rows_of(edit_report(self.text, "interleave", lopsided))["interleave"]
        self.assertEqual(len(row.failures), 2)
        self.assertIn("70.0% of the data on node 0", row.failures[0])

    def test_topology_with_other_cpus_than_the_guest_was_given_fails(self):
        def swapped(report):
            report["nodes"][0]["cpus"], report["nodes"][1]["cpus"] = [1], [0]
        row = rows_of(edit_report(self.text, "topology", swapped))["topology"]
        self.assertIn("node 0 has CPUs [1], expected [0]", row.failures)

    def test_a_guest_stopped_mid_run_fails(self):
        cut = self.text[:self.text.index("@@GUPBENCH-END node1")]
        rows = rows_of(cut)
        self.assertIn("the guest never printed its end marker (crash or timeout)",
                      rows["topology"].failures)
        self.assertIn("no end marker", rows["node1"].failures[0])
        self.assertEqual(rows["interleave"].failures, ["no output on the console"])
        self.assertEqual(rows["remote"].verdict, "PASS")

    def test_an_empty_console_fails_every_check(self):
        rows = rows_of("SeaBIOS\r\nBooting from ROM...\r\n")
        self.assertTrue(all(r.verdict == "FAIL" for r in rows.values()))

    def test_output_that_is_not_json_fails(self):
        begin = self.text.index("@@GUPBENCH-BEGIN local")
        start = self.text.index("\n", begin) + 1
        text = self.text[:start] + "{ truncated\r\n" + self.text[self.text.index("@@GUPBENCH-END local"):]
        self.assertIn("not JSON", rows_of(text)["local"].failures[0])


class Cases(unittest.TestCase):
    def test_the_guest_runs_remote_local_node1_and_interleave_small(self):
        args = {c.name: c.args for c in checker.CASES}
        self.assertIn("--mem-node 1", args["remote"])
        self.assertIn("--cpu-node 0", args["remote"])
        self.assertIn("--mem-node 0", args["local"])
        self.assertIn("--cpu-node 1", args["node1"])
        self.assertIn("--mem-policy interleave", args["interleave"])
        self.assertNotIn("--mem-node", args["interleave"])
        for a in args.values():
            self.assertTrue(a.startswith("run --format json --size 64MiB --backing 4k"))

    def test_cases_command_prints_topology_first_then_each_case(self):
        with contextlib.redirect_stdout(io.StringIO()) as out:
            self.assertEqual(checker.main(["cases"]), 0)
        names = [line.split("\t")[0] for line in out.getvalue().splitlines()]
        self.assertEqual(names, ["topology", "remote", "local", "node1", "interleave"])

    def test_an_unreadable_log_exits_two(self):
        with contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(checker.main(["check", "/nonexistent/console.log"]), 2)


if __name__ == "__main__":
    unittest.main()
