import ArgumentParser
import Foundation
import GUPBench

/// The options every measuring command shares. Lists are comma-separated and expand the
/// matrix; parsing happens in `validate()`, so a bad value is one line naming it.
struct CommonOptions: ParsableArguments {
    @Option(help: "Data region size per backing, with suffix (64MiB, 1GiB); a list runs each (default: 1GiB).")
    var size: CommaList?

    @Option(help: "Backing: \(Backing.validList).")
    var backing: CommaList = "4k,thp"

    @Option(name: .customLong("folio-order"), help: "Force the model's folio order (0-18); default: from the verified backing.")
    var folioOrder: CommaList?

    @Option(help: "Worker threads, each pinned to its own CPU of --cpu-node (default: 1 and all CPUs).")
    var threads: CommaList?

    @Option(help: "Sharing: \(Sharing.validList).")
    var sharing: CommaList = "disjoint"

    @Option(help: "Page array order: \(Layout.validList).")
    var layout: CommaList = "sequential"

    @Option(name: .customLong("mem-node"), help: "NUMA node of the memory (default: local to the threads).")
    var memNode: CommaList?

    @Option(name: .customLong("cpu-node"), help: "NUMA node of the threads (default: the node this process runs on).")
    var cpuNode: CommaList?

    @Option(name: .customLong("mem-policy"), help: "Placement policy: \(MemPolicy.validList).")
    var memPolicy: CommaList = "bind"

    @Option(help: "Dirty mode: \(DirtyMode.validList).")
    var dirty: CommaList = "none"

    @Option(help: "Pages per release call (1 = one call per page; default: the whole share).")
    var batch: CommaList?

    @Option(help: "Strategies: \(Strategy.validList).")
    var strategies: CommaList?

    @Option(help: "Loop implementation: \(Impl.validList).")
    var impl: CommaList = "swift,c"

    @Option(help: "Run-time detection of wrong release calls: \(DetectMode.validList); a list compares them.")
    var detect: CommaList = "off"

    @Option(help: "Timed repetitions, spread over the rounds (default: \(BenchConfig.defaultRepetitions), \(BenchConfig.defaultRepetitions / BenchConfig.defaultRounds) per round).")
    var repetitions = CommaList(stringLiteral: String(BenchConfig.defaultRepetitions))

    @Option(help: "Untimed warm-up repetitions at the start of each round.")
    var warmup: CommaList = "1"

    @Option(name: .customLong("min-time"), help: "Least timed release per sample: a sample adds up windows of pin (untimed) and release (timed) until they last this long; 0 = one window (default: \(DurationText.format(BenchConfig.defaultMinTimeNs))).")
    var minTime: String?

    @Flag(name: .customLong("last-ref"), help: "Drop the mapping's reference first (munmap while held), so each release frees its folio: LRU, per-CPU and zone locks (docs/last-reference.md).")
    var lastRef = false
    @Option(help: "Rounds the repetitions are spread over, each on freshly mapped regions (default: \(BenchConfig.defaultRounds)).")
    var rounds: CommaList?

    @Option(help: "How the out-of-line release calls return: auto (what /sys/devices/system/cpu/vulnerabilities/ reports), \(Mitigations.validList); a list compares them.")
    var mitigations: CommaList = "off"

    @Option(help: "Report format: \(OutputFormat.validList).")
    var format = "table"

    @Option(help: "Also write the report to this file.")
    var output: String?

    @Option(name: .customLong("layout-file"), help: "Replay a layout captured by 'gupbench layout' instead of uniform memory.")
    var layoutFile: String?

    @Flag(name: .customLong("dry-run"), help: "Print the plan (every scenario and skip, with memory and time estimates) and exit without mapping or measuring.")
    var dryRun = false

    /// Strategies when --strategies is not given; commands with another default set it.
    var defaultStrategies = Strategy.defaultSet

    enum CodingKeys: String, CodingKey {
        case size, backing, folioOrder, threads, sharing, layout, memNode, cpuNode, memPolicy
        case dirty, batch, strategies, impl, detect, repetitions, warmup, minTime, rounds, format, output, lastRef, layoutFile, mitigations, dryRun
    }

    func validate() throws {
        do {
            _ = try config()
            _ = try OutputFormat.parse(format, option: "--format")
            if let output { try checkWritable(output) }
        } catch let error as GUPBenchError {
            throw ValidationError(error.description)
        }
    }

    /// Checked by validate(), so a run never sees an invalid one.
    var outputFormat: OutputFormat { OutputFormat(rawValue: format.trimmed) ?? .table }

    /// The matrix these options describe.
    func config() throws -> BenchConfig {
        var c = BenchConfig()
        if let size { c.sizes = try size.sizes() }
        c.backings = try backing.backings()
        if let folioOrder {
            c.folioOrders = try folioOrder.ints("--folio-order", range: 0...PageModel.maxOrder).map { $0 }
        }
        if let threads { c.threads = try threads.ints("--threads", range: 1...4096) }
        c.sharings = try sharing.choices("--sharing")
        c.layouts = try layout.choices("--layout")
        if let memNode { c.memNodes = try memNode.ints("--mem-node", range: 0...4095).map { $0 } }
        if let cpuNode { c.cpuNodes = try cpuNode.ints("--cpu-node", range: 0...4095).map { $0 } }
        c.memPolicies = try memPolicy.choices("--mem-policy")
        c.dirties = try dirty.choices("--dirty")
        if let batch { c.batches = try batch.ints("--batch", range: 1...Int(Int32.max)).map { $0 } }
        c.strategies = try strategies.map { try $0.choices("--strategies") } ?? defaultStrategies
        c.impls = try impl.choices("--impl")
        c.detects = try detect.detects()
        c.repetitions = try repetitions.repetitions()
        c.warmup = try warmup.warmup()
        if let minTime { c.minTimeNs = try DurationText.parseNs(minTime, option: "--min-time") }
        c.lastRef = lastRef
        c.mitigations = try mitigations.items("--mitigations").map { try Mitigations.parseOption($0) }
        if let layoutFile {
            // The layout fixes the memory: its folios, its holes, its size.
            let clashes = [("--size", size != nil), ("--backing", backing != "4k,thp"),
                           ("--folio-order", folioOrder != nil)].filter(\.1).map(\.0)
            if let clash = clashes.first {
                throw GUPBenchError.usage("\(clash) does not apply with --layout-file: the layout fixes the memory; drop one of them")
            }
            // The free model frees every folio of the memmap; a layout's memmap has folios only
            // partly in the page array, folios reached twice, and spare descriptors at holes.
            if lastRef {
                throw GUPBenchError.usage("--last-ref does not apply with --layout-file: a captured layout pins parts of "
                    + "folios and some folios twice, so the releases cannot be the last references; drop one of them")
            }
            c.replay(try LayoutFile(path: layoutFile))
        }
        if let rounds { c.rounds = try rounds.ints("--rounds", range: 1...10_000, single: true)[0] }
        return c
    }

    func checkWritable(_ path: String) throws { try gupbench.checkWritable(path) }

    /// Prints the report to stdout and, with --output, to the file.
    func emit(_ text: String) throws { try gupbench.emit(text, output: output) }
}

extension String {
    var trimmed: String { trimmingCharacters(in: .whitespaces) }
}
