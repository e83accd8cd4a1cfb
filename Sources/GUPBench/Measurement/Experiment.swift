import CShims
import Foundation

/// Runs a `BenchConfig` matrix on this machine, working through its `ScenarioPlan`: one real
/// region per (size, backing, placement), one page model per folio order, one pinned thread
/// pool per (threads, sharing, layout), and every strategy × impl × detect measured with
/// interleaved repetitions per (dirty, batch, mitigations).
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
    /// Timed in turn with one kind of scenario's repetitions (`gupbench kernel`: the kernel's
    /// own release, beside its same loop).
    public var companion: (any SampleCompanion)?

    public init(config: BenchConfig, topology: Topology, calibration: CalibrationFigures? = nil,
                calibrator: Calibrator? = nil, progress: Progress? = nil) {
        (self.config, self.topology) = (config, topology)
        (self.calibration, self.calibrator, self.progress) = (calibration, calibrator, progress)
    }

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
        let plan = try ScenarioPlan(config: config, topology: topology)
        // The model's NR_FOLL_PIN_RELEASED folds where this machine's kernel folds.
        KernelCallSettings.applyThreshold()
        defer { Mitigations.off.apply() }
        progress?.start(total: plan.steps)
        let predicted = predictedPeak()
        let pass = ExperimentPass(experiment: self, plan: plan)
        try pass.measureRounds()
        progress?.finish()
        return report(of: pass, command: command, predicted: predicted)
    }

    /// `--dry-run`: the plan a run would work through, checked against this machine as a run
    /// is checked, with its memory and time estimates; nothing is mapped or measured.
    public func dryRun(command: String) throws -> String {
        try config.validate(on: topology)
        let plan = try ScenarioPlan(config: config, topology: topology)
        return plan.rendered(command: command, budget: MemoryBudget.read(), shape: config.memoryShape,
                             peak: predictedPeak(),
                             nsPerPage: ScenarioPlan.nsPerPage(calibration ?? calibrator?.samples.first))
    }

    /// The run's peak memory, predicted before anything is mapped (MemoryBudget).
    func predictedPeak() -> PeakPrediction {
        MemoryBudget.read().predictPeak(
            sizes: config.sizes, backings: config.backings, shape: config.memoryShape,
            calibrationBytes: calibrator == nil ? 0 : Calibrator.chaseBufferBytes(llcBytes: topology.llcBytes),
            processBytes: ProcessMemory.residentBytes)
    }

    /// The report of a finished (or stopped) pass: results and comparisons in the order first
    /// measured, each reason for a loop left out once.
    func report(of pass: ExperimentPass, command: String, predicted: PeakPrediction) -> Report {
        var report = Report(command: command, topology: topology, calibration: calibration)
        report.layoutFile = config.layoutFile
        report.minTimeNs = config.minTimeNs
        report.phases = pass.phases
        report.memory = MemoryUse(predicted: predicted, peakResidentBytes: ProcessMemory.peakResidentBytes)
        if pass.cut, let signal = SignalStop.signal {
            report.partial = "stopped by \(SignalStop.name(signal)) before every repetition and "
                + "scenario asked for was measured"
        }
        if let combined = calibrator?.combined { report.calibration = combined }
        report.skipped = uniqueValues(pass.skipped)
        let records = pass.ledger.items.map { record($0, calibration: report.calibration) }
        report.results = records
        var scenarios: [ScenarioKey] = []
        for r in records where !scenarios.contains(r.scenario) { scenarios.append(r.scenario) }
        for s in scenarios { report.comparisons += ComparisonRecord.pairs(in: records.filter { $0.scenario == s }) }
        return report
    }

    /// A run predicted to take more than a minute says so before its first repetition: the
    /// plan's estimate (`ScenarioPlan.estimate`) with the first region's map and verify time
    /// as the mapping rate and the calibrated per-page cost.
    func announceEstimate(_ plan: ScenarioPlan, firstRegionSeconds: Double, firstRegionBytes: Int) {
        let (mapping, measuring) = plan.estimate(
            mappingSecondsPerByte: firstRegionSeconds / Double(max(1, firstRegionBytes)),
            nsPerPage: ScenarioPlan.nsPerPage(calibrator?.samples.first))
        let seconds = mapping + measuring
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
        result.threadsRan = g.rounds.map(\.threadsRan)
        result.firstEntryReleaseNs = g.rounds.flatMap(\.firstEntryReleaseNs)
        if let calibration, let lines = last.linesTouched {
            let events = FloorEvents(tally: last.releaseTally, locks: last.lastRef ? last.lockCounts : nil, lines: lines,
                                     threads: g.scenario.threads, pagesPerThread: context.maxPagesPerThread)
            result.floors = Floors.estimate(events: events, memmapBytes: context.memmapBytes,
                                            mitigations: g.scenario.mitigations, calibration: calibration)
        }
        return result
    }
}

