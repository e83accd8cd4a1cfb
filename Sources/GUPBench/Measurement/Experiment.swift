import CShims
import Foundation

/// Runs a `BenchConfig` matrix on this machine: one real region per (size, backing, folio
/// order, placement), one pinned thread pool per (threads, sharing, layout), and every
/// strategy × impl measured with interleaved repetitions per (dirty, batch).
public struct Experiment {
    public let config: BenchConfig
    public let topology: Topology
    public var calibration: CalibrationFigures?
    public var progress: Progress?

    public init(config: BenchConfig, topology: Topology, calibration: CalibrationFigures? = nil,
                progress: Progress? = nil) {
        self.config = config
        self.topology = topology
        self.calibration = calibration
        self.progress = progress
    }

    /// Loops that will be timed in one (dirty, batch) cell, for progress estimates.
    var loopsPerCell: Int { config.strategies.count * config.impls.count * config.detects.count }

    public func run(command: String) throws -> Report {
        try config.validate(on: topology)
        var report = Report(command: command, topology: topology, calibration: calibration)
        report.layoutFile = config.layoutFile
        let c = config
        let perRegion = c.threads.isEmpty ? 2 : c.threads.count
        let cells = c.sizes.count * c.backings.count * c.folioOrders.count * c.memNodes.count
            * c.cpuNodes.count * c.memPolicies.count * perRegion * c.sharings.count * c.layouts.count
            * c.dirties.count * c.batches.count
        progress?.start(total: cells * loopsPerCell * (c.repetitions + c.warmup))

        for size in c.sizes {
            for backing in c.backings {
                for cpuNodeOption in c.cpuNodes {
                    let cpuNode = cpuNodeOption ?? topology.localNode
                    for memNodeOption in c.memNodes {
                        for policy in c.memPolicies {
                            let memNode = memNodeOption ?? cpuNode
                            let region = try MemoryRegion(size: size, backing: backing,
                                                          policy: policy, node: memNode)
                            let placement = region.verifyPlacement(maxNode: topology.maxNode)
                            for order in c.folioOrders {
                                let model = try makeModel(region: region, forcedOrder: order)
                                try runRegion(model: model, placement: placement, size: size,
                                              backing: backing, memNode: policy == .interleave ? nil : memNode,
                                              cpuNode: cpuNode, policy: policy, into: &report)
                            }
                        }
                    }
                }
            }
        }
        progress?.finish()
        return report
    }

    /// The model-building hook: a replayed layout's folios and page array, or the region's
    /// own folios (verified backing, or the forced order).
    func makeModel(region: MemoryRegion, forcedOrder: Int?) throws -> PageModel {
        if let file = config.layoutFile { return PageModel(region: region, layout: file) }
        return try PageModel(region: region, forcedOrder: forcedOrder)
    }

