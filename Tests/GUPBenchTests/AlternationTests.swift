import Foundation
import Testing
@testable import GUPBench

/// `gupbench ab`: the order of the processes, the pairing, the paired test and its exits, on
/// constructed process results (no timing).
@Suite struct AlternationTests {
    @Test func processesAlternateABBA() {
        #expect(Alternation.order(pairs: 3).map(\.rawValue) == ["A", "B", "B", "A", "A", "B"])
        #expect(Alternation.pairsNeeded(of: 1) == 3 && Alternation.pairsNeeded(of: 10) == 5)
    }

    /// Student's t against its tables: P(T > 2.228) = 0.025 with 10 degrees of freedom,
    /// P(T > 1.812) = 0.05; the quantile inverts the tail.
    @Test func studentTailMatchesTheTables() {
        #expect(abs(Statistics.studentTail(2.228, df: 10) - 0.025) < 2e-4)
        #expect(abs(Statistics.studentTail(1.812, df: 10) - 0.05) < 2e-4)
        #expect(abs(Statistics.studentTail(-1.812, df: 10) - 0.95) < 2e-4)
        #expect(abs(Statistics.studentQuantile(0.975, df: 10) - 2.228) < 1e-3)
        #expect(abs(Statistics.normalQuantile(0.975) - 1.95996) < 1e-4)
    }

    /// One process of a build: every scenario's samples scaled by `scale` (and `extra` for one).
    static func process(_ scale: Double, slow identity: String? = nil, by extra: Double = 1,
                        drop: String? = nil) -> Gate.Side {
        let scenarios = ["unpin-each", "unpin-batched", "put-page"].filter { $0 != drop }.map { name -> Gate.Scenario in
            let factor = scale * (name == identity ? extra : 1)
            let rounds = (0..<3).map { r in (0..<5).map { i in 10 * factor * (1 + 0.01 * Double((r + i) % 3)) } }
            return Gate.Scenario(identity: name, label: name, samples: RoundSamples(rounds))
        }
        return Gate.Side(scenarios: scenarios, machine: nil)
    }

    /// Six pairs; the whole machine drifts ±15% from pair to pair, which lands on both builds
    /// of a pair alike; B's unpin-each is 25% slower in every pair.
    static func pairs(missing: Bool = false) -> [(baseline: Gate.Side, candidate: Gate.Side)] {
        let drift = [1.0, 1.15, 0.9, 1.1, 0.85, 1.05]
        let wobble = [1.01, 0.99, 1.02, 0.98, 1.0, 1.01]  // B against A, a little either way
        return drift.indices.map { k in
            (process(drift[k]),
             process(drift[k] * wobble[k], slow: "unpin-each", by: 1.25, drop: missing && k == 2 ? "put-page" : nil))
        }
    }

    @Test func pairedRatiosFindTheSlowScenarioThroughTheDrift() throws {
        let g = try Gate(pairs: Self.pairs(), baselineName: "build A", threshold: 0.10)
        #expect(g.entries.map(\.label) == ["unpin-each", "unpin-batched", "put-page"])
        #expect(g.entries.map(\.verdict) == [.slower, .withinNoise, .withinNoise])
        #expect(abs(1 / g.entries[0].speedup - 1.25) < 0.02)
        #expect(g.entries.allSatisfy { $0.before.count == 6 && $0.now.count == 6 })
        #expect(g.entries.allSatisfy { $0.minDetectableChange > 0.10 })
        #expect(g.outcome == .slower && g.outcome.exitCode == 3)
        #expect(g.rendered().contains("the builds alternated (A B B A …) in 6 pairs"))
    }

    /// Seven pairs see the candidate 20% slower; in the eighth a neighbour sat on the
    /// baseline's process for all of it, and its ratio says the candidate is 60% faster. The trimmed test keeps the
    /// seven; the plain mean of all eight would not clear 5% significantly.
    @Test func onePairAKnownNeighbourSpoiledIsTrimmed() {
        let ratios = [0.83, 0.84, 0.82, 0.835, 0.845, 0.84, 0.83, 1.6]
        let t = Alternation.test(ratios: ratios, threshold: 0.05)
        #expect(t.degreesOfFreedom == 5)  // 8 pairs, one trimmed from each end
        #expect(abs(1 / t.speedup - 1.2) < 0.01)
        #expect(t.pBeyond < 1e-4)
        let logs = ratios.map { log($0) }
        let mean = logs.reduce(0, +) / 8
        #expect(exp(mean) > 0.9)  // what an untrimmed mean would have called the change
        // Fewer than five pairs: nothing trimmed, the plain t-test.
        #expect(Alternation.test(ratios: [0.8, 0.82, 0.81, 0.79], threshold: 0.05).degreesOfFreedom == 3)
    }

