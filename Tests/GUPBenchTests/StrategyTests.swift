import CShims
import Foundation
import Testing
@testable import GUPBench

/// Every strategy × dirty mode × impl releases exactly what was pinned and performs the atomics
/// The states docs/model.md gives each strategy; the Swift and C loops leave byte-identical memmaps.
@Suite struct StrategyTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let order: Int
        let start: Int
        let count: Int
        let batch: Int?
        var testDescription: String { "order \(order), pages \(start)..<\(start + count), batch \(batch.map(String.init) ?? "whole")" }
    }

    // Ranges that start mid-folio and lengths that are not a multiple of the folio.
    static let cases: [Case] = [0, 1, 4, 9].flatMap { order in
        [1, 7, nil].flatMap { batch in
            [Case(order: order, start: 0, count: 2048, batch: batch),
             Case(order: order, start: (1 << order) / 2 + 1, count: 1000 + 3, batch: batch)]
        }
    }

    @Test(arguments: cases)
    func releasesExactlyWhatWasPinned(_ c: Case) throws {
        for strategy in Strategy.allCases {
            for dirty in DirtyMode.allCases where dirty == .none || strategy.dirties {
                var memmaps: [Impl: Data] = [:]
                for impl in Impl.allCases {
                    let model = try makeModel(pages: 2048 + 512, order: c.order)
                    let indices = Array(c.start..<(c.start + c.count))
                    let list = PageList(model, indices: indices)
                    let batch = c.batch ?? c.count
                    let grabbed = grab(strategy, list)
                    // io-uring-release holds one pin per bvec: per folio once coalesced.
                    let held = strategy == .ioUringRelease ? expectedBvecs(indices: indices, order: c.order) : c.count
                    #expect(grabbed.pins_acquired + grabbed.refs_acquired == UInt64(held))
                    #expect(list.input.count(strategy) == held)
                    let t = release(strategy, impl, list, batch: batch, dirty: dirty)
                    let label = "\(strategy.rawValue) \(impl.rawValue) \(dirty.rawValue) \(c.testDescription)"
                    #expect(t.pins_released + t.refs_released == UInt64(held), "\(label)")
                    let atomics = strategy == .ioUringRelease
                        ? held * (c.order > 0 ? 2 : 1)  // one unpin_user_folio(folio, 1) per bvec
                        : expectedAtomics(strategy, indices: indices, order: c.order, batch: batch, dirty: dirty)
                    #expect(t.atomics == UInt64(atomics), "\(label)")
                    let audit = model.audit()
                    #expect(audit.unbalanced_pages == 0, "\(label)")
                    #expect(audit.locked_pages == 0, "\(label)")
                    // Dirtying marks exactly the heads of the folios touched.
                    let dirtyBit = UInt(1) << UInt(GB_PG_dirty)
                    let dirtyPages = (0..<model.pageCount).filter { gb_flags_read_relaxed(model.page($0)) & dirtyBit != 0 }
                    let touchedHeads = Set(indices.map { ($0 >> c.order) << c.order }).sorted()
                    #expect(dirtyPages == (dirty == .none ? [] : touchedHeads), "\(label)")
                    memmaps[impl] = memmapBytes(model)
                }
                #expect(memmaps[.swift] == memmaps[.c], "swift and c memmaps differ for \(strategy.rawValue) \(dirty.rawValue)")
            }
        }
    }

    @Test func unpinEachOnLargeFolioIsTwoAtomicsPerPage() throws {
        #expect(try released(.unpinEach, pages: 1024).atomics == 2048)
    }

    @Test func unpinRangeOnOrderNineIsTwoAtomicsPerFolio() throws {
        let t = try released(.unpinRange, pages: 2048)
        #expect(t.atomics == 8)
        #expect(t.pins_released == 2048)
    }

    /// The seed's dirty loop on a large folio: every subpage reads the head's PG_dirty, only
    /// the first one writes it (Morton's question (a)).
    @Test func seedDirtyLoopOnOrderNineReadsHeadForEverySubpageAndWritesItOnce() throws {
        let t = try released(.unpinEach, .c, pages: 512, dirty: .dirtyLock)
        #expect(t.flag_tests == 512)
        #expect(t.atomics == 512 * 2 + 3)
    }

    /// `pages` pages of order-9 folios, grabbed and released in one call by `strategy`.
    func released(_ strategy: Strategy, _ impl: Impl = .swift, pages: Int, dirty: DirtyMode = .none) throws -> gb_tally {
        let model = try makeModel(pages: pages, order: 9)
        let list = PageList(model, indices: Array(0..<pages))
        _ = grab(strategy, list)
        return release(strategy, impl, list, batch: pages, dirty: dirty)
    }

    func memmapBytes(_ model: PageModel) -> Data {
        // Tail pages store their head's address, which differs between two regions: compare
        // compound_head as an index relative to the memmap instead.
        var copy = Data(bytes: model.memmap, count: model.pageCount * 64)
        copy.withUnsafeMutableBytes { raw in
            let pages = raw.bindMemory(to: gb_page.self)
            let base = UInt(bitPattern: model.memmap)
            for i in pages.indices where pages[i].compound_head & 1 == 1 {
                pages[i].compound_head = (UInt(pages[i].compound_head) - 1 - base) / 64 * 2 + 1
            }
        }
        return copy
    }
}

