import CShims

/// The release loops in Swift: the product under test. Each is a plain function over unsafe
/// pointers calling the `static inline` C primitives of `gb_page.h`; no allocation, no ARC, no
/// bounds checks and no dynamic dispatch inside. The tally is a fresh local, added to the
/// caller's at the end, so its counters stay in registers (an increment through the caller's
/// pointer would be a store the next LOCK instruction has to drain).
///
/// `batch` entries go to one release call, as a caller handing the kernel a partial page array
/// would. Each public loop switches once on the detection mode and runs an always-inlined body
/// with the mode as a constant, so the checks of other modes compile out of each copy.
public enum ReleaseLoops {
    /// put-page: the 2018 seed's `put_user_pages_dirty{,_lock}()` loop with
    /// `put_user_page()` == `put_page()`, on FOLL_GET references.
    @inline(never)
    public static func putPages(_ pages: PageArray, count: Int, batch: Int, dirty: Int32,
                                detect: DetectMode = .off, ledger: LedgerPointer? = nil,
                                tally: inout gb_tally) {
        var local = gb_tally()
        local.thread = tally.thread
        switch detect {
        case .off, .audit: putPagesBody(pages, count, batch, dirty, Int32(GB_DETECT_OFF), ledger, &local)
        case .underflow: putPagesBody(pages, count, batch, dirty, Int32(GB_DETECT_UNDERFLOW), ledger, &local)
        case .ledger: putPagesBody(pages, count, batch, dirty, Int32(GB_DETECT_LEDGER), ledger, &local)
        }
        tally.add(local)
    }

    @inline(__always)
    static func putPagesBody(_ pages: PageArray, _ count: Int, _ batch: Int, _ dirty: Int32,
                             _ detect: Int32, _ ledger: LedgerPointer?, _ t: inout gb_tally) {
        var i = 0
        while i < count {
            let end = min(i + batch, count)
            while i < end {  // one put_user_pages() call
                gb_detect_entries(detect, ledger, pages + i, 1, Int32(GB_CALL_PUT_PAGE), &t)
                gb_dirty_if_clean(pages[i], dirty, &t)
                gb_detect_result(detect, gb_put_page(pages[i], &t), &t)
                i += 1
            }
        }
    }

    /// unpin-each: `unpin_user_page()` per entry — the seed's `put_user_pages()` loop once
    /// put_user_page() became pin-aware: one atomic for an order-0 page, two for a subpage of a
    /// large folio (_pincount in page[1], then _refcount).
    @inline(never)
    public static func unpinEach(_ pages: PageArray, count: Int, batch: Int, dirty: Int32,
                                 detect: DetectMode = .off, ledger: LedgerPointer? = nil,
                                 tally: inout gb_tally) {
        var local = gb_tally()
        local.thread = tally.thread
        switch detect {
        case .off, .audit: unpinEachBody(pages, count, batch, dirty, Int32(GB_DETECT_OFF), ledger, &local)
        case .underflow: unpinEachBody(pages, count, batch, dirty, Int32(GB_DETECT_UNDERFLOW), ledger, &local)
        case .ledger: unpinEachBody(pages, count, batch, dirty, Int32(GB_DETECT_LEDGER), ledger, &local)
        }
        tally.add(local)
    }

    @inline(__always)
    static func unpinEachBody(_ pages: PageArray, _ count: Int, _ batch: Int, _ dirty: Int32,
                              _ detect: Int32, _ ledger: LedgerPointer?, _ t: inout gb_tally) {
        var i = 0
        while i < count {
            let end = min(i + batch, count)
            while i < end {
                gb_detect_entries(detect, ledger, pages + i, 1, Int32(GB_CALL_UNPIN_USER_PAGE), &t)
                gb_dirty_if_clean(pages[i], dirty, &t)
                gb_detect_result(detect, gb_unpin_user_page(pages[i], &t), &t)
                i += 1
            }
        }
    }

