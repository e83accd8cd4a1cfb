/// A candidate loop against a baseline loop on the same scenario.
public struct ComparisonRecord: Sendable {
    public let baseline: LoopKey
    public let candidate: LoopKey
    public let scenario: ScenarioKey
    /// The candidate's pages per thread (resolves a whole-share batch in reports).
    public let pagesPerThread: Int
    /// Baseline time over candidate time: above 1 = the candidate is faster.
    public let speedup: Double
    public let ci95Low: Double
    public let ci95High: Double
    /// The fewer repetitions of the two sides: one gives no verdict.
    public let repetitions: Int
    public var verdict: Verdict {
        Verdict.decide(speedup: speedup, ciLow: ci95Low, ciHigh: ci95High, repetitions: repetitions)
    }

    /// Both loops were measured interleaved in the same rounds, so the CI comes from a
    /// hierarchical bootstrap that draws the same rounds for both (what the rounds share
    /// cancels; what differs between repetitions does not).
    public init(baseline: ResultRecord, candidate: ResultRecord) {
        self.baseline = baseline.key
        self.candidate = candidate.key
        scenario = candidate.scenario
        pagesPerThread = candidate.pagesPerThread
        let s = Statistics.speedup(baseline: baseline.nsPerPageRounds, candidate: candidate.nsPerPageRounds,
                                   paired: true)
        (speedup, ci95Low, ci95High) = (s.median, s.low, s.high)
        repetitions = min(baseline.nsPerPageRounds.count, candidate.nsPerPageRounds.count)
    }

    /// Which pairs a report compares: each strategy against the one its registry entry names
    /// (batched against unpin-each, unpin-each against put-page; per impl and detection mode), every Swift loop against its C twin, and
    /// every detection mode against `off`.
    public static func pairs(in results: [ResultRecord]) -> [ComparisonRecord] {
        var out: [ComparisonRecord] = []
        func find(_ s: Strategy, _ i: Impl, _ d: DetectMode) -> ResultRecord? { results.first { $0.key == LoopKey(s, i, d) } }
        for detect in DetectMode.allCases {
            for impl in Impl.allCases {
                for s in Strategy.allCases {
                    guard let base = s.comparedWith.flatMap(Strategy.init(rawValue:)),
                          let baseline = find(base, impl, detect), let candidate = find(s, impl, detect) else { continue }
                    out.append(.init(baseline: baseline, candidate: candidate))
                }
            }
        }
        for r in results where r.impl == .swift {
            if let c = find(r.strategy, .c, r.detect) { out.append(.init(baseline: c, candidate: r)) }
        }
        for r in results where r.detect != .off {
            if let off = find(r.strategy, r.impl, .off) { out.append(.init(baseline: off, candidate: r)) }
        }
        return out
    }
}
