import CShims
import Testing
@testable import GUPBench

/// folio_put_refs() frees a folio when _refcount reaches exactly 0, and only then
/// (include/linux/mm.h); the model records each release that reaches or passes 0.
@Suite struct ReleaseEventTests {
    /// The events of a tally, in one comparable value.
    struct Events: Equatable, CustomStringConvertible {
        var freed: UInt64 = 0, whileMapped: UInt64 = 0, withPincount: UInt64 = 0
        var jumped: UInt64 = 0, belowZero: UInt64 = 0
        init(freed: UInt64 = 0, whileMapped: UInt64 = 0, withPincount: UInt64 = 0, jumped: UInt64 = 0,
             belowZero: UInt64 = 0) {
            (self.freed, self.whileMapped, self.withPincount, self.jumped, self.belowZero)
                = (freed, whileMapped, withPincount, jumped, belowZero)
        }
        init(_ t: gb_tally) {
            self.init(freed: t.freed, whileMapped: t.freed_while_mapped, withPincount: t.freed_with_pincount,
                      jumped: t.jumped_over_zero, belowZero: t.released_below_zero)
        }
        var description: String {
            "freed \(freed) (mapped \(whileMapped), pincount \(withPincount)), jumped \(jumped), below \(belowZero)"
        }
    }

    @Test func balancedPinAndUnpinRecordNothing() throws {
        for order in [0, 9] {
            let model = try makeModel(pages: 512, order: order)
            var t = gb_tally()
            gb_try_grab_folio(model.page(0), 1, GB_FOLL_PIN, &t)
            _ = gb_unpin_user_page(model.page(0), &t)
            #expect(Events(t) == Events(), "order \(order)")
            #expect(gb_ref_read_relaxed(model.page(0)) == 1)
        }
    }

    /// Order 0: an unpin of a page never pinned subtracts the whole bias from the mapping's 1.
    @Test func orderZeroExtraUnpinJumpsOverZero() throws {
        let model = try makeModel(pages: 512, order: 0)
        var t = gb_tally()
        let r = gb_unpin_user_page(model.page(7), &t)
        #expect(r.refcount_negative)
        #expect(gb_ref_read_relaxed(model.page(7)) == 1 - 1024)
        #expect(Events(t) == Events(jumped: 1))
        _ = gb_unpin_user_page(model.page(7), &t)
        #expect(Events(t) == Events(jumped: 1, belowZero: 1))
    }

    /// Order 0: one reference too many dropped lands on 0 and takes the mapping's reference.
    @Test func orderZeroDoublePutFreesTheMappedPage() throws {
        let model = try makeModel(pages: 512, order: 0)
        var t = gb_tally()
        gb_try_grab_folio(model.page(3), 1, GB_FOLL_GET, &t)
        _ = gb_put_page(model.page(3), &t)
        #expect(Events(t) == Events())
        let r = gb_put_page(model.page(3), &t)
        #expect(!r.refcount_negative)
        #expect(Events(t) == Events(freed: 1, whileMapped: 1))
        _ = gb_put_page(model.page(3), &t)
        #expect(Events(t) == Events(freed: 1, whileMapped: 1, belowZero: 1))
    }

    /// Order 9: per page, the first extra unpin_user_page() reaches 0 (freed while mapped, with
    /// _pincount -1); the 511 after it release a freed folio.
    @Test func orderNineExtraUnpinEachFreesTheMappedFolio() throws {
        let (model, events) = try releasedTwice(.unpinEach)
        #expect(events == Events(freed: 1, whileMapped: 1, withPincount: 1, belowZero: 511))
        #expect(gb_ref_read_relaxed(model.page(0)) == -511)
        #expect(gb_pincount_read_relaxed(model.page(1)) == -512)
    }

    /// Order 9: the batched extra unpin subtracts 512 at once and jumps from 1 to -511.
    @Test func orderNineExtraUnpinBatchedJumpsOverZero() throws {
        let (model, events) = try releasedTwice(.unpinBatched)
        #expect(events == Events(jumped: 1))
        #expect(gb_ref_read_relaxed(model.page(0)) == -511)
    }

    /// The C loops record the same events as the Swift ones.
    @Test func cLoopsRecordTheSameEvents() throws {
        #expect(try releasedTwice(.unpinEach, .c).1 == Events(freed: 1, whileMapped: 1, withPincount: 1, belowZero: 511))
    }

    /// One order-9 folio pinned once and released twice by `strategy`: the model (to read the
    /// residues from) and the events, none of them from the first release.
    func releasedTwice(_ strategy: Strategy, _ impl: Impl = .swift) throws -> (PageModel, Events) {
        let model = try makeModel(pages: 512, order: 9)
        let list = PageList(model, indices: Array(0..<512))
        var t = gb_tally()
        gb_grab_pages(list.base, 512, GB_FOLL_PIN, nil, &t)
        strategy.release(list.base, count: 512, batch: 512, impl: impl, tally: &t)
        #expect(Events(t) == Events())
        strategy.release(list.base, count: 512, batch: 512, impl: impl, tally: &t)
        return (model, Events(t))
    }

