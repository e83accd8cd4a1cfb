import Foundation

/// `gupbench ab`: two builds measured in alternating processes, A B B A A B B A …, each A
/// paired with the B next to it. On a shared machine whole processes of unchanged code differ
/// by up to ±20% (the neighbour, the physical pages a region got): a saved baseline from an
/// hour ago carries its own minute. Alternating puts both builds in the same minutes, and
/// pairing neighbours makes each ratio compare processes that ran seconds apart, so a slow
/// minute lands on both sides of a ratio (hyperfine alternates commands the same way; duet
/// benchmarking runs both at once).
public enum Alternation {
    public enum Build: String, Sendable { case baseline = "A", candidate = "B" }

    /// The order the processes run in: A B, then B A, … (ABBA), so neither build always goes
    /// first after the other's warm caches, and each pair's two processes are neighbours.
    public static func order(pairs: Int) -> [Build] {
        (0..<pairs).flatMap { $0 % 2 == 0 ? [Build.baseline, .candidate] : [.candidate, .baseline] }
    }

    /// The test of one scenario on its pairs' ratios (baseline time ÷ candidate time): the
    /// same rule as the gate (a change significantly beyond the threshold), here as Yuen's
    /// one-sample trimmed-mean t-test on the log ratios, since each pair is one independent
    /// draw. Trimmed, because a pair's ratio is either the code's (a few percent of spread) or,
    /// when a neighbour sat on one of its two processes for the whole process, tens of percent
    /// off: an ordinary t-test lets one such pair in eight widen the interval until a real 20%
    /// slowdown cannot be seen (docs/gate.md). 20% of the pairs are trimmed from each end
    /// (none below five pairs, where it is the plain t-test).
    public struct PairedTest: Sendable, Equatable {
        public let speedup: Double
        public let ci95Low: Double
        public let ci95High: Double
        /// Two-sided p of "the change is within the threshold", in the direction of the
        /// trimmed mean.
        public let pBeyond: Double
        /// Standard error of the trimmed mean log ratio, and its degrees of freedom.
        public let logSE: Double
        public let degreesOfFreedom: Int
        public let pairs: Int
    }

    public static let trimming = 0.2

    public static func test(ratios: [Double], threshold: Double) -> PairedTest {
        let logs = ratios.map { log($0) }.sorted()
        let n = logs.count
        let g = Int(trimming * Double(n)), h = n - 2 * g
        guard h >= 2 else {
            let m = Statistics.mean(logs)
            return PairedTest(speedup: exp(m), ci95Low: exp(m), ci95High: exp(m), pBeyond: .nan, logSE: .nan,
                              degreesOfFreedom: 0, pairs: n)
        }
        let mean = Statistics.mean(Array(logs[g..<(n - g)]))
        // Winsorized: the trimmed values replaced by the nearest kept one.
        let winsorized = logs.indices.map { logs[min(max($0, g), n - g - 1)] }
        let wm = Statistics.mean(winsorized)
        let variance = winsorized.reduce(0) { $0 + ($1 - wm) * ($1 - wm) } / Double(n - 1)
        let se = (Double(n - 1) * variance / Double(h * (h - 1))).squareRoot()
        let df = Double(h - 1)
        let half = Statistics.studentQuantile(0.975, df: df) * se
        let bound = log(1 + threshold)
        let p: Double
        if mean == 0 {
            p = 1
        } else {
            // How far the mean lies beyond ±bound, in standard errors (negative: inside).
            let beyond = abs(mean) - bound
            p = se > 0 ? min(1, 2 * Statistics.studentTail(beyond / se, df: df)) : (beyond > 0 ? 0 : 1)
        }
        return PairedTest(speedup: exp(mean), ci95Low: exp(mean - half), ci95High: exp(mean + half), pBeyond: p,
                          logSE: se, degreesOfFreedom: h - 1, pairs: n)
    }

    /// The least slowdown flagged with `Gate.power` over `family` scenarios at this spread:
    /// `Gate.minDetectableChange` with Student's t quantiles for the test's degrees of freedom.
    public static func minDetectableChange(logSE: Double, degreesOfFreedom: Int, threshold: Double,
                                           family: Int) -> Double {
        guard logSE.isFinite, degreesOfFreedom >= 1, family > 0 else { return .nan }
        let df = Double(degreesOfFreedom)
        let t = Statistics.studentQuantile(1 - Gate.alpha / (2 * Double(family)), df: df)
            + Statistics.studentQuantile(Gate.power, df: df)
        return (1 + threshold) * exp(t * logSE) - 1
    }

    /// `ab`'s default threshold, half the saved baseline's: alternating the builds takes out
    /// the drift between minutes that the baseline gate's 10% has to absorb, so what is left
    /// to allow for is a build's own small constant differences (code layout), not the machine.
    public static let defaultThreshold = 0.05

    /// The fewest pairs a scenario is judged on: at least 3, and at least half of them.
    public static func pairsNeeded(of total: Int) -> Int { max(3, (total + 1) / 2) }
}

