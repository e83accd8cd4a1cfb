import ArgumentParser
import Foundation
import GUPBench

struct MisuseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "misuse",
        abstract: "The wrong release call in each way; detection modes and their cost on the release path.")

    @Option(help: "Region size for the cost measurement (in cache by default).")
    var size = "64MiB"

    @Option(help: "Backings for the cost measurement: \(Backing.validList).")
    var backing = "4k,thp"

    @Option(help: "Detection modes: \(DetectMode.validList).")
    var detect = "off,audit,underflow,ledger"

    @Option(help: "Timed repetitions per mode (interleaved).")
    var repetitions = "20"

    @Option(help: "Untimed warm-ups.")
    var warmup = "2"

    @OptionGroup var report: TableOrJSONOutput

    func parsed() throws -> (BenchConfig, [DetectMode]) {
        let options = try CommonOptions.parsing(["--size", size, "--backing", backing, "--detect", detect,
                                               "--repetitions", repetitions, "--warmup", warmup])
        let config = try options.config()
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
