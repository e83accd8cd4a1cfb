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
        swiftLoop: { ReleaseLoops.ioUringRelease($0.bvecs!, count: $1, batch: $2, detect: $4, ledger: $5, tally: &$6) },
        cLoop: { gb_c_io_uring_release($0.bvecs!, $1, $2, $4.cValue, $5, &$6) },
        lastRefSwiftLoop: { LastRefLoops.ioUringRelease($0.bvecs!, count: $1, batch: $2, detect: $4, ledger: $5,
                                                        free: $6, tally: &$7) },
        lastRefCLoop: { gb_c_io_uring_release_last($0.bvecs!, $1, $2, $4.cValue, $5, &$7, $6) })
}

extension ReleaseLoops {
    /// `batch` bvecs per registered buffer (one io_release_ubuf() call each). The C twin is
    /// `gb_c_io_uring_release`.
    @inline(never)
    public static func ioUringRelease(_ bvecs: BvecArray, count: Int, batch: Int,
                                      detect: DetectMode = .off, ledger: LedgerPointer? = nil,
                                      tally: inout gb_tally) {
        let mode = gb_mitigations()
        ReleaseLoopSupport.run(detect, &tally) { d, t in ioUringReleaseBody(bvecs, count, batch, d, ledger, mode, &t) }
    }

    @inline(__always)
    static func ioUringReleaseBody(_ bvecs: BvecArray, _ count: Int, _ batch: Int, _ detect: gb_detect_mode,
                                   _ ledger: LedgerPointer?, _ mode: gb_mitigation, _ t: inout gb_tally) {
        var start = 0
        while start < count {
            let n = min(batch, count - start)
            let imu = bvecs + start
            gb_kcall_release_indirect(mode, &t)  // io_buffer_unmap(): imu->release(imu->priv)
            var i = 0
            while i < n {
                let page = imu[i].bv_page
                gb_detect_range(detect, ledger, page, 1, GB_CALL_UNPIN_USER_PAGE, &t)
                gb_detect_kcall_unpin_user_folio(detect, mode, gb_page_folio(page), 1, &t)
                i += 1
            }
            start += n
        }
    }
}

extension LastRefLoops {
    /// kernel: io_release_ubuf() after munmap — the same bvec walk, each out-of-line
    /// unpin_user_folio() dropping its folio's last reference: gup_put_folio() ->
    /// folio_put_refs() -> __folio_put() frees it (mm/swap.c). C twin: `gb_c_io_uring_release_last`.
    @inline(never)
    public static func ioUringRelease(_ bvecs: BvecArray, count: Int, batch: Int, detect: DetectMode,
                                      ledger: LedgerPointer?, free: FreeContextPointer, tally: inout gb_tally) {
        let mode = gb_mitigations()
        ReleaseLoopSupport.run(detect, &tally) { d, t in ioUringReleaseBody(bvecs, count, batch, d, ledger, mode, free, &t) }
    }

    @inline(__always)
    static func ioUringReleaseBody(_ bvecs: BvecArray, _ count: Int, _ batch: Int, _ detect: gb_detect_mode,
                                   _ ledger: LedgerPointer?, _ mode: gb_mitigation, _ free: FreeContextPointer?,
                                   _ t: inout gb_tally) {
        var start = 0
        while start < count {
            let n = min(batch, count - start)
            let imu = bvecs + start
            gb_kcall_release_indirect(mode, &t)  // io_buffer_unmap(): imu->release(imu->priv)
            var i = 0
            while i < n {
                let page = imu[i].bv_page
                gb_detect_range(detect, ledger, page, 1, GB_CALL_UNPIN_USER_PAGE, &t)
                gb_detect_kcall_unpin_user_folio_last(detect, mode, gb_page_folio(page), 1, free, &t)
                i += 1
            }
            start += n
        }
    }
}
