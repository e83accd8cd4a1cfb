import CShims

extension Strategy {
    /// unpin-batched: `unpin_user_pages{,_dirty_lock}()` (mm/gup.c) — consecutive entries of one
    /// folio (found by `gup_folio_next()`, which reads each entry's descriptor) are released with
    /// one subtraction, and dirtied once per run.
    public static let unpinBatched = Strategy(
        rawValue: "unpin-batched", kernelAnalogue: "unpin_user_pages(): one release per folio run",
        shortName: "batched", foll: GB_FOLL_PIN, comparedWith: "unpin-each", releasesFolioRuns: true,
        access: .entryWalk,
        swiftLoop: { ReleaseLoops.unpinBatched($0.pages, count: $1, batch: $2, dirty: $3, detect: $4, ledger: $5, tally: &$6) },
        cLoop: { gb_c_unpin_batched($0.pages, $1, $2, $3, $4.cValue, $5, &$6) },
        lastRefSwiftLoop: { LastRefLoops.unpinBatched($0.pages, count: $1, batch: $2, dirty: $3, detect: $4, ledger: $5, free: $6, tally: &$7) },
        lastRefCLoop: { gb_c_unpin_batched_last($0.pages, $1, $2, $3, $4.cValue, $5, &$7, $6) })
}

extension ReleaseLoops {
    @inline(never)
    public static func unpinBatched(_ pages: PageArray, count: Int, batch: Int, dirty: gb_dirty_mode,
                                    detect: DetectMode = .off, ledger: LedgerPointer? = nil,
                                    tally: inout gb_tally) {
        let mode = gb_mitigations()
        ReleaseLoopSupport.run(detect, &tally) { d, t in unpinBatchedBody(pages, count, batch, dirty, d, ledger, mode, &t) }
    }

    @inline(__always)
    static func unpinBatchedBody(_ pages: PageArray, _ count: Int, _ batch: Int, _ dirty: gb_dirty_mode,
                                 _ detect: gb_detect_mode, _ ledger: LedgerPointer?, _ mode: gb_mitigation,
                               _ t: inout gb_tally) {
        var start = 0
        while start < count {
            let n = min(batch, count - start)
            let call = pages + start
            var i = 0
            var run = 0
            while i < n {  // one unpin_user_pages() call
                let folio = gb_gup_folio_next(call, n, i, &run)
                gb_detect_entries(detect, ledger, call + i, run, GB_CALL_UNPIN_USER_PAGE, &t)
                gb_dirty_folio_run(folio, dirty, &t)
                // kernel: gup_put_folio(), out of line (gb_kcalls.h)
                gb_detect_kcall_gup_put_folio_pin(detect, mode, folio, Int32(truncatingIfNeeded: run), &t)
                i += run
            }
            start += n
        }
    }
}
