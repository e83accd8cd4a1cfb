import ArgumentParser
import Foundation
import GUPBench

/// `gupbench kernel`: the real kernel pins and unpins the same kind of memory through io_uring
/// fixed buffers, and the model does the corresponding release beside it.
struct Kernel: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The real kernel pinning and unpinning the same memory (io_uring fixed buffers), beside the model.",
        discussion: """
            For each backing: map and fault in a region, register it with an io_uring instance \
            (IORING_REGISTER_BUFFERS: pin_user_pages_fast with FOLL_LONGTERM, large folios \
            coalesced) and unregister it (IORING_UNREGISTER_BUFFERS: unpin), timing both and \
            reading /proc/vmstat nr_foll_pin_acquired/released around each. Then the model's \
            unpin-each (4k) and unpin-range (thp) on a region of the same size, one thread, and \
            the speedup of thp over 4k for kernel and model.
            """)

    @Option(help: "Region size per backing, with suffix (64MiB, 1GiB).")
    var size = "1GiB"

    @Option(help: "Backings, comma-separated: \(Backing.validList).")
    var backing = "4k,thp"

    @Option(help: "Timed repetitions.")
    var repetitions = "10"

    @Option(help: "Untimed warm-up repetitions.")
    var warmup = "1"

    @Option(help: "How the model's out-of-line release calls return: auto (what this kernel does, from /sys/devices/system/cpu/vulnerabilities/), \(Mitigations.validList).")
    var mitigations = "auto"

    @Flag(help: "Only check the page-descriptor model's layout against this kernel's BTF (/sys/kernel/btf/vmlinux): no memory mapped, no io_uring; exit 1 when a field differs or BTF is unreadable.")
    var checkLayout = false

    @OptionGroup var report: TableOrJSONOutput

    /// The parsed options; validate() has already rejected anything invalid.
    struct Settings {
        var size: Int
        var backings: [Backing]
        var repetitions: Int
        var warmup: Int
        var json: Bool
        var mitigations: Mitigations
    }

    /// Parsed the way every measuring command parses these options (CommonOptions).
    func settings() throws -> Settings {
        let options = try CommonOptions.parsing(["--size", size, "--backing", backing,
                                               "--repetitions", repetitions, "--warmup", warmup])
        let config = try options.config()
        guard config.sizes.count == 1 else {
            throw GUPBenchError.usage("--size '\(size)' takes one size for kernel, not a list")
        }
        var backings: [Backing] = []
        for b in config.backings where !backings.contains(b) { backings.append(b) }
        return Settings(size: config.sizes[0], backings: backings, repetitions: config.repetitions,
                        warmup: config.warmup, json: report.json,
                        mitigations: try Mitigations.parseOption(mitigations))
    }

    func validate() throws {
        do {
            _ = try settings()
        } catch let error as GUPBenchError {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        if checkLayout { return try runLayoutCheck() }
        let s = try settings()
        let topology = Topology.read()
        // The model's matrix: one thread, the two loops that mirror the kernel's release.
        var config = BenchConfig()
        config.sizes = [s.size]
        config.backings = s.backings
        config.threads = [1]
        // io-uring-release: io_release_ubuf()'s own loop, the kernel's unregistration in the model.
        config.strategies = [.unpinEach, .unpinRange, .ioUringRelease]
        config.mitigations = [s.mitigations]
        // Shuffled: descriptors in random order, the cost if the kernel's were scattered.
        config.layouts = [.sequential, .shuffled]
        config.repetitions = s.repetitions
        config.warmup = s.warmup
        try config.validate(on: topology)      // memory, 2 MiB multiples: before mapping anything
        try KernelProbe.checkAvailable()        // io_uring refused: one line, nothing mapped
        try KernelProbe.checkResources(size: s.size, backings: s.backings)  // MemAvailable, RLIMIT_MEMLOCK

        let node = topology.localNode
        let cpu = topology.node(node)?.cpus.first
        var kernel: [KernelMeasurement] = []
        for b in s.backings {
            progress("kernel: registering and unregistering \(ByteSize.format(s.size)) of \(b.rawValue) memory")
            kernel.append(try KernelProbe.measure(size: s.size, backing: b, node: node, cpu: cpu,
                                                  repetitions: s.repetitions, warmup: s.warmup,
                                                  topology: topology))
        }
        progress("model: unpin-each, unpin-range and io-uring-release on the same size and backings, "
            + "mitigations \(s.mitigations.rawValue)")
        // Pfn: the model's descriptors spaced as the kernel's struct pages for the very region it
        // pinned (PfnOrder), where pagemap shows PFNs (root); the same loop is compared on it.
        if kernel.allSatisfy({ $0.framePfns != nil }) {
            config.layouts.append(.pfn)
            for k in kernel { config.framePfns[k.backing] = k.framePfns }
        }
        let cpus = Array((topology.node(node)?.cpus ?? []).prefix(2))
        let calibration = try Calibration.measure(topology: topology, memNode: node, cpus: cpus,
                                                  memmapSizes: config.sizes.map { $0 / 4096 * 64 })
        let report = try Experiment(config: config, topology: topology, calibration: calibration,
                                    progress: Progress()).run(command: "kernel")
        let comparison = KernelComparison(kernel: kernel, model: report)

        let text = s.json
            ? report.json(extra: comparison.jsonFields).serialized() + "\n"
            : comparison.renderTable(model: report) + "\nthe model's full comparison:\n\n"
                + report.compareTable().rendered() + "\n\n" + report.footer() + "\n"
        try emit(text, output: self.report.output)
        try requireBalanced(report)
        if !comparison.vmstatComplete {
            throw GUPBenchError.auditFailed(
                "the kernel's FOLL_PIN counters fell short of the pages registered; see SHORT above")
        }
        if comparison.otherPinning {
            throw GUPBenchError.auditFailed(
                "the kernel's FOLL_PIN counters rose by more than this run's pins: other pinning "
                + "during the run (see OTHERS above); run again when the machine is quiet")
        }
    }

    /// `--check-layout`: the table (or JSON) of every field, then exit 1 with one line when the
    /// model describes another kernel or there is no BTF to tell.
    func runLayoutCheck() throws {
        let layout = KernelLayout.running
        try report.emit(table: layout.table(), json: layout.json)
        switch layout.verdict {
        case .matches: return
        case .differs(let fields):
            throw GUPBenchError.auditFailed("the page-descriptor model's layout differs from this kernel's "
                + "(\(layout.source)): " + fields.joined(separator: ", "))
        case .skipped(let reason):
            throw GUPBenchError.environment("kernel layout not checked: \(reason)")
        }
    }

    func progress(_ line: String) {
        FileHandle.standardError.write("gupbench: \(line)\n".data(using: .utf8)!)
    }
}
