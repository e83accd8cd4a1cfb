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
            size of --size runs every backing; a row whose kernel ÷ same loop lies outside \
            0.67-1.5 says which measured term differs. --last-ref munmaps the registered region \
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

    /// The parsed options: the model's matrix before a size is chosen (`modelConfig`);
    /// validate() has already rejected anything invalid.
    typealias Settings = BenchConfig

    func settings() throws -> Settings {
        var config = BenchConfig()
        try region.apply(to: &config)
        try repetition.apply(to: &config)
        if let minTime { config.minTimeNs = try DurationText.parseNs(minTime, option: "--min-time") }
        if lastRef, config.backings.contains(.hugetlb) {
            throw GUPBenchError.usage("--backing hugetlb does not apply with --last-ref: a hugetlb folio goes back to "
                + "its pool (free_huge_folio()), not through the page allocator pgfree counts; valid: 4k, thp, mthp-*")
        }
        config.mitigations = [try Mitigations.parseOption(mitigations)]
        config.threads = [1]
        if lastRef {
            // io_release_ubuf()'s own loop, each unpin the last reference.
            config.strategies = [.ioUringRelease]
            config.layouts = [.sequential]
            config.lastRef = true
        } else {
            // io-uring-release: io_release_ubuf()'s own loop, the kernel's unregistration in the model.
            config.strategies = [.unpinEach, .unpinRange, .ioUringRelease]
            // Shuffled: descriptors in random order, the cost if the kernel's were scattered.
            config.layouts = [.sequential, .shuffled]
        }
        return config
    }

    func validate() throws {
        do {
            _ = try settings()
        } catch let error as GUPBenchError {
            throw ValidationError(error.description)
        }
    }

    /// The model's matrix for one size: one thread, the loops that mirror the kernel's release.
    func modelConfig(_ s: Settings, size: Int) -> BenchConfig {
        var config = s
        config.sizes = [size]
        return config
    }

    /// The model on one size beside the kernel's measurements of it (`frames`: each backing's
    /// page frames, when pagemap showed them).
    func modelReport(_ s: Settings, size: Int, frames: [(backing: Backing, pfns: [UInt64]?)], topology: Topology,
                     calibration: CalibrationFigures) throws -> Report {
        var config = modelConfig(s, size: size)
        // Pfn: the model's descriptors spaced as the kernel's struct pages for the very region it
        // pinned (PfnOrder), where pagemap shows PFNs (root); the same loop is compared on it.
        if frames.allSatisfy({ $0.pfns != nil }) {
            config.layouts.append(.pfn)
            for k in frames { config.framePfns[k.backing] = k.pfns }
        }
        return try Experiment(config: config, topology: topology, calibration: calibration,
                              progress: Progress()).run(command: "kernel")
    }

    func run() throws {
        if checkLayout { return try runLayoutCheck() }
        let s = try settings()
        let topology = Topology.read()
        // Every size at once: memory (the largest size decides), 2 MiB multiples; before mapping anything.
        var all = modelConfig(s, size: s.sizes.max()!)
        all.sizes = s.sizes.sorted(by: >)  // the largest first: a refusal names the size that does not fit
        try all.validate(on: topology)
        try KernelProbe.checkAvailable()        // io_uring refused: one line, nothing mapped
        try KernelProbe.checkResources(size: s.sizes.max()!, backings: s.backings)  // MemAvailable, RLIMIT_MEMLOCK

        let node = topology.localNode
        let cpu = topology.node(node)?.cpus.first
        let cpus = Array((topology.node(node)?.cpus ?? []).prefix(2))
        let calibration = try Calibration.measure(topology: topology, memNode: node, cpus: cpus,
                                                  memmapSizes: s.sizes.map { $0 / 4096 * 64 })
        if s.lastRef { return try runLastRef(s, topology: topology, node: node, cpu: cpu, calibration: calibration) }

        var entries: [KernelSizes.Entry] = []
        for size in s.sizes {
            var kernel: [KernelMeasurement] = []
            for b in s.backings {
                progress("kernel: registering and unregistering \(ByteSize.format(size)) of \(b.rawValue) memory")
                kernel.append(try KernelProbe.measure(size: size, backing: b, node: node, cpu: cpu,
                                                      repetitions: s.repetitions, warmup: s.warmup,
                                                      topology: topology))
            }
            progress("model: unpin-each, unpin-range and io-uring-release on \(ByteSize.format(size)), "
                + "mitigations \(s.mitigations[0].rawValue)")
            let report = try modelReport(s, size: size, frames: kernel.map { ($0.backing, $0.framePfns) },
                                         topology: topology, calibration: calibration)
            entries.append(.init(size: size, comparison: KernelComparison(kernel: kernel, model: report),
                                 report: report))
            if SignalStop.requested { break }
        }
        let sizes = KernelSizes(entries)
        let merged = sizes.mergedReport
        try report.emit(table: sizes.renderTable() + "\nthe model's full comparison:\n\n"
                            + entries.map { $0.report.compareTable().rendered() }.joined(separator: "\n\n") + "\n\n"
                            + merged.footer() + "\n",
                        json: merged.json(extra: sizes.jsonFields))
        try requireBalanced(merged)
        if !sizes.vmstatComplete {
            throw GUPBenchError.auditFailed(
                "the kernel's FOLL_PIN counters fell short of the pages registered; see SHORT above")
        }
        if sizes.otherPinning {
            throw GUPBenchError.auditFailed(
                "the kernel's FOLL_PIN counters rose by more than this run's pins: other pinning "
                + "during the run (see OTHERS above); run again when the machine is quiet")
        }
    }

    /// `--last-ref`: per size and backing the kernel frees the region at unregistration; the
    /// model's io-uring-release --last-ref runs on the same frames.
    func runLastRef(_ s: Settings, topology: Topology, node: Int, cpu: Int?,
                    calibration: CalibrationFigures) throws {
        var kernel: [KernelLastRefMeasurement] = []
        var reports: [Int: Report] = [:]
        var ordered: [Report] = []
        for size in s.sizes {
            var measured: [KernelLastRefMeasurement] = []
            for b in s.backings {
                progress("kernel: registering, unmapping and unregistering \(ByteSize.format(size)) of "
                    + "\(b.rawValue) memory (the unpin frees it)")
                measured.append(try KernelProbe.measureLastRef(size: size, backing: b, node: node, cpu: cpu,
                                                               repetitions: s.repetitions, warmup: s.warmup,
                                                               topology: topology))
            }
            progress("model: io-uring-release --last-ref on \(ByteSize.format(size)), mitigations \(s.mitigations[0].rawValue)")
            let report = try modelReport(s, size: size, frames: measured.map { ($0.backing, $0.framePfns) },
                                         topology: topology, calibration: calibration)
            kernel += measured
            reports[size] = report
            ordered.append(report)
            if SignalStop.requested { break }
        }
        let comparison = KernelLastRefComparison(kernel: kernel, reports: reports)
        let merged = KernelSizes(zip(s.sizes, ordered).map {
            KernelSizes.Entry(size: $0.0, comparison: KernelComparison(kernel: [], model: $0.1), report: $0.1)
        }).mergedReport
        try report.emit(table: comparison.renderTable() + "\nthe model's full comparison:\n\n"
                            + ordered.map { $0.compareTable().rendered() }.joined(separator: "\n\n") + "\n\n"
                            + merged.footer() + "\n",
                        json: merged.json(extra: comparison.jsonFields))
        try requireBalanced(merged)
        if let bad = comparison.rows.first(where: { $0.kernel.proof != .ok }) {
            let k = bad.kernel
            throw GUPBenchError.auditFailed(
                "--last-ref not proven for \(ByteSize.format(k.size)) \(k.backing.rawValue): \(k.proof.rawValue) "
                + "(pins acquired \(k.pinsAcquired), released \(k.pinsReleased), pgfree at unregistration "
                + "\(k.pgfreeAtUnregister), for \(k.pages) pages); see the notes above")
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
