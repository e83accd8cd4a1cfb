import CShims

/// `gupbench misuse`: the answers to the seed review's questions (a) and (c), measured.
public struct MisuseReport: Sendable {
    public var outcomes: [MisuseOutcome] = []
    public var costs: [DetectionCost] = []
    public var dirtyLoop: [Misuse.DirtyFacts] = []
    /// The timed runs behind `costs`, as an ordinary report (results and comparisons).
    public var report: Report

    /// The release-path cost of a detection mode against `off`, measured in the same run.
    public struct DetectionCost: Sendable {
        public let mode: DetectMode
        public let strategy: Strategy
        public let backing: Backing
        public let folioOrder: Int
        /// mode time ÷ off time: 1.03 = 3% slower than no detection.
        public let ratio: Double
        public let ci95Low: Double
        public let ci95High: Double
    }

    /// Runs the matrix (every scenario × its release strategies × order 0 and 9 × mode), the
    /// dirty-loop counts, and the timed cost of each mode on every strategy for each backing.
    public static func run(topology: Topology, config: BenchConfig, calibration: CalibrationFigures?,
                           modes: [DetectMode]) throws -> MisuseReport {
        let node = topology.localNode
        // The matrix: 1024 pages, laid out as order-0 pages and as two order-9 folios.
        let small = try MemoryRegion(size: 4 << 20, backing: .fourK, policy: .bind, node: node)
        var out = MisuseReport(report: Report(command: "misuse", topology: topology, calibration: calibration))
        for order in [0, 9] {
            let model = try PageModel(region: small, forcedOrder: order)
            for scenario in MisuseScenario.allCases {
                for strategy in scenario.strategies {
                    for mode in modes {
                        out.outcomes.append(Misuse.run(scenario, strategy: strategy, model: model, mode: mode))
                    }
                }
            }
            for strategy in [Strategy.unpinEach, .unpinBatched] {
                for dirty in [DirtyMode.dirty, .dirtyLock] {
                    out.dirtyLoop.append(Misuse.dirtyFacts(model: model, strategy: strategy, dirty: dirty))
                }
            }
        }
        // The cost: the release loops with each mode, interleaved, one thread.
        var cost = config
        cost.strategies = Strategy.defaultSet  // the seed's strategies, as compare runs by default
        cost.threads = [1]
        cost.detects = modes.contains(.off) ? modes : [.off] + modes
        cost.impls = [.swift]
        out.report = try Experiment(config: cost, topology: topology, calibration: calibration,
                                    progress: Progress()).run(command: "misuse")
        for c in out.report.comparisons where c.baseline.detect == .off && c.candidate.detect != .off
            && c.baseline.strategy == c.candidate.strategy {
            out.costs.append(DetectionCost(mode: c.candidate.detect, strategy: c.candidate.strategy,
                                           backing: c.scenario.backing, folioOrder: c.scenario.folioOrder,
                                           ratio: 1 / c.speedup, ci95Low: 1 / c.ci95High, ci95High: 1 / c.ci95Low))
        }
        return out
    }

    static func callName(_ call: gb_call) -> String {
        switch call {
        case GB_CALL_PUT_PAGE: return "put_page()"
        case GB_CALL_UNPIN_USER_PAGE: return "unpin_user_page()"
        default: return "no release (nothing is held)"
        }
    }

