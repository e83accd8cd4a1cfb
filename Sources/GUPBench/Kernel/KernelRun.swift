import Foundation

/// `gupbench kernel` for one kernel path: per size, the path pins and releases a region of each
/// backing (plain, or `--last-ref`: munmapped between, so the release frees it), then the model
/// runs the path's loops on a region of the same size beside it. Written once for every path:
/// the command runs one of these per entry of `KernelPaths.all`.
public struct KernelRun {
    public let path: any KernelPath
    public var sizes: [Int]
    public var backings: [Backing]
    public var repetitions: Int
    public var warmup: Int
    public var minTimeNs: Double
    public var mitigations: Mitigations
    public var lastRef: Bool

    public init(path: any KernelPath, sizes: [Int], backings: [Backing], repetitions: Int, warmup: Int,
                minTimeNs: Double, mitigations: Mitigations, lastRef: Bool) {
        self.path = path
        (self.sizes, self.backings, self.repetitions, self.warmup) = (sizes, backings, repetitions, warmup)
        (self.minTimeNs, self.mitigations, self.lastRef) = (minTimeNs, mitigations, lastRef)
    }

    /// One run per path of the registry (KernelPaths.all), in its order: what `gupbench kernel` runs.
    public static func all(sizes: [Int], backings: [Backing], repetitions: Int, warmup: Int, minTimeNs: Double,
                           mitigations: Mitigations, lastRef: Bool) -> [KernelRun] {
        KernelPaths.all.map {
            KernelRun(path: $0, sizes: sizes, backings: backings, repetitions: repetitions, warmup: warmup,
                      minTimeNs: minTimeNs, mitigations: mitigations, lastRef: lastRef)
        }
    }

    /// The model's matrix for one size: one thread, the loops that mirror the kernel's release.
    public func modelConfig(size: Int) -> BenchConfig {
        var config = BenchConfig()
        config.sizes = [size]
        config.backings = backings
        config.threads = [1]
        config.mitigations = [mitigations]
        config.repetitions = repetitions
        config.warmup = warmup
        config.minTimeNs = minTimeNs
        if lastRef {
            // The path's own loop (io_release_ubuf()), each unpin the last reference.
            config.strategies = [path.modelStrategy]
            config.layouts = [.sequential]
            config.lastRef = true
        } else {
            // Each backing's loop and the path's own (io-uring-release: the unregistration in the model).
            config.strategies = path.modelStrategies
            // The same loop's fixed cost, as the kernel's is measured apart (its first entry alone).
            config.firstEntryAloneOf = path.modelStrategy
            // Shuffled: descriptors in random order, the cost if the kernel's were scattered.
            config.layouts = [.sequential, .shuffled]
            // The kernel's regions stay mapped while the model runs (KernelCompanion).
            config.kernelRegionsBeside = true
        }
        return config
    }

    /// The progress line of the model's run on `config`'s size.
    func modelProgress(_ config: BenchConfig) -> String {
        let names = config.strategies.map(\.rawValue)
        return "model: " + (names.count > 1 ? names.dropLast().joined(separator: ", ") + " and " : "")
            + names.last! + (lastRef ? " --last-ref" : "") + " on \(ByteSize.format(config.sizes[0])), "
            + "mitigations \(mitigations.rawValue)"
    }

    /// Before anything is mapped: every size at once (memory: the largest decides, and is named
    /// in a refusal; 2 MiB multiples), the path usable (one line), its pin limits.
    public func checkBeforeMapping(topology: Topology) throws {
        var all = modelConfig(size: sizes.max()!)
        all.sizes = sizes.sorted(by: >)
        try all.validate(on: topology)
        try path.checkAvailable()
        try path.checkResources(size: sizes.max()!, backings: backings)
    }

    /// Measures every size and backing and the model beside them; `progress` gets one line a step.
    public func run(topology: Topology, node: Int, cpu: Int?, calibration: CalibrationFigures,
                    progress: (String) -> Void) throws -> Outcome {
        let w = path.words
        if lastRef {
            let sized = try perSize(topology: topology, calibration: calibration, progress: progress) { size, b in
                progress("kernel: \(w.pinning), unmapping and \(w.releasing) \(ByteSize.format(size)) of "
                    + "\(b.rawValue) memory (the unpin frees it)")
                return try KernelProbe.measureLastRef(size: size, backing: b, node: node, cpu: cpu,
                                                      repetitions: repetitions, warmup: warmup,
                                                      topology: topology, path: path)
            }
            var reports: [Int: Report] = [:]
            for s in sized { reports[s.size] = s.report }
            return Outcome(path: path, merged: KernelSizes.merged(sized.map(\.report)), reports: sized.map(\.report),
                           result: .lastRef(KernelLastRefComparison(kernel: sized.flatMap(\.kernel), reports: reports,
                                                                    path: path)))
        }
        let sized = try perSizeInTurn(topology: topology, node: node, cpu: cpu, calibration: calibration,
                                      progress: progress)
        let sizes = KernelSizes(sized.map {
            KernelSizes.Entry(size: $0.size, comparison: KernelComparison(kernel: $0.kernel, model: $0.report, path: path),
                              report: $0.report)
        })
        return Outcome(path: path, merged: sizes.mergedReport, reports: sized.map(\.report), result: .plain(sizes))
    }

