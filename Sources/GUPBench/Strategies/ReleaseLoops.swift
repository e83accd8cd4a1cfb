import CShims

/// A descriptor in the memmap (`struct page *` in the kernel).
public typealias PagePointer = UnsafeMutablePointer<gb_page>
/// The page array a get_user_pages() call fills (`struct page **`).
public typealias PageArray = UnsafeMutablePointer<PagePointer>

/// The release loops in Swift: the product under test. Each is a plain function over unsafe
/// pointers calling the `static inline` C primitives of `gb_page.h`; no allocation, no ARC, no
/// bounds checks and no dynamic dispatch inside. The tally is a fresh local, added to the
/// caller's at the end, so its counters stay in registers (an increment through the caller's
/// pointer would be a store the next LOCK instruction has to drain). `batch` entries go to one release call, as a caller handing the kernel a partial
/// page array would.
public enum ReleaseLoops {
    /// put-page: the 2018 seed's `put_user_pages_dirty{,_lock}()` loop with
    /// `put_user_page()` == `put_page()`, on FOLL_GET references.
    @inline(never)
    public static func putPages(_ pages: PageArray, count: Int, batch: Int, dirty: Int32,
                                tally: inout gb_tally) {
        var local = gb_tally()
        var i = 0
        while i < count {
            let end = min(i + batch, count)
            while i < end {  // one put_user_pages() call
                let page = pages[i]
                gb_dirty_if_clean(page, dirty, &local)
                _ = gb_put_page(page, &local)
                i += 1
            }
        }
        tally.add(local)
    }

    /// unpin-each: `unpin_user_page()` per entry — the seed's `put_user_pages()` loop once
    /// put_user_page() became pin-aware: one atomic for an order-0 page, two for a subpage of a
    /// large folio (_pincount in page[1], then _refcount).
    @inline(never)
    public static func unpinEach(_ pages: PageArray, count: Int, batch: Int, dirty: Int32,
                                 tally: inout gb_tally) {
        var local = gb_tally()
        var i = 0
        while i < count {
            let end = min(i + batch, count)
            while i < end {
                let page = pages[i]
                gb_dirty_if_clean(page, dirty, &local)
                _ = gb_unpin_user_page(page, &local)
                i += 1
            }
        }
        tally.add(local)
    }

    /// unpin-batched: `unpin_user_pages{,_dirty_lock}()` — consecutive entries of one folio
    /// (found by `gup_folio_next()`, which reads each entry's descriptor) are released with one
    /// subtraction, and dirtied once per run.
    @inline(never)
    public static func unpinBatched(_ pages: PageArray, count: Int, batch: Int, dirty: Int32,
                                    tally: inout gb_tally) {
        var local = gb_tally()
        var start = 0
        while start < count {
            let n = min(batch, count - start)
            let call = pages + start
            var i = 0
            var run = 0
            while i < n {  // one unpin_user_pages() call
                let folio = gb_gup_folio_next(call, n, i, &run)
                gb_dirty_if_clean(folio, dirty, &local)
                _ = gb_gup_put_folio(folio, Int32(truncatingIfNeeded: run), GB_FOLL_PIN, &local)
                i += run
            }
            start += n
        }
        tally.add(local)
    }

    /// unpin-range: `unpin_user_page_range_dirty_lock()` over contiguous descriptors — folio
    /// arithmetic (`gup_folio_range_next()`), one descriptor touched per folio.
    @inline(never)
    public static func unpinRange(_ first: PagePointer, count: Int, batch: Int, dirty: Int32,
                                  tally: inout gb_tally) {
        var local = gb_tally()
        var start = 0
        while start < count {
            let n = min(batch, count - start)
            let call = first + start
            var i = 0
            var run = 0
            while i < n {
                let folio = gb_gup_folio_range_next(call, n, i, &run)
                gb_dirty_if_clean(folio, dirty, &local)
                _ = gb_gup_put_folio(folio, Int32(truncatingIfNeeded: run), GB_FOLL_PIN, &local)
                i += run
            }
            start += n
        }
        tally.add(local)
    }
}

extension gb_tally {
    /// Adds another tally's counts to this one.
    @inline(__always)
    public mutating func add(_ other: gb_tally) {
        atomics &+= other.atomics
        flag_tests &+= other.flag_tests
        pins_acquired &+= other.pins_acquired
        pins_released &+= other.pins_released
        refs_acquired &+= other.refs_acquired
        refs_released &+= other.refs_released
    }
}
