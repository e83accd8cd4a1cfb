import CShims

extension Strategy {
    /// put-page: the 2018 seed's `put_user_pages_dirty{,_lock}()` loop with
    /// `put_user_page()` == `put_page()`, on FOLL_GET references (include/linux/mm.h: put_page()).
    /// At the last reference, put_page() -> folio_put() -> __folio_put() frees the folio.
    public static let putPage = Strategy(
        rawValue: "put-page", kernelAnalogue: "put_page() per page (FOLL_GET)", shortName: "put",
        foll: GB_FOLL_GET, comparedWith: nil, releasesFolioRuns: false, access: .entryWalk,
        swiftLoop: {
            Walk.entries($0.pages, $1, GB_CALL_PUT_PAGE, &$2) { c, page, t in
                gb_detect_put_page(c.detect, page, &t)
            }
        },
        cLoop: { $1.inC($0.pages, &$2, gb_c_put_pages) },
        lastRefSwiftLoop: {
            Walk.entries($0.pages, $1, GB_CALL_PUT_PAGE, &$2) { c, page, t in
                c.putLast(gb_compound_head(page), 1, GB_FOLL_GET, &t)
            }
        },
        lastRefCLoop: { $1.inC($0.pages, &$2, gb_c_put_pages_last) })
}
