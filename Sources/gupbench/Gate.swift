import ArgumentParser
import Foundation
import GUPBench

/// `--baseline FILE` and `--threshold` of the measuring commands that can gate a change.
struct GateOptions: ParsableArguments {
    @Option(help: "A saved JSON report of the same scenarios: print the change of each; exit 3 if any got slower beyond --threshold and noise, 4 if the machine changed or a baseline scenario could not be judged.")
    var baseline: String?

    @Option(help: "The least slowdown the gate reports, as 8% or 0.08 (default: \(Fmt.percent(Gate.defaultThreshold))).")
    var threshold: String?

    func validate() throws {
        do {
            _ = try thresholdValue()
            if let baseline { _ = try Gate.load(baseline) }
        } catch let e as GUPBenchError {
            throw ValidationError(e.description)
        }
    }

    func thresholdValue() throws -> Double {
        try threshold.map(Gate.parseThreshold) ?? Gate.defaultThreshold
    }
}

/// Prints the report (and, with --baseline, the gate's table), then fails when an audit did
/// not balance (exit 1) or the gate found something slower (exit 3).
func finish(_ report: Report, _ options: CommonOptions, gate: GateOptions, extra: [(String, JSON)] = [],
            markdown: ((Report) -> String)? = nil, render: (Report) -> String) throws {
    let text: String
    switch options.outputFormat {
    case .table: text = render(report)
    case .markdown: text = markdown?(report) ?? report.render(.markdown)
    case .json: text = report.json(extra: extra).serialized() + "\n"
    case .csv: text = report.renderCSV()
    }
    guard let path = gate.baseline else {
        try options.emit(text)
        try requireBalanced(report)
        return
    }
    let verdicts = try Gate(current: Gate.side(of: report), baseline: Gate.load(path), baselinePath: path,
                            threshold: gate.thresholdValue())
    switch options.outputFormat {
    case .json: try options.emit(report.json(extra: extra + [("baseline", verdicts.json)]).serialized() + "\n")
    case .table, .markdown: try options.emit(text + "\n" + verdicts.rendered())
    case .csv: try options.emit(text)
    }
    try requireBalanced(report)
    try exitOnOutcome(verdicts)
}

/// Exit 3 when something got slower, 4 when the gate could not decide (the machine changed,
/// or a baseline scenario went unjudged), with one line on standard error saying which.
func exitOnOutcome(_ gate: Gate) throws {
    guard let message = gate.failureMessage else { return }
    FileHandle.standardError.write("gupbench: \(message)\n".data(using: .utf8)!)
    throw ExitCode(gate.outcome.exitCode)
}

/// `gupbench gate CURRENT.json --baseline BASE.json`: the gate on two saved reports, without
/// measuring, so one set of runs can be judged against many baselines (scripts/aa-check).
struct GateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gate",
        abstract: "Judge a saved report against a saved baseline: the --baseline verdicts without measuring.")

    @Argument(help: "The report to judge (written with --format json).")
    var current: String

    @OptionGroup var gate: GateOptions

    @OptionGroup var report: TableOrJSONOutput

    func validate() throws {
        guard gate.baseline != nil else { throw ValidationError("--baseline is required: the saved report to judge '\(current)' against") }
        do {
            _ = try Gate.load(current, option: "report")
        } catch let e as GUPBenchError {
            throw ValidationError(e.description)
        }
    }

    func run() throws {
        let path = gate.baseline!
        let verdicts = try Gate(current: Gate.load(current, option: "report"), baseline: Gate.load(path),
                                baselinePath: path, threshold: gate.thresholdValue())
        try report.emit(table: verdicts.rendered(), json: verdicts.json)
        try exitOnOutcome(verdicts)
    }
}
