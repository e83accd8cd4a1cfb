import CShims

extension Strategy {
    /// release-pages: the kernel's `release_pages()` (mm/swap.c), a batched `put_page()` on
    /// FOLL_GET references. Each call's entries go into a `folio_batch` of 31
    /// (include/linux/pagevec.h); a full batch goes to `folios_put_refs()`: one
    /// `folio_ref_sub_and_test()` per entry and, for the folios that reached zero, the lruvec lock
    /// kept across consecutive folios of one lruvec (`folio_lruvec_relock_irqsave()`) and one
    /// `free_unref_folios()` (one pcp lock) for the batch. Without `--last-ref` nothing reaches
    /// zero and it is put-page's 1 atomic per page. One loop for both modes (it frees only with a
    /// free path); its own shape, a folio_batch per call.
    public static let releasePages = Strategy(
        rawValue: "release-pages",
        kernelAnalogue: "release_pages(): folio_batch of 31, lruvec lock per batch, batched free",
        shortName: "release", foll: GB_FOLL_GET, comparedWith: "put-page", releasesFolioRuns: false,
        access: .entryWalk,
        swiftLoop: { releasePagesLoop($0.pages, $1, &$2) },
        cLoop: { $1.inC($0.pages, &$2, gb_c_release_pages) },
        lastRefSwiftLoop: { releasePagesLoop($0.pages, $1, &$2) },
        lastRefCLoop: { $1.inC($0.pages, &$2, gb_c_release_pages) },
        runByDefault: false)

    @inline(__always)
    private static func releasePagesLoop(_ pages: PageArray, _ calls: ReleaseCalls, _ tally: inout gb_tally) {
        let (dirty, ledger) = (calls.dirty, calls.ledger)
        Walk.withContext(calls, &tally) { c, t in
            var fbatch = gb_folio_batch()
            Walk.calls(calls.count, calls.batch) { start, n in  // one release_pages() call
                gb_detect_entries(c.detect, ledger, pages + start, n, GB_CALL_PUT_PAGE, &t)
                if dirty != GB_DIRTY_NONE {
                    for k in start..<start + n { gb_dirty_if_clean(pages[k], dirty, &t) }
                }
                fbatch.nr = 0
                for k in start..<start + n {
                    t.refs_released &+= 1
                    if gb_folio_batch_add(&fbatch, gb_compound_head(pages[k]), 1) == 0 {
                        gb_folios_put_refs(&fbatch, c.free, &t)
                    }
                }
                if fbatch.nr != 0 { gb_folios_put_refs(&fbatch, c.free, &t) }
            }
        }
    }
}
