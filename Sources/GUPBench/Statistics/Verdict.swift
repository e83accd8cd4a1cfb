/// A comparison's call: is the candidate really faster?
public enum Verdict: String, Sendable, Codable {
    case faster, slower
    case withinNoise = "within noise"
    /// One repetition on a side: there is no spread to judge a change against.
    case notApplicable = "n/a: 1 repetition"

    /// The least change a verdict inside one report calls faster or slower.
    public static let minimumChange = 0.02

    /// `faster`/`slower` only when the speedup's CI excludes 1.0 and the change is at least 2%;
    /// no verdict when a side has a single repetition.
    public static func decide(speedup: Double, ciLow: Double, ciHigh: Double, repetitions: Int = 2) -> Verdict {
        if repetitions < 2 { return .notApplicable }
        if ciLow > 1.0 && speedup >= 1 + minimumChange { return .faster }
        if ciHigh < 1.0 && speedup <= 1 / (1 + minimumChange) { return .slower }
        return .withinNoise
    }

    /// How a table marks it beside the speedup: both directions named alike.
    public var mark: String {
        switch self {
        case .faster: return "faster"
        case .slower: return "slower"
        case .withinNoise: return "≈"
        case .notApplicable: return rawValue
        }
    }
}
