import CShims
import Testing
@testable import GUPBench

/// The memory cgroup's uncharge on free: which cgroup the process is in (parsed from constructed
/// /proc texts), and the page counters each strategy's frees subtract from, in exact counts.
@Suite struct MemcgTests {
    static let cgroupsV1 = """
        #subsys_name\thierarchy\tnum_cgroups\tenabled
        cpu\t1\t30\t1
        memory\t4\t31\t1
        """
    static let selfV1 = """
        4:memory:/process_api/07b53da9
        3:cpuset:/
        0::/
        """

    @Test func v1NamesItsHierarchyAndCountsRootAndMemsw() throws {
        let m = try #require(MemoryCgroup.parse(cgroups: Self.cgroupsV1, selfCgroup: Self.selfV1,
                                                v2Controllers: "cpuset cpu io"))
        #expect(m == MemoryCgroup(version: .v1, path: "/process_api/07b53da9"))
        #expect(m.levels == 3)  // the memcg, /process_api and root
        #expect(m.memsw)
        #expect(m.atomicsPerBatch == 6)
    }

    @Test func v2UsesTheUnifiedLineWhenMemoryIsOnIt() throws {
        let m = try #require(MemoryCgroup.parse(cgroups: "memory\t0\t80\t1", selfCgroup: "0::/system.slice/x.service\n",
                                                v2Controllers: "cpuset cpu io memory hugetlb pids\n"))
        #expect(m == MemoryCgroup(version: .v2, path: "/system.slice/x.service"))
        #expect(m.levels == 3)
        #expect(!m.memsw)
        #expect(m.atomicsPerBatch == 3)
    }

    @Test func rootChargesNoCounterAndOffOrAbsentIsNil() {
        let root = MemoryCgroup.parse(cgroups: "", selfCgroup: "0::/\n", v2Controllers: "memory")
        #expect(root?.levels == 0)
        #expect(root?.atomicsPerBatch == 0)
        // cgroup_disable=memory: /proc/cgroups says the controller is off.
        #expect(MemoryCgroup.parse(cgroups: "memory\t0\t1\t0", selfCgroup: "0::/a\n", v2Controllers: "memory") == nil)
        // v2 without the memory controller, and no cgroup information at all.
        #expect(MemoryCgroup.parse(cgroups: "", selfCgroup: "0::/a\n", v2Controllers: "cpu io") == nil)
        #expect(MemoryCgroup.parse(cgroups: "", selfCgroup: "", v2Controllers: nil) == nil)
    }

    static let v1 = MemoryCgroup(version: .v1, path: "/a/b")  // 3 levels, memsw: 6 RMWs a batch

    /// Per-folio frees (__folio_put()): one uncharge_batch() per folio, 6 locked subtractions
    /// each, on top of the release's own atomics; every counter back to 0.
    @Test(arguments: [Impl.swift, .c])
    func perFolioFreesUnchargeEachFolio(impl: Impl) throws {
        for strategy in LastRefTests.perFolio {
            for (order, folios) in [(0, 2048), (9, 4)] {
                let label = "\(strategy.rawValue) \(impl.rawValue) order \(order)"
                let plain = try LastRefTests.lastRef(strategy, impl, order: order)
                let r = try LastRefTests.lastRef(strategy, impl, order: order, memcg: Self.v1)
                #expect(r.counts.memcg_batches == UInt64(folios), "\(label)")
                #expect(r.counts.memcg_folios == UInt64(folios), "\(label)")
                #expect(r.tally.atomics == plain.tally.atomics + UInt64(6 * folios), "\(label)")
                #expect(r.free.memcgUsage == Array(repeating: 0, count: 6), "\(label)")
                #expect(plain.counts.memcg_batches == 0 && plain.free.memcgUsage.isEmpty, "\(label)")
                #expect(r.detail == nil, "\(label): \(r.detail ?? "")")
            }
        }
    }

    /// release_pages() -> folios_put_refs(): one uncharge per batch of 31 freed folios.
    @Test(arguments: [Impl.swift, .c])
    func releasePagesUnchargesOncePerBatch(impl: Impl) throws {
        let plain = try LastRefTests.lastRef(.releasePages, impl, order: 0)
        let r = try LastRefTests.lastRef(.releasePages, impl, order: 0, memcg: Self.v1)
        #expect(r.counts.memcg_batches == 67)  // ceil(2048 / 31)
        #expect(r.counts.memcg_folios == 2048)
        #expect(r.tally.atomics == plain.tally.atomics + 67 * 6)
        #expect(r.free.memcgUsage == Array(repeating: 0, count: 6))
        #expect(r.detail == nil, "\(r.detail ?? "")")
    }

    /// In the root memcg the batches run (page events, css) but no counter is touched; a folio
    /// left held is neither freed nor uncharged, so its pages stay on every counter.
    @Test func rootTouchesNoCounterAndAHeldFolioStaysCharged() throws {
        let root = MemoryCgroup(version: .v2, path: "/")
        let plain = try LastRefTests.lastRef(.unpinEach, order: 0, pages: 64)
        let r = try LastRefTests.lastRef(.unpinEach, order: 0, pages: 64, memcg: root)
        #expect(r.counts.memcg_batches == 64)
        #expect(r.tally.atomics == plain.tally.atomics)
        let held = try LastRefTests.lastRef(.unpinEach, order: 0, pages: 64, forget: [7],
                                            memcg: MemoryCgroup(version: .v2, path: "/a"))
        #expect(held.counts.memcg_folios == 63)
        #expect(held.free.memcgUsage == [1, 1])  // /a and root, one page each
    }
}

extension MemcgTests {
    /// A hierarchy deeper than the model keeps is capped, not refused.
    @Test func aVeryDeepHierarchyIsCappedAtTheModelsLevels() throws {
        let deep = MemoryCgroup(version: .v2, path: "/" + (1...40).map { "c\($0)" }.joined(separator: "/"))
        #expect(deep.levels == 41)
        let r = try LastRefTests.lastRef(.unpinEach, order: 0, pages: 64, memcg: deep)
        #expect(r.free.memcgUsage.count == Int(GB_MEMCG_MAX_LEVELS))
        #expect(r.counts.memcg_batches == 64)
        #expect(r.tally.atomics == UInt64(64 + 64 * Int(GB_MEMCG_MAX_LEVELS)))
    }
}
