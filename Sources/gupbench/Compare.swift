import ArgumentParser
import Foundation
import GUPBench

/// Shared by the measuring commands: calibrate on the run's node and CPUs, run the matrix,
/// print the report, and fail (exit 1) when any audit did not balance. With --dry-run: print
/// the plan instead and exit 0, nothing mapped or measured.
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
    @OptionGroup var gate: GateOptions

    func run() throws {
        let report = try measure(options, command: "compare")
        try finish(report, options, gate: gate) { $0.renderTable() }
    }
}
