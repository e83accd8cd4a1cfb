import CShims
import Testing
@testable import GUPBench

/// The model rules of docs/model.md rule by rule, with exact counts.
@Suite struct PageModelTests {
    /// struct page and, in page[1], struct folio (include/linux/mm_types.h, 64-bit).
    @Test func descriptorHasTheKernelsOffsets() {
        #expect(MemoryLayout<gb_page>.size == 64)
        #expect(MemoryLayout<gb_page>.offset(of: \gb_page.flags) == 0)
        #expect(MemoryLayout<gb_page>.offset(of: \gb_page.compound_head) == 8)
        #expect(MemoryLayout<gb_page>.offset(of: \gb_page.large_mapcount) == 16)
        #expect(MemoryLayout<gb_page>.offset(of: \gb_page.nr_pages_mapped) == 20)
        #expect(MemoryLayout<gb_page>.offset(of: \gb_page.entire_mapcount) == 24)
        #expect(MemoryLayout<gb_page>.offset(of: \gb_page.pincount) == 28)
        #expect(MemoryLayout<gb_page>.offset(of: \gb_page.mm_ids) == 32)
        #expect(MemoryLayout<gb_page>.offset(of: \gb_page.mapcount) == 48)
        #expect(MemoryLayout<gb_page>.offset(of: \gb_page.refcount) == 52)
        #expect(MemoryLayout<gb_page>.offset(of: \gb_page.nr_pages) == 56)
    }

    /// A large folio's page[1] holds the order in the low byte of _flags_1, _nr_pages, and its
    /// mapcounts say "mapped once by a PMD"; no page is mapped by a PTE.
    @Test(arguments: [2, 4, 9])
    func largeFolioKeepsOrderAndSizeInPageOne(order: Int) throws {
        let model = try makeModel(pages: 1024, order: order)
        let head = model.page(0)
        #expect(gb_folio_order(head) == UInt32(order))
        #expect(gb_flags_read_relaxed(head + 1) == UInt(order))
        #expect(head[1].nr_pages == UInt32(1 << order))
        #expect(gb_folio_nr_pages(head) == 1 << order)
        #expect(head[1].large_mapcount == 0 && head[1].entire_mapcount == 0)
        #expect((0..<(1 << order)).allSatisfy { head[$0].mapcount == -1 })
        #expect(gb_folio_mapped(head))
        #expect(gb_ref_read_relaxed(head) == 1)
    }

    @Test func orderZeroPageIsMappedByOnePTE() throws {
        let model = try makeModel(pages: 512, order: 0)
        #expect(model.page(5).pointee.mapcount == 0)
        #expect(gb_folio_mapped(model.page(5)))
        #expect(gb_folio_nr_pages(model.page(5)) == 1)
        #expect(gb_folio_order(model.page(5)) == 0)
    }

    @Test func memmapIsSixtyFourByteAligned() throws {
        let model = try makeModel(pages: 512, order: 0)
        #expect(UInt(bitPattern: model.memmap) % 64 == 0)
    }

    @Test func pinOnOrderZeroPageAddsTheBias() throws {
        let model = try makeModel(pages: 512, order: 0)
        let page = model.page(3)
        var t = gb_tally()
        #expect(gb_ref_read_relaxed(page) == 1)
        #expect(!gb_page_maybe_dma_pinned(page))
        gb_try_grab_folio(page, 1, GB_FOLL_PIN, &t)
        #expect(gb_ref_read_relaxed(page) == 1 + 1024)
        #expect(gb_page_maybe_dma_pinned(page))
        #expect(t.atomics == 1)
        #expect(t.pins_acquired == 1)
        _ = gb_unpin_user_page(page, &t)
        #expect(gb_ref_read_relaxed(page) == 1)
        #expect(!gb_page_maybe_dma_pinned(page))
    }

    @Test func orderZeroMaybePinnedIsFuzzy() throws {
        // 1023 ordinary references look like nothing; the 1024th looks like a pin.
        let model = try makeModel(pages: 512, order: 0)
        let page = model.page(0)
        var t = gb_tally()
        gb_try_grab_folio(page, 1022, GB_FOLL_GET, &t)
        #expect(!gb_page_maybe_dma_pinned(page))
        gb_try_grab_folio(page, 1, GB_FOLL_GET, &t)
        #expect(gb_ref_read_relaxed(page) == 1024)
        #expect(gb_page_maybe_dma_pinned(page))
    }

    @Test(arguments: [1, 17, 255, 511])
    func pinOnSubpageOfOrderNineFolioCountsOnHeadAndFirstTail(subpage: Int) throws {
        let model = try makeModel(pages: 1024, order: 9)
        let head = model.page(512)
        let page = model.page(512 + subpage)
        var t = gb_tally()
        #expect(gb_compound_head(page) == head)
        #expect(gb_folio_order(head) == 9)
        gb_try_grab_folio(gb_page_folio(page), 1, GB_FOLL_PIN, &t)
        #expect(gb_ref_read_relaxed(head) == 2)
        #expect(gb_pincount_read_relaxed(head + 1) == 1)
        #expect(gb_ref_read_relaxed(page) == 0)  // tails hold no references of their own
        #expect(gb_page_maybe_dma_pinned(page))
        #expect(gb_page_maybe_dma_pinned(model.page(512 + 400)))  // any subpage: the folio is pinned
        #expect(!gb_page_maybe_dma_pinned(model.page(0)))          // the other folio is not
        #expect(t.atomics == 2)
        let r = gb_unpin_user_page(page, &t)
        #expect(!r.refcount_negative && !r.pincount_negative)
        #expect(gb_ref_read_relaxed(head) == 1)
        #expect(gb_pincount_read_relaxed(head + 1) == 0)
        #expect(!gb_page_maybe_dma_pinned(page))
        #expect(t.atomics == 4)
    }

