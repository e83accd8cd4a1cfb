/// The report formats: the one list of them. `--format` offers these to the measuring commands
/// and, to the others, those whose renderer also draws a `TableAndJSON`; `renderer` is the one
/// place a format meets its code. A new format is a case here and a renderer of its own.
public enum OutputFormat: String, CaseIterable, Sendable, Codable {
    case table, json, csv, markdown

    public var renderer: any FormatRenderer {
        switch self {
        case .table: TableRenderer()
        case .json: JSONRenderer()
        case .csv: CSVRenderer()
        case .markdown: MarkdownRenderer()
        }
    }

    /// The renderer when it draws the outputs that are only a table or JSON; nil otherwise.
    public var tableAndJSONRenderer: (any TableAndJSONRenderer)? { renderer as? any TableAndJSONRenderer }

    /// The formats of the commands whose output is not a measured report (topology, calibrate,
    /// misuse, kernel, gate, ab).
    public static var forTableAndJSON: [OutputFormat] { allCases.filter { $0.tableAndJSONRenderer != nil } }
}
