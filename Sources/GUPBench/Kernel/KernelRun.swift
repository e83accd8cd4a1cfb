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
        }
        return config
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
        let sized = try perSize(topology: topology, calibration: calibration, progress: progress) { size, b in
            progress("kernel: \(w.pinning) and \(w.releasing) \(ByteSize.format(size)) of \(b.rawValue) memory")
            return try KernelProbe.measure(size: size, backing: b, node: node, cpu: cpu, repetitions: repetitions,
                                           warmup: warmup, topology: topology, path: path)
        }
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
            let names = config.strategies.map(\.rawValue)
            progress("model: " + (names.count > 1 ? names.dropLast().joined(separator: ", ") + " and " : "")
                + names.last! + (lastRef ? " --last-ref" : "") + " on \(ByteSize.format(size)), "
                + "mitigations \(mitigations.rawValue)")
            if kernel.allSatisfy({ $0.framePfns != nil }) {
                config.layouts.append(.pfn)
                for k in kernel { config.framePfns[k.backing] = k.framePfns }
            }
            let report = try Experiment(config: config, topology: topology, calibration: calibration,
                                        progress: Progress()).run(command: "kernel")
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
