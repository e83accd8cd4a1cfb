import CShims
import Foundation

/// Runs a `BenchConfig` matrix on this machine: one real region per (size, backing, folio
/// order, placement), one pinned thread pool per (threads, sharing, layout), and every
/// strategy × impl measured with interleaved repetitions per (dirty, batch).
///
/// The repetitions are spread over `config.rounds` rounds. Each round maps every region afresh
/// (other physical pages, other cache-set conflicts), verifies it, and builds fresh page arrays
/// and threads, so the spread between rounds is the spread between processes that a
/// single-region CI cannot see; results and their CIs are built from all rounds at the end
/// (`Statistics.medianCI(RoundSamples)`). With a calibrator, the machine is calibrated before
/// the first round and after every round, and the rooflines use the median of those.
public struct Experiment {
    public let config: BenchConfig
    public let topology: Topology
    public var calibration: CalibrationFigures?
    public var calibrator: Calibrator?
    public var progress: Progress?

    public init(config: BenchConfig, topology: Topology, calibration: CalibrationFigures? = nil,
                calibrator: Calibrator? = nil, progress: Progress? = nil) {
        self.config = config
        self.topology = topology
        self.calibration = calibration
        self.calibrator = calibrator
        self.progress = progress
    }

    /// Loops that will be timed in one (dirty, batch) cell, for progress estimates.
    var loopsPerCell: Int { config.strategies.count * config.impls.count * config.detects.count }

    /// What one loop on one scenario gathered, round by round.
    struct Gathered {
        let scenario: ScenarioKey
        let key: LoopKey
        var rounds: [LoopMeasurement] = []
        var contexts: [RoundContext] = []
    }

    /// What a round's region and page arrays were, for the record.
    struct RoundContext {
        let totalPages: Int
        let threadPages: [Int]
        let thpBackedFraction: Double
        let folioBackedFraction: Double
        let placement: PlacementReport
        let memmapBytes: Int
        var maxPagesPerThread: Int { threadPages.max() ?? 0 }
    }

    /// Everything gathered so far, in the order first measured.
    struct Ledger {
        struct ID: Hashable {
            let scenario: ScenarioKey
            let key: LoopKey
        }
        var items: [Gathered] = []
        var index: [ID: Int] = [:]
        mutating func add(_ m: LoopMeasurement, scenario: ScenarioKey, context: RoundContext) {
            let id = ID(scenario: scenario, key: m.key)
            if index[id] == nil {
                index[id] = items.count
                items.append(Gathered(scenario: scenario, key: m.key))
            }
            items[index[id]!].rounds.append(m)
            items[index[id]!].contexts.append(context)
        }
    }