/// One run of an experiment through its plan, round by round: what it has gathered, and
/// whether a signal cut it short.
final class ExperimentPass {
    let experiment: Experiment
    let plan: ScenarioPlan
    var ledger = Experiment.Ledger()
    /// Why loops were left out, as the scenarios measured met them.
    var skipped: [String] = []
    var phases = RunPhases()
    /// The time estimate is announced once, when the first region is mapped and verified.
    var estimated = false
    /// SIGINT/SIGTERM (SignalStop): set when the stop left something asked for unmeasured.
    var cut = false

    init(experiment: Experiment, plan: ScenarioPlan) {
        self.experiment = experiment
        self.plan = plan
    }

    var config: BenchConfig { experiment.config }
    var progress: Progress? { experiment.progress }

    /// Every round maps each region afresh; the machine is calibrated before the first round
    /// and after each one.
    func measureRounds() throws {
        try calibrate()
        let regions = plan.entries.runs(by: \.region)
        for repetitions in plan.repetitionsPerRound {
            for entries in regions {
                try measureRegion(entries, repetitions: repetitions)
                if cut { return }
            }
            try calibrate()
        }
    }

    func calibrate() throws {
        if let calibrator = experiment.calibrator { _ = try phases.time(\.calibrate) { try calibrator.sample() } }
    }

    /// One region: mapped, faulted in and verified once, then measured with each folio order.
    func measureRegion(_ entries: [ScenarioPlan.Entry], repetitions: Int) throws {
        let r = entries[0].region
        if SignalStop.requested { cut = true; return }
        let region: MemoryRegion
        progress?.phase("mapping and faulting in \(ByteSize.format(r.size)) \(r.backing.rawValue)")
        do {
            region = try phases.time(\.map) {
                try MemoryRegion(size: r.size, backing: r.backing, policy: r.memPolicy, node: r.memNode)
            }
        } catch where SignalStop.requested {
            cut = true  // the first touch gave up: nothing stays mapped
            return
        }
        progress?.phase("verifying \(ByteSize.format(r.size)) \(r.backing.rawValue) page by page")
        let placement = phases.time(\.verify) { region.verifyPlacement(maxNode: experiment.topology.maxNode) }
        for entries in entries.runs(by: \.folioOrder) {
            if SignalStop.requested { cut = true; return }
            let model = try phases.time(\.verify) {
                try experiment.makeModel(region: region, forcedOrder: entries[0].folioOrder)
            }
            if !estimated {
                estimated = true
                experiment.announceEstimate(plan, firstRegionSeconds: phases.map + phases.verify, firstRegionBytes: r.size)
            }
            try phases.time(\.measure) {
                try measureModel(entries, model: model, placement: placement, repetitions: repetitions)
            }
            if cut { return }
            phases.time(\.calibrate) { experiment.calibrator?.sampleOwnMemmap(model) }
        }
    }

    /// One page model: each pool of page arrays and threads in turn, or the reason none runs.
    func measureModel(_ entries: [ScenarioPlan.Entry], model: PageModel, placement: PlacementReport,
                      repetitions: Int) throws {
        if case .skip(_, _, let reason) = entries[0] {
            skipped.append(reason)
            return
        }
        // --layout pfn: this region's folios on a memmap spaced as its frames, once per region.
        var frameModel: PageModel? = nil
        if config.layouts.contains(.pfn) {
            frameModel = try PfnOrder.frameModel(of: model, frames: config.framePfns[entries[0].region.backing])
        }
        let scenarios = entries.compactMap { entry -> ScenarioPlan.Scenario? in
            if case .scenario(let s) = entry { return s } else { return nil }
        }
        for pool in scenarios.runs(by: \.pool) {
            try measurePool(pool, model: pool[0].pool.layout == .pfn ? frameModel! : model,
                            placement: placement, repetitions: repetitions)
            if cut { return }
        }
    }

