import CShims

/// What one scenario did on one release strategy under one detection mode.
public struct MisuseOutcome: Sendable {
    public let scenario: MisuseScenario
    public let strategy: Strategy
    public let folioOrder: Int
    public let mode: DetectMode
    public let detected: Detection
    /// What a user would see without detection, derived from `events`.
    public let symptom: String
    /// Freed while mapped, jumps over zero, leaked references, `_pincount` residue: whole region.
    public let events: MisuseEvents
    /// First folio after the sequence: _refcount above (or below) its baseline of 1, _pincount.
    public let refcountExcess: Int
    public let pincount: Int
    public let maybeDMAPinned: Bool
    public let pagesUnbalanced: Int
    public let underflows: UInt64
    public let ledgerViolations: Int
    /// The first wrong call the ledger named, if the mode has a ledger.
    public let firstWrongCall: gb_ledger_violation?
}

public enum Misuse {
    /// Runs `scenario` with `strategy`'s release loop on every page of a fresh layout of `model`
    /// (one thread, one release call over the whole page array) under `mode`; the symptom is the
    /// one a kernel with `checks` (this one's, by default) shows.
    public static func run(_ scenario: MisuseScenario, strategy: Strategy, model: PageModel,
                           mode: DetectMode, checks: PageChecks = .current) -> MisuseOutcome {
        precondition(scenario.strategies.contains(strategy), "\(scenario.rawValue) does not release with \(strategy)")
        gb_memmap_init_folios(model.memmap, 0, model.pageCount, UInt32(model.folioOrder))
        let list = UnsafeMutableBufferPointer<PagePointer>.allocate(capacity: model.pageCount)
        defer { list.deallocate() }
        for i in 0..<model.pageCount { list[i] = model.page(i) }
        var ledgerStorage = gb_ledger()
        guard gb_ledger_init(&ledgerStorage, model.memmap, model.pageCount) == 0 else {
            fatalError("out of memory for the ledger")
        }
        defer { gb_ledger_free(&ledgerStorage) }
        return withUnsafeMutablePointer(to: &ledgerStorage) { ledger in
            let shadow = mode == .ledger ? ledger : nil
            let pages = list.baseAddress!, n = model.pageCount
            var grab = gb_tally(), release = gb_tally()
            if let foll = scenario.grabbed { gb_grab_pages(pages, n, foll, shadow, &grab) }
            for _ in 0..<scenario.releases {
                strategy.swiftLoop(ReleaseEntries(pages: pages), ReleaseCalls(count: n, batch: n, detect: mode, ledger: shadow),
                                   &release)
            }
            let audit = model.audit()
            let head = model.page(0)
            let ref = Int(gb_ref_read_relaxed(head))
            let pin = gb_folio_has_pincount(head) ? Int(gb_pincount_read_relaxed(head + 1)) : 0
            let maybePinned = gb_folio_maybe_dma_pinned(head)
            let violations = mode == .ledger ? ledger.pointee.violations : 0
            let detected: Detection
            if mode >= .underflow && (release.underflows > 0 || violations > 0) {
                detected = .atCall
            } else if mode >= .audit && audit.unbalanced_pages > 0 {
                detected = .atAudit
            } else {
                detected = .never
            }
            let events = MisuseEvents(release: release, audit: audit)
            let folios = model.pageCount >> model.folioOrder
            let outcome = MisuseOutcome(
                scenario: scenario, strategy: strategy, folioOrder: model.folioOrder, mode: mode, detected: detected,
                symptom: events.symptom(folios: folios, order: model.folioOrder, refcount: ref, maybePinned: maybePinned,
                                        checks: checks),
                events: events, refcountExcess: ref - 1, pincount: pin, maybeDMAPinned: maybePinned,
                pagesUnbalanced: audit.unbalanced_pages, underflows: release.underflows,
                ledgerViolations: violations, firstWrongCall: violations > 0 ? ledger.pointee.first : nil)
            gb_memmap_init_folios(model.memmap, 0, model.pageCount, UInt32(model.folioOrder))
            return outcome
        }
    }

    /// Morton's question (a): the seed's `if (!PageDirty(p)) set_page_dirty(p)` loop on one folio,
    /// per page against batched, counted.
    public struct DirtyFacts: Sendable {
        public let folioOrder: Int
        public let strategy: Strategy
        public let dirty: DirtyMode
        public let pages: Int
        /// Flag words read (PageDirty per page, folio_test_dirty per folio run), all on the head.
        public let flagReads: UInt64
        /// Atomic flag operations (set_bit, or lock + set + unlock).
        public let flagAtomics: UInt64
        /// folio_lock() acquisitions.
        public let folioLocks: UInt64
        /// Descriptors whose PG_dirty is set afterwards: only the head.
        public let dirtyDescriptors: [Int]
    }

    public static func dirtyFacts(model: PageModel, strategy: Strategy, dirty: DirtyMode) -> DirtyFacts {
        gb_memmap_init_folios(model.memmap, 0, model.pageCount, UInt32(model.folioOrder))
        let n = 1 << model.folioOrder
        let list = UnsafeMutableBufferPointer<PagePointer>.allocate(capacity: n)
        defer { list.deallocate() }
        for i in 0..<n { list[i] = model.page(i) }
        var grab = gb_tally(), release = gb_tally()
        let input = ReleaseInput(pages: list.baseAddress!, count: n)
        input.grab(strategy, ledger: nil, tally: &grab)
        input.release(LoopKey(strategy, .swift), batch: input.count(strategy), dirty: dirty.cValue, ledger: nil, tally: &release)
        let dirtyBit = UInt(1) << UInt(GB_PG_dirty)
        let dirtied = (0..<n).filter { gb_flags_read_relaxed(model.page($0)) & dirtyBit != 0 }
        gb_memmap_init_folios(model.memmap, 0, model.pageCount, UInt32(model.folioOrder))
        return DirtyFacts(folioOrder: model.folioOrder, strategy: strategy, dirty: dirty, pages: n,
                          flagReads: release.flag_tests, flagAtomics: release.flag_atomics,
                          folioLocks: release.folio_locks, dirtyDescriptors: dirtied)
    }
}
