import Foundation

/// What a `BenchConfig` runs on this machine, worked out before anything is mapped: the flat
/// list of scenarios, in the order they are measured, each with the loops it times and the
/// reasons for the loops it leaves out (as google/benchmark turns arguments × threads into a
/// flat list of instances that its runner works through).
///
/// `Experiment` works through the list round by round; progress totals and the report's
/// `skipped` come from it, and `--dry-run` prints it. The list is grouped as it is measured: the
/// scenarios of one `Region` follow each other (it is mapped once per round), within it those
/// of one folio order (one page model), within that those of one `Pool` (one set of page
/// arrays and threads).
public struct ScenarioPlan: Sendable {
    /// One mapped region: every scenario on it shares its memory for the round.
    public struct Region: Hashable, Sendable {
        public let size: Int
        public let backing: Backing
        /// The node of the threads.
        public let cpuNode: Int
        /// The node the region is placed on (the node of the threads unless --mem-node says otherwise).
        public let memNode: Int
        public let memPolicy: MemPolicy
    }

    /// The page arrays and pinned threads one page model is measured with.
    public struct Pool: Hashable, Sendable {
        public let threads: Int
        public let sharing: Sharing
        public let layout: Layout
    }

    /// One scenario: the loops timed together, interleaved repetition by repetition.
    public struct Scenario: Equatable, Sendable {
        public let region: Region
        /// The forced folio order; nil = the order the verified backing gives.
        public let folioOrder: Int?
        public let pool: Pool
        public let dirty: DirtyMode
        /// Pages per release call; nil = the whole share.
        public let batch: Int?
        public let mitigations: Mitigations
        /// Strategy × impl × detect, in the order the report lists them.
        public let loops: [LoopKey]
        /// Why the strategies asked for but not in `loops` are left out, in strategy order.
        public let skipped: [String]

        /// The options that run this scenario alone.
        public var options: String {
            var words = ["--size \(ByteSize.format(region.size))", "--backing \(region.backing.rawValue)"]
            if let folioOrder { words.append("--folio-order \(folioOrder)") }
            words += ["--cpu-node \(region.cpuNode)", "--mem-node \(region.memNode)",
                      "--mem-policy \(region.memPolicy.rawValue)", "--threads \(pool.threads)",
                      "--sharing \(pool.sharing.rawValue)", "--layout \(pool.layout.rawValue)",
                      "--dirty \(dirty.rawValue)"]
            if let batch { words.append("--batch \(batch)") }
            words.append("--mitigations \(mitigations.rawValue)")
            return words.joined(separator: " ")
        }

        /// The loops as `strategy/impl`, with `/detect` when detection is on.
        public var loopNames: [String] {
            loops.map { "\($0.strategy.rawValue)/\($0.impl.rawValue)" + ($0.detect == .off ? "" : "/\($0.detect.rawValue)") }
        }
    }

    /// One line of the plan: a scenario, or a region and folio order of which nothing runs.
    public enum Entry: Equatable, Sendable {
        case scenario(Scenario)
        case skip(Region, folioOrder: Int?, reason: String)

        public var region: Region {
            switch self {
            case .scenario(let s): return s.region
            case .skip(let region, _, _): return region
            }
        }

        public var folioOrder: Int? {
            switch self {
            case .scenario(let s): return s.folioOrder
            case .skip(_, let order, _): return order
            }
        }

        /// The reasons this line leaves loops out, in the order a run meets them.
        public var skipReasons: [String] {
            switch self {
            case .scenario(let s): return s.skipped
            case .skip(_, _, let reason): return [reason]
            }
        }
    }

    public let entries: [Entry]
    /// Timed repetitions of each round (`BenchConfig.repetitionsPerRound`).
    public let repetitionsPerRound: [Int]
    /// Untimed repetitions at the start of every round.
    public let warmup: Int
    public let minTimeNs: Double

    /// The plan of `config` on this machine: the threads' node is the local one unless
    /// --cpu-node names one, and its CPUs give the default thread counts.
    public init(config: BenchConfig, topology: Topology) throws {
        try self.init(config: config, localNode: topology.localNode) { topology.node($0)?.cpus.count ?? 0 }
    }

    /// `cpuCount(node)`: the CPUs of a node this process may use.
    public init(config c: BenchConfig, localNode: Int, cpuCount: (Int) -> Int) throws {
        if c.layouts.contains(.pfn) && c.layoutFile != nil {
            throw GUPBenchError.usage("--layout pfn places the region's own descriptors at their page frames; "
                + "it cannot be combined with --layout-file (use sequential or shuffled)")
        }
        var entries: [Entry] = []
        for size in c.sizes {
            for backing in c.backings {
                for cpuNodeOption in c.cpuNodes {
                    let cpuNode = cpuNodeOption ?? localNode
                    for memNodeOption in c.memNodes {
                        for policy in c.memPolicies {
                            let region = Region(size: size, backing: backing, cpuNode: cpuNode,
                                                memNode: memNodeOption ?? cpuNode, memPolicy: policy)
                            for order in c.folioOrders {
                                entries += Self.entries(c, region: region, folioOrder: order,
                                                        threadCounts: c.threadCounts(cpuNodeCPUs: cpuCount(cpuNode)))
                            }
                        }
                    }
                }
            }
        }
        self.entries = entries
        repetitionsPerRound = c.repetitionsPerRound
        warmup = c.warmup
        minTimeNs = c.minTimeNs
    }

