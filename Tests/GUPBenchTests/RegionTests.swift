import CShims
import Testing
@testable import GUPBench

@Suite struct RegionTests {
    @Test func regionOnLocalNodeIsVerifiedThere() throws {
        let topology = Topology.read()
        let node = topology.localNode
        let region = try MemoryRegion(size: 16 << 20, backing: .fourK, policy: .bind, node: node)
        let placement = region.verifyPlacement(maxNode: topology.maxNode)
        #expect(placement.dataSampled == 4096)
        #expect(placement.dataNodePages[node] == 4096)
        #expect(placement.verifiedFraction == 1.0)
        #expect(placement.memmapSampled == 64)  // 4096 descriptors × 64 bytes = 64 pages
        #expect(placement.memmapVerifiedFraction == 1.0)
    }

    @Test func fourKRegionHasNoHugeChunks() throws {
        let region = try MemoryRegion(size: 8 << 20, backing: .fourK, policy: .bind, node: Topology.read().localNode)
        let model = try PageModel(region: region)
        #expect(model.thpBackedFraction == 0)
        #expect(model.folioOrder == 0)
    }

    @Test func thpRegionReportsItsBackingAndLaysOutOrderNineFolios() throws {
        let region = try MemoryRegion(size: 32 << 20, backing: .thp, policy: .bind, node: Topology.read().localNode)
        let model = try PageModel(region: region)
        let chunks = region.hugeChunks()
        #expect(chunks.count == 16)
        #expect(model.thpBackedFraction == Double(chunks.filter { $0 }.count) / 16)
        // Each chunk's folio order follows its verified backing (a chunk that is not one THP
        // holds what kpageflags shows there: mTHP folios when a test enabled a size meanwhile).
        let orders = region.folioOrders()
        for (i, huge) in chunks.enumerated() {
            #expect(gb_folio_order(model.page(i * 512)) == (huge ? 9 : UInt32(orders?[i * 512] ?? 0)))
        }
    }

    @Test func memNodeBeyondTheLastNodeIsAnEnvironmentError() throws {
        let topology = Topology.read()
        var config = BenchConfig()
        config.memNodes = [topology.maxNode + 1]
        #expect(throws: GUPBenchError.self) { try config.validate(on: topology) }
        do {
            try config.validate(on: topology)
        } catch let error as GUPBenchError {
            #expect(error.exitCode == 1)
            #expect(error.description.hasPrefix("--mem-node \(topology.maxNode + 1): no such NUMA node with memory"))
        }
    }

    @Test func hugetlbWithoutReservedPagesSaysHowToReserve() throws {
        let topology = Topology.read()
        guard topology.hugePagesFree < 2 else { return }  // pages reserved: nothing to refuse
        do {
            _ = try MemoryRegion(size: 4 << 20, backing: .hugetlb, policy: .bind, node: topology.localNode)
            Issue.record("hugetlb mapped without free huge pages")
        } catch let error as GUPBenchError {
            #expect(error.exitCode == 1)
            #expect(error.description.contains("echo 2 > /proc/sys/vm/nr_hugepages"))
        }
    }
}