    private func runRegion(model: PageModel, placement: PlacementReport, size: Int, backing: Backing,
                           memNode: Int?, cpuNode: Int, policy: MemPolicy, into report: inout Report) throws
    {
        let nodeCPUs = topology.node(cpuNode)?.cpus ?? []
        if config.lastRef && backing == .hugetlb {
            // mm/swap.c: folios_put_refs() and __folio_put() hand a hugetlb folio to
            // free_huge_folio() (its pool), never to the LRU and per-CPU lists the model has.
            report.skipped.append("--last-ref skipped on hugetlb: a hugetlb folio goes back to its pool "
                + "(free_huge_folio()), not through the LRU and per-CPU free lists the model has")
            let threadCounts = config.threadCounts(cpuNodeCPUs: nodeCPUs.count).count
            progress?.skip(threadCounts * config.sharings.count * config.layouts.count * config.dirties.count
                           * config.batches.count * loopsPerCell * (config.repetitions + config.warmup))
            return
        }
        for threads in config.threadCounts(cpuNodeCPUs: nodeCPUs.count) {
            for sharing in config.sharings {
                for layout in config.layouts {
                    let shares = PageShares(model: model, threads: threads, sharing: sharing, layout: layout)
                    let runner = try ReleaseRunner(model: model, shares: shares,
                                                   cpus: Array(nodeCPUs.prefix(threads)))
                    for dirty in config.dirties {
                        for batch in config.batches {
                            let scenario = ScenarioKey(
                                size: size, backing: backing, folioOrder: model.folioOrder,
                                forcedOrder: model.forcedOrder != nil, threads: threads,
                                sharing: sharing, layout: layout, dirty: dirty, batch: batch,
                                memNode: memNode, cpuNode: cpuNode, memPolicy: policy,
                                lastRef: config.lastRef, layoutDigest: model.layoutFile?.sha256)
                            var keys: [LoopKey] = []
                            for strategy in config.strategies {
                                if strategy.needsContiguousPages && !shares.contiguous && model.pageArray == nil {
                                    report.skipped.append(
                                        "\(strategy.rawValue) skipped for --sharing \(sharing.rawValue) --layout "
                                        + "\(layout.rawValue): it releases contiguous ranges, and these "
                                        + "page arrays are not")
                                    progress?.skip(config.impls.count * config.detects.count
                                                   * (config.repetitions + config.warmup))
                                    continue
                                }
                                if config.lastRef && strategy.lastRefSwiftLoop == nil {
                                    report.skipped.append(
                                        "\(strategy.rawValue) skipped for --last-ref: it has no "
                                        + "last-reference model")
                                    progress?.skip(config.impls.count * config.detects.count
                                                   * (config.repetitions + config.warmup))
                                    continue
                                }
                                if dirty != .none && !strategy.dirties {
                                    report.skipped.append(
                                        "\(strategy.rawValue) skipped for --dirty \(dirty.rawValue): "
                                        + "\(strategy.kernelAnalogue.prefix { $0 != ":" }) has no dirtying variant")
                                    progress?.skip(config.impls.count * config.detects.count
                                                   * (config.repetitions + config.warmup))
                                    continue
                                }
                                for impl in config.impls {
                                    for detect in config.detects { keys.append(LoopKey(strategy, impl, detect)) }
                                }
                            }
                            let measured = runner.measure(
                                keys, dirty: dirty, batch: batch, repetitions: config.repetitions,
                                warmup: config.warmup, lastRef: config.lastRef,
                                progress: { progress?.step() })
                            let records = measured.map {
                                record($0, scenario: scenario, model: model, shares: shares,
                                       placement: placement)
                            }
                            report.results += records
                            report.comparisons += ComparisonRecord.pairs(in: records)
                        }
                    }
                }
            }
        }
    }

    func record(_ m: LoopMeasurement, scenario: ScenarioKey, model: PageModel, shares: PageShares,
                placement: PlacementReport) -> ResultRecord
    {
        let perThread = Double(max(1, shares.maxPagesPerThread))
        let total = Double(max(1, shares.totalPages))
        let nsPerPage = m.wallNs.map { $0 / perThread }
        var result = ResultRecord(
            strategy: m.key.strategy, impl: m.key.impl, detect: m.key.detect, scenario: scenario, pages: shares.totalPages,
            pagesPerThread: shares.maxPagesPerThread, repetitions: m.wallNs.count,
            nsPerPageSamples: nsPerPage, nsPerPage: Summary(nsPerPage),
            pagesPerSecond: total / (Statistics.median(m.wallNs) / 1e9),
            atomicsPerPage: Double(m.releaseTally.atomics) / total,
            flagTestsPerPage: Double(m.releaseTally.flag_tests) / total,
            rooflineNsPerPage: nil,
            thpBackedFraction: model.thpBackedFraction,
            folioBackedFraction: model.folioBackedFraction, placement: placement,
            cpus: m.cpusUsed,
            perThreadNsPerPage: shares.arrays.indices.map { t in
                Statistics.median(m.threadNs.map { $0[t] / Double(max(1, shares.arrays[t].count)) })
            },
            balanced: m.balanced, auditDetail: m.auditFailure,
            pinsAcquired: m.pinsAcquired, pinsReleased: m.pinsReleased,
            underflows: m.underflows, ledgerViolations: m.ledgerViolations)
        if m.lastRef { result.locksPerPage = LocksPerPage(m.lockCounts, pages: total) }
        if let calibration {
            result.rooflineNsPerPage = Roofline.nsPerPage(
                strategy: m.key.strategy, scenario: scenario, atomicsPerPage: result.atomicsPerPage,
                memmapBytes: model.pageCount * 64, calibration: calibration, locksPerPage: result.locksPerPage)
        }
        return result
    }
}