    /// A process's time is the fast end of its samples, not a round's median: here each
    /// process's samples are 5.0 ns (fast) or 8.0 ns (the machine's slow mode), and how many are
    /// slow changes from process to process, up to every round's median being slow. B's loop is
    /// 20% slower in both modes; each pair's ratio still says 20%.
    @Test func theSlowModesShareDoesNotMoveAProcessTime() throws {
        func side(_ fast: Double, slowPerRound: Int) -> Gate.Side {
            let rounds = (0..<6).map { _ in (0..<5).map { i in i < slowPerRound ? fast * 1.6 : fast } }
            return Gate.Side(scenarios: [Gate.Scenario(identity: "unpin-each", label: "unpin-each",
                                                       samples: RoundSamples(rounds))], machine: nil)
        }
        #expect(Gate.processTime(side(5, slowPerRound: 4).scenarios[0].samples) == 5)
        let slowShares = [(0, 3), (3, 0), (1, 4), (4, 2), (2, 2), (3, 3)]
        let pairs = slowShares.map { a, b in (side(5, slowPerRound: a), side(6, slowPerRound: b)) }
        let g = try Gate(pairs: pairs, baselineName: "build A", threshold: 0.05)
        #expect(g.entries.map(\.verdict) == [.slower])
        #expect(abs(1 / g.entries[0].speedup - 1.2) < 1e-9)
    }

    @Test func aScenarioMissingFromOneProcessIsListed() throws {
        let g = try Gate(pairs: Self.pairs(missing: true), baselineName: "build A", threshold: 0.10)
        #expect(g.unjudged.map(\.reason) == ["missing in 1 of 6 pairs"])
        #expect(g.outcome == .slower)  // unpin-each is still judged, and slower
    }

    @Test func tooFewPairsAreListedNotJudged() throws {
        let g = try Gate(pairs: Array(Self.pairs().prefix(2)), baselineName: "build A", threshold: 0.10)
        #expect(g.entries.isEmpty)
        #expect(g.unjudged.count == 3)
        #expect(g.unjudged[0].reason.hasSuffix("2 of 2 left, at least 3 needed"))
        #expect(g.outcome == .inconclusive)
    }

    // The command line.

    @Test func abRejectsBadOptions() throws {
        let bad = try CLITests.run(["ab", "--baseline-binary", "/nonexistent/gupbench"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--baseline-binary '/nonexistent/gupbench' is not an executable file"))
        let pairs = try CLITests.run(["ab", "--baseline-binary", CLITests.executable.path, "--pairs", "0"])
        #expect(pairs.status == 2)
        #expect(pairs.stderr.contains("--pairs 0 is out of range; valid: 1-1000"))
        let format = try CLITests.run(["ab", "--baseline-binary", CLITests.executable.path, "--", "--format", "csv"])
        #expect(format.status == 2)
    }

    /// Two real processes (one pair) of this build against itself: too few pairs to judge, so
    /// every scenario is listed and the exit is 4, whatever the timings.
    @Test func onePairOfRealProcessesIsInconclusive() throws {
        let exe = CLITests.executable.path
        let r = try CLITests.run(["ab", "--baseline-binary", exe, "--candidate-binary", exe, "--pairs", "1", "--",
                                  "--size", "16MiB", "--backing", "4k", "--threads", "1", "--strategies", "unpin-each",
                                  "--impl", "swift", "--rounds", "1", "--repetitions", "3", "--warmup", "0", "--min-time", "0"])
        #expect(r.status == 4)
        #expect(r.stdout.contains("not judged (1 of the baseline's 1):"))
        // "too few pairs: 1 of 1 left", or "0 of 1" when a thread was descheduled in most of
        // the three repetitions of a process (a busy machine): either way, not judged.
        #expect(r.stdout.contains(" of 1 left, at least 3 needed"))
        #expect(r.stderr.contains("ab: pair 1 of 1, build A\nab: pair 1 of 1, build B\n"))
    }
}