    /// One pool: the page arrays and pinned threads built once, then every scenario on them.
    func measurePool(_ scenarios: [ScenarioPlan.Scenario], model: PageModel, placement: PlacementReport,
                     repetitions: Int) throws {
        if SignalStop.requested { cut = true; return }
        let p = scenarios[0].pool
        let nodeCPUs = experiment.topology.node(scenarios[0].region.cpuNode)?.cpus ?? []
        let shares = PageShares(model: model, threads: p.threads, sharing: p.sharing, layout: p.layout)
        let runner = try ReleaseRunner(model: model, shares: shares, cpus: Array(nodeCPUs.prefix(p.threads)))
        let context = Experiment.RoundContext(
            totalPages: shares.totalPages, threadPages: shares.arrays.map(\.count),
            thpBackedFraction: model.thpBackedFraction,
            folioBackedFraction: model.folioBackedFraction, placement: placement,
            // pfn: the descriptors the array names, not the frame-spaced span around them
            memmapBytes: (p.layout == .pfn ? shares.totalPages : model.pageCount) * 64)
        var lines: [Strategy: LinesTouched] = [:]  // the same for every dirty, batch and mitigation
        for s in scenarios {
            measureScenario(s, runner: runner, shares: shares, model: model, context: context,
                            lines: &lines, repetitions: repetitions)
            if cut { return }
        }
    }

    /// One scenario: its loops timed together, interleaved repetition by repetition.
    func measureScenario(_ s: ScenarioPlan.Scenario, runner: ReleaseRunner, shares: PageShares, model: PageModel,
                         context: Experiment.RoundContext, lines: inout [Strategy: LinesTouched], repetitions: Int) {
        if SignalStop.requested { cut = true; return }
        s.mitigations.apply()
        let r = s.region
        let scenario = ScenarioKey(
            size: r.size, backing: r.backing, folioOrder: model.folioOrder, forcedOrder: model.forcedOrder != nil,
            threads: s.pool.threads, sharing: s.pool.sharing, layout: s.pool.layout, dirty: s.dirty, batch: s.batch,
            memNode: r.memPolicy == .interleave ? nil : r.memNode, cpuNode: r.cpuNode, memPolicy: r.memPolicy,
            lastRef: config.lastRef, layoutDigest: model.layoutFile?.sha256, mitigations: s.mitigations)
        skipped += s.skipped
        let progress = self.progress
        // gupbench kernel's same loop on one thread: its one-entry call too (its fixed cost).
        let firstEntry = config.firstEntryAloneOf.flatMap {
            s.pool.threads == 1 && !$0.needsContiguousPages && !config.lastRef ? $0 : nil
        }
        let companion = experiment.companion.flatMap { $0.pairs(with: s) ? $0 : nil }
        var measured = runner.measure(
            s.loops, dirty: s.dirty, batch: s.batch, repetitions: repetitions, warmup: config.warmup,
            lastRef: config.lastRef, minTimeNs: config.minTimeNs, firstEntryAloneOf: firstEntry,
            afterRepetition: companion.map { c in { timed in c.cycle(backing: s.region.backing, timed: timed) } },
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

/// Something timed in turn with a scenario's repetitions, one cycle after each, so both are
/// measured at the same moments of the machine (whose slow and fast phases last seconds): a
/// ratio of the two is then not a ratio of two phases. `gupbench kernel`'s kernel side
/// (KernelCompanion).
public protocol SampleCompanion: AnyObject {
    /// Whether `scenario`'s repetitions are the ones to take turns with.
    func pairs(with scenario: ScenarioPlan.Scenario) -> Bool
    /// One cycle of the companion for `backing`; `timed` false during warm-up. Errors are kept
    /// by the companion (the runner's loop cannot throw) and reported when it is read.
    func cycle(backing: Backing, timed: Bool)
}