    /// Unmapping removes the rmap first, then drops the mapping's reference: a folio nobody else
    /// holds is freed, not "while mapped". A pin still held keeps it.
    @Test func unmapFreesAnUnheldFolioAndAPinKeepsIt() throws {
        let model = try makeModel(pages: 1024, order: 9)
        var t = gb_tally()
        gb_folio_unmap(model.page(0), &t)
        #expect(Events(t) == Events(freed: 1))
        #expect(!gb_folio_mapped(model.page(0)))
        gb_try_grab_folio(model.page(512), 1, GB_FOLL_PIN, &t)
        gb_folio_unmap(model.page(512), &t)
        #expect(Events(t) == Events(freed: 1))
        _ = gb_unpin_user_page(model.page(600), &t)
        #expect(Events(t) == Events(freed: 2))
    }

    /// put_page() on a pinned large folio balances _refcount and leaves _pincount: the folio is
    /// freed at unmap with a nonzero _pincount (free_tail_page_prepare(): "nonzero pincount").
    @Test func pincountResidueIsFoundWhenTheFolioIsFreed() throws {
        let model = try makeModel(pages: 512, order: 9)
        var t = gb_tally()
        gb_try_grab_folio(model.page(0), 1, GB_FOLL_PIN, &t)
        _ = gb_put_page(model.page(0), &t)
        #expect(gb_folio_maybe_dma_pinned(model.page(0)))
        gb_folio_unmap(model.page(0), &t)
        #expect(Events(t) == Events(freed: 1, withPincount: 1))
    }

    /// unpin_user_pages_dirty_lock(): folio_test_dirty(), then folio_lock(), folio_mark_dirty(),
    /// folio_unlock() when clean; a dirty folio costs the read alone.
    @Test func unpinDirtyLockTestsThenLocksMarksUnlocksOnce() throws {
        let model = try makeModel(pages: 512, order: 9)
        var t = gb_tally()
        gb_unpin_folio_dirty_lock(model.page(0), &t)
        #expect(t.flag_tests == 1 && t.flag_atomics == 3 && t.folio_locks == 1 && t.atomics == 3)
        #expect(gb_folio_test_dirty(model.page(0), &t))
        #expect(!gb_page_locked(model.page(0)))
        gb_unpin_folio_dirty_lock(model.page(0), &t)
        #expect(t.flag_tests == 3 && t.flag_atomics == 3 && t.folio_locks == 1)
    }

    /// The batched loop dirties once per folio run through that step, never per page.
    @Test func batchedDirtyLockLocksEachFolioOnce() throws {
        let model = try makeModel(pages: 1024, order: 9)
        let list = PageList(model, indices: Array(0..<1024))
        var t = gb_tally()
        gb_grab_pages(list.base, 1024, GB_FOLL_PIN, nil, &t)
        var r = gb_tally()
        Strategy.unpinBatched.release(list.base, count: 1024, batch: 1024, dirty: DirtyMode.dirtyLock.cValue, tally: &r)
        #expect(r.flag_tests == 2 && r.folio_locks == 2 && r.flag_atomics == 6)
        #expect(r.atomics == 6 + 2 * 2)
        #expect(model.audit().unbalanced_pages == 0)
    }

    /// A release of pages never grabbed, on every seed strategy in both implementations: the
    /// events are recorded in every mode, the underflow count only under --detect underflow, and
    /// Swift and C agree. Order 0: each of the 1024 releases jumps over 0 (1 - 1 or 1 - 1024 for
    /// put_page() and the unpins). Order 9, 2 folios: per entry the first release reaches 0 and
    /// the rest go below it; per folio run one release jumps from 1 to -511.
    @Test(arguments: [0, 9])
    func underflowCountIsTheSameInSwiftAndCAndOnlyWhenAsked(order: Int) throws {
        let model = try makeModel(pages: 1024, order: order)
        let list = PageList(model, indices: Array(0..<1024))
        for strategy in [Strategy.putPage, .unpinEach, .unpinBatched, .unpinRange] {
            var seen: [String: (Events, UInt64)] = [:]
            for impl in [Impl.swift, .c] {
                for detect in [DetectMode.off, .underflow] {
                    gb_memmap_init_folios(model.memmap, 0, 1024, UInt32(order))
                    var t = gb_tally()
                    list.input.release(LoopKey(strategy, impl, detect), batch: 1024, dirty: GB_DIRTY_NONE, ledger: nil, tally: &t)
                    let perRun = strategy.releasesFolioRuns && order > 0
                    let expected: Events
                    if order == 0 {
                        // put_page(): 1 -> 0 frees the mapped page; the unpins jump to -1023.
                        expected = strategy == .putPage ? Events(freed: 1024, whileMapped: 1024) : Events(jumped: 1024)
                    } else if perRun {
                        expected = Events(jumped: 2)
                    } else {
                        expected = Events(freed: 2, whileMapped: 2, withPincount: strategy == .putPage ? 0 : 2,
                                          belowZero: 1022)
                    }
                    #expect(Events(t) == expected, "\(strategy) \(impl) \(detect)")
                    let underflows: UInt64
                    if order == 0 {
                        underflows = strategy == .putPage ? 0 : 1024
                    } else if perRun {
                        underflows = 2
                    } else {
                        underflows = strategy == .putPage ? 1022 : 1024  // _pincount too goes negative
                    }
                    #expect(t.underflows == (detect == .underflow ? underflows : 0), "\(strategy) \(impl) \(detect)")
                    seen["\(impl)-\(detect)"] = (Events(t), t.underflows)
                }
            }
            #expect(seen["swift-underflow"]?.0 == seen["c-underflow"]?.0)
        }
        gb_memmap_init_folios(model.memmap, 0, 1024, UInt32(order))
    }
}
