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
