import ArgumentParser
import Foundation
import GUPBench

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "One strategy in detail: percentiles, per-thread cost, CPUs, placement per node.",
        discussion: "Defaults to --strategies unpin-each; any list of strategies is accepted.")

    @OptionGroup var options: CommonOptions
    @OptionGroup var gate: GateOptions

    func run() throws {
        var options = self.options
        options.defaultStrategies = [.unpinEach]
        let report = try measure(options, command: "run")
        try finish(report, options, gate: gate, view: .detail)
    }
}
