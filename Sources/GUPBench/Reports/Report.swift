import Dispatch

/// A whole run: what the report renderers turn into table, JSON, CSV or markdown.
public struct Report: Sendable {
    public var command: String
    public var topology: Topology
    public var calibration: CalibrationFigures?
    public var results: [ResultRecord] = []
    public var comparisons: [ComparisonRecord] = []
    /// Combinations not run, with the reason (e.g. unpin-range on a shuffled layout).
    public var skipped: [String] = []
    /// The layout replayed (`--layout-file`), whose histogram and run length the report shows.
    public var layoutFile: LayoutFile?
    /// Why the report covers less than was asked (a run stopped by SIGINT/SIGTERM); nil when complete.
    public var partial: String?
    /// What the memory budget predicted the run would hold at its peak, and what it held.
    public var memory: MemoryUse?
    /// Wall seconds per phase of the run (`RunPhases`).
    public var phases: RunPhases?
    /// The least timed release per sample the run asked for (`--min-time`), ns.
    public var minTimeNs = 0.0

    public init(command: String, topology: Topology, calibration: CalibrationFigures?) {
        self.command = command
        self.topology = topology
        self.calibration = calibration
    }

    public var allBalanced: Bool { results.allSatisfy(\.balanced) }
}

/// A run's peak resident memory beside the budget's prediction of it.
public struct MemoryUse: Sendable, Equatable {
    public var predicted: PeakPrediction
    /// VmHWM at the end of the run: the most the process held at any moment.
    public var peakResidentBytes: Int64
    // Built only by the run (Experiment) and the kernel's merged report: the memberwise init serves.
}

/// Where a run's wall time went, in seconds: mapping and faulting regions in, verifying their
/// placement and backing (and building the model from them), calibrating, and measuring
/// (the repetitions with their untimed grabs and audits).
public struct RunPhases: Sendable, Equatable {
    public var map = 0.0
    public var verify = 0.0
    public var calibrate = 0.0
    public var measure = 0.0

    public init() {}

    /// Adds the seconds `body` took to `phase`.
    mutating func time<T>(_ phase: WritableKeyPath<RunPhases, Double>, _ body: () throws -> T) rethrows -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { self[keyPath: phase] += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        return try body()
    }
}
