import CShims

extension Strategy {
    /// unpin-batched: `unpin_user_pages{,_dirty_lock}()` (mm/gup.c) — consecutive entries of one
    /// folio (found by `gup_folio_next()`, which reads each entry's descriptor) are released with
    /// one out-of-line `gup_put_folio()`, and dirtied once per run.
    public static let unpinBatched = Strategy(
        rawValue: "unpin-batched", kernelAnalogue: "unpin_user_pages(): one release per folio run",
        shortName: "batched", foll: GB_FOLL_PIN, comparedWith: "unpin-each", releasesFolioRuns: true,
        access: .entryWalk,
        swiftLoop: {
            Walk.folioRuns(.pages($0.pages), $1, &$2) { c, folio, nr, t in
                gb_detect_kcall_gup_put_folio_pin(c.detect, c.mode, folio, nr, &t)
            }
        },
        cLoop: { $1.inC($0.pages, &$2, gb_c_unpin_batched) },
        lastRefSwiftLoop: {
            Walk.folioRuns(.pages($0.pages), $1, &$2) { c, folio, nr, t in
                c.putLast(folio, nr, GB_FOLL_PIN, &t)
            }
        },
        lastRefCLoop: { $1.inC($0.pages, &$2, gb_c_unpin_batched_last) })
}
