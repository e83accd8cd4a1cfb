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

    @Option(help: "Report format: table, json.")
    var format = "table"

    @Option(help: "Also write the report to this file.")
    var output: String?

    func parsed() throws -> (BenchConfig, [DetectMode]) {
        let options = try CommonOptions.parsing(["--size", size, "--backing", backing, "--detect", detect,
                                               "--repetitions", repetitions, "--warmup", warmup])
        let config = try options.config()
        guard ["table", "json"].contains(format) else {
            throw GUPBenchError.usage("--format '\(format)' is not valid for misuse; valid values: table, json")
        }
        return (config, config.detects)
    }

    func validate() throws {
        do {
            _ = try parsed()
            if let output { try checkWritable(output) }
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
        let report = try MisuseReport.run(topology: topology, config: config, calibration: calibration, modes: modes)
        try emit(format == "json" ? report.json().serialized() + "\n" : report.renderTable(), output: output)
        try requireBalanced(report.report)
    }
}
