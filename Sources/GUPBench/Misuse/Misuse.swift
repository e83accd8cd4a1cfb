import CShims

/// Morton's question (c): what a wrong release call does to the page model, and which
/// detection mode notices it, when.
public enum MisuseScenario: String, CaseIterable, Sendable {
    /// Pages pinned (FOLL_PIN), released with put_page(): Morton's case.
    case putPageOnPin = "put-page-on-pin"
    /// Pages referenced (FOLL_GET), released with unpin_user_page().
    case unpinOnGet = "unpin-on-get"
    /// One pin, two unpins.
    case doubleUnpin = "double-unpin"
    /// An unpin of a page never pinned.
    case unpinUnpinned = "unpin-unpinned"

    public var summary: String {
        switch self {
        case .putPageOnPin: return "pin_user_pages(), then put_page()"
        case .unpinOnGet: return "get_user_pages(), then unpin_user_page()"
        case .doubleUnpin: return "pin once, unpin_user_page() twice"
        case .unpinUnpinned: return "unpin_user_page() on a page never pinned"
        }
    }
}

public enum Detection: String, Sendable {
    case atCall = "at-call"
    case atAudit = "at-audit"
    case never
}

/// What one scenario did under one detection mode.
public struct MisuseOutcome: Sendable {
    public let scenario: MisuseScenario
    public let folioOrder: Int
    public let mode: DetectMode
    public let detected: Detection
    /// What a user would see without detection, from the first folio's state.
    public let symptom: String
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
    /// Runs `scenario` on every page of a fresh layout of `model` (one thread) under `mode`.
    public static func run(_ scenario: MisuseScenario, model: PageModel, mode: DetectMode) -> MisuseOutcome {
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
            switch scenario {
            case .putPageOnPin:
                gb_grab_pages(pages, n, GB_FOLL_PIN, shadow, &grab)
                ReleaseLoops.putPages(pages, count: n, batch: n, dirty: 0, detect: mode, ledger: shadow, tally: &release)
            case .unpinOnGet:
                gb_grab_pages(pages, n, GB_FOLL_GET, shadow, &grab)
                ReleaseLoops.unpinEach(pages, count: n, batch: n, dirty: 0, detect: mode, ledger: shadow, tally: &release)
            case .doubleUnpin:
                gb_grab_pages(pages, n, GB_FOLL_PIN, shadow, &grab)
                ReleaseLoops.unpinEach(pages, count: n, batch: n, dirty: 0, detect: mode, ledger: shadow, tally: &release)
                ReleaseLoops.unpinEach(pages, count: n, batch: n, dirty: 0, detect: mode, ledger: shadow, tally: &release)
            case .unpinUnpinned:
                ReleaseLoops.unpinEach(pages, count: n, batch: n, dirty: 0, detect: mode, ledger: shadow, tally: &release)
            }
            let audit = model.audit()
            let head = model.page(0)
            let large = gb_folio_test_large(head)
            let ref = Int(gb_ref_read_relaxed(head))
            let pin = large ? Int(gb_pincount_read_relaxed(head + 1)) : 0
            let violations = mode == .ledger ? ledger.pointee.violations : 0
            let detected: Detection
            if mode >= .underflow && (release.underflows > 0 || violations > 0) {
                detected = .atCall
            } else if mode >= .audit && audit.unbalanced_pages > 0 {
                detected = .atAudit
            } else {
                detected = .never
            }
            let outcome = MisuseOutcome(
                scenario: scenario, folioOrder: model.folioOrder, mode: mode, detected: detected,
                symptom: symptom(refcount: ref, pincount: pin, large: large, maybePinned: gb_folio_maybe_dma_pinned(head)),
                refcountExcess: ref - 1, pincount: pin, maybeDMAPinned: gb_folio_maybe_dma_pinned(head),
                pagesUnbalanced: audit.unbalanced_pages, underflows: release.underflows,
                ledgerViolations: violations, firstWrongCall: violations > 0 ? ledger.pointee.first : nil)
            gb_memmap_init_folios(model.memmap, 0, model.pageCount, UInt32(model.folioOrder))
            return outcome
        }
    }

    /// The symptom a user of the real kernel would meet, from one folio's counts.
    static func symptom(refcount: Int, pincount: Int, large: Bool, maybePinned: Bool) -> String {
        var parts: [String] = []
        if refcount < 0 {
            parts.append("`_refcount` goes negative (\(refcount)): the memory is freed while still mapped (use-after-free)")
        } else if refcount == 0 {
            parts.append("`_refcount` reaches 0 while still mapped: the memory is freed under its user (use-after-free)")
        } else if refcount > 1 && maybePinned && !large {
            parts.append("the page stays maybe-dma-pinned for ever: `_refcount` \(refcount - 1) above baseline, never freed (leak)")
        } else if refcount > 1 {
            parts.append("`_refcount` \(refcount - 1) above baseline: the folio can never be freed (leak)")
        }
        if pincount > 0 {
            parts.append("the folio stays maybe-dma-pinned for ever: `_pincount` \(pincount)"
                + (refcount == 1 ? " with `_refcount` balanced" : ""))
        } else if pincount < 0 {
            parts.append("`_pincount` goes negative (\(pincount))")
        }
        return parts.isEmpty ? "none: the counts balance" : parts.joined(separator: "; ")
    }

    /// Morton's question (a): the seed's `if (!PageDirty(p)) set_page_dirty(p)` loop on one folio,
    /// per page against batched, counted.
    public struct DirtyFacts: Sendable {
        public let folioOrder: Int
        public let strategy: Strategy
        public let dirty: DirtyMode
        public let pages: Int
        /// Flag words read (PageDirty), all on the head under PF_HEAD.
        public let flagReads: UInt64
        /// Atomic flag operations (set_bit, or lock + set + unlock).
        public let flagAtomics: UInt64
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
        gb_grab_pages(list.baseAddress!, n, strategy.foll, nil, &grab)
        ReleaseRunner.release(LoopKey(strategy, .swift), list.baseAddress!, n, n, dirty.cValue, nil, &release)
        let dirtyBit = UInt(1) << UInt(GB_PG_dirty)
        let dirtied = (0..<n).filter { gb_flags_read_relaxed(model.page($0)) & dirtyBit != 0 }
        gb_memmap_init_folios(model.memmap, 0, model.pageCount, UInt32(model.folioOrder))
        return DirtyFacts(folioOrder: model.folioOrder, strategy: strategy, dirty: dirty, pages: n,
                          flagReads: release.flag_tests, flagAtomics: release.flag_atomics,
                          dirtyDescriptors: dirtied)
    }
}
