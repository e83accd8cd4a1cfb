import Foundation

/// Repetitions grouped by round. A round is one freshly mapped region with fresh page arrays, so
/// what differs between processes (which physical pages, cache-set conflicts, a neighbour's load
/// at that moment) differs between rounds too; repetitions inside a round share all of it.
/// Confidence intervals that resample only repetitions see none of that spread.
public struct RoundSamples: Sendable, Equatable {
    /// rounds[r][i]: repetition i of round r. Empty rounds are dropped.
    public let rounds: [[Double]]

    public init(_ rounds: [[Double]]) { self.rounds = rounds.filter { !$0.isEmpty } }

    /// Every repetition, round after round.
    public var all: [Double] { rounds.flatMap { $0 } }
    public var count: Int { rounds.reduce(0) { $0 + $1.count } }
    public var roundMedians: [Double] { rounds.map(Statistics.median) }

    /// Each side scaled by `factor` (a saved report made to look faster or slower).
    public func scaled(by factor: Double) -> RoundSamples { RoundSamples(rounds.map { $0.map { $0 * factor } }) }
    /// Each value less `amount`.
    public func shifted(by amount: Double) -> RoundSamples { RoundSamples(rounds.map { $0.map { $0 - amount } }) }
}

/// The spread of one result, split where it comes from.
public struct RoundSpread: Sendable, Equatable {
    /// Pooled standard deviation of repetitions around their own round's mean, over the grand
    /// mean: the noise a single process sees.
    public let withinRoundCV: Double
    /// Standard deviation of the round means over the grand mean: what changes when the
    /// region, its page arrays and the moment change.
    public let betweenRoundCV: Double
}

extension Statistics {
    public static func spread(_ s: RoundSamples) -> RoundSpread {
        let all = s.all
        let grand = mean(all)
        guard grand != 0, !all.isEmpty else { return RoundSpread(withinRoundCV: 0, betweenRoundCV: 0) }
        var within = 0.0
        for round in s.rounds {
            let m = mean(round)
            within += round.reduce(0) { $0 + ($1 - m) * ($1 - m) }
        }
        let withinDF = all.count - s.rounds.count
        let withinSD = withinDF > 0 ? (within / Double(withinDF)).squareRoot() : 0
        let means = s.rounds.map(mean)
        var between = 0.0
        if means.count > 1 {
            let mm = mean(means)
            between = (means.reduce(0) { $0 + ($1 - mm) * ($1 - mm) } / Double(means.count - 1)).squareRoot()
        }
        return RoundSpread(withinRoundCV: withinSD / grand, betweenRoundCV: between / grand)
    }

    /// Indices of one two-level resample: rounds drawn with replacement, then repetitions drawn
    /// with replacement inside each drawn round (the hierarchical bootstrap). `roundPicks`
    /// fixes the drawn rounds when two results were measured in the same rounds (paired).
    static func resample(_ s: RoundSamples, roundPicks: [Int]?, into out: inout [Double],
                         rng: inout SplitMix64) {
        out.removeAll(keepingCapacity: true)
        let r = s.rounds.count
        for k in 0..<r {
            let round = s.rounds[roundPicks?[k] ?? Int(rng.next() % UInt64(r))]
            for _ in 0..<round.count { out.append(round[Int(rng.next() % UInt64(round.count))]) }
        }
    }

    /// Percentile 95% CI of the median from the hierarchical bootstrap. One round gives the
    /// ordinary bootstrap over its repetitions (`medianCI`), since nothing else is known.
    public static func medianCI(_ s: RoundSamples, seed: UInt64 = 1) -> (low: Double, high: Double) {
        if s.rounds.count <= 1 { return medianCI(s.all, seed: seed) }
        var rng = SplitMix64(seed: seed)
        var medians = [Double]()
        medians.reserveCapacity(bootstrapResamples)
        var buffer = [Double]()
        buffer.reserveCapacity(s.count * 2)
        for _ in 0..<bootstrapResamples {
            resample(s, roundPicks: nil, into: &buffer, rng: &rng)
            medians.append(median(buffer))
        }
        return (percentile(medians, 0.025), percentile(medians, 0.975))
    }

    /// A speedup and its tests: `Statistics.speedup(baseline:candidate:paired:…)`.
    public struct SpeedupTest: Sendable {
        /// Baseline time ÷ candidate time, ratio of medians; its percentile 95% CI.
        public let median: Double
        public let low: Double
        public let high: Double
        /// Two-sided p of "no change", and of "a change within the margin" (see `speedup`).
        public let p: Double
        public let pBeyond: Double
        /// Standard deviation of the resampled log ratios: the spread the power of a test
        /// depends on (`Gate.minDetectableChange`).
        public let logSE: Double
    }

    /// Fewer resampled ratios than this in a tail and the tail is read from the normal curve
    /// fitted to the log ratios instead of counted: counting cannot resolve a p-value below
    /// 2/(resamples + 1), which would cap how many scenarios a Holm correction can carry
    /// (with 4000 resamples, 2/4001 × m ≥ 0.05 from m = 101 on: such a report could never fail).
    static let countedTailMinimum = 10