    /// Per size: the kernel on each backing, then the model on the same size, its descriptors on
    /// the kernel's frames (layout pfn, BenchConfig.framePfns) where pagemap showed them (root).
    func perSize<M: KernelPathMeasurement>(topology: Topology, calibration: CalibrationFigures,
                                           progress: (String) -> Void,
                                           measure: (Int, Backing) throws -> M)
        throws -> [(size: Int, kernel: [M], report: Report)] {
        var out: [(size: Int, kernel: [M], report: Report)] = []
        for size in sizes {
            let kernel = try backings.map { try measure(size, $0) }
            var config = modelConfig(size: size)
            progress(modelProgress(config))
            config.layOnFrames(kernel.map { ($0.backing, $0.framePfns) })
            let report = try Experiment(config: config, topology: topology, calibration: calibration,
                                        progress: Progress()).run(command: "kernel")
            out.append((size, kernel, report))
            if SignalStop.requested { break }
        }
        return out
    }

    /// Per size, the plain run: the kernel's region of each backing mapped and warmed up first
    /// (KernelCycler), then the model's run, during which the kernel makes its cycles after each
    /// repetition of the same loop's scenario on that backing (KernelCompanion): the machine
    /// here has slow and fast phases lasting seconds, and the kernel's ten cycles in a row fell
    /// into one phase while the model's samples fell into another (kernel ÷ model on THP moved
    /// 0.83-1.73x between runs). A kernel left with fewer than `repetitions` timed cycles (its
    /// scenario skipped, or stopped by a signal) makes the rest on its own after.
    func perSizeInTurn(topology: Topology, node: Int, cpu: Int?, calibration: CalibrationFigures,
                       progress: (String) -> Void) throws -> [(size: Int, kernel: [KernelMeasurement], report: Report)] {
        let w = path.words
        var out: [(size: Int, kernel: [KernelMeasurement], report: Report)] = []
        for size in sizes {
            var cyclers: [(backing: Backing, cycler: KernelCycler)] = []
            for b in backings {
                progress("kernel: \(w.pinning) and \(w.releasing) \(ByteSize.format(size)) of \(b.rawValue) memory, "
                    + "in turn with the model's same loop")
                cyclers.append((b, try KernelCycler(size: size, backing: b, node: node, cpu: cpu, warmup: warmup,
                                                    topology: topology, path: path)))
            }
            var config = modelConfig(size: size)
            progress(modelProgress(config))
            config.layOnFrames(cyclers.map { ($0.backing, $0.cycler.framePfns) })
            var experiment = Experiment(config: config, topology: topology, calibration: calibration,
                                        progress: Progress())
            experiment.companion = KernelCompanion(
                cyclers: Dictionary(uniqueKeysWithValues: cyclers.map { ($0.backing, $0.cycler) }),
                strategy: path.modelStrategy, layout: config.layouts.contains(.pfn) ? .pfn : .sequential)
            let report = try experiment.run(command: "kernel")
            var kernel: [KernelMeasurement] = []
            for c in cyclers {
                while c.cycler.timedCycles < repetitions && !SignalStop.requested { c.cycler.cycle(timed: true) }
                kernel.append(try c.cycler.measurement())
            }
            out.append((size, kernel, report))
            if SignalStop.requested { break }
        }
        return out
    }

    /// What a run found: its text or JSON, the merged model report and the audit of its proof.
    public struct Outcome {
        enum Result {
            case plain(KernelSizes)
            case lastRef(KernelLastRefComparison)
        }
        public let path: any KernelPath
        /// Every size's model report in one (KernelSizes.merged).
        public let merged: Report
        let reports: [Report]
        let result: Result

