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

@Suite("--layout pfn: the page array in the kernel's descriptor (vmemmap) order")
struct PfnOrderTests {
    /// inverse[d] = the page whose entry points at descriptor d; nil if some descriptor is hit twice or never.
    func inverse(_ order: [Int]) -> [Int]? {
        var inv = [Int](repeating: -1, count: order.count)
        for (i, d) in order.enumerated() {
            guard d >= 0, d < order.count, inv[d] == -1 else { return nil }
            inv[d] = i
        }
        return inv
    }

    @Test func fourKPagesGetTheRankOfTheirFrame() {
        let order = PfnOrder.descriptorOrder(folioStarts: [0, 1, 2, 3, 4], pageCount: 5, pfns: [30, 10, 20, 50, 40])
        #expect(order == [2, 0, 1, 4, 3])
    }

    @Test func largeFoliosAreRankedWholeAndKeepTheirPagesInOrder() {
        // Three 4-page folios at frames 500, 100, 300, then one 4k page at frame 200.
        let pfns: [UInt64] = [500, 501, 502, 503, 100, 101, 102, 103, 300, 301, 302, 303, 200]
        let order = PfnOrder.descriptorOrder(folioStarts: [0, 4, 8, 12], pageCount: 13, pfns: pfns)
        #expect(order == [8, 9, 10, 11, 0, 1, 2, 3, 4, 5, 6, 7, 12])
    }

    @Test("a 4k region: a permutation of its descriptors, ranked by the pages' frames",
          .enabled(if: pfnsVisible, "/proc/self/pagemap hides PFNs (needs CAP_SYS_ADMIN)"))
    func fourKRegion() throws {
        let region = try MemoryRegion(size: 8 << 20, backing: .fourK, policy: .bind, node: Topology.read().localNode)
        let model = try PageModel(region: region)
        let pfns = try PfnOrder.read(region)
        let order = try PfnOrder.descriptorOrder(model)
        let inv = try #require(inverse(order))
        #expect(Set(pfns).count == region.pageCount)   // distinct frames
        // Descriptor d belongs to the page with the d-th lowest frame.
        #expect(zip(inv, inv.dropFirst()).allSatisfy { pfns[$0] < pfns[$1] })
        // The array PageShares builds points at exactly those descriptors, in virtual order.
        let shares = PageShares(model: model, threads: 1, sharing: .disjoint, layout: .pfn, descriptorOrder: order)
        #expect(shares.arrays[0].count == region.pageCount)
        #expect((0..<region.pageCount).allSatisfy { shares.arrays[0][$0] == model.page(order[$0]) })
    }

    @Test("a THP region: a permutation that keeps each folio's pages in order on a folio of its size",
          .enabled(if: pfnsVisible, "/proc/self/pagemap hides PFNs (needs CAP_SYS_ADMIN)"))
    func thpRegion() throws {
        let region = try MemoryRegion(size: 16 << 20, backing: .thp, policy: .bind, node: Topology.read().localNode)
        let model = try PageModel(region: region)
        let order = try PfnOrder.descriptorOrder(model)
        #expect(inverse(order) != nil)
        let starts = model.folioStarts()
        var sizeAt: [Int: Int] = [:]
        for (k, s) in starts.enumerated() { sizeAt[s] = (k + 1 < starts.count ? starts[k + 1] : model.pageCount) - s }
        for (s, size) in sizeAt {
            #expect(sizeAt[order[s]] == size)                                  // lands on a folio of its size
            #expect((0..<size).allSatisfy { order[s + $0] == order[s] + $0 })  // sequential within it
        }
        if model.thpBackedFraction == 1 {
            #expect(sizeAt.values.allSatisfy { $0 == 512 })
        }
    }
}
