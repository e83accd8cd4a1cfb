import CShims

extension Strategy {
    /// unpin-range: `unpin_user_page_range_dirty_lock()` (mm/gup.c) over contiguous descriptors —
    /// folio arithmetic (`gup_folio_range_next()`), one descriptor touched per folio. Runs on the
    /// first entry's descriptor and the ones after it, so the page array must be contiguous.
    public static let unpinRange = Strategy(
        rawValue: "unpin-range", kernelAnalogue: "unpin_user_page_range_dirty_lock(): folio arithmetic",
        shortName: "range", foll: GB_FOLL_PIN, comparedWith: "unpin-each", needsContiguousPages: true,
        releasesFolioRuns: true, access: .folioArithmetic,
        swiftLoop: {
            Walk.folioRuns(.range($0.pages[0]), $1, &$2) { c, folio, nr, t in
                gb_detect_kcall_gup_put_folio_pin(c.detect, c.mode, folio, nr, &t)
            }
        },
        cLoop: { $1.inC($0.pages[0], &$2, gb_c_unpin_range) },
        lastRefSwiftLoop: {
            Walk.folioRuns(.range($0.pages[0]), $1, &$2) { c, folio, nr, t in
                c.putLast(folio, nr, GB_FOLL_PIN, &t)
            }
        },
        lastRefCLoop: { $1.inC($0.pages[0], &$2, gb_c_unpin_range_last) })
}
