import CShims

/// The loop shapes every release strategy is made of, each written once: per entry, folio runs
/// (of a page array or of contiguous descriptors), folio pointers, bvecs. A strategy is one of
/// them plus its release call, an always-inlined closure; its `--last-ref` loop is the same
/// walker with the release that frees. The C twins are the GB_WALK_* macros of CShims/gb_loops.c.
/// These loops are the product under test: plain code over unsafe pointers calling the
/// `static inline` C primitives of `gb_page.h`; no allocation, no ARC, no bounds checks and no
/// dynamic dispatch inside.
///
/// Each walker switches once on the detection mode and runs its body with the mode as a
/// constant, so the checks of other modes compile out of each copy. The tally is a fresh local,
/// added to the caller's at the end, so its counters stay in registers (an increment through the
/// caller's pointer would be a store the next LOCK instruction drains).
enum Walk {
    /// What a release call sees besides its entry: the detection mode (a constant in each copy),
    /// how out-of-line calls return (`--mitigations`, read once per loop) and the thread's free
    /// path when releases drop the last reference (`--last-ref`), else nil.
    struct Context {
        let detect: gb_detect_mode
        let mode: gb_mitigation
        let free: FreeContextPointer?
    }

    /// A release of one entry's page (or of the folio a bvec names).
    typealias PageRelease = (Context, PagePointer, inout gb_tally) -> Void
    /// A release of `nr` references on one folio.
    typealias RunRelease = (Context, PagePointer, Int32, inout gb_tally) -> Void

    /// Runs `body` once, with the detection mode as a constant and a local tally.
    @inline(__always)
    static func withContext(_ calls: ReleaseCalls, _ tally: inout gb_tally, _ body: (Context, inout gb_tally) -> Void) {
        let free = calls.free
        let mode = gb_mitigations()
        var local = gb_tally()
        local.thread = tally.thread
        switch calls.detect {
        case .off, .audit: body(Context(detect: GB_DETECT_OFF, mode: mode, free: free), &local)
        case .underflow: body(Context(detect: GB_DETECT_UNDERFLOW, mode: mode, free: free), &local)
        case .ledger: body(Context(detect: GB_DETECT_LEDGER, mode: mode, free: free), &local)
        }
        tally.add(local)
    }

    /// Each release call's first entry and entry count: `batch` entries a call, the last shorter.
    @inline(__always)
    static func calls(_ count: Int, _ batch: Int, _ call: (_ start: Int, _ n: Int) -> Void) {
        var start = 0
        while start < count {
            let n = min(batch, count - start)
            call(start, n)
            start += n
        }
    }

    /// `calls` inside `withContext`: each release call's context, first entry and entry count.
    @inline(__always)
    static func eachCall(_ calls: ReleaseCalls, _ tally: inout gb_tally,
                         _ call: (Context, _ start: Int, _ n: Int, inout gb_tally) -> Void) {
        withContext(calls, &tally) { c, t in
            Walk.calls(calls.count, calls.batch) { start, n in call(c, start, n, &t) }
        }
    }

    /// Per entry (put_page(), unpin_user_page() per entry): check, dirty, release each.
    @inline(__always)
    static func entries(_ pages: PageArray, _ calls: ReleaseCalls, _ call: gb_call, _ tally: inout gb_tally,
                        _ release: PageRelease) {
        let (dirty, ledger) = (calls.dirty, calls.ledger)
        eachCall(calls, &tally) { c, start, n, t in
            var i = start
            while i < start + n {
                gb_detect_entries(c.detect, ledger, pages + i, 1, call, &t)
                gb_dirty_if_clean(pages[i], dirty, &t)
                release(c, pages[i], &t)
                i += 1
            }
        }
    }

    /// Where a folio-run walk finds its runs.
    enum Runs {
        /// In a page array: gup_folio_next() reads each entry's descriptor to find the run
        /// (unpin_user_pages_dirty_lock()).
        case pages(PageArray)
        /// In contiguous descriptors from the first: gup_folio_range_next()'s folio arithmetic,
        /// one descriptor touched per folio (unpin_user_page_range_dirty_lock()).
        case range(PagePointer)
    }

    /// Folio runs: one check, one dirtying and one release per run of entries in one folio.
    @inline(__always)
    static func folioRuns(_ runs: Runs, _ calls: ReleaseCalls, _ tally: inout gb_tally, _ release: RunRelease) {
        switch runs {  // a constant where the walker is inlined: one branch is left
        case .pages(let pages):
            walkRuns(pages, calls, &tally, next: { gb_gup_folio_next($0, $1, $2, &$3) },
                     check: { gb_detect_entries($0, $1, $2, $3, GB_CALL_UNPIN_USER_PAGE, &$4) }, release)
        case .range(let first):
            walkRuns(first, calls, &tally, next: { gb_gup_folio_range_next($0, $1, $2, &$3) },
                     check: { gb_detect_range($0, $1, $2, $3, GB_CALL_UNPIN_USER_PAGE, &$4) }, release)
        }
    }

