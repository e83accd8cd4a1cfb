import CShims

extension Strategy {
    /// put-page: the 2018 seed's `put_user_pages_dirty{,_lock}()` loop with
    /// `put_user_page()` == `put_page()`, on FOLL_GET references (include/linux/mm.h: put_page()).
    public static let putPage = Strategy(
        rawValue: "put-page", kernelAnalogue: "put_page() per page (FOLL_GET)", shortName: "put",
        foll: GB_FOLL_GET, comparedWith: nil, releasesFolioRuns: false, access: .entryWalk,
        swiftLoop: { ReleaseLoops.putPages($0.pages, count: $1, batch: $2, dirty: $3, detect: $4, ledger: $5, tally: &$6) },
        cLoop: { gb_c_put_pages($0.pages, $1, $2, $3, $4.cValue, $5, &$6) },
        lastRefSwiftLoop: { LastRefLoops.putPages($0.pages, count: $1, batch: $2, dirty: $3, detect: $4, ledger: $5, free: $6, tally: &$7) },
        lastRefCLoop: { gb_c_put_pages_last($0.pages, $1, $2, $3, $4.cValue, $5, &$7, $6) })
}

extension ReleaseLoops {
    @inline(never)
    public static func putPages(_ pages: PageArray, count: Int, batch: Int, dirty: gb_dirty_mode,
                                detect: DetectMode = .off, ledger: LedgerPointer? = nil,
                                tally: inout gb_tally) {
        ReleaseLoopSupport.run(detect, &tally) { d, t in
            ReleaseLoopSupport.perEntry(pages, count, batch, dirty, d, ledger, GB_CALL_PUT_PAGE, &t) {
                gb_detect_put_page($0, $1, &$2)
            }
        }
    }
}
