/// Which of a measured report's views a command prints: `compare`'s side-by-side table, `run`'s
/// block per result, `sweep`'s scaling table. Formats without views of their own (JSON, CSV)
/// print every view alike.
public enum ReportView: Sendable {
    case compare
    case detail
    case sweep(SweepParam)
}

/// How one output format draws a measured report; one conforming type per format, chosen by
/// `OutputFormat.renderer`.
public protocol FormatRenderer: Sendable {
    /// The report as `view`; `extra` are fields a command adds to the JSON (sweep's parameter).
    func render(_ report: Report, _ view: ReportView, extra: [(String, JSON)]) -> String

    /// The report judged against a saved baseline (`--baseline`): how the verdicts join it.
    func render(_ report: Report, _ view: ReportView, extra: [(String, JSON)], verdicts: Gate) -> String
}

/// A renderer that also draws the outputs that are only a table or JSON; the formats whose
/// renderer conforms are the ones those commands accept.
public protocol TableAndJSONRenderer: FormatRenderer {
    func render(_ output: TableAndJSON) -> String
}

/// An output with a table and a JSON form and nothing else: topology, calibrate, misuse, kernel,
/// gate and ab. Each form is built only when its format is asked for.
public struct TableAndJSON {
    public let table: () -> String
    public let json: () -> JSON

    public init(table: @escaping () -> String, json: @escaping () -> JSON) {
        self.table = table
        self.json = json
    }
}

extension Report {
    /// The report in `format`, through that format's renderer: the commands' one way to print a
    /// measured report.
    public func render(_ format: OutputFormat, _ view: ReportView = .compare, extra: [(String, JSON)] = [],
                       verdicts: Gate? = nil) -> String {
        guard let verdicts else { return format.renderer.render(self, view, extra: extra) }
        return format.renderer.render(self, view, extra: extra, verdicts: verdicts)
    }
}