/// The two strategies that release what kernel callers hold instead of pages: exact tallies and
/// audits on order 0 and 9, including the arrays that defeat coalescing.
@Suite struct KernelCallerStrategyTests {
    @Test func unpinFoliosGroupsEqualNeighboursWithoutReadingDescriptors() throws {
        let model = try makeModel(pages: 2048, order: 9)
        let list = PageList(model, indices: Array(0..<2048))
        // Every entry is its folio's head: 512 equal neighbours per folio.
        #expect((0..<2048).allSatisfy { list.input.entries.folios![$0] == model.page($0 / 512 * 512) })
        for impl in Impl.allCases {
            let g = grab(.unpinFolios, list)
            #expect(g.pins_acquired == 2048)
            #expect(gb_pincount_read_relaxed(model.page(1)) == 512)  // 512 pins on folio 0
            let t = release(.unpinFolios, impl, list, batch: 2048, dirty: .none)
            #expect(t.atomics == 8)  // _pincount and _refcount once per folio
            #expect(t.pins_released == 2048)
            #expect(model.audit().unbalanced_pages == 0)
        }
    }

    @Test func unpinFoliosSplitsRunsAtCallBoundariesAndOnOrderZero() throws {
        let model = try makeModel(pages: 1024, order: 9)
        let list = PageList(model, indices: Array(0..<1024))
        _ = grab(.unpinFolios, list)
        // 100 entries per unpin_folios() call: a call boundary inside a folio starts a new run.
        let t = release(.unpinFolios, .c, list, batch: 100, dirty: .none)
        #expect(t.atomics == 2 * 12)  // runs: 0-99,...,500-511 | 512-599,...: 6 + 6 per folio
        #expect(model.audit().unbalanced_pages == 0)

        let small = try makeModel(pages: 64, order: 0)
        let pages = PageList(small, indices: Array(0..<64))
        _ = grab(.unpinFolios, pages)
        #expect(release(.unpinFolios, .swift, pages, batch: 64, dirty: .none).atomics == 64)
        #expect(small.audit().unbalanced_pages == 0)
    }

    @Test func ioUringReleaseOnCoalescedTHPIsOneBvecAndOnePinPerFolio() throws {
        let model = try makeModel(pages: 2048, order: 9)
        // Starts mid-folio: the first bvec is the folio's head (compound_head(page_array[0])).
        let list = PageList(model, indices: Array(100..<2048))
        #expect(list.input.bvecCount == 4)
        #expect(list.input.entries.bvecs![0].bv_page == model.page(0))
        #expect(list.input.entries.bvecs![0].bv_len == 412 * 4096)
        #expect(list.input.entries.bvecs![1].bv_page == model.page(512))
        #expect(list.input.entries.bvecs![1].bv_len == 512 * 4096)
        for impl in Impl.allCases {
            let g = grab(.ioUringRelease, list)
            #expect(g.pins_acquired == 4)
            #expect(gb_pincount_read_relaxed(model.page(513)) == 1)
            let t = release(.ioUringRelease, impl, list, batch: 4, dirty: .none)
            #expect(t.atomics == 8)
            #expect(t.pins_released == 4)
            #expect(model.audit().unbalanced_pages == 0)
        }
    }

    @Test func ioUringReleaseWithoutCoalescingIsOneBvecPerPage() throws {
        let model = try makeModel(pages: 1024, order: 9)
        // Out of order: io_check_coalesce_buffer() fails, one bvec and one pin per page.
        let shuffled = PageList(model, indices: Array(0..<1024).reversed())
        #expect(shuffled.input.bvecCount == 1024)
        _ = grab(.ioUringRelease, shuffled)
        #expect(gb_pincount_read_relaxed(model.page(1)) == 512)
        let t = release(.ioUringRelease, .swift, shuffled, batch: 1024, dirty: .none)
        #expect(t.atomics == 2048)
        #expect(t.pins_released == 1024)
        #expect(model.audit().unbalanced_pages == 0)
        // Order 0 never coalesces (io_sqe_buffer_register(): only when nr_pages_mid != 1).
        let small = try makeModel(pages: 64, order: 0)
        let pages = PageList(small, indices: Array(0..<64))
        #expect(pages.input.bvecCount == 64)
    }

    @Test func ledgerSeesNoViolationOnTheNewStrategies() throws {
        let model = try makeModel(pages: 1024, order: 9)
        let list = PageList(model, indices: Array(0..<1024))
        var ledger = gb_ledger()
        #expect(gb_ledger_init(&ledger, model.memmap, model.pageCount) == 0)
        defer { gb_ledger_free(&ledger) }
        for strategy in [Strategy.unpinFolios, .ioUringRelease] {
            for impl in Impl.allCases {
                var g = gb_tally(), t = gb_tally()
                list.input.grab(strategy, ledger: &ledger, tally: &g)
                list.input.release(LoopKey(strategy, impl, .ledger), batch: list.input.count(strategy),
                                   dirty: GB_DIRTY_NONE, ledger: &ledger, tally: &t)
                #expect(ledger.violations == 0, "\(strategy.rawValue) \(impl.rawValue)")
                #expect(t.pins_released == g.pins_acquired)
                #expect(model.audit().unbalanced_pages == 0)
            }
        }
    }
}
