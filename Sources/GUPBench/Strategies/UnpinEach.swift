import CShims

extension Strategy {
    /// unpin-each: `unpin_user_page()` per entry (mm/gup.c) — the seed's `put_user_pages()` loop
    /// once put_user_page() became pin-aware: one atomic for an order-0 page, two for a subpage of
    /// a large folio (_pincount in page[1], then _refcount).
    public static let unpinEach = Strategy(
        rawValue: "unpin-each", kernelAnalogue: "unpin_user_page() per page", shortName: "each",
        foll: GB_FOLL_PIN, comparedWith: "put-page", releasesFolioRuns: false, access: .entryWalk,
        swiftLoop: { ReleaseLoops.unpinEach($0.pages, count: $1, batch: $2, dirty: $3, detect: $4, ledger: $5, tally: &$6) },
        cLoop: { gb_c_unpin_each($0.pages, $1, $2, $3, $4.cValue, $5, &$6) },
        lastRefSwiftLoop: { LastRefLoops.unpinEach($0.pages, count: $1, batch: $2, dirty: $3, detect: $4, ledger: $5, free: $6, tally: &$7) },
        lastRefCLoop: { gb_c_unpin_each_last($0.pages, $1, $2, $3, $4.cValue, $5, &$7, $6) })
}

extension ReleaseLoops {
    @inline(never)
    public static func unpinEach(_ pages: PageArray, count: Int, batch: Int, dirty: gb_dirty_mode,
                                 detect: DetectMode = .off, ledger: LedgerPointer? = nil,
                                 tally: inout gb_tally) {
        let mode = gb_mitigations()
        ReleaseLoopSupport.run(detect, &tally) { d, t in
            ReleaseLoopSupport.perEntry(pages, count, batch, dirty, d, ledger, GB_CALL_UNPIN_USER_PAGE, &t) {
                // kernel: unpin_user_page(), out of line (gb_kcalls.h)
                gb_detect_kcall_unpin_user_page($0, mode, $1, &$2)
            }
        }
    }
}