        /// The table (each size's kernel table, the model's full comparison, the footer) and the JSON.
        public var output: TableAndJSON {
            switch result {
            case .plain(let sizes):
                return TableAndJSON(table: { sizes.renderTable() + tail }, json: { merged.json(extra: sizes.jsonFields) })
            case .lastRef(let comparison):
                return TableAndJSON(table: { comparison.renderTable() + tail },
                                    json: { merged.json(extra: comparison.jsonFields) })
            }
        }

        private var tail: String {
            "\nthe model's full comparison:\n\n" + reports.map { $0.compareTable().rendered() }.joined(separator: "\n\n")
                + "\n\n" + merged.footer() + "\n"
        }

        /// Throws `.auditFailed` when the vmstat deltas did not prove the release (see the notes).
        public func audit() throws {
            switch result {
            case .plain(let sizes):
                if !sizes.vmstatComplete {
                    throw GUPBenchError.auditFailed(
                        "the kernel's FOLL_PIN counters fell short of the pages registered; see SHORT above")
                }
                if sizes.otherPinning {
                    throw GUPBenchError.auditFailed(
                        "the kernel's FOLL_PIN counters rose by more than this run's pins: other pinning "
                        + "during the run (see OTHERS above); run again when the machine is quiet")
                }
            case .lastRef(let comparison):
                if let bad = comparison.rows.first(where: { $0.kernel.proof != .ok }) {
                    let k = bad.kernel
                    throw GUPBenchError.auditFailed(
                        "--last-ref not proven for \(ByteSize.format(k.size)) \(k.backing.rawValue): \(k.proof.rawValue) "
                        + "(pins acquired \(k.pinsAcquired), released \(k.pinsReleased), pgfree at "
                        + "\(path.words.releaseNoun) \(k.pgfreeAtUnregister), for \(k.pages) pages); see the notes above")
                }
            }
        }
    }
}

/// The kernel's cycles taking turns with the model's same loop (SampleCompanion): after each
/// repetition of the one-thread scenario that runs `strategy` over `layout` (the same-loop
/// row's, SameLoopRow.sameLoop), `warmCycles` untimed cycles of the backing's KernelCycler and
/// `timedCycles` timed ones. The model's sample is up to a thousand releases in a row; a kernel
/// cycle right after it is the kernel's release cold (on the AMD EPYC host 16 MiB THP came out
/// 0.43-0.67 ns a page instead of 0.04-0.08; with one warm cycle 0.095, with three 0.055-0.066).
/// At least four timed cycles a turn (`timedCycles`): `--repetitions` 10 gave the kernel's
/// 16 MiB THP loop, 7 unpins beside a fixed cost of 1-2 µs, a median moving 0.036-0.105 ns a
/// page between runs with ten samples, 0.039-0.088 with forty.
final class KernelCompanion: SampleCompanion {
    let cyclers: [Backing: KernelCycler]
    let strategy: Strategy
    let layout: Layout

    init(cyclers: [Backing: KernelCycler], strategy: Strategy, layout: Layout) {
        (self.cyclers, self.strategy, self.layout) = (cyclers, strategy, layout)
    }

    func pairs(with s: ScenarioPlan.Scenario) -> Bool {
        s.pool.threads == 1 && s.pool.layout == layout && cyclers[s.region.backing] != nil
            && s.loops.contains { $0.strategy == strategy }
    }

    static let warmCycles = 3

    /// Timed cycles a turn for a region of `folios` folios: four, and more the fewer folios it
    /// has, up to 32 at 8 folios (16 MiB THP). The kernel's loop is the region's release less
    /// the one-page release, a difference of two medians of 1-2 µs calls whose own spread does
    /// not shrink with the region, while the loop does; a median's error shrinks as one over
    /// the root of the samples. A cycle of so small a region costs about a millisecond.
    static func timedCycles(folios: Int) -> Int { min(32, max(4, 256 / max(1, folios))) }

    func cycle(backing: Backing, timed: Bool) {
        guard let cycler = cyclers[backing] else { return }
        for _ in 0..<Self.warmCycles { cycler.cycle(timed: false) }
        for _ in 0..<Self.timedCycles(folios: cycler.pinned.folios) { cycler.cycle(timed: timed) }
    }
}

extension BenchConfig {
    /// The same loop on the kernel's frames (layout pfn, `framePfns`) when every backing's were
    /// readable (root); otherwise the model keeps its own layouts.
    mutating func layOnFrames(_ frames: [(Backing, [UInt64]?)]) {
        guard frames.allSatisfy({ $0.1 != nil }) else { return }
        layouts.append(.pfn)
        for (backing, pfns) in frames { framePfns[backing] = pfns }
    }
}