extension Gate {
    /// One process's time for a scenario in `ab`: the lower decile of its kept samples. On the
    /// shared AMD EPYC host a sample (a millisecond of windows) of a loop that makes a call per
    /// page comes out either fast or about one and a half times slower, in the same round of
    /// the same process and build (`unpin-each` samples 5.0-5.3 or 7.5-9 ns/page, switching
    /// from one sample to the next; a whole process can be mostly slow): the slow mode is the
    /// machine's, not the code's. Noise only ever adds time, so the fast end of the samples is
    /// the process's best view of the code, and extra work in the loop shifts it as much as
    /// the rest. A round's median is not: when most of a round's samples are slow, so is it,
    /// and with 6 rounds of 5 some processes had no fast round at all. The decile rather than
    /// the minimum, so that one sample does not decide. Measured on 12 processes of unchanged
    /// code (64 MiB, 4k, one thread): across processes the decile varies by 0.2-0.5%, the
    /// fastest round's median by 0.2-1.0%, the median of all samples by 2.5-16%.
    static func processTime(_ s: RoundSamples) -> Double {
        Statistics.percentile(s.all, processQuantile)
    }

    /// The quantile `processTime` takes: of 30 samples, between the 3rd and the 4th fastest.
    static let processQuantile = 0.1

    /// `gupbench ab`: `pairs[k]` holds pair k's two processes. Per scenario of the first
    /// baseline process, each pair whose processes both measured it (with enough repetitions
    /// whose threads were on their CPUs, `counted`) gives one ratio of `processTime`s; the pairs'
    /// log ratios are tested (`Alternation.test`) and corrected by Holm like the gate's. A
    /// scenario missing from any process, or left with too few pairs, is listed unjudged.
    public init(pairs: [(baseline: Side, candidate: Side)], baselineName: String, threshold: Double) throws {
        guard let first = pairs.first?.baseline else {
            throw GUPBenchError.usage("--pairs must be at least 1")
        }
        let known = Set(first.scenarios.map(\.identity))
        var unjudged: [Unjudged] = []
        var judged: [(scenario: Scenario, ratios: [Double], a: [Double], b: [Double], lost: Int)] = []
        for scenario in first.scenarios {
            var ratios: [Double] = [], a: [Double] = [], b: [Double] = []
            var missing = 0, lost = 0
            for pair in pairs {
                guard let before = pair.baseline.scenarios.first(where: { $0.identity == scenario.identity }),
                      let now = pair.candidate.scenarios.first(where: { $0.identity == scenario.identity }) else {
                    missing += 1
                    continue
                }
                let (kb, _) = Self.counted(before), (kn, _) = Self.counted(now)
                guard kb.count >= Self.minimumKept(of: before.samples.count),
                      kn.count >= Self.minimumKept(of: now.samples.count) else {
                    lost += 1
                    continue
                }
                let mb = Self.processTime(kb), mn = Self.processTime(kn)
                a.append(mb)
                b.append(mn)
                ratios.append(mb / mn)
            }
            let needed = Alternation.pairsNeeded(of: pairs.count)
            if missing > 0 {
                unjudged.append(Unjudged(identity: scenario.identity, label: scenario.label,
                                         reason: "missing in \(missing) of \(pairs.count) pairs"))
            } else if ratios.count < needed {
                let why = lost == 0 ? "too few pairs" : "a thread was off its CPU in too many repetitions in \(lost) pairs"
                unjudged.append(Unjudged(identity: scenario.identity, label: scenario.label,
                                         reason: "\(why): \(ratios.count) of \(pairs.count) left, at least \(needed) needed"))
            } else {
                judged.append((scenario, ratios, a, b, lost))
            }
        }
        let tests = judged.map { Alternation.test(ratios: $0.ratios, threshold: threshold) }
        let adjusted = Statistics.holm(tests.map(\.pBeyond))
        let entries = judged.indices.map { k -> Entry in
            let j = judged[k], t = tests[k]
            return Entry(identity: j.scenario.identity, label: j.scenario.label,
                         before: RoundSamples(j.a.map { [$0] }), now: RoundSamples(j.b.map { [$0] }),
                         speedup: t.speedup, ci95Low: t.ci95Low, ci95High: t.ci95High, p: t.pBeyond, holmP: adjusted[k],
                         verdict: Self.verdict(speedup: t.speedup, holmP: adjusted[k], threshold: threshold,
                                               repetitions: t.pairs),
                         minDetectableChange: Alternation.minDetectableChange(
                            logSE: t.logSE, degreesOfFreedom: t.degreesOfFreedom, threshold: threshold,
                            family: judged.count),
                         dropped: (j.lost, j.lost))
        }
        self.init(baselinePath: baselineName, threshold: threshold, entries: entries, unjudged: unjudged,
                  newScenarios: pairs[0].candidate.scenarios.filter { !known.contains($0.identity) }.map(\.label),
                  machineChanges: [],
                  machineNote: "machine: the builds alternated (\(Alternation.order(pairs: min(pairs.count, 2)).map(\.rawValue).joined(separator: " ")) …) "
                    + "in \(pairs.count) pairs, so the machine's changes land on both; per scenario a trimmed t-test "
                    + "on the pairs' ratios")
    }
}