    /// The lines of one region and folio order: every pool × dirty × batch × mitigation.
    static func entries(_ c: BenchConfig, region: Region, folioOrder: Int?, threadCounts: [Int]) -> [Entry] {
        if c.lastRef && region.backing == .hugetlb {
            // mm/swap.c: folios_put_refs() and __folio_put() hand a hugetlb folio to
            // free_huge_folio() (its pool), never to the LRU and per-CPU lists the model has.
            return [.skip(region, folioOrder: folioOrder,
                          reason: "--last-ref skipped on hugetlb: a hugetlb folio goes back to its pool "
                            + "(free_huge_folio()), not through the LRU and per-CPU free lists the model has")]
        }
        var entries: [Entry] = []
        for threads in threadCounts {
            for sharing in c.sharings {
                for layout in c.layouts {
                    let pool = Pool(threads: threads, sharing: sharing, layout: layout)
                    for dirty in c.dirties {
                        for batch in c.batches {
                            for mitigation in c.mitigations {
                                let (loops, skipped) = Self.loops(c, region: region, pool: pool, dirty: dirty)
                                entries.append(.scenario(Scenario(
                                    region: region, folioOrder: folioOrder, pool: pool, dirty: dirty, batch: batch,
                                    mitigations: mitigation, loops: loops, skipped: skipped)))
                            }
                        }
                    }
                }
            }
        }
        return entries
    }

    /// The loops one scenario times, and why the strategies it leaves out are left out.
    static func loops(_ c: BenchConfig, region: Region, pool: Pool, dirty: DirtyMode) -> ([LoopKey], [String]) {
        var loops: [LoopKey] = [], skipped: [String] = []
        for strategy in c.strategies {
            if strategy.needsContiguousPages && !contiguous(c, region: region, pool: pool) {
                skipped.append("\(strategy.rawValue) skipped for --sharing \(pool.sharing.rawValue) --layout "
                    + "\(pool.layout.rawValue): it releases contiguous ranges, and these page arrays are not")
            } else if c.lastRef && strategy.lastRefSwiftLoop == nil {
                skipped.append("\(strategy.rawValue) skipped for --last-ref: it has no last-reference model")
            } else if dirty != .none && !strategy.dirties {
                skipped.append("\(strategy.rawValue) skipped for --dirty \(dirty.rawValue): "
                    + "\(strategy.kernelAnalogue.prefix { $0 != ":" }) has no dirtying variant")
            } else {
                for impl in c.impls {
                    for detect in c.detects { loops.append(LoopKey(strategy, impl, detect)) }
                }
            }
        }
        return (loops, skipped)
    }

    /// Whether every thread's page array is one run of consecutive descriptors (PageShares),
    /// or else releasable range by range: a replayed layout and `--layout pfn` give a page array
    /// of their own, released stretch by stretch. Of uniform memory, the disjoint sequential
    /// arrays are runs; an interleaved array of two or more pages (more pages than threads)
    /// never is, and a shuffled one of two or more is taken not to be.
    static func contiguous(_ c: BenchConfig, region: Region, pool: Pool) -> Bool {
        if c.layoutFile != nil || pool.layout == .pfn { return true }
        let scattered = pool.layout == .shuffled || (pool.sharing == .interleaved && pool.threads > 1)
        return !scattered || region.size / 4096 <= pool.threads
    }

    // MARK: What the plan adds up to

    public var scenarios: [Scenario] {
        entries.compactMap { if case .scenario(let s) = $0 { return s } else { return nil } }
    }

    /// The distinct regions, each mapped once per round, in the order they are mapped.
    public var regions: [Region] { entries.runs(by: \.region).map { $0.first!.region } }

    /// Every reason a loop is left out, once each, in the order a run meets them: the report's
    /// `skipped` when the run is not stopped.
    public var skipped: [String] { uniqueValues(entries.flatMap(\.skipReasons)) }

    /// Progress steps: one per loop per repetition, warm-up included, over every round.
    public var steps: Int {
        let loops = scenarios.reduce(0) { $0 + $1.loops.count }
        return repetitionsPerRound.reduce(0) { $0 + loops * ($1 + warmup) }
    }

    /// Repetitions of every loop over the whole run, warm-up included.
    var repetitionsPerLoop: Int { repetitionsPerRound.reduce(0, +) + warmup * repetitionsPerRound.count }

    // MARK: Time

    /// Mapping, faulting in and verifying when nothing has been timed yet: each round maps and
    /// verifies every region again, about 5 s of CPU for the default 2 GiB on this project's
    /// 2-CPU machine (BenchConfig.defaultRounds), so 2.5 s per GiB.
    public static let nominalMappingSecondsPerByte = 2.5 / Double(1 << 30)

