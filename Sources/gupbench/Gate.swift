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
        try report.emit(verdicts.output)
        try exitOnOutcome(verdicts)
    }
}
