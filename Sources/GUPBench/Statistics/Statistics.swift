import Foundation

/// Order statistics, bootstrap confidence intervals and a rank test: what decides whether a
/// difference between two loops is real on a noisy machine.
public enum Statistics {
    public static func median(_ xs: [Double]) -> Double { percentile(xs, 0.5) }

    /// Linear interpolation between closest ranks (type 7).
    public static func percentile(_ xs: [Double], _ p: Double) -> Double {
        guard !xs.isEmpty else { return .nan }
        let s = xs.sorted()
        let h = Double(s.count - 1) * p
        let lo = Int(h.rounded(.down))
        let hi = min(lo + 1, s.count - 1)
        return s[lo] + (h - Double(lo)) * (s[hi] - s[lo])
    }

    public static func mean(_ xs: [Double]) -> Double { xs.reduce(0, +) / Double(max(xs.count, 1)) }

    /// Coefficient of variation (sample standard deviation over mean).
    public static func coefficientOfVariation(_ xs: [Double]) -> Double {
        guard xs.count > 1 else { return 0 }
        let m = mean(xs)
        let v = xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(xs.count - 1)
        return m == 0 ? 0 : v.squareRoot() / m
    }

    public static let bootstrapResamples = 2000

    /// Percentile bootstrap 95% CI of the median, with a fixed seed so reports repeat.
    public static func medianCI(_ xs: [Double], seed: UInt64 = 1) -> (low: Double, high: Double) {
        guard xs.count > 1 else { return (xs.first ?? .nan, xs.first ?? .nan) }
        var rng = SplitMix64(seed: seed)
        var medians = [Double]()
        medians.reserveCapacity(bootstrapResamples)
        var sample = [Double](repeating: 0, count: xs.count)
        for _ in 0..<bootstrapResamples {
            for i in 0..<xs.count { sample[i] = xs[Int(rng.next() % UInt64(xs.count))] }
            medians.append(median(sample))
        }
        return (percentile(medians, 0.025), percentile(medians, 0.975))
    }

    /// Speedup of `candidate` over `baseline` (baseline time / candidate time) as the ratio of
    /// medians, with a percentile bootstrap 95% CI resampling both sides independently.
    public static func speedup(baseline: [Double], candidate: [Double], seed: UInt64 = 2)
        -> (median: Double, low: Double, high: Double)
    {
        let point = median(baseline) / median(candidate)
        guard baseline.count > 1, candidate.count > 1 else { return (point, point, point) }
        var rng = SplitMix64(seed: seed)
        var ratios = [Double]()
        ratios.reserveCapacity(bootstrapResamples)
        var a = [Double](repeating: 0, count: baseline.count)
        var b = [Double](repeating: 0, count: candidate.count)
        for _ in 0..<bootstrapResamples {
            for i in 0..<a.count { a[i] = baseline[Int(rng.next() % UInt64(a.count))] }
            for i in 0..<b.count { b[i] = candidate[Int(rng.next() % UInt64(b.count))] }
            ratios.append(median(a) / median(b))
        }
        return (point, percentile(ratios, 0.025), percentile(ratios, 0.975))
    }

    /// Values beyond 1.5 interquartile ranges from the quartiles (counted, never dropped).
    public static func outlierCount(_ xs: [Double]) -> Int {
        guard xs.count >= 4 else { return 0 }
        let q1 = percentile(xs, 0.25), q3 = percentile(xs, 0.75)
        let iqr = q3 - q1
        return xs.filter { $0 < q1 - 1.5 * iqr || $0 > q3 + 1.5 * iqr }.count
    }
}
