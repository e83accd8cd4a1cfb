import ArgumentParser
import Foundation
import GUPBench

struct MisuseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "misuse",
        abstract: "The wrong release call in each way; detection modes and their cost on the release path.")

    @OptionGroup var region: RegionOptions<Self>

    @Option(help: "Detection modes: \(DetectMode.validList).")
    var detect: CommaList = "off,audit,underflow,ledger"

    @OptionGroup var repetition: RepetitionOptions<Self>

    @OptionGroup var report: TableOrJSONOutput

    func parsed() throws -> (BenchConfig, [DetectMode]) {
        var config = BenchConfig()
        try region.apply(to: &config)
        config.detects = try detect.detects()
        try repetition.apply(to: &config)
        return (config, config.detects)
    }

    func validate() throws {
        do {
            _ = try parsed()
        } catch let error as GUPBenchError {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        let (config, modes) = try parsed()
        let topology = Topology.read()
        try config.validate(on: topology)
        let node = topology.localNode
        let calibration = try Calibration.measure(topology: topology, memNode: node,
                                                  cpus: Array((topology.node(node)?.cpus ?? []).prefix(2)),
                                                  memmapSizes: config.sizes.map { $0 / 4096 * 64 })
        let misuse = try MisuseReport.run(topology: topology, config: config, calibration: calibration, modes: modes)
        try report.emit(table: misuse.renderTable(), json: misuse.json())
        try requireBalanced(misuse.report)
    }
}

extension MisuseCommand: ModelOptionDefaults {
    static let modelOptions = ModelOptionText(
        size: ("64MiB", "Region size for the cost measurement (in cache by default)."),
        backingHelp: "Backings for the cost measurement: \(Backing.validList).",
        repetitions: ("20", "Timed repetitions per mode (interleaved)."), warmup: ("2", "Untimed warm-ups."))
}
