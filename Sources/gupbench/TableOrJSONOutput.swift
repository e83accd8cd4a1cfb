import ArgumentParser
import Foundation
import GUPBench

/// `--format table|json` and `--output FILE` for the commands whose report is a table or JSON
/// (topology, calibrate, misuse, kernel, gate): one check of the format, one opening of the
/// output file, written once here. The measuring commands take csv and markdown too
/// (CommonOptions).
struct TableOrJSONOutput: ParsableArguments {
    @Option(help: "Report format: table, json.")
    var format = "table"

    @Option(help: "Also write the report to this file.")
    var output: String?

    /// The format, or a usage error naming the value and what is valid.
    func parsedFormat() throws -> OutputFormat {
        let value = format.trimmed
        guard value == OutputFormat.table.rawValue || value == OutputFormat.json.rawValue else {
            throw GUPBenchError.usage("--format '\(format)' is not valid here; valid values: table, json")
        }
        return OutputFormat(rawValue: value)!
    }

    var json: Bool { format.trimmed == OutputFormat.json.rawValue }

    func validate() throws {
        do {
            _ = try parsedFormat()
            if let output { try checkWritable(output) }
        } catch let error as GUPBenchError {
            throw ValidationError(error.description)
        }
    }

    /// Prints the table or the JSON (`json` is only built when asked for) to stdout and --output.
    func emit(table: @autoclosure () -> String, json: @autoclosure () -> JSON) throws {
        try gupbench.emit(self.json ? json().serialized() + "\n" : table(), output: output)
    }
}
