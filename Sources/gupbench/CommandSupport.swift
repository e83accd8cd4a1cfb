import ArgumentParser
import Foundation
import GUPBench

// What several commands share: measuring, printing a report through its format's renderer,
// the --output file, and the exit codes of an audit or a gate.

/// Calibrate on the run's node and CPUs and run the matrix. With --dry-run: print the plan
/// instead and exit 0, nothing mapped or measured.
func measure(_ options: CommonOptions, command: String) throws -> Report {
    try measure(try options.config(), options, command: command)
}

func measure(_ config: BenchConfig, _ options: CommonOptions, command: String) throws -> Report {
    let topology = Topology.read()
    try config.validate(on: topology)
    let cpuNode = config.cpuNodes.first.flatMap { $0 } ?? topology.localNode
    let memNode = config.memNodes.first.flatMap { $0 } ?? cpuNode
    let cpus = Array((topology.node(cpuNode)?.cpus ?? []).prefix(max(2, config.threads.max() ?? 2)))
    // Calibrated before the first round and after each one; the report keeps the medians.
    let calibrator = Calibrator(topology: topology, memNode: memNode, cpus: cpus,
                                    memmapSizes: config.sizes.map { $0 / 4096 * 64 })
    let experiment = Experiment(config: config, topology: topology, calibrator: calibrator,
                                progress: Progress())
    if options.dryRun {
        print(try experiment.dryRun(command: command), terminator: "")
        throw ExitCode.success
    }
    return try experiment.run(command: command)
}

/// Prints the report in `view` (and, with --baseline, the gate's verdicts, joined as the format
/// joins them), then fails when an audit did not balance (exit 1) or the gate found something
/// slower (3) or could not decide (4).
func finish(_ report: Report, _ options: CommonOptions, gate: GateOptions, view: ReportView,
            extra: [(String, JSON)] = []) throws {
    var verdicts: Gate?
    if let path = gate.baseline {
        verdicts = try Gate(current: Gate.side(of: report), baseline: Gate.load(path), baselinePath: path,
                            threshold: gate.thresholdValue())
    }
    try options.emit(report.render(options.outputFormat, view, extra: extra, verdicts: verdicts))
    try requireBalanced(report)
    if let verdicts { try exitOnOutcome(verdicts) }
}

/// A run whose audit did not balance is invalid, and the command says so (exit 1)
/// after printing what it measured.
func requireBalanced(_ report: Report) throws {
    if !report.allBalanced {
        throw GUPBenchError.auditFailed("an audit did not balance; the results above are invalid")
    }
}

/// Exit 3 when something got slower, 4 when the gate could not decide (the machine changed,
/// or a baseline scenario went unjudged), with one line on standard error saying which.
func exitOnOutcome(_ gate: Gate) throws {
    guard let message = gate.failureMessage else { return }
    FileHandle.standardError.write("gupbench: \(message)\n".data(using: .utf8)!)
    throw ExitCode(gate.outcome.exitCode)
}

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
