import ArgumentParser
import Foundation
import GUPBench

/// `--format` and `--output FILE` for the commands whose output is a table or JSON (topology,
/// calibrate, misuse, kernel, gate, ab): the formats are those whose renderer draws a
/// `TableAndJSON` (`OutputFormat.forTableAndJSON`); the measuring commands take every format
/// (CommonOptions).
struct TableOrJSONOutput: ParsableArguments {
    @Option(help: "Report format: \(Self.validFormats).")
    var format = "table"

    @Option(help: "Also write the report to this file.")
    var output: String?

    static var validFormats: String { OutputFormat.forTableAndJSON.map(\.rawValue).joined(separator: ", ") }

    /// The renderer, or a usage error naming the value and what is valid.
    func renderer() throws -> any TableAndJSONRenderer {
        guard let renderer = OutputFormat(rawValue: format.trimmed)?.tableAndJSONRenderer else {
            throw GUPBenchError.usage("--format '\(format)' is not valid here; valid values: \(Self.validFormats)")
        }
        return renderer
    }

    func validate() throws {
        do {
            _ = try renderer()
            if let output { try checkWritable(output) }
        } catch let error as GUPBenchError {
            throw ValidationError(error.description)
        }
    }

    /// Prints the output in the format asked for to stdout and --output.
    func emit(_ what: TableAndJSON) throws {
        try gupbench.emit(try renderer().render(what), output: output)
    }

    /// The same, for a command that builds its two forms in place (`json` only when asked for).
    func emit(table: @escaping @autoclosure () -> String, json: @escaping @autoclosure () -> JSON) throws {
        try emit(TableAndJSON(table: table, json: json))
    }
}
