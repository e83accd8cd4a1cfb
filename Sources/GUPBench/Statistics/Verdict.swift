/// A comparison's call: is the candidate really faster?
public enum Verdict: String, Sendable, Codable {
    case faster, slower
    case withinNoise = "within noise"

    /// `faster`/`slower` only when the speedup's CI excludes 1.0 and the change is at least 2%.
    public static func decide(speedup: Double, ciLow: Double, ciHigh: Double) -> Verdict {
        if ciLow > 1.0 && speedup >= 1.02 { return .faster }
        if ciHigh < 1.0 && speedup <= 1 / 1.02 { return .slower }
        return .withinNoise
    }
}
