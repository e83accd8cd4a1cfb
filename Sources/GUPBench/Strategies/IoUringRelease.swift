import CShims

extension Strategy {
    /// io-uring-release: io_uring/rsrc.c `io_release_ubuf()` — a walk over a registered
    /// buffer's 16-byte bvecs, `unpin_user_folio(page_folio(bv_page), 1)` per entry. The bvecs
    /// are what registration built: one per 4 KiB page, or one per large folio where
    /// io_coalesce_buffer() coalesced them, so on THP it is one pin and one release per folio.
    /// No dirtying variant. With `--last-ref` the buffer's mapping is gone (munmap while
    /// registered), so each unpin frees its folio: `gupbench kernel --last-ref`.
    public static let ioUringRelease = Strategy(
        rawValue: "io-uring-release",
        kernelAnalogue: "io_release_ubuf(): unpin_user_folio(page_folio(bv_page), 1) per bvec",
        shortName: "io_uring", foll: GB_FOLL_PIN, comparedWith: "unpin-each", releasesFolioRuns: true,
        access: .bvecWalk, walks: .bvecs, dirties: false,
        swiftLoop: {
            Walk.bvecs($0.bvecs!, $1, &$2) { c, folio, t in
                gb_detect_kcall_unpin_user_folio(c.detect, c.mode, folio, 1, &t)
            }
        },
        cLoop: { $1.inC($0.bvecs!, &$2, gb_c_io_uring_release) },
        lastRefSwiftLoop: {
            Walk.bvecs($0.bvecs!, $1, &$2) { c, folio, t in
                gb_detect_kcall_unpin_user_folio_last(c.detect, c.mode, folio, 1, c.free, &t)
            }
        },
        lastRefCLoop: { $1.inC($0.bvecs!, &$2, gb_c_io_uring_release_last) })
}
