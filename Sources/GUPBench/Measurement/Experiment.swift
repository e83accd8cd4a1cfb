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
        let budget = MemoryBudget.read()
        let predicted = predictedPeak(budget)
        let pass = ExperimentPass(experiment: self, plan: plan) { site in
            budget.holdsTogether(size: site.size, sizes: config.sizes, backings: config.backings,
                                 shape: config.memoryShape, calibrationBytes: calibrationBytes)
        }
        try pass.measureRounds()
        progress?.finish()
        return report(of: pass, command: command, predicted: predicted)
    }

    /// `--dry-run`: the plan a run would work through, checked against this machine as a run
    /// is checked, with its memory and time estimates; nothing is mapped or measured.
    public func dryRun(command: String) throws -> String {
        try config.validate(on: topology)
        let plan = try ScenarioPlan(config: config, topology: topology)
        let budget = MemoryBudget.read()
        return plan.rendered(command: command, budget: budget, shape: config.memoryShape,
                             peak: predictedPeak(budget), calibrationBytes: calibrationBytes,
                             nsPerPage: ScenarioPlan.nsPerPage(calibration ?? calibrator?.samples.first))
    }

    /// The run's peak memory, predicted before anything is mapped (MemoryBudget).
    func predictedPeak(_ budget: MemoryBudget) -> PeakPrediction {
        budget.predictPeak(sizes: config.sizes, backings: config.backings, shape: config.memoryShape,
                           calibrationBytes: calibrationBytes, processBytes: ProcessMemory.residentBytes)
    }

    /// The calibrator's chase buffers (none without a calibrator).
    var calibrationBytes: Int64 {
        calibrator == nil ? 0 : Calibrator.chaseBufferBytes(llcBytes: topology.llcBytes)
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
    /// Whether the regions of a site are mapped at once (`MemoryBudget.holdsTogether`).
    let together: (ScenarioPlan.Site) -> Bool

    init(experiment: Experiment, plan: ScenarioPlan, together: @escaping (ScenarioPlan.Site) -> Bool) {
        self.experiment = experiment
        self.plan = plan
        self.together = together
    }

    var config: BenchConfig { experiment.config }
    var progress: Progress? { experiment.progress }

    /// Every round maps each region afresh; the machine is calibrated before the first round
    /// and after each one. The regions of one site (size and placement) are mapped at once when
    /// memory allows (`MemoryBudget.holdsTogether`) and measured in turn, repetition by
    /// repetition; otherwise one after the other.
    func measureRounds() throws {
        try calibrate()
        for repetitions in plan.repetitionsPerRound {
            for site in plan.sites {
                for regions in together(site.first![0].region.site) ? [site] : site.map({ [$0] }) {
                    try measureRegions(regions, repetitions: repetitions)
                    if cut { return }
                }
            }
            try calibrate()
        }
    }

    func calibrate() throws {
        if let calibrator = experiment.calibrator { _ = try phases.time(\.calibrate) { try calibrator.sample() } }
    }

    /// Regions mapped together: each mapped, faulted in and verified, a page model per folio
    /// order, its pools and scenarios set up; then every scenario's repetitions in turn
    /// (`interleave`). The regions are unmapped when this returns.
    func measureRegions(_ regions: [[ScenarioPlan.Entry]], repetitions: Int) throws {
        var stations: [Station] = []
        var models: [PageModel] = []
        for entries in regions {
            guard let (region, placement) = try mapRegion(entries[0].region) else { return }
            for entries in entries.runs(by: \.folioOrder) {
                if SignalStop.requested { cut = true; return }
                let model = try phases.time(\.verify) {
                    try experiment.makeModel(region: region, forcedOrder: entries[0].folioOrder)
                }
                if !estimated {
                    estimated = true
                    experiment.announceEstimate(plan, firstRegionSeconds: phases.map + phases.verify,
                                                firstRegionBytes: region.size)
                }
                models.append(model)
                stations += try phases.time(\.measure) {
                    try setUp(entries, model: model, placement: placement, repetitions: repetitions)
                }
            }
        }
        phases.time(\.measure) { interleave(stations, repetitions: repetitions) }
        for model in models { phases.time(\.calibrate) { experiment.calibrator?.sampleOwnMemmap(model) } }
    }

    /// One region mapped, faulted in and verified; nil when a signal stopped it first.
    func mapRegion(_ r: ScenarioPlan.Region) throws -> (MemoryRegion, PlacementReport)? {
        if SignalStop.requested { cut = true; return nil }
        let region: MemoryRegion
        progress?.phase("mapping and faulting in \(ByteSize.format(r.size)) \(r.backing.rawValue)")
        do {
            region = try phases.time(\.map) {
                try MemoryRegion(size: r.size, backing: r.backing, policy: r.memPolicy, node: r.memNode)
            }
        } catch where SignalStop.requested {
            cut = true  // the first touch gave up: nothing stays mapped
            return nil
        }
        progress?.phase("verifying \(ByteSize.format(r.size)) \(r.backing.rawValue) page by page")
        let placement = phases.time(\.verify) { region.verifyPlacement(maxNode: experiment.topology.maxNode) }
        return (region, placement)
    }

    /// One scenario being measured: its session on its pool's runner, and what its results record.
    struct Station {
        let scenario: ScenarioPlan.Scenario
        let key: ScenarioKey
        let pool: PoolRun
        let session: ReleaseRunner.Session
    }

    /// One pool: the page arrays and pinned threads built once for every scenario on them.
    final class PoolRun {
        let runner: ReleaseRunner
        let context: Experiment.RoundContext
        /// The same for every dirty, batch and mitigation.
        private var lines: [Strategy: LinesTouched] = [:]

        init(runner: ReleaseRunner, context: Experiment.RoundContext) {
            (self.runner, self.context) = (runner, context)
        }

        /// The descriptor and array lines `strategy` touches, the most of any thread's.
        func linesTouched(_ strategy: Strategy) -> LinesTouched {
            if let known = lines[strategy] { return known }
            let most = runner.shares.arrays.map { LinesTouched(strategy: strategy, pages: $0, model: runner.model) }
                .max { $0.descriptorLines + $0.arrayLines < $1.descriptorLines + $1.arrayLines }!
            lines[strategy] = most
            return most
        }
    }

    /// One page model's scenarios set up: each pool's page arrays and threads, a session per
    /// scenario; the reason when none runs.
    func setUp(_ entries: [ScenarioPlan.Entry], model: PageModel, placement: PlacementReport,
               repetitions: Int) throws -> [Station] {
        if case .skip(_, _, let reason) = entries[0] {
            skipped.append(reason)
            return []
        }
        // --layout pfn: this region's folios on a memmap spaced as its frames, once per region.
        var frameModel: PageModel? = nil
        if config.layouts.contains(.pfn) {
            frameModel = try PfnOrder.frameModel(of: model, frames: config.framePfns[entries[0].region.backing])
        }
        let scenarios = entries.compactMap { entry -> ScenarioPlan.Scenario? in
            if case .scenario(let s) = entry { return s } else { return nil }
        }
        var stations: [Station] = []
        for scenarios in scenarios.runs(by: \.pool) {
            let pool = try makePool(scenarios[0], model: scenarios[0].pool.layout == .pfn ? frameModel! : model,
                                    placement: placement)
            stations += scenarios.map { station($0, pool: pool, repetitions: repetitions) }
        }
        return stations
    }

    func makePool(_ s: ScenarioPlan.Scenario, model: PageModel, placement: PlacementReport) throws -> PoolRun {
        let p = s.pool
        let nodeCPUs = experiment.topology.node(s.region.cpuNode)?.cpus ?? []
        let shares = PageShares(model: model, threads: p.threads, sharing: p.sharing, layout: p.layout)
        let runner = try ReleaseRunner(model: model, shares: shares, cpus: Array(nodeCPUs.prefix(p.threads)))
        return PoolRun(runner: runner, context: Experiment.RoundContext(
            totalPages: shares.totalPages, threadPages: shares.arrays.map(\.count),
            thpBackedFraction: model.thpBackedFraction,
            folioBackedFraction: model.folioBackedFraction, placement: placement,
            // pfn: the descriptors the array names, not the frame-spaced span around them
            memmapBytes: (p.layout == .pfn ? shares.totalPages : model.pageCount) * 64))
    }

    /// One scenario's session: its loops timed together, interleaved repetition by repetition.
    func station(_ s: ScenarioPlan.Scenario, pool: PoolRun, repetitions: Int) -> Station {
        let r = s.region, model = pool.runner.model
        let key = ScenarioKey(
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
        let session = ReleaseRunner.Session(
            runner: pool.runner, keys: s.loops, dirty: s.dirty, batch: s.batch, repetitions: repetitions,
            warmup: config.warmup, lastRef: config.lastRef, minTimeNs: config.minTimeNs,
            firstEntryAloneOf: firstEntry,
            afterRepetition: companion.map { c in { timed in c.cycle(backing: r.backing, timed: timed) } },
            progress: { progress?.step() })
        return Station(scenario: s, key: key, pool: pool, session: session)
    }

    /// Every scenario's repetitions in turn, one repetition of each at a time, so the rows of
    /// every region and pool held meet the same phases of the machine (which last from tenths
    /// of a second to seconds here). What has timed repetitions is then recorded.
    func interleave(_ stations: [Station], repetitions: Int) {
        var left = stations.filter { !$0.session.isFinished }
        while !left.isEmpty && !SignalStop.requested {
            for station in left {
                station.scenario.mitigations.apply()
                station.session.step()
                if SignalStop.requested { break }
            }
            left.removeAll { $0.session.isFinished }
        }
        for station in stations {
            var measured = station.session.finish()
            // Stopped by a signal: what has timed repetitions is reported.
            if measured.contains(where: { $0.wallNs.count < repetitions }) { cut = true }
            for k in measured.indices { measured[k].linesTouched = station.pool.linesTouched(measured[k].key.strategy) }
            for m in measured where !m.wallNs.isEmpty { ledger.add(m, scenario: station.key, context: station.pool.context) }
        }
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