    static func describe(_ v: gb_ledger_violation) -> String {
        func count(_ n: Int32, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
        return "page \(v.page_index), thread \(v.thread): called \(callName(v.call_made)), expected "
            + "\(callName(v.call_expected)) (it held \(count(v.gets_held, "reference")) and \(count(v.pins_held, "pin")))"
    }

    public func renderTable() -> String {
        let modes = uniqueModes(outcomes.map(\.mode))
        var matrix = TextTable(header: ["scenario", "order", "strategy"] + modes.map(\.rawValue)
                                   + ["freed mapped", "jumped 0", "leaked refs", "pincount", "symptom without detection"],
                               labelColumns: 3)
        var ledgerLines: [String] = []
        for scenario in MisuseScenario.allCases {
            for order in [0, 9] {
                for strategy in scenario.strategies {
                    let rows = outcomes.filter { $0.scenario == scenario && $0.folioOrder == order && $0.strategy == strategy }
                    guard let first = rows.first else { continue }
                    let e = first.events
                    matrix.add([scenario.rawValue, String(order), strategy.rawValue]
                        + modes.map { m in rows.first { $0.mode == m }?.detected.rawValue ?? "-" }
                        + [String(e.freedWhileMapped), String(e.jumpedOverZero), String(e.leakedRefs),
                           String(e.pincountResidue), first.symptom])
                    if let l = rows.first(where: { $0.mode == .ledger }), let v = l.firstWrongCall {
                        ledgerLines.append("  \(scenario.rawValue), order \(order), \(strategy.rawValue): \(Self.describe(v)); "
                            + "\(l.ledgerViolations) wrong calls in all")
                    }
                }
            }
        }
        var costTable = TextTable(header: ["backing", "strategy"] + modes.filter { $0 != .off }.map { "\($0.rawValue) ÷ off" },
                                  labelColumns: 2)
        for backing in Backing.allCases {
            for strategy in Strategy.allCases {
                let cs = costs.filter { $0.backing == backing && $0.strategy == strategy }
                guard !cs.isEmpty else { continue }
                costTable.add([backing.rawValue, strategy.rawValue] + modes.filter { $0 != .off }.map { m in
                    cs.first { $0.mode == m }.map { Fmt.speedup($0.ratio, $0.ci95Low, $0.ci95High) } ?? "-"
                })
            }
        }
        var dirty = TextTable(header: ["order", "loop", "dirty", "pages", "PG_dirty reads", "flag atomics", "folio locks",
                                       "PG_dirty set on"],
                              labelColumns: 3)
        for f in dirtyLoop {
            dirty.add([String(f.folioOrder), f.strategy.rawValue, f.dirty.rawValue, String(f.pages), String(f.flagReads),
                       String(f.flagAtomics), String(f.folioLocks), f.dirtyDescriptors == [0] ? (f.folioOrder == 0 ? "the page" : "the head only") : f.dirtyDescriptors.map(String.init).joined(separator: ",")])
        }
        let o = report.results.first?.scenario
        return (report.partial.map { "PARTIAL REPORT: \($0)\n" } ?? "") + """
            gupbench misuse — the seed review's questions, answered on the page model

            (a) does the dirty loop misbehave on compound pages? Dirtying one folio: the per-page loop is the \
            seed's `if (!PageDirty(p)) set_page_dirty{,_lock}(p)` (PG_dirty is PF_HEAD: every subpage reads the \
            head's bit, the first writes it); the batched one is unpin_user_pages_dirty_lock(): folio_test_dirty(), \
            then folio_lock(), folio_mark_dirty(), folio_unlock() once per folio run
            \(dirty.rendered())

            (b) why must pinned pages be released with the pin-aware call? Each wrong release call and what it \
            does to the 1024 pages (order 0) or two 512-page folios (order 9): folios freed while mapped, releases \
            that jumped over 0, references never dropped, `_pincount` left; and (c) who notices, and when (modes \
            include the ones left of them); the symptom is this kernel's, page checks \(PageChecks.current.summary)
            \(matrix.rendered())

            the ledger names the first wrong call:
            \(ledgerLines.joined(separator: "\n"))

            (c) is the check cheap? Cost on the release path: time with the mode ÷ time without, median [95% CI], \
            \(o.map { ByteSize.format($0.size) } ?? ""), 1 thread, \(report.results.first?.repetitions ?? 0) interleaved reps
            \(costTable.rendered())

            \(report.footer())

            """
    }

    public func json() -> JSON {
        report.json(extra: [
            ("misuse", .array(outcomes.map { o in
                .object([
                    ("scenario", .string(o.scenario.rawValue)), ("strategy", .string(o.strategy.rawValue)),
                    ("folio_order", .int(o.folioOrder)),
                    ("mode", .string(o.mode.rawValue)), ("detected", .string(o.detected.rawValue)),
                    ("symptom", .string(o.symptom)), ("events", o.events.json),
                    ("refcount_excess", .int(o.refcountExcess)),
                    ("pincount", .int(o.pincount)), ("maybe_dma_pinned", .bool(o.maybeDMAPinned)),
                    ("pages_unbalanced", .int(o.pagesUnbalanced)), ("underflows", .int(Int(o.underflows))),
                    ("ledger_violations", .int(o.ledgerViolations)),
                    ("first_wrong_call", o.firstWrongCall.map { v in
                        .object([("page_index", .int(v.page_index)), ("thread", .int(v.thread)),
                                 ("call_made", .string(Self.callName(v.call_made))),
                                 ("call_expected", .string(Self.callName(v.call_expected)))])
                    } ?? .null),
                ])
            })),
            ("detection_cost", .array(costs.map { c in
                .object([
                    ("mode", .string(c.mode.rawValue)), ("strategy", .string(c.strategy.rawValue)),
                    ("backing", .string(c.backing.rawValue)), ("folio_order", .int(c.folioOrder)),
                    ("ratio_to_off", .object([("median", .num(c.ratio)), ("ci95_low", .num(c.ci95Low)),
                                              ("ci95_high", .num(c.ci95High))])),
                ])
            })),
            ("dirty_loop", .array(dirtyLoop.map { f in
                .object([
                    ("folio_order", .int(f.folioOrder)), ("strategy", .string(f.strategy.rawValue)),
                    ("dirty", .string(f.dirty.rawValue)), ("pages", .int(f.pages)),
                    ("page_dirty_reads", .int(Int(f.flagReads))), ("flag_atomics", .int(Int(f.flagAtomics))),
                    ("folio_locks", .int(Int(f.folioLocks))),
                    ("dirty_descriptors", .array(f.dirtyDescriptors.map(JSON.int))),
                ])
            })),
        ])
    }
}

func uniqueModes(_ xs: [DetectMode]) -> [DetectMode] {
    DetectMode.allCases.filter(xs.contains)
}