    /// unpin-batched: `unpin_user_pages{,_dirty_lock}()` — consecutive entries of one folio
    /// (found by `gup_folio_next()`, which reads each entry's descriptor) are released with one
    /// subtraction, and dirtied once per run.
    @inline(never)
    public static func unpinBatched(_ pages: PageArray, count: Int, batch: Int, dirty: Int32,
                                    detect: DetectMode = .off, ledger: LedgerPointer? = nil,
                                    tally: inout gb_tally) {
        var local = gb_tally()
        local.thread = tally.thread
        switch detect {
        case .off, .audit: unpinBatchedBody(pages, count, batch, dirty, Int32(GB_DETECT_OFF), ledger, &local)
        case .underflow: unpinBatchedBody(pages, count, batch, dirty, Int32(GB_DETECT_UNDERFLOW), ledger, &local)
        case .ledger: unpinBatchedBody(pages, count, batch, dirty, Int32(GB_DETECT_LEDGER), ledger, &local)
        }
        tally.add(local)
    }

    @inline(__always)
    static func unpinBatchedBody(_ pages: PageArray, _ count: Int, _ batch: Int, _ dirty: Int32,
                                 _ detect: Int32, _ ledger: LedgerPointer?, _ t: inout gb_tally) {
        var start = 0
        while start < count {
            let n = min(batch, count - start)
            let call = pages + start
            var i = 0
            var run = 0
            while i < n {  // one unpin_user_pages() call
                let folio = gb_gup_folio_next(call, n, i, &run)
                gb_detect_entries(detect, ledger, call + i, run, Int32(GB_CALL_UNPIN_USER_PAGE), &t)
                gb_dirty_if_clean(folio, dirty, &t)
                gb_detect_result(detect, gb_gup_put_folio(folio, Int32(truncatingIfNeeded: run), GB_FOLL_PIN, &t), &t)
                i += run
            }
            start += n
        }
    }

    /// unpin-range: `unpin_user_page_range_dirty_lock()` over contiguous descriptors — folio
    /// arithmetic (`gup_folio_range_next()`), one descriptor touched per folio.
    @inline(never)
    public static func unpinRange(_ first: PagePointer, count: Int, batch: Int, dirty: Int32,
                                  detect: DetectMode = .off, ledger: LedgerPointer? = nil,
                                  tally: inout gb_tally) {
        var local = gb_tally()
        local.thread = tally.thread
        switch detect {
        case .off, .audit: unpinRangeBody(first, count, batch, dirty, Int32(GB_DETECT_OFF), ledger, &local)
        case .underflow: unpinRangeBody(first, count, batch, dirty, Int32(GB_DETECT_UNDERFLOW), ledger, &local)
        case .ledger: unpinRangeBody(first, count, batch, dirty, Int32(GB_DETECT_LEDGER), ledger, &local)
        }
        tally.add(local)
    }

    @inline(__always)
    static func unpinRangeBody(_ first: PagePointer, _ count: Int, _ batch: Int, _ dirty: Int32,
                               _ detect: Int32, _ ledger: LedgerPointer?, _ t: inout gb_tally) {
        var start = 0
        while start < count {
            let n = min(batch, count - start)
            let call = first + start
            var i = 0
            var run = 0
            while i < n {
                let folio = gb_gup_folio_range_next(call, n, i, &run)
                gb_detect_range(detect, ledger, call + i, run, Int32(GB_CALL_UNPIN_USER_PAGE), &t)
                gb_dirty_if_clean(folio, dirty, &t)
                gb_detect_result(detect, gb_gup_put_folio(folio, Int32(truncatingIfNeeded: run), GB_FOLL_PIN, &t), &t)
                i += run
            }
            start += n
        }
    }
}

extension gb_tally {
    /// Adds another tally's counts to this one (the thread stays this tally's).
    @inline(__always)
    public mutating func add(_ other: gb_tally) {
        atomics &+= other.atomics
        flag_tests &+= other.flag_tests
        flag_atomics &+= other.flag_atomics
        pins_acquired &+= other.pins_acquired
        pins_released &+= other.pins_released
        refs_acquired &+= other.refs_acquired
        refs_released &+= other.refs_released
        underflows &+= other.underflows
    }
}
