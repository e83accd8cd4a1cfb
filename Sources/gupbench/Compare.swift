import ArgumentParser
import Foundation
import GUPBench

/// Shared by the measuring commands: calibrate on the run's node and CPUs, run the matrix,
/// print the report, and fail (exit 1) when any audit did not balance.
func measure(_ options: CommonOptions, command: String) throws -> Report {
    try measure(try options.config(), options, command: command)
}

func measure(_ config: BenchConfig, _ options: CommonOptions, command: String) throws -> Report {
    let topology = Topology.read()
    try config.validate(on: topology)
    let cpuNode = config.cpuNodes.first.flatMap { $0 } ?? topology.localNode
    let memNode = config.memNodes.first.flatMap { $0 } ?? cpuNode
    let cpus = Array((topology.node(cpuNode)?.cpus ?? []).prefix(max(2, config.threads.max() ?? 2)))
    let calibration = try Calibration.measure(topology: topology, memNode: memNode, cpus: cpus)
    let experiment = Experiment(config: config, topology: topology, calibration: calibration,
                                progress: Progress())
    return try experiment.run(command: command)
}

func finish(_ report: Report, _ options: CommonOptions, render: (Report) -> String) throws {
    try options.emit(options.outputFormat == .table ? render(report) : report.render(options.outputFormat))
    try requireBalanced(report)
}

/// A run whose audit did not balance is invalid, and the command says so (exit 1)
/// after printing what it measured.
func requireBalanced(_ report: Report) throws {
    if !report.allBalanced {
        throw GUPBenchError.auditFailed("an audit did not balance; the results above are invalid")
    }
}

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per-page against batched release, side by side, with speedups and 95% CIs.")

    @OptionGroup var options: CommonOptions

    @Option(help: "A saved JSON report of the same scenarios: print the change; exit 3 if anything got slower.")
    var baseline: String?

    func validate() throws {
        if let baseline {
            do { _ = try BaselineComparison.load(baseline) } catch let e as GUPBenchError { throw ValidationError(e.description) }
        }
    }

    func run() throws {
        let report = try measure(options, command: "compare")
        guard let baseline else {
            try finish(report, options) { $0.renderTable() }
            return
        }
        let change = try BaselineComparison(report: report, baselinePath: baseline)
        switch options.outputFormat {
        case .json: try options.emit(report.json(extra: [("baseline", change.json)]).serialized() + "\n")
        case .table, .markdown: try options.emit(report.render(options.outputFormat) + "\n" + change.rendered())
        case .csv: try options.emit(report.renderCSV())
        }
        try requireBalanced(report)
        if change.anySlower {
            FileHandle.standardError.write("gupbench: slower than baseline \(baseline) beyond noise\n".data(using: .utf8)!)
            throw ExitCode(3)
        }
    }
}
