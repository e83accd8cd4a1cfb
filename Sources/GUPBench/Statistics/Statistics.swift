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

    /// Two-sided Mann-Whitney U test. Exact null distribution when both samples are small and
    /// untied; otherwise the normal approximation with tie correction and continuity correction.
    public static func mannWhitneyU(_ x: [Double], _ y: [Double]) -> (u: Double, p: Double) {
        let n1 = x.count, n2 = y.count
        guard n1 > 0, n2 > 0 else { return (.nan, .nan) }
        let pooled = (x.map { ($0, 0) } + y.map { ($0, 1) }).sorted { $0.0 < $1.0 }
        var ranks = [Double](repeating: 0, count: pooled.count)
        var tieTerm = 0.0
        var i = 0
        while i < pooled.count {
            var j = i
            while j + 1 < pooled.count && pooled[j + 1].0 == pooled[i].0 { j += 1 }
            let rank = Double(i + j + 2) / 2
            for k in i...j { ranks[k] = rank }
            let t = Double(j - i + 1)
            tieTerm += t * t * t - t
            i = j + 1
        }
        let r1 = zip(pooled, ranks).filter { $0.0.1 == 0 }.reduce(0.0) { $0 + $1.1 }
        let u1 = r1 - Double(n1 * (n1 + 1)) / 2
        let u = min(u1, Double(n1 * n2) - u1)
        if tieTerm == 0 && n1 + n2 <= 40 {
            return (u, min(1, 2 * exactLowerTail(u: Int(u), n1: n1, n2: n2)))
        }
        let n = Double(n1 + n2)
        let mu = Double(n1 * n2) / 2
        let sigma = (Double(n1 * n2) / 12 * ((n + 1) - tieTerm / (n * (n - 1)))).squareRoot()
        guard sigma > 0 else { return (u, 1) }
        let z = (abs(u - mu) - 0.5) / sigma
        return (u, min(1, erfc(max(z, 0) / 2.squareRoot())))
    }

    /// P(U <= u) under the null, by counting rank arrangements (dynamic programming).
    static func exactLowerTail(u: Int, n1: Int, n2: Int) -> Double {
        // counts[i][j][s]: arrangements of i x's and j y's with U statistic s, built row by row.
        let maxU = n1 * n2
        var table = [[[Double]]](repeating: [[Double]](repeating: [], count: n2 + 1), count: n1 + 1)
        for i in 0...n1 {
            for j in 0...n2 {
                var row = [Double](repeating: 0, count: maxU + 1)
                if i == 0 || j == 0 {
                    row[0] = 1
                } else {
                    // The largest value is an x (adds j to U) or a y (adds nothing).
                    let withX = table[i - 1][j], withY = table[i][j - 1]
                    for s in 0...maxU {
                        if s >= j && s - j < withX.count { row[s] += withX[s - j] }
                        if s < withY.count { row[s] += withY[s] }
                    }
                }
                table[i][j] = row
            }
        }
        let all = table[n1][n2]
        let total = all.reduce(0, +)
        return all.prefix(u + 1).reduce(0, +) / total
    }

    /// Values beyond 1.5 interquartile ranges from the quartiles (counted, never dropped).
    public static func outlierCount(_ xs: [Double]) -> Int {
        guard xs.count >= 4 else { return 0 }
        let q1 = percentile(xs, 0.25), q3 = percentile(xs, 0.75)
        let iqr = q3 - q1
        return xs.filter { $0 < q1 - 1.5 * iqr || $0 > q3 + 1.5 * iqr }.count
    }
}