    /// Speedup of `candidate` over `baseline` (baseline time ÷ candidate time, ratio of medians)
    /// with a hierarchical bootstrap 95% CI and a two-sided bootstrap p-value for "no change".
    ///
    /// `paired`: both were measured in the same rounds (interleaved in one process), so each
    /// resample draws the same rounds for both and the spread they share cancels. Otherwise
    /// (a saved baseline against a new process) each side's rounds are drawn on their own.
    ///
    /// The p-value is twice the smaller fraction of resampled ratios on either side of 1
    /// (+1 in numerator and denominator, so it is never 0): the significance level at which
    /// the percentile interval would just reach 1. When fewer than `countedTailMinimum`
    /// resamples fall in that tail, it is 2 × the normal tail of the distance from the point
    /// estimate to 1 in standard deviations of the log ratios (`logSE`).
    ///
    /// `pBeyond` tests the same way whether the change is larger than `margin` (a fraction) in
    /// the direction of the point estimate: twice the fraction of resampled ratios on the near
    /// side of 1/(1 + margin) for a slowdown, of 1 + margin for a speedup; 1 for no change.
    /// With `margin` 0 it is `p`.
    public static func speedup(baseline: RoundSamples, candidate: RoundSamples, paired: Bool,
                               resamples: Int = bootstrapResamples, seed: UInt64 = 2, margin: Double = 0)
        -> SpeedupTest
    {
        let point = median(baseline.all) / median(candidate.all)
        guard baseline.count > 1, candidate.count > 1 else {
            return SpeedupTest(median: point, low: point, high: point, p: .nan, pBeyond: .nan, logSE: .nan)
        }
        let pairable = paired && baseline.rounds.count == candidate.rounds.count
        var rng = SplitMix64(seed: seed)
        var ratios = [Double]()
        ratios.reserveCapacity(resamples)
        var a = [Double](), b = [Double]()
        var picks = [Int](repeating: 0, count: baseline.rounds.count)
        var below = 0, above = 0, inside = 0
        var logSum = 0.0, logSquares = 0.0
        let slowBound = 1 / (1 + margin), fastBound = 1 + margin
        for _ in 0..<resamples {
            if pairable {
                for k in picks.indices { picks[k] = Int(rng.next() % UInt64(picks.count)) }
                resample(baseline, roundPicks: picks, into: &a, rng: &rng)
                resample(candidate, roundPicks: picks, into: &b, rng: &rng)
            } else {
                resample(baseline, roundPicks: nil, into: &a, rng: &rng)
                resample(candidate, roundPicks: nil, into: &b, rng: &rng)
            }
            let ratio = median(a) / median(b)
            ratios.append(ratio)
            logSum += log(ratio)
            logSquares += log(ratio) * log(ratio)
            if ratio <= 1 { below += 1 }
            if ratio >= 1 { above += 1 }
            if point < 1 ? ratio >= slowBound : ratio <= fastBound { inside += 1 }
        }
        let n = Double(resamples)
        let logSE = max(0, (logSquares - logSum * logSum / n) / max(1, n - 1)).squareRoot()
        /// Twice a tail: counted, or from the normal curve when too few resamples lie in it.
        func twoSided(counted: Int, distanceTo bound: Double) -> Double {
            if counted >= countedTailMinimum || logSE == 0 && counted > 0 {
                return min(1, 2 * Double(counted + 1) / Double(resamples + 1))
            }
            guard logSE > 0 else { return 0 }
            return min(1, 2 * normalTail(abs(log(point) - log(bound)) / logSE))
        }
        let p = twoSided(counted: min(below, above), distanceTo: 1)
        let pBeyond = point == 1 ? 1 : twoSided(counted: inside, distanceTo: point < 1 ? slowBound : fastBound)
        return SpeedupTest(median: point, low: percentile(ratios, 0.025), high: percentile(ratios, 0.975), p: p,
                           pBeyond: margin == 0 ? p : pBeyond, logSE: logSE)
    }

    /// Holm-Bonferroni adjusted p-values, in the order given: sort ascending, multiply the i-th
    /// smallest (from 0) by (m − i), carry the running maximum so adjusted values never
    /// decrease, cap at 1. Rejecting where the adjusted value is below α keeps the chance of
    /// any false "slower" among m comparisons at most α. NaN (no test) stays NaN and does not
    /// count towards m.
    public static func holm(_ p: [Double]) -> [Double] {
        let tested = p.indices.filter { !p[$0].isNaN }.sorted { p[$0] < p[$1] }
        var adjusted = p
        let m = tested.count
        var running = 0.0
        for (i, index) in tested.enumerated() {
            running = max(running, min(1, Double(m - i) * p[index]))
            adjusted[index] = running
        }
        return adjusted
    }
}