    public func run(command: String) throws -> Report {
        try config.validate(on: topology)
        var report = Report(command: command, topology: topology, calibration: calibration)
        report.layoutFile = config.layoutFile
        report.minTimeNs = config.minTimeNs
        // The model's NR_FOLL_PIN_RELEASED folds where this machine's kernel folds.
        KernelCallSettings.applyThreshold()
        defer { Mitigations.off.apply() }
        let c = config
        let perRegion = c.threads.isEmpty ? 2 : c.threads.count
        let cells = c.sizes.count * c.backings.count * c.folioOrders.count * c.memNodes.count
            * c.cpuNodes.count * c.memPolicies.count * perRegion * c.sharings.count * c.layouts.count
            * c.dirties.count * c.batches.count * c.mitigations.count
        let plan = c.repetitionsPerRound
        progress?.start(total: cells * loopsPerCell * (c.repetitions + c.warmup * plan.count))
        let predicted = MemoryBudget.read().predictPeak(
            sizes: c.sizes, backings: c.backings, shape: c.memoryShape,
            calibrationBytes: calibrator == nil ? 0 : Calibrator.chaseBufferBytes(llcBytes: topology.llcBytes),
            processBytes: ProcessMemory.residentBytes)

        var ledger = Ledger()
        var phases = RunPhases()
        var estimated = false
        // SIGINT/SIGTERM (SignalStop): set when the stop left something asked for unmeasured.
        var cut = false
        if let calibrator { _ = try phases.time(\.calibrate) { try calibrator.sample() } }
        rounds: for repetitions in plan {
            for size in c.sizes {
                for backing in c.backings {
                    for cpuNodeOption in c.cpuNodes {
                        let cpuNode = cpuNodeOption ?? topology.localNode
                        for memNodeOption in c.memNodes {
                            for policy in c.memPolicies {
                                let memNode = memNodeOption ?? cpuNode
                                if SignalStop.requested { cut = true; break rounds }
                                let region: MemoryRegion
                                progress?.phase("mapping and faulting in \(ByteSize.format(size)) \(backing.rawValue)")
                                do {
                                    region = try phases.time(\.map) {
                                        try MemoryRegion(size: size, backing: backing, policy: policy, node: memNode)
                                    }
                                } catch where SignalStop.requested {
                                    cut = true  // the first touch gave up: nothing stays mapped
                                    break rounds
                                }
                                progress?.phase("verifying \(ByteSize.format(size)) \(backing.rawValue) page by page")
                                let placement = phases.time(\.verify) { region.verifyPlacement(maxNode: topology.maxNode) }
                                for order in c.folioOrders {
                                    if SignalStop.requested { cut = true; break rounds }
                                    let model = try phases.time(\.verify) { try makeModel(region: region, forcedOrder: order) }
                                    if !estimated {
                                        estimated = true
                                        announceEstimate(firstRegionSeconds: phases.map + phases.verify, firstRegionBytes: size)
                                    }
                                    try phases.time(\.measure) {
                                        try runRegion(model: model, placement: placement, size: size,
                                                      backing: backing, memNode: policy == .interleave ? nil : memNode,
                                                      cpuNode: cpuNode, policy: policy, repetitions: repetitions,
                                                      ledger: &ledger, skipped: &report.skipped, cut: &cut)
                                    }
                                    if cut { break rounds }
                                    phases.time(\.calibrate) { calibrator?.sampleOwnMemmap(model) }
                                }
                            }
                        }
                    }
                }
            }
            if let calibrator { _ = try phases.time(\.calibrate) { try calibrator.sample() } }
        }
        progress?.finish()
        report.phases = phases
        report.memory = MemoryUse(predicted: predicted, peakResidentBytes: ProcessMemory.peakResidentBytes)
        if cut, let signal = SignalStop.signal {
            report.partial = "stopped by \(SignalStop.name(signal)) before every repetition and "
                + "scenario asked for was measured"
        }
        if let combined = calibrator?.combined { report.calibration = combined }
        report.skipped = uniqueStrings(report.skipped)
        let records = ledger.items.map { record($0, calibration: report.calibration) }
        report.results = records
        var scenarios: [ScenarioKey] = []
        for r in records where !scenarios.contains(r.scenario) { scenarios.append(r.scenario) }
        for s in scenarios { report.comparisons += ComparisonRecord.pairs(in: records.filter { $0.scenario == s }) }
        return report
    }

    /// A run predicted to take more than a minute says so before its first repetition: the
    /// first region's map and verify time scaled to every region the run maps, plus the
    /// repetitions, each of which touches every descriptor about four times (grab, release,
    /// audit, reset) at the calibrated stream rate with an atomic on each, and lasts at least
    /// `--min-time` of release.
    func announceEstimate(firstRegionSeconds: Double, firstRegionBytes: Int) {
        let c = config
        let bytesPerRound = c.sizes.reduce(0, +) * c.backings.count * c.cpuNodes.count * c.memNodes.count
            * c.memPolicies.count
        let mapping = firstRegionSeconds / Double(max(1, firstRegionBytes))
            * Double(bytesPerRound * c.repetitionsPerRound.count)
        let perPageNs = 4 * ((calibrator?.samples.first).map { $0.atomicNs + $0.streamNsPerDescriptor } ?? 10)
        let repNs = max(Double(bytesPerRound / 4096) * perPageNs, c.minTimeNs * Double(c.sizes.count * c.backings.count))
        let reps = Double(c.repetitions + c.warmup * c.repetitionsPerRound.count)
            * Double(loopsPerCell * max(1, c.threads.count) * c.sharings.count * c.layouts.count
                     * c.dirties.count * c.batches.count * c.mitigations.count * c.folioOrders.count)
        let seconds = mapping + reps * repNs / 1e9
        guard seconds > 60 else { return }
        FileHandle.standardError.write(String(
            format: "gupbench: this run is estimated to take %.0f min (%.0f s mapping and verifying regions, "
                + "the rest measuring)\n", (seconds / 60).rounded(.up), mapping).data(using: .utf8)!)
    }

    /// The model-building hook: a replayed layout's folios and page array, or the region's
    /// own folios (verified backing, or the forced order).
    func makeModel(region: MemoryRegion, forcedOrder: Int?) throws -> PageModel {
        if let file = config.layoutFile { return PageModel(region: region, layout: file) }
        return try PageModel(region: region, forcedOrder: forcedOrder)
    }

