import Foundation

extension Statistics {
    /// P(Z > z) for a standard normal Z.
    public static func normalTail(_ z: Double) -> Double { 0.5 * erfc(z / 2.0.squareRoot()) }

    /// The z with P(Z ≤ z) = p, by bisection on `normalTail` (exact to 1e-12; called a few
    /// times per report, so speed does not matter).
    public static func normalQuantile(_ p: Double) -> Double {
        precondition(p > 0 && p < 1, "a quantile needs 0 < p < 1")
        var low = -40.0, high = 40.0
        for _ in 0..<200 {
            let mid = (low + high) / 2
            if 1 - normalTail(mid) < p { low = mid } else { high = mid }
            if high - low < 1e-12 { break }
        }
        return (low + high) / 2
    }
}

extension Statistics {
    /// P(T > t) for Student's t with `df` degrees of freedom: ½ I_x(df/2, ½) at x = df/(df + t²)
    /// for t ≥ 0 (the regularized incomplete beta function), by symmetry below 0.
    public static func studentTail(_ t: Double, df: Double) -> Double {
        precondition(df > 0, "Student's t needs df > 0")
        guard t.isFinite else { return t > 0 ? 0 : 1 }
        let half = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5)
        return t >= 0 ? half : 1 - half
    }

    /// The t with P(T ≤ t) = p, by bisection on `studentTail`.
    public static func studentQuantile(_ p: Double, df: Double) -> Double {
        precondition(p > 0 && p < 1, "a quantile needs 0 < p < 1")
        var low = -1e4, high = 1e4
        for _ in 0..<300 {
            let mid = (low + high) / 2
            if 1 - studentTail(mid, df: df) < p { low = mid } else { high = mid }
            if high - low < 1e-10 * max(1, abs(mid)) { break }
        }
        return (low + high) / 2
    }

    /// I_x(a, b), the regularized incomplete beta function: the continued fraction (modified
    /// Lentz) on whichever side of the mean (a + 1)/(a + b + 2) converges fast.
    static func incompleteBeta(_ x: Double, _ a: Double, _ b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logGammas: Double = lgamma(a + b) - lgamma(a) - lgamma(b)
        let logPowers: Double = a * log(x) + b * log(1 - x)
        let front = exp(logGammas + logPowers)
        if x < (a + 1) / (a + b + 2) { return front * betaFraction(x, a, b) / a }
        return 1 - front * betaFraction(1 - x, b, a) / b
    }

    private static func betaFraction(_ x: Double, _ a: Double, _ b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...500 {
            let m = Double(m)
            // Even step, then odd step of the continued fraction.
            var numerator = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 + numerator * d
            if abs(d) < tiny { d = tiny }
            c = 1 + numerator / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            numerator = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 + numerator * d
            if abs(d) < tiny { d = tiny }
            c = 1 + numerator / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let step = d * c
            h *= step
            if abs(step - 1) < 1e-14 { break }
        }
        return h
    }
}
