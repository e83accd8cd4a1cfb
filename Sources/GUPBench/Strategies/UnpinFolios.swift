import CShims

extension Strategy {
    /// unpin-folios: mm/gup.c `unpin_folios()` (2024) — the caller holds folio pointers, not
    /// pages (one per page here, as a caller converting a page array would); equal neighbours
    /// are found by comparing the pointers, no descriptor read, and each run is one
    /// `gup_put_folio(folio, run, FOLL_PIN)`, called directly. No dirtying variant.
    public static let unpinFolios = Strategy(
        rawValue: "unpin-folios", kernelAnalogue: "unpin_folios(): folio pointers, equal neighbours grouped",
        shortName: "folios", foll: GB_FOLL_PIN, comparedWith: "unpin-each", releasesFolioRuns: true,
        access: .folioPointers, walks: .folios, dirties: false,
        swiftLoop: {
            Walk.folioPointers($0.folios!, $1, &$2) { c, folio, nr, t in
                gb_detect_kcall_gup_put_folio_pin(c.detect, c.mode, folio, nr, &t)
            }
        },
        cLoop: { $1.inC($0.folios!, &$2, gb_c_unpin_folios) })
}