    private func runRegion(model: PageModel, placement: PlacementReport, size: Int, backing: Backing,
                           memNode: Int?, cpuNode: Int, policy: MemPolicy, repetitions: Int,
                           ledger: inout Ledger, skipped: inout [String], cut: inout Bool) throws
    {
        let nodeCPUs = topology.node(cpuNode)?.cpus ?? []
        if config.lastRef && backing == .hugetlb {
            // mm/swap.c: folios_put_refs() and __folio_put() hand a hugetlb folio to
            // free_huge_folio() (its pool), never to the LRU and per-CPU lists the model has.
            skipped.append("--last-ref skipped on hugetlb: a hugetlb folio goes back to its pool "
                + "(free_huge_folio()), not through the LRU and per-CPU free lists the model has")
            let threadCounts = config.threadCounts(cpuNodeCPUs: nodeCPUs.count).count
            progress?.skip(threadCounts * config.sharings.count * config.layouts.count * config.dirties.count
                           * config.batches.count * loopsPerCell * (repetitions + config.warmup))
            return
        }
        // --layout pfn: this region's folios on a memmap spaced as its frames, once per region.
        var frameModel: PageModel? = nil
        if config.layouts.contains(.pfn) {
            guard model.pageArray == nil else {
                throw GUPBenchError.usage("--layout pfn places the region's own descriptors at their page frames; "
                    + "it cannot be combined with --layout-file (use sequential or shuffled)")
            }
            frameModel = try PfnOrder.frameModel(of: model, frames: config.framePfns[backing])
        }
        for threads in config.threadCounts(cpuNodeCPUs: nodeCPUs.count) {
            for sharing in config.sharings {
                for layout in config.layouts {
                    if SignalStop.requested { cut = true; return }
                    let model = layout == .pfn ? frameModel! : model
                    let shares = PageShares(model: model, threads: threads, sharing: sharing, layout: layout)
                    var lines: [Strategy: LinesTouched] = [:]  // the same for every dirty, batch and mitigation
                    let runner = try ReleaseRunner(model: model, shares: shares,
                                                   cpus: Array(nodeCPUs.prefix(threads)))
                    let context = RoundContext(
                        totalPages: shares.totalPages, threadPages: shares.arrays.map(\.count),
                        thpBackedFraction: model.thpBackedFraction,
                        folioBackedFraction: model.folioBackedFraction, placement: placement,
                        // pfn: the descriptors the array names, not the frame-spaced span around them
                        memmapBytes: (layout == .pfn ? shares.totalPages : model.pageCount) * 64)
                    for dirty in config.dirties {
                        for batch in config.batches {
                          for mitigation in config.mitigations {
                            if SignalStop.requested { cut = true; return }
                            mitigation.apply()
                            let scenario = ScenarioKey(
                                size: size, backing: backing, folioOrder: model.folioOrder,
                                forcedOrder: model.forcedOrder != nil, threads: threads,
                                sharing: sharing, layout: layout, dirty: dirty, batch: batch,
                                memNode: memNode, cpuNode: cpuNode, memPolicy: policy,
                                lastRef: config.lastRef, layoutDigest: model.layoutFile?.sha256,
                                mitigations: mitigation)
                            var keys: [LoopKey] = []
                            for strategy in config.strategies {
                                if strategy.needsContiguousPages && !shares.contiguous && model.pageArray == nil {
                                    skipped.append(
                                        "\(strategy.rawValue) skipped for --sharing \(sharing.rawValue) --layout "
                                        + "\(layout.rawValue): it releases contiguous ranges, and these "
                                        + "page arrays are not")
                                    progress?.skip(config.impls.count * config.detects.count
                                                   * (repetitions + config.warmup))
                                    continue
                                }
                                if config.lastRef && strategy.lastRefSwiftLoop == nil {
                                    skipped.append(
                                        "\(strategy.rawValue) skipped for --last-ref: it has no "
                                        + "last-reference model")
                                    progress?.skip(config.impls.count * config.detects.count
                                                   * (repetitions + config.warmup))
                                    continue
                                }
                                if dirty != .none && !strategy.dirties {
                                    skipped.append(
                                        "\(strategy.rawValue) skipped for --dirty \(dirty.rawValue): "
                                        + "\(strategy.kernelAnalogue.prefix { $0 != ":" }) has no dirtying variant")
                                    progress?.skip(config.impls.count * config.detects.count
                                                   * (repetitions + config.warmup))
                                    continue
                                }
                                for impl in config.impls {
                                    for detect in config.detects { keys.append(LoopKey(strategy, impl, detect)) }
                                }
                            }
                            var measured = runner.measure(
                                keys, dirty: dirty, batch: batch, repetitions: repetitions,
                                warmup: config.warmup, lastRef: config.lastRef, minTimeNs: config.minTimeNs,
                                progress: { progress?.step() })
                            // Stopped by a signal: what has timed repetitions is reported.
                            if measured.contains(where: { $0.wallNs.count < repetitions }) { cut = true }
                            for k in measured.indices {
                                let strategy = measured[k].key.strategy
                                if lines[strategy] == nil {
                                    lines[strategy] = shares.arrays.map { LinesTouched(strategy: strategy, pages: $0, model: model) }
                                        .max { $0.descriptorLines + $0.arrayLines < $1.descriptorLines + $1.arrayLines }
                                }
                                measured[k].linesTouched = lines[strategy]
                            }
                            for m in measured where !m.wallNs.isEmpty { ledger.add(m, scenario: scenario, context: context) }
                          }
                        }
                    }
                }
            }
        }
    }