    /// The folio-run walk: `next` finds the folio at an entry and the run of entries in it,
    /// `check` is the detection mode's check of the run.
    @inline(__always)
    private static func walkRuns<Entry>(
        _ base: UnsafeMutablePointer<Entry>, _ calls: ReleaseCalls, _ tally: inout gb_tally,
        next: (UnsafeMutablePointer<Entry>, Int, Int, inout Int) -> PagePointer,
        check: (gb_detect_mode, LedgerPointer?, UnsafeMutablePointer<Entry>, Int, inout gb_tally) -> Void,
        _ release: RunRelease
    ) {
        let (dirty, ledger) = (calls.dirty, calls.ledger)
        eachCall(calls, &tally) { c, start, n, t in
            let call = base + start
            var i = 0
            var run = 0
            while i < n {
                let folio = next(call, n, i, &run)
                check(c.detect, ledger, call + i, run, &t)
                gb_dirty_folio_run(folio, dirty, &t)
                release(c, folio, Int32(truncatingIfNeeded: run), &t)
                i += run
            }
        }
    }

    /// Folio pointers (unpin_folios()): runs of equal neighbours, found by comparing the
    /// pointers, no descriptor read; one release per run. The kernel skips a NULL entry; the
    /// model's arrays hold none.
    @inline(__always)
    static func folioPointers(_ folios: FolioArray, _ calls: ReleaseCalls, _ tally: inout gb_tally,
                              _ release: RunRelease) {
        let ledger = calls.ledger  // no dirtying variant: unpin_folios() has none
        eachCall(calls, &tally) { c, start, n, t in
            let call = folios + start
            var i = 0
            while i < n {
                let folio = call[i]
                var j = i + 1
                while j < n && call[j] == folio { j += 1 }
                gb_detect_entries(c.detect, ledger, call + i, j - i, GB_CALL_UNPIN_USER_PAGE, &t)
                release(c, folio, Int32(j - i), &t)
                i = j
            }
        }
    }

    /// Bvecs (io_release_ubuf()): one indirect release call per registered buffer of `batch`
    /// bvecs (io_buffer_unmap(): imu->release(imu->priv)), then a release of
    /// page_folio(bv_page) per bvec.
    @inline(__always)
    static func bvecs(_ bvecs: BvecArray, _ calls: ReleaseCalls, _ tally: inout gb_tally, _ release: PageRelease) {
        let ledger = calls.ledger  // io_release_ubuf() dirties nothing
        eachCall(calls, &tally) { c, start, n, t in
            let imu = bvecs + start
            gb_kcall_release_indirect(c.mode, &t)
            var i = 0
            while i < n {
                let page = imu[i].bv_page
                gb_detect_range(c.detect, ledger, page, 1, GB_CALL_UNPIN_USER_PAGE, &t)
                release(c, gb_page_folio(page), &t)
                i += 1
            }
        }
    }
}

extension Walk.Context {
    /// The release that drops the last reference: gup_put_folio() -> folio_put_refs(), and at
    /// zero __folio_put() frees the folio through the thread's free path (mm/swap.c).
    @inline(__always)
    func putLast(_ folio: PagePointer, _ nr: Int32, _ foll: gb_foll, _ t: inout gb_tally) {
        gb_detect_result(detect, gb_gup_put_folio_last(folio, nr, foll, free, &t), &t)
    }
}

extension gb_tally {
    /// Adds another tally's counts to this one (the thread stays this tally's).
    @inline(__always)
    public mutating func add(_ other: gb_tally) {
        atomics &+= other.atomics
        flag_tests &+= other.flag_tests
        flag_atomics &+= other.flag_atomics
        folio_locks &+= other.folio_locks
        pins_acquired &+= other.pins_acquired
        pins_released &+= other.pins_released
        refs_acquired &+= other.refs_acquired
        refs_released &+= other.refs_released
        underflows &+= other.underflows
        freed &+= other.freed
        freed_while_mapped &+= other.freed_while_mapped
        freed_with_pincount &+= other.freed_with_pincount
        jumped_over_zero &+= other.jumped_over_zero
        released_below_zero &+= other.released_below_zero
        kernel_calls &+= other.kernel_calls
        zero_folio_tests &+= other.zero_folio_tests
        vmstat_cmpxchgs &+= other.vmstat_cmpxchgs
        vmstat_folds &+= other.vmstat_folds
    }
}
