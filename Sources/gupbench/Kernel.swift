import ArgumentParser
import Foundation
import GUPBench

/// `gupbench kernel`: the real kernel pins and unpins the same kind of memory through io_uring
/// fixed buffers, and the model does the corresponding release beside it.
struct KernelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernel",
        abstract: "The real kernel pinning and unpinning the same memory (io_uring fixed buffers), beside the model.",
        discussion: """
            For each backing: map and fault in a region, register it with an io_uring instance \
            (IORING_REGISTER_BUFFERS: pin_user_pages_fast with FOLL_LONGTERM, large folios \
            coalesced) and unregister it (IORING_UNREGISTER_BUFFERS: unpin), timing both and \
            reading /proc/vmstat nr_foll_pin_acquired/released around each. Then the model's \
            unpin-each (4k), unpin-range (thp) and io-uring-release (the same loop) on a region of \
            the same size, one thread, and the speedup of thp over 4k for kernel and model. Each \
            size of --size runs every backing; the kernel's loop is its unregistration less that \
            of a one-page buffer (the fixed cost, measured), and a row whose kernel loop ÷ same \
            loop lies outside 0.67-1.5 says which measured term differs. --last-ref munmaps the registered region \
            first, so the unregistration frees it (proven from pgfree and nr_foll_pin_*).
            """)

    @OptionGroup var region: RegionOptions<Self>
    @OptionGroup var repetition: RepetitionOptions<Self>

    @Option(name: .customLong("min-time"), help: "The model's least timed release per sample (0 = one window; default: \(DurationText.format(BenchConfig.defaultMinTimeNs))).")
    var minTime: String?

    @Option(help: "How the model's out-of-line release calls return: auto (what this kernel does, from /sys/devices/system/cpu/vulnerabilities/), \(Mitigations.validList).")
    var mitigations = "auto"

    @Flag(name: .customLong("last-ref"), help: "Register, munmap, then unregister (timed): the kernel's unpin drops the last reference and frees every folio, proven from /proc/vmstat (pgfree, nr_foll_pin_*), beside the model's io-uring-release --last-ref.")
    var lastRef = false

    @Flag(help: "Only check the page-descriptor model's layout against this kernel's BTF (/sys/kernel/btf/vmlinux): no memory mapped, no io_uring; exit 1 when a field differs or BTF is unreadable.")
    var checkLayout = false

    @OptionGroup var report: TableOrJSONOutput

    /// One run per kernel path of the registry (KernelPaths.all), from the parsed options;
    /// validate() has already rejected anything invalid.
    func runs() throws -> [KernelRun] {
        var config = BenchConfig()
        try region.apply(to: &config)
        try repetition.apply(to: &config)
        if let minTime { config.minTimeNs = try DurationText.parseNs(minTime, option: "--min-time") }
        if lastRef, config.backings.contains(.hugetlb) {
            throw GUPBenchError.usage("--backing hugetlb does not apply with --last-ref: a hugetlb folio goes back to "
                + "its pool (free_huge_folio()), not through the page allocator pgfree counts; valid: 4k, thp, mthp-*")
        }
        return KernelRun.all(sizes: config.sizes, backings: config.backings, repetitions: config.repetitions,
                             warmup: config.warmup, minTimeNs: config.minTimeNs,
                             mitigations: try Mitigations.parseOption(mitigations), lastRef: lastRef)
    }

    func validate() throws {
        do {
            _ = try runs()
        } catch let error as GUPBenchError {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        if checkLayout { return try runLayoutCheck() }
        let runs = try runs()
        let topology = Topology.read()
        // Every size at once, the path usable, MemAvailable and its pin limit: before mapping anything.
        for run in runs { try run.checkBeforeMapping(topology: topology) }

        let node = topology.localNode
        let cpu = topology.node(node)?.cpus.first
        let cpus = Array((topology.node(node)?.cpus ?? []).prefix(2))
        let calibration = try Calibration.measure(topology: topology, memNode: node, cpus: cpus,
                                                  memmapSizes: runs[0].sizes.map { $0 / 4096 * 64 })
        for run in runs {
            let outcome = try run.run(topology: topology, node: node, cpu: cpu, calibration: calibration,
                                      progress: progress)
            try report.emit(outcome.output)
            try requireBalanced(outcome.merged)
            try outcome.audit()
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

extension KernelCommand: ModelOptionDefaults {
    static let modelOptions = ModelOptionText(
        size: ("16MiB,256MiB,1GiB", "Region sizes, comma-separated, with suffix (64MiB, 1GiB): each size runs every backing."),
        backingHelp: "Backings, comma-separated: \(Backing.validList).",
        repetitions: ("10", "Timed repetitions."), warmup: ("1", "Untimed warm-up repetitions."))
}
