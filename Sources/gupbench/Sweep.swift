import ArgumentParser
import Foundation
import GUPBench

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "One parameter swept (threads, size, folio order, batch): a scaling table with bars.")

    @Option(help: "The parameter: \(SweepParam.allCases.map(\.rawValue).joined(separator: ", ")).")
    var param: String

    @Option(help: "Comma-separated values (default: a range that suits the parameter).")
    var values: CommaList?

    @OptionGroup var options: CommonOptions
    @OptionGroup var gate: GateOptions

    func sweepParam() throws -> SweepParam {
        guard let p = SweepParam(rawValue: param.trimmed) else {
            throw GUPBenchError.usage("--param '\(param)' is not valid; valid values: \(SweepParam.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let given: [SweepParam: CommaList?] = [.threads: options.threads, .size: options.size,
                                            .folioOrder: options.folioOrder, .batch: options.batch]
        if options.layoutFile != nil && (p == .size || p == .folioOrder) {
            throw GUPBenchError.usage("--param \(p.rawValue) does not apply with --layout-file: the layout fixes the memory; sweep threads or batch")
        }
        if let clash = given[p], clash != nil {
            throw GUPBenchError.usage("--param \(p.rawValue) sweeps --\(p.rawValue) itself; give its values with --values, not --\(p.rawValue)")
        }
        return p
    }

    func validate() throws {
        do {
            var config = try options.config()
            _ = try sweepParam().apply(try valueList(), to: &config)
        } catch let error as GUPBenchError {
            throw ValidationError(error.description)
        }
    }

    func valueList() throws -> [String] {
        guard let values else { return try sweepParam().defaultValues(cpus: Topology.read().allowedCPUs.count) }
        return try values.items("--values")
    }

    func run() throws {
        let p = try sweepParam()
        var config = try options.config()
        let swept = try p.apply(try valueList(), to: &config)
        let report = try measure(config, options, command: "sweep")
        let extra: [(String, JSON)] = [("sweep", .object([("param", .string(p.rawValue)), ("values", .array(swept.map(JSON.int)))]))]
        try finish(report, options, gate: gate, view: .sweep(p), extra: extra)
    }
}
