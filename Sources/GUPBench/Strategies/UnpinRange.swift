import CShims

extension Strategy {
    /// unpin-range: `unpin_user_page_range_dirty_lock()` (mm/gup.c) over contiguous descriptors —
    /// folio arithmetic (`gup_folio_range_next()`), one descriptor touched per folio. Runs on the
    /// first entry's descriptor and the ones after it, so the page array must be contiguous.
    public static let unpinRange = Strategy(
        rawValue: "unpin-range", kernelAnalogue: "unpin_user_page_range_dirty_lock(): folio arithmetic",
        shortName: "range", foll: GB_FOLL_PIN, comparedWith: "unpin-each", needsContiguousPages: true,
        releasesFolioRuns: true, access: .folioArithmetic,
        swiftLoop: { ReleaseLoops.unpinRange($0.pages[0], count: $1, batch: $2, dirty: $3, detect: $4, ledger: $5, tally: &$6) },
        cLoop: { gb_c_unpin_range($0.pages[0], $1, $2, $3, $4.cValue, $5, &$6) },
        lastRefSwiftLoop: { LastRefLoops.unpinRange($0.pages[0], count: $1, batch: $2, dirty: $3, detect: $4, ledger: $5, free: $6, tally: &$7) },
        lastRefCLoop: { gb_c_unpin_range_last($0.pages[0], $1, $2, $3, $4.cValue, $5, &$7, $6) })
}

extension ReleaseLoops {
    @inline(never)
    public static func unpinRange(_ first: PagePointer, count: Int, batch: Int, dirty: gb_dirty_mode,
                                  detect: DetectMode = .off, ledger: LedgerPointer? = nil,
                                  tally: inout gb_tally) {
        let mode = gb_mitigations()
        ReleaseLoopSupport.run(detect, &tally) { d, t in unpinRangeBody(first, count, batch, dirty, d, ledger, mode, &t) }
    }

    @inline(__always)
    static func unpinRangeBody(_ first: PagePointer, _ count: Int, _ batch: Int, _ dirty: gb_dirty_mode,
                               _ detect: gb_detect_mode, _ ledger: LedgerPointer?, _ mode: gb_mitigation,
                               _ t: inout gb_tally) {
        var start = 0
        while start < count {
            let n = min(batch, count - start)
            let call = first + start
            var i = 0
            var run = 0
            while i < n {
                let folio = gb_gup_folio_range_next(call, n, i, &run)
                gb_detect_range(detect, ledger, call + i, run, GB_CALL_UNPIN_USER_PAGE, &t)
                gb_dirty_folio_run(folio, dirty, &t)
                // kernel: gup_put_folio(), out of line (gb_kcalls.h)
                gb_detect_kcall_gup_put_folio_pin(detect, mode, folio, Int32(truncatingIfNeeded: run), &t)
                i += run
            }
            start += n
        }
    }
}
