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
            for dirty in DirtyMode.allCases {
                var memmaps: [Impl: Data] = [:]
                for impl in Impl.allCases {
                    let model = try makeModel(pages: 2048 + 512, order: c.order)
                    let indices = Array(c.start..<(c.start + c.count))
                    let list = PageList(model, indices: indices)
                    let batch = c.batch ?? c.count
                    let grabbed = grab(strategy, list)
                    #expect(grabbed.pins_acquired + grabbed.refs_acquired == UInt64(c.count))
                    let t = release(strategy, impl, list, batch: batch, dirty: dirty)
                    let label = "\(strategy.rawValue) \(impl.rawValue) \(dirty.rawValue) \(c.testDescription)"
                    #expect(t.pins_released + t.refs_released == UInt64(c.count), "\(label)")
                    #expect(t.atomics == UInt64(expectedAtomics(strategy, indices: indices, order: c.order,
                                                                batch: batch, dirty: dirty)), "\(label)")
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
        let model = try makeModel(pages: 1024, order: 9)
        let list = PageList(model, indices: Array(0..<1024))
        _ = grab(.unpinEach, list)
        #expect(release(.unpinEach, .swift, list, batch: 1024, dirty: .none).atomics == 2048)
    }

    @Test func unpinRangeOnOrderNineIsTwoAtomicsPerFolio() throws {
        let model = try makeModel(pages: 2048, order: 9)
        let list = PageList(model, indices: Array(0..<2048))
        _ = grab(.unpinRange, list)
        let t = release(.unpinRange, .swift, list, batch: 2048, dirty: .none)
        #expect(t.atomics == 8)
        #expect(t.pins_released == 2048)
    }

    /// The seed's dirty loop on a large folio: every subpage reads the head's PG_dirty, only
    /// the first one writes it (Morton's question (a)).
    @Test func seedDirtyLoopOnOrderNineReadsHeadForEverySubpageAndWritesItOnce() throws {
        let model = try makeModel(pages: 512, order: 9)
        let list = PageList(model, indices: Array(0..<512))
        _ = grab(.unpinEach, list)
        let t = release(.unpinEach, .c, list, batch: 512, dirty: .dirtyLock)
        #expect(t.flag_tests == 512)
        #expect(t.atomics == 512 * 2 + 3)
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
