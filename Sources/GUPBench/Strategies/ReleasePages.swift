import CShims

extension Strategy {
    /// release-pages: the kernel's `release_pages()` (mm/swap.c), a batched `put_page()` on
    /// FOLL_GET references. Each call's entries go into a `folio_batch` of 31
    /// (include/linux/pagevec.h); a full batch goes to `folios_put_refs()`: one
    /// `folio_ref_sub_and_test()` per entry and, for the folios that reached zero, the lruvec lock
    /// kept across consecutive folios of one lruvec (`folio_lruvec_relock_irqsave()`) and one
    /// `free_unref_folios()` (one pcp lock) for the batch. Without `--last-ref` nothing reaches
    /// zero and it is put-page's 1 atomic per page. C twin: `gb_c_release_pages()` (CShims/gb_loops.c).
    public static let releasePages = Strategy(
        rawValue: "release-pages",
        kernelAnalogue: "release_pages(): folio_batch of 31, lruvec lock per batch, batched free",
        shortName: "release", foll: GB_FOLL_GET, comparedWith: "put-page", releasesFolioRuns: false,
        access: .entryWalk,
        swiftLoop: { ReleaseLoops.releasePages($0.pages, count: $1, batch: $2, dirty: $3, detect: $4, ledger: $5, free: nil, tally: &$6) },
        cLoop: { gb_c_release_pages($0.pages, $1, $2, $3, $4.cValue, $5, &$6, nil) },
        lastRefSwiftLoop: { ReleaseLoops.releasePages($0.pages, count: $1, batch: $2, dirty: $3, detect: $4, ledger: $5, free: $6, tally: &$7) },
        lastRefCLoop: { gb_c_release_pages($0.pages, $1, $2, $3, $4.cValue, $5, &$7, $6) },
        runByDefault: false)
}

extension ReleaseLoops {
    @inline(never)
    public static func releasePages(_ pages: PageArray, count: Int, batch: Int, dirty: gb_dirty_mode,
                                    detect: DetectMode = .off, ledger: LedgerPointer? = nil,
                                    free: FreeContextPointer? = nil, tally: inout gb_tally) {
        ReleaseLoopSupport.run(detect, &tally) { d, t in releasePagesBody(pages, count, batch, dirty, d, ledger, free, &t) }
    }

    @inline(__always)
    static func releasePagesBody(_ pages: PageArray, _ count: Int, _ batch: Int, _ dirty: gb_dirty_mode, _ detect: gb_detect_mode,
                                 _ ledger: LedgerPointer?, _ free: FreeContextPointer?, _ t: inout gb_tally) {
        var fbatch = gb_folio_batch()
        var i = 0
        while i < count {
            let end = min(i + batch, count)
            gb_detect_entries(detect, ledger, pages + i, end - i, GB_CALL_PUT_PAGE, &t)
            if dirty != GB_DIRTY_NONE {
                for k in i..<end { gb_dirty_if_clean(pages[k], dirty, &t) }
            }
            fbatch.nr = 0
            while i < end {  // one release_pages() call
                t.refs_released &+= 1
                if gb_folio_batch_add(&fbatch, gb_compound_head(pages[i]), 1) == 0 {
                    gb_folios_put_refs(&fbatch, free, &t)
                }
                i += 1
            }
            if fbatch.nr != 0 { gb_folios_put_refs(&fbatch, free, &t) }
        }
    }
}
