/// Everything that identifies one measured scenario besides the strategy.
public struct ScenarioKey: Hashable, Sendable {
    public var size: Int
    public var backing: Backing
    public var folioOrder: Int
    public var forcedOrder: Bool
    public var threads: Int
    public var sharing: Sharing
    public var layout: Layout
    public var dirty: DirtyMode
    /// Pages per release call; nil = the whole share.
    public var batch: Int?
    public var memNode: Int?
    public var cpuNode: Int
    public var memPolicy: MemPolicy
}

/// A five-number summary of per-page cost.
public struct Summary: Sendable {
    public let median, min, max, ci95Low, ci95High: Double
    public let cv: Double
    public let outliers: Int

    public init(_ xs: [Double]) {
        median = Statistics.median(xs)
        min = xs.min() ?? .nan
        max = xs.max() ?? .nan
        (ci95Low, ci95High) = Statistics.medianCI(xs)
        cv = Statistics.coefficientOfVariation(xs)
        outliers = Statistics.outlierCount(xs)
    }

    /// More than 10% coefficient of variation: the table marks the figure with `~`.
    public var noisy: Bool { cv > 0.10 }
}

/// One strategy in one implementation on one scenario.
public struct ResultRecord: Sendable {
    public let strategy: Strategy
    public let impl: Impl
    public let detect: DetectMode
    public let scenario: ScenarioKey
    public let pages: Int
    public let pagesPerThread: Int
    public let repetitions: Int
    /// ns per page per thread, one value per repetition.
    public let nsPerPageSamples: [Double]
    public let nsPerPage: Summary
    public let pagesPerSecond: Double
    public let atomicsPerPage: Double
    public let flagTestsPerPage: Double
    public var rooflineNsPerPage: Double?
    public var efficiency: Double? {
        rooflineNsPerPage.map { $0 / nsPerPage.median }
    }
    public let thpBackedFraction: Double
    public let placement: PlacementReport
    public let cpus: [Int]
    /// Each thread's own median ns per page (its release time over its own pages).
    public let perThreadNsPerPage: [Double]
    public let balanced: Bool
    public let auditDetail: String?
    public let pinsAcquired: UInt64
    public let pinsReleased: UInt64
    /// --detect underflow/ledger findings (0 in a correct run).
    public let underflows: UInt64
    public let ledgerViolations: Int

    public var key: LoopKey { LoopKey(strategy, impl, detect) }
}

/// A candidate loop against a baseline loop on the same scenario.
public struct ComparisonRecord: Sendable {
    public let baseline: LoopKey
    public let candidate: LoopKey
    public let scenario: ScenarioKey
    /// Baseline time over candidate time: above 1 = the candidate is faster.
    public let speedup: Double
    public let ci95Low: Double
    public let ci95High: Double
    public let pValue: Double
    public var verdict: Verdict { Verdict.decide(speedup: speedup, ciLow: ci95Low, ciHigh: ci95High) }

    public init(baseline: ResultRecord, candidate: ResultRecord) {
        self.baseline = baseline.key
        self.candidate = candidate.key
        scenario = candidate.scenario
        let s = Statistics.speedup(baseline: baseline.nsPerPageSamples,
                                   candidate: candidate.nsPerPageSamples)
        (speedup, ci95Low, ci95High) = s
        pValue = Statistics.mannWhitneyU(baseline.nsPerPageSamples, candidate.nsPerPageSamples).p
    }

    /// Which pairs a report compares: each batched strategy against unpin-each, unpin-each
    /// against put-page (per impl and detection mode), every Swift loop against its C twin, and
    /// every detection mode against `off`.
    public static func pairs(in results: [ResultRecord]) -> [ComparisonRecord] {
        var out: [ComparisonRecord] = []
        func find(_ s: Strategy, _ i: Impl, _ d: DetectMode) -> ResultRecord? { results.first { $0.key == LoopKey(s, i, d) } }
        for detect in DetectMode.allCases {
            for impl in Impl.allCases {
                guard let each = find(.unpinEach, impl, detect) else { continue }
                if let put = find(.putPage, impl, detect) { out.append(.init(baseline: put, candidate: each)) }
                for s in [Strategy.unpinBatched, .unpinRange] {
                    if let batched = find(s, impl, detect) { out.append(.init(baseline: each, candidate: batched)) }
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

/// The machine's limits (`gupbench calibrate`), nil until measured.
public struct CalibrationFigures: Sendable {
    public var atomicNs: Double
    public var contendedAtomicNs: Double?
    public var streamNsPerDescriptor: Double
    public var streamNsPerDescriptorInCache: Double
    public var llcBytes: Int
    public init(atomicNs: Double, contendedAtomicNs: Double?, streamNsPerDescriptor: Double,
                streamNsPerDescriptorInCache: Double, llcBytes: Int) {
        self.atomicNs = atomicNs
        self.contendedAtomicNs = contendedAtomicNs
        self.streamNsPerDescriptor = streamNsPerDescriptor
        self.streamNsPerDescriptorInCache = streamNsPerDescriptorInCache
        self.llcBytes = llcBytes
    }
}

/// A whole run: what the report renderers turn into table, JSON, CSV or markdown.
public struct Report: Sendable {
    public var command: String
    public var topology: Topology
    public var calibration: CalibrationFigures?
    public var results: [ResultRecord] = []
    public var comparisons: [ComparisonRecord] = []
    /// Combinations not run, with the reason (e.g. unpin-range on a shuffled layout).
    public var skipped: [String] = []

    public init(command: String, topology: Topology, calibration: CalibrationFigures?) {
        self.command = command
        self.topology = topology
        self.calibration = calibration
    }

    public var allBalanced: Bool { results.allSatisfy(\.balanced) }
}
