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
        try Gate(current: Gate.scenarios(json: current), baseline: Gate.scenarios(json: baseline),
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

    @Test func oneRepetitionGivesNoVerdict() throws {
        var one = Self.report(scale: 2)
        var results = one["results"] as! [[String: Any]]
        for k in results.indices { results[k]["ns_per_page"] = ["median": 16.0, "samples": [16.0]] }
        one["results"] = results
        let g = try Self.gate(one, against: Self.report())
        #expect(g.entries.allSatisfy { $0.verdict == .notApplicable })
        #expect(g.rendered().contains("n/a: 1 repetition"))
    }

    @Test func threadsThatDidNotRunTogetherGetNoVerdictAndLeaveTheFamily() throws {
        var apart = Self.report(scale: 0.75)
        var results = apart["results"] as! [[String: Any]]
        results[3]["thread_overlap"] = 0.5  // unpin-range, 2 threads, ran mostly one after the other
        results[2]["thread_overlap"] = 0.95
        apart["results"] = results
        let g = try Self.gate(Self.report(), against: apart)
        #expect(g.entries.map(\.verdict) == [.slower, .slower, .slower, .threadsApart])
        #expect(g.entries[3].holmP.isNaN)
        #expect(g.rendered().contains("Holm-Bonferroni over 3 scenarios"))
        #expect(g.rendered().contains("n/a: threads did not run together (overlap under 90%)"))
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
        #expect(r.stdout.contains("gate: 0 slower, 0 faster, 4 unchanged at threshold 10%"))
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
        other["results"] = Array((other["results"] as! [[String: Any]]).prefix(2))
        let base = try Self.write(other, "base-small.json")
        let r = try CLITests.run(["gate", cur, "--baseline", base])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("gupbench: --baseline '\(base)' has different scenarios: nothing matches unpin-batched/swift thp"))
    }

    @Test func gateCommandRejectsABadThreshold() throws {
        let base = try Self.write(Self.report(), "base3.json")
        let r = try CLITests.run(["gate", base, "--baseline", base, "--threshold", "lots"])
        #expect(r.status == 2)
        #expect(r.stderr == "gupbench: --threshold 'lots' is not valid; give a percentage like 8% or a fraction like 0.08, above 0 and below 100%\n")
    }
}