    @Test func largeFolioMaybePinnedIsExact() throws {
        // 2000 ordinary references on a large folio are not a pin: _pincount decides.
        let model = try makeModel(pages: 512, order: 9)
        var t = gb_tally()
        gb_try_grab_folio(model.page(0), 2000, GB_FOLL_GET, &t)
        #expect(!gb_page_maybe_dma_pinned(model.page(7)))
    }

    @Test func pageDirtyOnTailReadsTheHead() throws {
        let model = try makeModel(pages: 512, order: 9)
        let head = model.page(0), tail = model.page(100)
        var t = gb_tally()
        #expect(!gb_page_dirty(tail, &t))
        gb_set_bit_relaxed(Int32(GB_PG_dirty), head, &t)
        #expect(gb_page_dirty(tail, &t))
        #expect(t.flag_tests == 2)
    }

    @Test func dirtyingThroughTailSetsOnlyTheHeadBit() throws {
        let model = try makeModel(pages: 512, order: 9)
        var t = gb_tally()
        gb_set_page_dirty(model.page(300), &t)
        let dirtyBit = UInt(1) << UInt(GB_PG_dirty)
        #expect(gb_flags_read_relaxed(model.page(0)) & dirtyBit != 0)
        for i in 1..<512 { #expect(gb_flags_read_relaxed(model.page(i)) & dirtyBit == 0) }
        #expect(t.atomics == 1)
    }

    @Test func lockingTailLocksTheHead() throws {
        let model = try makeModel(pages: 512, order: 9)
        var t = gb_tally()
        let lockBit = UInt(1) << UInt(GB_PG_locked)
        gb_lock_page(model.page(42), &t)
        #expect(gb_flags_read_relaxed(model.page(0)) & lockBit != 0)
        #expect(gb_flags_read_relaxed(model.page(42)) & lockBit == 0)
        #expect(gb_page_locked(model.page(511)))
        gb_unlock_page(model.page(42), &t)
        #expect(!gb_page_locked(model.page(0)))
        #expect(t.atomics == 2)
    }

    @Test func setPageDirtyLockIsLockMarkUnlock() throws {
        let model = try makeModel(pages: 512, order: 9)
        var t = gb_tally()
        gb_set_page_dirty_lock(model.page(9), &t)
        #expect(t.atomics == 3)
        #expect(gb_page_dirty(model.page(0), &t))
        #expect(!gb_page_locked(model.page(0)))
    }

    @Test func auditFindsAPinLeftBehind() throws {
        let model = try makeModel(pages: 1024, order: 9)
        var t = gb_tally()
        gb_try_grab_folio(model.page(512), 1, GB_FOLL_PIN, &t)
        let report = model.audit()
        #expect(report.unbalanced_pages == 512)
        #expect(report.first_bad_index == 512)
        #expect(report.first_bad_refcount == 2)
        #expect(report.first_bad_pincount == 1)
        _ = gb_gup_put_folio(model.page(512), 1, GB_FOLL_PIN, &t)
        #expect(model.audit().unbalanced_pages == 0)
    }

    @Test func forcedOrderMustDivideTheRegion() throws {
        let region = try MemoryRegion(size: 3 << 20, backing: .fourK, policy: .bind, node: Topology.read().localNode)
        #expect(throws: GUPBenchError.usage("--size 3MiB is not a multiple of the 2MiB folio of --folio-order 9")) {
            try PageModel(region: region, forcedOrder: 9)
        }
    }

    /// include/linux/mm.h folio_maybe_dma_pinned(): `(unsigned int)folio_ref_count(folio) >=
    /// GUP_PIN_COUNTING_BIAS` on a small folio, so a count an over-unpin drove below zero reads
    /// as pinned; a large folio answers from `_pincount` alone.
    @Test func overUnpinnedSmallFolioReadsAsPinned() throws {
        let model = try makeModel(pages: 1024, order: 0)
        let page = model.page(0)
        var t = gb_tally()
        #expect(!gb_folio_maybe_dma_pinned(page))  // mapped once: _refcount 1
        gb_try_grab_folio(page, 1, GB_FOLL_PIN, &t)
        #expect(gb_folio_maybe_dma_pinned(page))   // 1025
        _ = gb_gup_put_folio(page, 1, GB_FOLL_PIN, &t)
        _ = gb_gup_put_folio(page, 1, GB_FOLL_PIN, &t)  // one unpin too many: 1 - 1024
        #expect(gb_ref_read_relaxed(page) == -1023)
        #expect(gb_folio_maybe_dma_pinned(page))
        #expect(t.freed == 0 && t.jumped_over_zero == 1)
    }
}
