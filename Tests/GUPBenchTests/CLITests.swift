import Foundation
import Testing
@testable import GUPBench

/// The command line as a user meets it: the built `gupbench` executable, run as a process.
@Suite struct CLITests {
    struct Outcome {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// The executable sits beside the test bundle in the build folder.
    static var executable: URL {
        if let path = ProcessInfo.processInfo.environment["GUPBENCH_BIN"] { return URL(fileURLWithPath: path) }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("gupbench")
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDir), !isDir.boolValue {
                return candidate
            }
            dir.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: ".build/debug/gupbench")
    }

    /// Runs the built executable (posix_spawn, see Spawn: no Foundation Process leak under
    /// AddressSanitizer), killed after `timeout` seconds (two minutes unless said): a hang fails
    /// the test instead of the suite.
    static func run(_ args: [String], timeout: Double = 120) throws -> Outcome {
        let r = try Spawn.run(executable.path, args, timeout: timeout)
        #expect(!r.timedOut, "gupbench \(args.joined(separator: " ")) did not finish in \(Int(timeout)) s")
        #expect(r.signal == nil, "gupbench \(args.joined(separator: " ")) ended by signal \(r.signal ?? 0)")
        return Outcome(status: r.status ?? 128 + (r.signal ?? 0), stdout: r.stdout, stderr: r.stderr)
    }

    struct Bad: CustomTestStringConvertible, Sendable {
        let args: [String]
        let status: Int32
        let mentions: String
        var testDescription: String { args.joined(separator: " ") }
    }

    /// One window per sample (`--min-time 0`): pin counts are then exact multiples of the pages.
    static let small = ["--repetitions", "1", "--warmup", "0", "--min-time", "0"]

    static let bad: [Bad] = [
        Bad(args: ["compare", "--size", "0"], status: 2, mentions: "--size '0' must be greater than zero"),
        Bad(args: ["compare", "--size=-5MiB"], status: 2, mentions: "--size '-5MiB' must be greater than zero"),
        Bad(args: ["compare", "--size", "lots"], status: 2, mentions: "--size 'lots' is not a size"),
        Bad(args: ["compare", "--size", "99999999TiB"], status: 2, mentions: "--size '99999999TiB' is absurdly large"),
        Bad(args: ["compare", "--size", "5000"], status: 2, mentions: "not a whole number of 4KiB pages"),
        Bad(args: ["compare", "--threads", "0"], status: 2, mentions: "--threads 0 is out of range"),
        Bad(args: ["compare", "--strategies", "unpin-all"], status: 2, mentions: "--strategies 'unpin-all' is not valid; valid values: put-page, unpin-each, unpin-batched, unpin-range"),
        Bad(args: ["compare", "--backing", "2m"], status: 2, mentions: "--backing '2m' is not valid; valid values: 4k, thp, hugetlb"),
        Bad(args: ["compare", "--format", "yaml"], status: 2, mentions: "--format 'yaml' is not valid"),
        Bad(args: ["run", "--folio-order", "19"], status: 2, mentions: "--folio-order 19 is out of range; valid: 0-18"),
        Bad(args: ["compare", "--output", "/nonexistent-dir/report.json"], status: 2, mentions: "--output '/nonexistent-dir/report.json' cannot be written"),
        Bad(args: ["compare", "--mem-node", "99"], status: 1, mentions: "--mem-node 99: no such NUMA node with memory"),
        Bad(args: ["compare", "--cpu-node", "99"], status: 1, mentions: "--cpu-node 99: no such NUMA node with CPUs"),
        Bad(args: ["compare", "--threads", "4096"], status: 1, mentions: "--threads 4096: node"),
        Bad(args: ["compare", "--size", "4TiB"], status: 1, mentions: "--size 4TiB --backing 4k needs 4.2TiB with its memmap, page arrays and calibration buffers, but only "),
        Bad(args: ["compare", "--size", "3MiB", "--backing", "thp"], status: 2, mentions: "--size 3MiB is not a multiple of 2MiB"),
        Bad(args: ["compare", "--frobnicate"], status: 2, mentions: "--frobnicate"),
        Bad(args: ["compare", "--repetitions", "1,2"], status: 2, mentions: "--repetitions '1,2' takes one number"),
        Bad(args: ["compare", "--dirty", "dirty,"], status: 2, mentions: "--dirty 'dirty,' has an empty item"),
    ]

    @Test(arguments: bad)
    func invalidInvocationIsOneClearLine(_ b: Bad) throws {
        let r = try Self.run(b.args.contains("--repetitions") ? b.args : b.args + Self.small)
        #expect(r.status == b.status)
        #expect(r.stdout.isEmpty)
        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        #expect(lines.count == 1, "stderr: \(r.stderr)")
        #expect(r.stderr.hasPrefix("gupbench: "))
        #expect(r.stderr.contains(b.mentions), "stderr: \(r.stderr)")
    }

    @Test func jsonReportHasEveryKeyOfTheSpec() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("gupbench-cli-\(getpid()).json")
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try Self.run(["compare", "--size", "8MiB", "--backing", "4k,thp", "--threads", "1",
                              "--format", "json", "--output", out.path] + Self.small)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let saved = try String(contentsOf: out, encoding: .utf8)
        #expect(saved == r.stdout)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["schema"] as? String == "gupbench/1")
        let machine = try #require(json["machine"] as? [String: Any])
        for key in ["cpus", "numa_nodes", "llc_bytes", "kernel", "thp_mode", "cpu_model", "memory_cgroup", "page_checks"] {
            #expect(machine[key] != nil, "machine.\(key)")
        }
        let calibration = try #require(json["calibration"] as? [String: Any])
        for key in ["atomic_ns", "stream_ns_per_descriptor"] { #expect(calibration[key] is Double || calibration[key] is Int) }
        let results = try #require(json["results"] as? [[String: Any]])
        // every default strategy × its Swift loop and C twin × 2 backings × 1 thread count
        #expect(results.count == 2 * 2 * Strategy.defaultSet.count)
        for key in ["peak_rss_bytes", "predicted_peak_bytes", "phases", "min_time_ns"] { #expect(json[key] != nil, "\(key)") }
        let resultKeys = ["strategy", "impl", "backing", "folio_order", "threads", "sharing", "layout", "dirty",
                          "batch", "mem_node", "cpu_node", "pages", "repetitions", "ns_per_page",
                          "pages_per_second", "atomics_per_page", "floors", "floor_ns_per_page", "bound",
                          "efficiency", "beats_floor", "windows_per_sample",
                          "thp_backed_fraction", "folio_backed_fraction", "placement", "audit"]
        for result in results {
            for key in resultKeys { #expect(result[key] != nil, "results[].\(key)") }
            let ns = try #require(result["ns_per_page"] as? [String: Any])
            for key in ["median", "min", "max", "ci95_low", "ci95_high"] { #expect(ns[key] != nil) }
            #expect((result["pages_per_second"] as? [String: Any])?["median"] != nil)
            let efficiency = try #require(result["efficiency"] as? [String: Any])
            for key in ["median", "ci95_low", "ci95_high"] { #expect(efficiency[key] is Double) }
            let placement = try #require(result["placement"] as? [String: Any])
            #expect(placement["requested_node"] != nil && placement["verified_fraction"] as? Double == 1.0)
            let audit = try #require(result["audit"] as? [String: Any])
            #expect(audit["balanced"] as? Bool == true)
            // io-uring-release holds one pin per bvec: per 2 MiB folio when the whole region is
            // THP (io_coalesce_buffer()), else per page.
            let coalesced = result["strategy"] as? String == "io-uring-release"
                && result["backing"] as? String == "thp" && result["thp_backed_fraction"] as? Double == 1.0
            #expect(audit["pins_acquired"] as? Int == (coalesced ? 4 : 2048))
            #expect(audit["pins_released"] as? Int == (coalesced ? 4 : 2048))
        }
        let comparisons = try #require(json["comparisons"] as? [[String: Any]])
        // per backing: each vs put, and batched, range, folios, io_uring vs each, per impl; and
        // every Swift loop against its C twin
        let pairs = 1 + Strategy.defaultSet.filter(\.releasesFolioRuns).count
        #expect(comparisons.count == 2 * (2 * pairs + Strategy.defaultSet.count))
        for c in comparisons {
            for key in ["baseline", "candidate", "backing", "folio_order", "threads", "sharing", "dirty", "speedup", "verdict"] {
                #expect(c[key] != nil, "comparisons[].\(key)")
            }
            let s = try #require(c["speedup"] as? [String: Any])
            for key in ["median", "ci95_low", "ci95_high"] { #expect(s[key] != nil) }
        }
    }

    @Test func csvHasOneRowPerResultAndComparisonUnderTheHeader() throws {
        let r = try Self.run(["run", "--size", "4MiB", "--backing", "4k", "--threads", "1",
                              "--strategies", "unpin-each,unpin-batched", "--impl", "swift,c", "--format", "csv"] + Self.small)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        // 4 results (2 strategies × 2 impls) and 4 comparisons (batched vs each per impl,
        // swift÷c per strategy), each one line under the one header.
        #expect(lines.count == 9)
        #expect(lines[0].hasPrefix("kind,strategy,impl,detect,size_bytes,backing,folio_order,"))
        #expect(lines.filter { $0.hasPrefix("result,") }.count == 4)
        #expect(lines.filter { $0.hasPrefix("comparison,") }.count == 4)
        let columns = lines[0].split(separator: ",").count
        #expect(lines.dropFirst().allSatisfy { $0.split(separator: ",", omittingEmptySubsequences: false).count == columns })
    }

    @Test func helpExitsZero() throws {
        let r = try Self.run(["--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("compare"))
    }

    @Test func topologyJSONNamesTheLocalNode() throws {
        let r = try Self.run(["topology", "--format", "json"])
        #expect(r.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let nodes = try #require(json["nodes"] as? [[String: Any]])
        #expect(!nodes.isEmpty)
    }

    /// --dry-run prints the plan, one line per scenario and skip under its region, and exits 0
    /// without mapping or measuring (a real run of 1GiB would take far longer than this test).
    @Test func dryRunListsThePlanAndExitsZero() throws {
        let r = try Self.run(["compare", "--dry-run", "--size", "1GiB", "--backing", "4k", "--threads", "1,2",
                              "--sharing", "disjoint,interleaved", "--strategies", "unpin-each,unpin-range"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stderr.isEmpty, "stderr: \(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("gupbench compare --dry-run: 4 scenario(s) on 1 region(s)") == true)
        #expect(lines.filter { $0.hasPrefix("region 1GiB 4k") }.count == 1)
        let scenarios = lines.filter { $0.hasPrefix("  scenario ") }.map { $0.prefix { $0 != ";" } }
        let pools = ["--threads 1 --sharing disjoint", "--threads 1 --sharing interleaved",
                     "--threads 2 --sharing disjoint", "--threads 2 --sharing interleaved"]
        #expect(scenarios.count == 4)
        for (line, pool) in zip(scenarios, pools) {
            #expect(line.contains("--size 1GiB --backing 4k "), "\(line)")
            #expect(line.contains(pool), "\(line)")
        }
        #expect(scenarios.last?.hasSuffix(": unpin-each/swift unpin-each/c") == true)
        #expect(lines.filter { $0.hasPrefix("  skip ") } == [
            "  skip unpin-range skipped for --sharing interleaved --layout sequential: it releases contiguous ranges, "
                + "and these page arrays are not"])
        #expect(lines.last?.hasPrefix("predicted peak ") == true)
    }

    @Test(arguments: [["run", "--threads", "1"], ["sweep", "--param", "threads", "--values", "1"]])
    func dryRunWorksOnEveryMeasuringCommand(_ args: [String]) throws {
        let r = try Self.run(args + ["--dry-run", "--size", "4MiB", "--backing", "4k"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.hasPrefix("gupbench \(args[0]) --dry-run: 1 scenario(s) on 1 region(s)"), "\(r.stdout)")
        #expect(r.stdout.split(separator: "\n").filter { $0.hasPrefix("  scenario ") }.count == 1)
    }

    /// The plan is checked against the machine as a run is: what a run refuses, a dry run refuses.
    @Test func dryRunRefusesWhatARunRefuses() throws {
        let r = try Self.run(["compare", "--dry-run", "--threads", "4096", "--size", "4MiB"])
        #expect(r.status == 1)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.contains("--threads 4096: node"), "stderr: \(r.stderr)")
    }
}

/// Sweep, baseline and misuse at the command line.
@Suite struct CLIReportTests {
    static let small = ["--repetitions", "2", "--warmup", "0", "--min-time", "0"]

    struct Bad: CustomTestStringConvertible, Sendable {
        let args: [String]
        let mentions: String
        var testDescription: String { args.joined(separator: " ") }
    }

    @Test(arguments: [
        Bad(args: ["sweep", "--param", "bogus"], mentions: "--param 'bogus' is not valid; valid values: threads, size, folio-order, batch"),
        Bad(args: ["sweep", "--param", "threads", "--threads", "1"], mentions: "--param threads sweeps --threads itself"),
        Bad(args: ["sweep", "--param", "threads", "--values", "0,1"], mentions: "--values '0' is not valid for --param threads"),
        Bad(args: ["sweep", "--param", "size", "--values", "1MiB,,2MiB"], mentions: "--values '1MiB,,2MiB' has an empty item"),
        Bad(args: ["compare", "--baseline", "/nonexistent/old.json"], mentions: "--baseline '/nonexistent/old.json' cannot be read"),
        Bad(args: ["misuse", "--detect", "paranoid"], mentions: "--detect 'paranoid' is not valid; valid values: off, audit, underflow, ledger"),
        Bad(args: ["kernel", "--repetitions", "0"], mentions: "--repetitions 0 is out of range; valid: 1-100000"),
        Bad(args: ["kernel", "--size", "16MiB,bogus"], mentions: "--size 'bogus' is not a size; use a positive number of bytes"),
        Bad(args: ["sweep", "--param", "size", "--size", "1GiB"], mentions: "--param size sweeps --size itself"),
    ])
    func badReportInvocationExitsTwo(_ b: Bad) throws {
        let r = try CLITests.run(b.args)
        #expect(r.status == 2)
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(r.stderr.hasPrefix("gupbench: " + b.mentions), "stderr: \(r.stderr)")
    }

    @Test func baselineWithOtherScenariosIsAClearError() throws {
        let old = FileManager.default.temporaryDirectory.appendingPathComponent("gupbench-base-\(getpid()).json")
        defer { try? FileManager.default.removeItem(at: old) }
        let first = try CLITests.run(["compare", "--size", "4MiB", "--backing", "4k", "--threads", "1",
                                      "--format", "json", "--output", old.path] + Self.small)
        #expect(first.status == 0)
        let same = try CLITests.run(["compare", "--size", "4MiB", "--backing", "4k", "--threads", "1",
                                     "--baseline", old.path] + Self.small)
        // Which one depends on timing (and on how many repetitions had a thread descheduled);
        // all three are the gate's outcomes.
        #expect([0, 3, 4].contains(same.status))
        #expect(same.stdout.contains("against baseline \(old.path)"))
        #expect(same.stdout.contains("at threshold 10%"))
        let other = try CLITests.run(["compare", "--size", "8MiB", "--backing", "4k", "--threads", "1",
                                      "--baseline", old.path] + Self.small)
        #expect(other.status == 2)
        #expect(other.stderr.contains("has different scenarios: nothing matches put-page/swift 4k order 0 8MiB t1 batch 2048"))
    }

    @Test func sweepJSONNamesItsParameterAndValues() throws {
        let r = try CLITests.run(["sweep", "--param", "size", "--values", "2MiB,4MiB", "--backing", "4k",
                                  "--threads", "1", "--strategies", "unpin-each", "--format", "json"] + Self.small)
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let sweep = try #require(json["sweep"] as? [String: Any])
        #expect(sweep["param"] as? String == "size")
        #expect(sweep["values"] as? [Int] == [2 << 20, 4 << 20])
        #expect((json["results"] as? [Any])?.count == 2 * 2)  // 2 sizes × the Swift loop and its C twin
    }

    @Test func markdownIsAPipeTableWithOneRowPerScenario() throws {
        let r = try CLITests.run(["compare", "--size", "4MiB", "--backing", "4k,thp", "--threads", "1",
                                  "--format", "markdown"] + Self.small)
        #expect(r.status == 0)
        let rows = r.stdout.split(separator: "\n").filter { $0.hasPrefix("|") }
        #expect(rows.count == 4)  // header, separator, 4k, thp
        #expect(rows[1].allSatisfy { "|-: ".contains($0) })
        let columns = rows[0].split(separator: "|").count
        #expect(rows.allSatisfy { $0.split(separator: "|").count == columns })
    }

    @Test func misuseJSONHasTheMatrixAndTheCosts() throws {
        let r = try CLITests.run(["misuse", "--size", "4MiB", "--backing", "4k", "--repetitions", "2", "--warmup", "0",
                                  "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let misuse = try #require(json["misuse"] as? [[String: Any]])
        #expect(misuse.count == 8 * 2 * 4)  // (scenario, strategy) cells × orders × modes
        for m in misuse {
            for key in ["scenario", "strategy", "folio_order", "mode", "detected", "symptom", "events"] { #expect(m[key] != nil) }
            #expect(["at-call", "at-audit", "never"].contains(m["detected"] as? String ?? ""))
            let events = try #require(m["events"] as? [String: Any])
            #expect(Set(events.keys) == ["freed_while_mapped", "jumped_over_zero", "leaked_refs", "pincount_residue"])
        }
        func rows(_ scenario: String, _ strategy: String, _ order: Int) -> [[String: Any]] {
            misuse.filter { $0["scenario"] as? String == scenario && $0["strategy"] as? String == strategy
                && $0["folio_order"] as? Int == order }
        }
        func freedWhileMapped(_ row: [String: Any]) -> Int? { (row["events"] as? [String: Any])?["freed_while_mapped"] as? Int }
        // Order 0: an unpin of a reference jumps over zero and leaks; nothing is freed.
        for row in rows("unpin-on-get", "unpin-each", 0) + rows("unpin-on-get", "unpin-batched", 0) {
            #expect(freedWhileMapped(row) == 0)
            #expect((row["symptom"] as? String ?? "").contains("leak"))
        }
        // Order 9: the per-page double unpin frees the mapped folio; the batched one jumps over 0.
        #expect(rows("double-unpin", "unpin-each", 9).count == 4)
        #expect(rows("double-unpin", "unpin-each", 9).allSatisfy { freedWhileMapped($0) == 2 })
        #expect(rows("double-unpin", "unpin-batched", 9).allSatisfy { freedWhileMapped($0) == 0 })
        let costs = try #require(json["detection_cost"] as? [[String: Any]])
        #expect(costs.count == 3 * Strategy.defaultSet.count)  // audit, underflow, ledger × every strategy on 4k
        for c in costs {
            for key in ["mode", "strategy", "backing", "ratio_to_off"] { #expect(c[key] != nil) }
            let ratio = try #require(c["ratio_to_off"] as? [String: Any])
            for key in ["median", "ci95_low", "ci95_high"] { #expect(ratio[key] != nil) }
        }
    }
}