    /// What one repetition costs per page: each touches every descriptor about four times
    /// (grab, release, audit, reset) at the calibrated stream rate with an atomic on each;
    /// 10 ns a touch before the machine is calibrated.
    public static func nsPerPage(_ calibration: CalibrationFigures?) -> Double {
        4 * (calibration.map { $0.atomicNs + $0.streamNsPerDescriptor } ?? 10)
    }

    /// Seconds one scenario measures over the run: every loop's repetitions, each over all its
    /// pages and lasting at least `--min-time` of release.
    public func measuringSeconds(_ s: Scenario, nsPerPage: Double) -> Double {
        let repetitionNs = max(Double(s.region.size / 4096) * nsPerPage, minTimeNs)
        return Double(s.loops.count * repetitionsPerLoop) * repetitionNs / 1e9
    }

    /// Seconds mapping and verifying one region over the run (once a round).
    public func mappingSeconds(_ r: Region, secondsPerByte: Double) -> Double {
        secondsPerByte * Double(r.size) * Double(repetitionsPerRound.count)
    }

    /// The whole run: mapping and verifying every region every round, and measuring.
    public func estimate(mappingSecondsPerByte: Double, nsPerPage: Double) -> (mapping: Double, measuring: Double) {
        (regions.reduce(0) { $0 + mappingSeconds($1, secondsPerByte: mappingSecondsPerByte) },
         scenarios.reduce(0) { $0 + measuringSeconds($1, nsPerPage: nsPerPage) })
    }
}

extension Sequence {
    /// Consecutive elements with the same key, in order: the plan's regions, folio orders and pools.
    func runs<Key: Equatable>(by key: (Element) -> Key) -> [[Element]] {
        var runs: [[Element]] = []
        for element in self {
            if let last = runs.last?.last, key(last) == key(element) {
                runs[runs.count - 1].append(element)
            } else {
                runs.append([element])
            }
        }
        return runs
    }
}

extension ScenarioPlan {
    /// `--dry-run`: one line per scenario or skip, grouped under the region each runs on. A
    /// scenario's line gives the options that run it alone, its loops, what its region holds
    /// while mapped (`MemoryBudget.regionNeed`) and the seconds it measures over the run; the
    /// last line the predicted peak and the estimate a run announces when it passes a minute,
    /// here with the nominal mapping rate instead of the first region's.
    public func rendered(command: String, budget: MemoryBudget, shape: MemoryBudget.Shape, peak: PeakPrediction,
                         nsPerPage: Double, mappingSecondsPerByte: Double = nominalMappingSecondsPerByte) -> String {
        func seconds(_ s: Double) -> String { String(format: s < 10 ? "%.2f s" : "%.0f s", s) }
        let rounds = repetitionsPerRound.count
        var lines = ["gupbench \(command) --dry-run: \(scenarios.count) scenario(s) on \(regions.count) region(s), "
            + "\(rounds) round(s) of \(repetitionsPerRound.map(String.init).joined(separator: "+")) repetitions"
            + (warmup > 0 ? " after \(warmup) warm-up each" : "") + "; nothing mapped or measured"]
        for group in entries.runs(by: \.region) {
            let r = group[0].region
            let need = MemoryBudget.gib(budget.regionNeed(size: r.size, backing: r.backing, shape: shape))
            lines.append("region \(ByteSize.format(r.size)) \(r.backing.rawValue), memory on node \(r.memNode) "
                + "(\(r.memPolicy.rawValue)), threads on node \(r.cpuNode): holds \(need), mapped \(rounds) time(s), "
                + "~\(seconds(mappingSeconds(r, secondsPerByte: mappingSecondsPerByte))) mapping and verifying")
            for entry in group {
                switch entry {
                case .scenario(let s):
                    let loops = s.loops.isEmpty ? "no loop" : s.loopNames.joined(separator: " ")
                    lines.append("  scenario \(s.options): \(loops); memory \(need), "
                        + "~\(seconds(measuringSeconds(s, nsPerPage: nsPerPage)))")
                    lines += s.skipped.map { "  skip \($0)" }
                case .skip(_, let order, let reason):
                    lines.append("  skip \(reason)" + (order.map { " (--folio-order \($0))" } ?? ""))
                }
            }
        }
        let (mapping, measuring) = estimate(mappingSecondsPerByte: mappingSecondsPerByte, nsPerPage: nsPerPage)
        lines.append("predicted peak \(MemoryBudget.gib(peak.totalBytes)) (MemAvailable \(MemoryBudget.gib(budget.availableBytes))); "
            + "estimated \(seconds(mapping + measuring)): \(seconds(mapping)) mapping and verifying regions "
            + String(format: "at a nominal %.1f s/GiB", mappingSecondsPerByte * Double(1 << 30))
            + ", \(seconds(measuring)) measuring")
        return lines.joined(separator: "\n") + "\n"
    }
}
