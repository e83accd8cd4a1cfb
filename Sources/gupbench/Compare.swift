import ArgumentParser
import Foundation
import GUPBench

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Per-page against batched release, side by side, with speedups and 95% CIs.")

    @OptionGroup var options: CommonOptions
    @OptionGroup var gate: GateOptions

    func run() throws {
        let report = try measure(options, command: "compare")
        try finish(report, options, gate: gate, view: .compare)
    }
}
