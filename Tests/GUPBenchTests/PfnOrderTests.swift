import CShims
import Foundation
import Testing
@testable import GUPBench

/// /proc/self/pagemap shows PFNs only with CAP_SYS_ADMIN.
let pfnsVisible: Bool = {
    let probe = UnsafeMutablePointer<UInt8>.allocate(capacity: 8192)
    defer { probe.deallocate() }
    probe.initialize(repeating: 1, count: 8192)
    return gb_pfn_adjacent_pairs(UnsafeRawPointer(probe), 1) >= 0
}()

@Suite("--layout pfn: the region's folios on a memmap spaced as their page frames (the vmemmap)")
struct PfnOrderTests {
    @Test func fourKPagesSitAtTheirFrameMinusTheLowest() throws {
        let layout = try PfnOrder.frameLayout(folioStarts: [0, 1, 2, 3, 4], folioOrders: [0, 0, 0, 0, 0],
                                              pfns: [30, 10, 20, 50, 40])
        #expect(layout.entries == [20, 0, 10, 40, 30])
        #expect(layout.folioStarts == [20, 0, 10, 40, 30])
        #expect(layout.span == 41)   // frames 10...50: the gaps stay
    }

    @Test func largeFoliosKeepTheirPagesTogetherAtTheirFrames() throws {
        // Three 4-page folios at frames 500, 100, 300, then one 4k page at frame 200.
        let pfns: [UInt64] = [500, 501, 502, 503, 100, 101, 102, 103, 300, 301, 302, 303, 200]
        let layout = try PfnOrder.frameLayout(folioStarts: [0, 4, 8, 12], folioOrders: [2, 2, 2, 0], pfns: pfns)
        #expect(layout.folioStarts == [400, 0, 200, 100])
        #expect(layout.entries == [400, 401, 402, 403, 0, 1, 2, 3, 200, 201, 202, 203, 100])
        #expect(layout.span == 404)
    }

    @Test func aFolioOnScatteredFramesIsAUsageError() {
        #expect(throws: GUPBenchError.usage(
            "--layout pfn places each descriptor at its page's frame, but the order-1 folio at page 2 "
            + "is not on consecutive frames (a --folio-order the kernel did not give); use --layout "
            + "sequential or shuffled")) {
            try PfnOrder.frameLayout(folioStarts: [0, 2], folioOrders: [1, 1], pfns: [10, 11, 40, 20])
        }
    }

    @Test("a 4k region: every page's descriptor at its frame's offset, the rest single pages at baseline",
          .enabled(if: pfnsVisible, "/proc/self/pagemap hides PFNs (needs CAP_SYS_ADMIN)"))
    func fourKRegion() throws {
        let region = try MemoryRegion(size: 8 << 20, backing: .fourK, policy: .bind, node: Topology.read().localNode)
        let model = try PageModel(region: region)
        let pfns = try PfnOrder.read(region)
        let frames = try PfnOrder.frameModel(of: model)
        let entries = try #require(frames.pageArray)
        let lowest = try #require(pfns.min()), highest = try #require(pfns.max())
        #expect(frames.pageCount == Int(highest - lowest) + 1)
        #expect(entries == pfns.map { Int($0 - lowest) })
        #expect(Set(entries).count == region.pageCount)   // distinct frames
        #expect(frames.folioOrder == 0)
        let audit = frames.audit()
        #expect(audit.unbalanced_pages == 0 && audit.first_bad_index == -1)
        // The array PageShares builds points at exactly those descriptors, in virtual order.
        let shares = PageShares(model: frames, threads: 1, sharing: .disjoint, layout: .pfn)
        #expect(shares.arrays[0].count == region.pageCount)
        #expect((0..<region.pageCount).allSatisfy { shares.arrays[0][$0] == frames.page(entries[$0]) })
    }

    @Test("a THP region: each 2 MiB folio whole at its frames",
          .enabled(if: pfnsVisible, "/proc/self/pagemap hides PFNs (needs CAP_SYS_ADMIN)"))
    func thpRegion() throws {
        let region = try MemoryRegion(size: 16 << 20, backing: .thp, policy: .bind, node: Topology.read().localNode)
        let model = try PageModel(region: region)
        let frames = try PfnOrder.frameModel(of: model)
        let entries = try #require(frames.pageArray)
        for start in model.folioStarts() {
            let order = gb_folio_order(model.page(start))
            let head = frames.page(entries[start])
            #expect(gb_folio_order(head) == order)
            #expect((0..<(1 << Int(order))).allSatisfy {
                gb_compound_head(frames.page(entries[start + $0])) == head && entries[start + $0] == entries[start] + $0
            })
        }
        if model.thpBackedFraction == 1 { #expect(frames.folioOrder == 9) }
    }
}
