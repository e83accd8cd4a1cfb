import Foundation
import Testing
@testable import GUPBench

/// The gate on constructed baselines: exact verdicts and exit codes, no timing.
@Suite struct GateTests {
    /// Four scenarios, five rounds of three repetitions each, a little spread in and between
    /// rounds.
    static func rounds(_ base: Double) -> [[Double]] {
        (0..<5).map { (r: Int) -> [Double] in
            (0..<3).map { (i: Int) -> Double in
                let spread: Double = 0.01 * Double(r % 3) + 0.004 * Double(i)
                return base * (1 + spread)
            }
        }
    }

    static func report(scale: Double = 1, repetitionsPerRound: Int = 3) -> [String: Any] {
        let results: [[String: Any]] = [(1, "put-page", 8.0), (1, "unpin-each", 9.0), (2, "unpin-batched", 7.0),
                                        (2, "unpin-range", 0.1)].map { threads, strategy, ns in
            let r = rounds(ns).map { Array($0.prefix(repetitionsPerRound)).map { $0 * scale } }
            return ["strategy": strategy, "impl": "swift", "detect": "off", "backing": "thp", "folio_order": 9,
                    "size_bytes": 1 << 30, "threads": threads, "sharing": "disjoint", "layout": "sequential",
                    "dirty": "none", "batch": 262144, "mem_policy": "bind",
                    "ns_per_page": ["median": Statistics.median(r.flatMap { $0 }), "rounds": r,
                                    "samples": r.flatMap { $0 }]]
        }
        return ["schema": "gupbench/1", "command": "compare", "results": results]
    }

