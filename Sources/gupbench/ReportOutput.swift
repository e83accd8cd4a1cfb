import Foundation
import GUPBench

/// `--output FILE` is opened while the options are validated, before anything is mapped or
/// measured: a directory, FIFO or device is refused at once (exit 2), and the report is later
/// written through the descriptor opened then (see `OutputFile`).
func checkWritable(_ path: String) throws {
    if let open = openedOutput, open.path == path { return }
    openedOutput = try OutputFile(path: path)
}

/// The --output file opened by validation, written by `emit`.
nonisolated(unsafe) var openedOutput: OutputFile?

/// Prints a report to stdout and, when `output` is given, to that file. A failed write leaves
/// the report on stdout and exits 1 naming the reason.
func emit(_ text: String, output: String?) throws {
    let stdoutError = OutputFile.writeAll(1, text)
    if let output {
        if openedOutput?.path != output { try checkWritable(output) }
        try openedOutput!.write(text)
    }
    if let stdoutError {
        throw GUPBenchError.environment("the report could not be written to stdout: \(errnoDescription(stdoutError))"
                                        + (output.map { "; it is complete in --output '\($0)'" } ?? ""))
    }
}