    /// One result from every round of one loop on one scenario.
    func record(_ g: Gathered, calibration: CalibrationFigures?) -> ResultRecord {
        let last = g.rounds.last!, context = g.contexts.last!
        let perThread = Double(max(1, context.maxPagesPerThread))
        let total = Double(max(1, context.totalPages))
        let rounds = RoundSamples(g.rounds.map { $0.wallNs.map { $0 / perThread } })
        let wall = g.rounds.flatMap(\.wallNs)
        // Each thread's own time over its own pages, every repetition of every round.
        let perThreadNs = context.threadPages.indices.map { t in
            Statistics.median(zip(g.rounds, g.contexts).flatMap { m, ctx in
                m.threadNs.map { $0[t] / Double(max(1, ctx.threadPages[t])) }
            })
        }
        // The worst round is the one to report: placement and THP backing are checked per round.
        let placement = g.contexts.map(\.placement).min { $0.verifiedFraction < $1.verifiedFraction }!
        let failure = g.rounds.compactMap(\.auditFailure).first
        let acquired = g.rounds.reduce(0) { $0 + $1.pinsAcquired }
        let released = g.rounds.reduce(0) { $0 + $1.pinsReleased }
        var result = ResultRecord(
            strategy: g.key.strategy, impl: g.key.impl, detect: g.key.detect, scenario: g.scenario,
            pages: context.totalPages, pagesPerThread: context.maxPagesPerThread, repetitions: wall.count,
            nsPerPageRounds: rounds, nsPerPage: Summary(rounds),
            pagesPerSecond: total / (Statistics.median(wall) / 1e9),
            atomicsPerPage: Double(last.releaseTally.atomics) / total,
            flagTestsPerPage: Double(last.releaseTally.flag_tests) / total,
            thpBackedFraction: g.contexts.map(\.thpBackedFraction).min()!,
            folioBackedFraction: g.contexts.map(\.folioBackedFraction).min()!, placement: placement,
            cpus: last.cpusUsed, perThreadNsPerPage: perThreadNs,
            threadOverlap: g.scenario.threads > 1 ? Statistics.median(g.rounds.flatMap(\.overlaps)) : nil,
            windowsPerSample: g.rounds.map(\.windowsPerSample).min() ?? 1,
            balanced: failure == nil && acquired == released, auditDetail: failure,
            pinsAcquired: acquired, pinsReleased: released,
            underflows: g.rounds.reduce(0) { $0 + $1.underflows },
            ledgerViolations: g.rounds.reduce(0) { $0 + $1.ledgerViolations })
        if last.lastRef { result.locksPerPage = LocksPerPage(last.lockCounts, pages: total) }
        result.kernelCallsPerPage = KernelCallsPerPage(last.releaseTally, pages: total)
        if let calibration, let lines = last.linesTouched {
            let events = FloorEvents(tally: last.releaseTally, locks: last.lastRef ? last.lockCounts : nil, lines: lines,
                                     threads: g.scenario.threads, pagesPerThread: context.maxPagesPerThread)
            result.floors = Floors.estimate(events: events, memmapBytes: context.memmapBytes,
                                            mitigations: g.scenario.mitigations, calibration: calibration)
        }
        return result
    }
}