    static func write(_ json: [String: Any], _ name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gupbench-gate-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent(name).path
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func gate(_ current: [String: Any], against baseline: [String: Any]) throws -> Gate {
        try Gate(current: Gate.side(json: current), baseline: Gate.side(json: baseline),
                 baselinePath: "base.json", threshold: Gate.defaultThreshold)
    }

    @Test func unchangedIsWithinNoiseEverywhere() throws {
        let g = try Self.gate(Self.report(), against: Self.report())
        #expect(g.entries.count == 4)
        #expect(g.entries.allSatisfy { $0.verdict == .withinNoise })
        #expect(!g.anySlower)
    }

    @Test func aBaselineScaledByThreeQuartersMakesEveryScenarioSlower() throws {
        let g = try Self.gate(Self.report(), against: Self.report(scale: 0.75))
        #expect(g.entries.allSatisfy { $0.verdict == .slower })
        #expect(g.entries.allSatisfy { $0.ci95High < 1 })
        #expect(g.anySlower)
    }

    @Test func fasterIsDecidedLikeSlower() throws {
        let g = try Self.gate(Self.report(scale: 0.75), against: Self.report())
        #expect(g.entries.allSatisfy { $0.verdict == .faster })
    }

    @Test func aSignificantChangeBelowTheThresholdIsNoVerdict() throws {
        // 5% slower everywhere: clearly a change (its CI excludes 1), but not beyond 10%.
        let g = try Self.gate(Self.report(scale: 1.05), against: Self.report())
        #expect(g.entries.allSatisfy { $0.ci95High < 1 })
        #expect(g.entries.allSatisfy { $0.holmP >= Gate.alpha })
        #expect(g.entries.allSatisfy { $0.verdict == .withinNoise })
    }

    @Test func aMedianJustPastTheThresholdWhoseSpreadReachesIntoItIsNoVerdict() throws {
        // 11% slower: the median is past 10% and the CI excludes 1, but the bootstrap puts much
        // of the change within 10%: not significantly beyond it.
        let g = try Self.gate(Self.report(scale: 1.11), against: Self.report())
        #expect(g.entries.allSatisfy { $0.speedup < 1 / 1.1 && $0.ci95High < 1 })
        #expect(g.entries.allSatisfy { $0.holmP >= Gate.alpha })
        #expect(g.entries.allSatisfy { $0.verdict == .withinNoise })
        // 20% slower is beyond it everywhere.
        let far = try Self.gate(Self.report(scale: 1.2), against: Self.report())
        #expect(far.entries.allSatisfy { $0.verdict == .slower })
    }

    @Test func oneRepetitionIsListedNotJudged() throws {
        var one = Self.report(scale: 2)
        var results = one["results"] as! [[String: Any]]
        for k in results.indices { results[k]["ns_per_page"] = ["median": 16.0, "samples": [16.0]] }
        one["results"] = results
        let g = try Self.gate(one, against: Self.report())
        #expect(g.entries.isEmpty)
        #expect(g.unjudged.map(\.reason) == Array(repeating: "1 repetition now: no spread to judge a change against", count: 4))
        #expect(g.outcome == .inconclusive)
    }

    @Test func anOldReportsThreadsThatDidNotRunTogetherAreListedNotJudged() throws {
        var apart = Self.report(scale: 0.75)
        var results = apart["results"] as! [[String: Any]]
        results[3]["thread_overlap"] = 0.5  // unpin-range, 2 threads, ran mostly one after the other
        results[2]["thread_overlap"] = 0.95
        apart["results"] = results
        let g = try Self.gate(Self.report(), against: apart)
        #expect(g.entries.map(\.verdict) == [.slower, .slower, .slower])
        #expect(g.unjudged.map(\.label) == ["unpin-range/swift thp order 9 1GiB t2 batch 262144"])
        #expect(g.unjudged[0].reason.hasPrefix("threads did not run together (50% overlap baseline)"))
        #expect(g.rendered().contains("Holm-Bonferroni over 3 scenarios"))
        #expect(g.outcome == .slower)  // a judged slowdown is a finding even with one left out
    }

    /// Per-repetition records: a repetition in which a thread was off its CPU is dropped, and a
    /// scenario keeps its verdict while at least half its repetitions remain.
    @Test func repetitionsWithADescheduledThreadAreDropped() throws {
        var now = Self.report()
        var results = now["results"] as! [[String: Any]]
        // unpin-batched (t2): 2 of 15 descheduled; unpin-range (t2): 9 of 15.
        results[2]["threads_ran"] = (0..<5).map { r in (0..<3).map { i in r == 0 && i < 2 ? 0.4 : 1.0 } }
        results[3]["threads_ran"] = (0..<5).map { r in (0..<3).map { i in r < 3 ? 0.5 : 0.99 } }
        now["results"] = results
        let g = try Self.gate(now, against: Self.report())
        #expect(g.entries.map(\.label) == ["put-page/swift thp order 9 1GiB t1 batch 262144",
                                           "unpin-each/swift thp order 9 1GiB t1 batch 262144",
                                           "unpin-batched/swift thp order 9 1GiB t2 batch 262144"])
        #expect(g.entries[2].dropped.now == 2 && g.entries[2].now.count == 13)
        #expect(g.unjudged.map(\.reason) == ["a thread was off its CPU in 9 of 15 repetitions now: 6 left, at least 8 needed"])
        #expect(g.outcome == .inconclusive)
        #expect(g.outcome.exitCode == 4)
    }

    @Test func aBaselineScenarioMissingNowIsListedAndTheGateIsInconclusive() throws {
        var fewer = Self.report()
        fewer["results"] = Array((fewer["results"] as! [[String: Any]]).prefix(3))
        let g = try Self.gate(fewer, against: Self.report())
        #expect(g.entries.count == 3)
        #expect(g.unjudged.map(\.reason) == ["missing now: this run did not measure it"])
        #expect(g.outcome == .inconclusive)
        #expect(g.rendered().contains("not judged (1 of the baseline's 4):\n  unpin-range/swift thp order 9 1GiB t2 batch 262144: missing now"))
        // The other way round, a scenario the baseline lacks is new: listed, and not a reason
        // to fail.
        let more = try Self.gate(Self.report(), against: fewer)
        #expect(more.newScenarios == ["unpin-range/swift thp order 9 1GiB t2 batch 262144"])
        #expect(more.outcome == .unchanged)
    }

    // The machine under the two reports.

    static func calibrated(_ report: [String: Any], latency: Double = 120, cpu: String = "AMD EPYC") -> [String: Any] {
        var r = report
        r["machine"] = ["cpu_model": cpu, "llc_bytes": 33554432, "kernel": "6.18.44", "thp_mode": "madvise"]
        r["calibration"] = ["atomic_ns": 2.0, "latency_ns_per_descriptor": latency, "llc_bytes": 33554432, "samples": 3,
                            "spread": ["atomic_ns": ["min": 2.0, "max": 2.1],
                                       "latency_ns_per_descriptor": ["min": latency, "max": latency * 1.02]],
                            "memmaps": [["bytes": 16777216, "line_ns": 1.0,
                                         "spread": ["line_ns": ["min": 1.0, "max": 1.05]]]]] as [String: Any]
        return r
    }

    @Test func theSameMachineProceeds() throws {
        let g = try Self.gate(Self.calibrated(Self.report(scale: 1.2)), against: Self.calibrated(Self.report()))
        #expect(g.machineChanges.isEmpty && g.machineNote == nil)
        #expect(g.outcome == .slower)
    }

    @Test func dependentLoadsBeyondTheirToleranceMeanTheMachineChanged() throws {
        // 20% slower everywhere, and so is the machine's dependent-load latency: inconclusive,
        // never slower.
        // (The latency's tolerance is measured; this is 10% beyond it, at least 20%.)
        let slower = max(1.2, MachineState.tolerance["latency_ns_per_descriptor"]! * 1.1)
        let g = try Self.gate(Self.calibrated(Self.report(scale: slower), latency: 120 * slower),
                              against: Self.calibrated(Self.report()))
        #expect(g.machineChanges.map(\.resource) == ["latency_ns_per_descriptor"])
        #expect(g.outcome == .inconclusive && g.outcome.exitCode == 4)
        #expect(g.rendered().contains("machine changed (no scenario can be called slower):\n  latency_ns_per_descriptor: 120 -> "))
        // Another CPU is another machine, whatever the figures.
        let other = try Self.gate(Self.calibrated(Self.report(), cpu: "Intel Xeon"), against: Self.calibrated(Self.report()))
        #expect(other.machineChanges.map(\.description) == ["cpu_model: AMD EPYC before, Intel Xeon now"])
    }

    @Test func aFigureOutsideItsToleranceWhoseRangesOverlapHasNotChanged() {
        let a = MachineState(host: [:], figures: ["atomic_ns": .init(value: 2, low: 2, high: 3)])
        let b = MachineState(host: [:], figures: ["atomic_ns": .init(value: 2.8, low: 2.8, high: 2.9)])
        #expect(MachineState.changes(before: a, now: b, tolerance: ["atomic_ns": 1.1]).isEmpty)
        let c = MachineState(host: [:], figures: ["atomic_ns": .init(value: 3.2, low: 3.2, high: 3.3)])
        #expect(MachineState.changes(before: a, now: c, tolerance: ["atomic_ns": 1.1]).map(\.resource) == ["atomic_ns"])
        #expect(MachineState.changes(before: a, now: c, tolerance: [:]).isEmpty)  // not compared
    }

    @Test func aReportWithoutCalibrationIsSaidSo() throws {
        let g = try Self.gate(Self.report(), against: Self.calibrated(Self.report()))
        #expect(g.machineNote == "machine state not compared: this report has no calibration")
        #expect(g.outcome == .unchanged)
    }

    // Power.

    /// With every resampled log ratio spread by σ, the least slowdown flagged with 80% power
    /// over m scenarios is (1 + threshold) × exp((z[1 − α/2m] + z[0.8]) σ) − 1.
    @Test func minDetectableChangeFollowsTheSpread() {
        let z = Statistics.normalQuantile(1 - 0.05 / 48) + Statistics.normalQuantile(0.8)
        #expect(abs(z - (3.0782 + 0.8416)) < 1e-3)
        #expect(abs(Gate.minDetectableChange(logSE: 0.05, threshold: 0.1, family: 24) - (1.1 * exp(z * 0.05) - 1)) < 1e-12)
        #expect(Gate.minDetectableChange(logSE: 0, threshold: 0.1, family: 24) == 0.1 + 2.220446049250313e-16
                || abs(Gate.minDetectableChange(logSE: 0, threshold: 0.1, family: 24) - 0.1) < 1e-12)
        // Constructed samples: two rounds per side, repetitions at ±2%; each line shows it.
        let g = try! Self.gate(Self.report(), against: Self.report())
        #expect(g.entries.allSatisfy { $0.minDetectableChange > 0.1 && $0.minDetectableChange < 0.2 })
        #expect(g.rendered().contains("detectable: median "))
    }

    /// A family of 150: the bootstrap's counting resolution (2/4001) times 150 is above α,
    /// so only p-values read from the normal tail let one scenario fail.
    @Test func oneScenario30PercentSlowerAmong150Fails() throws {
        func big(_ slowIndex: Int?) -> [String: Any] {
            let results: [[String: Any]] = (0..<150).map { k in
                let scale = k == slowIndex ? 1.3 : 1.0
                let r = Self.rounds(5.0).map { $0.map { $0 * scale } }
                return ["strategy": "unpin-each", "impl": "swift", "detect": "off", "backing": "4k", "folio_order": 0,
                        "size_bytes": (k + 1) << 20, "threads": 1, "sharing": "disjoint", "layout": "sequential",
                        "dirty": "none", "batch": 64, "mem_policy": "bind",
                        "ns_per_page": ["median": Statistics.median(r.flatMap { $0 }), "rounds": r]]
            }
            return ["schema": "gupbench/1", "command": "sweep", "results": results]
        }
        let g = try Self.gate(big(77), against: big(nil))
        #expect(g.entries.count == 150)
        #expect(g.entries.filter { $0.verdict == .slower }.map(\.label) == ["unpin-each/swift 4k order 0 78MiB t1 batch 64"])
        #expect(g.outcome.exitCode == 3)
    }

    @Test func theRuleNeedsBothSignificanceAndSize() {
        #expect(Gate.verdict(speedup: 0.8, holmP: 0.01, threshold: 0.08, repetitions: 10) == .slower)
        #expect(Gate.verdict(speedup: 0.8, holmP: 0.06, threshold: 0.08, repetitions: 10) == .withinNoise)
        #expect(Gate.verdict(speedup: 0.95, holmP: 0.001, threshold: 0.08, repetitions: 10) == .withinNoise)
        #expect(Gate.verdict(speedup: 1.2, holmP: 0.01, threshold: 0.08, repetitions: 10) == .faster)
        #expect(Gate.verdict(speedup: 0.5, holmP: 0.001, threshold: 0.08, repetitions: 1) == .notApplicable)
        #expect(Gate.defaultThreshold <= 0.10)
    }

    @Test func thresholdsParseAsPercentOrFraction() throws {
        #expect(try Gate.parseThreshold("8%") == 0.08)
        #expect(try Gate.parseThreshold("0.1") == 0.1)
        #expect(throws: GUPBenchError.self) { try Gate.parseThreshold("8") }
        #expect(throws: GUPBenchError.self) { try Gate.parseThreshold("-1%") }
    }

    // The command line: `gupbench gate` on saved reports.

    @Test func gateCommandExitsZeroOnAnUnchangedReport() throws {
        let base = try Self.write(Self.report(), "base.json")
        let r = try CLITests.run(["gate", base, "--baseline", base])
        #expect(r.status == 0)
        #expect(r.stdout.contains("gate: 0 slower, 0 faster, 4 unchanged, 0 not judged at threshold 10%: no change"))
        #expect(r.stderr.isEmpty)
    }

    @Test func gateCommandExitsThreeOnAScaledBaseline() throws {
        let cur = try Self.write(Self.report(), "cur.json")
        let base = try Self.write(Self.report(scale: 0.87), "base-087.json")  // now 15% slower
        let r = try CLITests.run(["gate", cur, "--baseline", base])
        #expect(r.status == 3)
        #expect(r.stdout.contains("slower (beyond 10%)"))
        #expect(r.stderr == "gupbench: slower than baseline \(base) beyond 10% and noise\n")
    }

    @Test func gateCommandRefusesADifferentMatrix() throws {
        let cur = try Self.write(Self.report(), "cur2.json")
        var other = Self.report()
        var results = other["results"] as! [[String: Any]]
        for k in results.indices { results[k]["backing"] = "4k" }
        other["results"] = results
        let base = try Self.write(other, "base-other.json")
        let r = try CLITests.run(["gate", cur, "--baseline", base])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("gupbench: --baseline '\(base)' has different scenarios: nothing matches put-page/swift thp"))
    }

    @Test func gateCommandExitsFourListingWhatItCouldNotJudge() throws {
        var fewer = Self.report()
        fewer["results"] = Array((fewer["results"] as! [[String: Any]]).prefix(2))
        let cur = try Self.write(fewer, "cur-fewer.json")
        let base = try Self.write(Self.report(), "base-all.json")
        let r = try CLITests.run(["gate", cur, "--baseline", base])
        #expect(r.status == 4)
        #expect(r.stdout.contains("not judged (2 of the baseline's 4):"))
        #expect(r.stderr == "gupbench: inconclusive against baseline \(base): 2 of its scenarios not judged\n")
    }

    @Test func gateCommandExitsFourWhenTheMachineChanged() throws {
        let cur = try Self.write(Self.calibrated(Self.report(scale: 1.3), cpu: "Intel Xeon"), "cur-xeon.json")
        let base = try Self.write(Self.calibrated(Self.report()), "base-epyc.json")
        let r = try CLITests.run(["gate", cur, "--baseline", base])
        #expect(r.status == 4)
        #expect(r.stderr == "gupbench: inconclusive against baseline \(base): the machine changed (cpu_model)\n")
    }

    @Test func gateCommandRejectsABadThreshold() throws {
        let base = try Self.write(Self.report(), "base3.json")
        let r = try CLITests.run(["gate", base, "--baseline", base, "--threshold", "lots"])
        #expect(r.status == 2)
        #expect(r.stderr == "gupbench: --threshold 'lots' is not valid; give a percentage like 8% or a fraction like 0.08, above 0 and below 100%\n")
    }
}
