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

    public init(command: String, topology: Topology, calibration: CalibrationFigures?) {
        self.command = command
        self.topology = topology
        self.calibration = calibration
    }

    public var allBalanced: Bool { results.allSatisfy(\.balanced) }
}
