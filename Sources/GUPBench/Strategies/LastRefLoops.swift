import CShims

/// The per-page and per-folio strategies when the release drops the LAST reference
/// (`--last-ref`): the same loops as ReleaseLoops, each release ending in `folio_put_refs()`,
/// which at zero calls `__folio_put()` — the folio leaves the LRU under its lruvec's lock and
/// goes to the per-CPU free list under the pcp lock, one folio at a time (mm/swap.c). Nothing is
/// batched on the free side: that is what `release-pages` adds. C twins: `gb_c_*_last()` in
/// CShims/gb_loops.c.
public enum LastRefLoops {
    @inline(never)
    public static func putPages(_ pages: PageArray, count: Int, batch: Int, dirty: gb_dirty_mode, detect: DetectMode,
                                ledger: LedgerPointer?, free: FreeContextPointer, tally: inout gb_tally) {
        ReleaseLoopSupport.run(detect, &tally) { d, t in perPageBody(pages, count, batch, dirty, GB_FOLL_GET, d, ledger, free, &t) }
    }

    @inline(never)
    public static func unpinEach(_ pages: PageArray, count: Int, batch: Int, dirty: gb_dirty_mode, detect: DetectMode,
                                 ledger: LedgerPointer?, free: FreeContextPointer, tally: inout gb_tally) {
        ReleaseLoopSupport.run(detect, &tally) { d, t in perPageBody(pages, count, batch, dirty, GB_FOLL_PIN, d, ledger, free, &t) }
    }

    /// put_page() (FOLL_GET) or unpin_user_page() (FOLL_PIN) per entry.
    @inline(__always)
    static func perPageBody(_ pages: PageArray, _ count: Int, _ batch: Int, _ dirty: gb_dirty_mode, _ foll: gb_foll,
                            _ detect: gb_detect_mode, _ ledger: LedgerPointer?, _ free: FreeContextPointer?,
                            _ t: inout gb_tally) {
        let call = foll == GB_FOLL_GET ? GB_CALL_PUT_PAGE : GB_CALL_UNPIN_USER_PAGE
        var i = 0
        while i < count {
            let end = min(i + batch, count)
            while i < end {
                gb_detect_entries(detect, ledger, pages + i, 1, call, &t)
                gb_dirty_if_clean(pages[i], dirty, &t)
                gb_detect_result(detect, gb_gup_put_folio_last(gb_compound_head(pages[i]), 1, foll, free, &t), &t)
                i += 1
            }
        }
    }

    /// unpin_user_pages(): one gup_put_folio() per run of entries in one folio.
    @inline(never)
    public static func unpinBatched(_ pages: PageArray, count: Int, batch: Int, dirty: gb_dirty_mode, detect: DetectMode,
                                    ledger: LedgerPointer?, free: FreeContextPointer, tally: inout gb_tally) {
        ReleaseLoopSupport.run(detect, &tally) { d, t in unpinBatchedBody(pages, count, batch, dirty, d, ledger, free, &t) }
    }

    @inline(__always)
    static func unpinBatchedBody(_ pages: PageArray, _ count: Int, _ batch: Int, _ dirty: gb_dirty_mode, _ detect: gb_detect_mode,
                                 _ ledger: LedgerPointer?, _ free: FreeContextPointer?, _ t: inout gb_tally) {
        var start = 0
        while start < count {
            let n = min(batch, count - start)
            let call = pages + start
            var i = 0
            var run = 0
            while i < n {
                let folio = gb_gup_folio_next(call, n, i, &run)
                gb_detect_entries(detect, ledger, call + i, run, GB_CALL_UNPIN_USER_PAGE, &t)
                gb_dirty_folio_run(folio, dirty, &t)
                gb_detect_result(detect, gb_gup_put_folio_last(folio, Int32(truncatingIfNeeded: run), GB_FOLL_PIN, free, &t), &t)
                i += run
            }
            start += n
        }
    }

    /// unpin_user_page_range_dirty_lock(): folio arithmetic over contiguous descriptors.
    @inline(never)
    public static func unpinRange(_ first: PagePointer, count: Int, batch: Int, dirty: gb_dirty_mode, detect: DetectMode,
                                  ledger: LedgerPointer?, free: FreeContextPointer, tally: inout gb_tally) {
        ReleaseLoopSupport.run(detect, &tally) { d, t in unpinRangeBody(first, count, batch, dirty, d, ledger, free, &t) }
    }

    @inline(__always)
    static func unpinRangeBody(_ first: PagePointer, _ count: Int, _ batch: Int, _ dirty: gb_dirty_mode, _ detect: gb_detect_mode,
                               _ ledger: LedgerPointer?, _ free: FreeContextPointer?, _ t: inout gb_tally) {
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
                gb_detect_result(detect, gb_gup_put_folio_last(folio, Int32(truncatingIfNeeded: run), GB_FOLL_PIN, free, &t), &t)
                i += run
            }
            start += n
        }
    }
}
