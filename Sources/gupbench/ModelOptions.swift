import ArgumentParser
import Foundation
import GUPBench

// `kernel` and `misuse` run the model on a matrix of their own, under defaults and help of
// their own, with options spelled and checked as the measuring commands' (CommonOptions): the
// groups below declare them once, and `CommaList`'s rules below parse them for all three.

/// One command's defaults and help for `RegionOptions` and `RepetitionOptions`.
protocol ModelOptionDefaults {
    static var modelOptions: ModelOptionText { get }
}

/// Each option's default with its help (`--backing` defaults to 4k,thp everywhere).
struct ModelOptionText {
    let size: (value: String, help: String)
    let backingHelp: String
    let repetitions: (value: String, help: String)
    let warmup: (value: String, help: String)
}

/// `--size` and `--backing`: the memory the model runs on.
struct RegionOptions<Defaults: ModelOptionDefaults>: ParsableArguments {
    @Option(help: "\(Defaults.modelOptions.size.help)")
    var size = CommaList(stringLiteral: Defaults.modelOptions.size.value)

    @Option(help: "\(Defaults.modelOptions.backingHelp)")
    var backing: CommaList = "4k,thp"

    func apply(to config: inout BenchConfig) throws {
        config.sizes = try size.sizes()
        config.backings = try backing.backings()
    }
}

/// `--repetitions` and `--warmup`.
struct RepetitionOptions<Defaults: ModelOptionDefaults>: ParsableArguments {
    @Option(help: "\(Defaults.modelOptions.repetitions.help)")
    var repetitions = CommaList(stringLiteral: Defaults.modelOptions.repetitions.value)

    @Option(help: "\(Defaults.modelOptions.warmup.help)")
    var warmup = CommaList(stringLiteral: Defaults.modelOptions.warmup.value)

    func apply(to config: inout BenchConfig) throws {
        config.repetitions = try repetitions.repetitions()
        config.warmup = try warmup.warmup()
    }
}

/// The rule of each option the matrix takes from more than one command.
extension CommaList {
    func sizes() throws -> [Int] { try items("--size").map { try ByteSize.parse($0) } }
    func backings() throws -> [Backing] { try choices("--backing") }
    func detects() throws -> [DetectMode] { try choices("--detect") }
    func repetitions() throws -> Int { try ints("--repetitions", range: 1...100_000, single: true)[0] }
    func warmup() throws -> Int { try ints("--warmup", range: 0...100_000, single: true)[0] }
}
