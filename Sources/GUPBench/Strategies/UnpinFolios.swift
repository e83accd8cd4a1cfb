import CShims

extension Strategy {
    /// unpin-folios: mm/gup.c `unpin_folios()` (2024) — the caller holds folio pointers, not
    /// pages (one per page here, as a caller converting a page array would); equal neighbours
    /// are found by comparing the pointers, no descriptor read, and each run is one
    /// `gup_put_folio(folio, run, FOLL_PIN)` (a NULL entry is skipped in the kernel; the
    /// model's arrays hold none). No dirtying variant.
    public static let unpinFolios = Strategy(
        rawValue: "unpin-folios", kernelAnalogue: "unpin_folios(): folio pointers, equal neighbours grouped",
        shortName: "folios", foll: GB_FOLL_PIN, comparedWith: "unpin-each", releasesFolioRuns: true,
        access: .folioPointers, walks: .folios, dirties: false,
        swiftLoop: { ReleaseLoops.unpinFolios($0.folios!, count: $1, batch: $2, detect: $4, ledger: $5, tally: &$6) },
        cLoop: { gb_c_unpin_folios($0.folios!, $1, $2, $4.cValue, $5, &$6) })
}

extension ReleaseLoops {
    /// `batch` entries per unpin_folios() call. The C twin is `gb_c_unpin_folios`.
    @inline(never)
    public static func unpinFolios(_ folios: FolioArray, count: Int, batch: Int,
                                   detect: DetectMode = .off, ledger: LedgerPointer? = nil,
                                   tally: inout gb_tally) {
        let mode = gb_mitigations()
        ReleaseLoopSupport.run(detect, &tally) { d, t in unpinFoliosBody(folios, count, batch, d, ledger, mode, &t) }
    }

    @inline(__always)
    static func unpinFoliosBody(_ folios: FolioArray, _ count: Int, _ batch: Int, _ detect: gb_detect_mode,
                                _ ledger: LedgerPointer?, _ mode: gb_mitigation, _ t: inout gb_tally) {
        var start = 0
        while start < count {  // one unpin_folios() call
            let n = min(batch, count - start)
            let call = folios + start
            var i = 0
            while i < n {
                let folio = call[i]
                var j = i + 1
                while j < n && call[j] == folio { j += 1 }
                gb_detect_entries(detect, ledger, call + i, j - i, GB_CALL_UNPIN_USER_PAGE, &t)
                // gup_put_folio(folios[i], j - i, FOLL_PIN), called directly
                gb_detect_kcall_gup_put_folio_pin(detect, mode, call[i], Int32(j - i), &t)
                i = j
            }
            start += n
        }
    }
}
