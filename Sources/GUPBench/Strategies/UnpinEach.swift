import CShims

extension Strategy {
    /// unpin-each: `unpin_user_page()` per entry (mm/gup.c) — the seed's `put_user_pages()` loop
    /// once put_user_page() became pin-aware: one atomic for an order-0 page, two for a subpage of
    /// a large folio (_pincount in page[1], then _refcount). The call is out of line (gb_kcalls.h).
    public static let unpinEach = Strategy(
        rawValue: "unpin-each", kernelAnalogue: "unpin_user_page() per page", shortName: "each",
        foll: GB_FOLL_PIN, comparedWith: "put-page", releasesFolioRuns: false, access: .entryWalk,
        swiftLoop: {
            Walk.entries($0.pages, $1, GB_CALL_UNPIN_USER_PAGE, &$2) { c, page, t in
                gb_detect_kcall_unpin_user_page(c.detect, c.mode, page, &t)
            }
        },
        cLoop: { $1.inC($0.pages, &$2, gb_c_unpin_each) },
        lastRefSwiftLoop: {
            Walk.entries($0.pages, $1, GB_CALL_UNPIN_USER_PAGE, &$2) { c, page, t in
                c.putLast(gb_compound_head(page), 1, GB_FOLL_PIN, &t)
            }
        },
        lastRefCLoop: { $1.inC($0.pages, &$2, gb_c_unpin_each_last) })
}
