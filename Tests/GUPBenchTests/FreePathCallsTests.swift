import CShims
import Foundation
import Testing
@testable import GUPBench

/// The free path's out-of-line calls: read from a kallsyms listing, counted per site for the
/// process's memcg, and made by the model exactly where it frees (gb_free.h gb_free_calls).
struct FreePathCallsTests {
    static let allSymbols = Set(FreePathCalls.table.map(\.symbol))
    static let v1 = MemoryCgroup(version: .v1, path: "/a/b")  // 3 levels, memory + memsw

    static func count(_ c: FreePathCalls, _ site: gb_free_call_site) -> Int { c.counts[Int(site.rawValue)] }

    @Test func kallsymsGivesTheKernelsTextSymbolsOnly() {
        let listing = """
            ffffffff81000000 T __folio_put
            ffffffff81000100 t uncharge_folio
            ffffffff82000000 D uncharge_data
            ffffffff82000100 r __ksymtab_free_one_page
            ffffffffc0000000 t free_tail_page_prepare\t[some_module]
            """
        #expect(FreePathCalls.textSymbols(kallsyms: listing) == ["__folio_put", "uncharge_folio"])
    }

    /// v1, 3 levels: 38 calls per freed 4 KiB folio (mm/swap.c __folio_put() through
    /// mm/page_alloc.c free_frozen_page_commit(), the table's comments), one per tail page.
    @Test func aChargedV1MemcgMakes38CallsPerFolio() {
        let c = FreePathCalls.from(symbols: Self.allSymbols, memcg: Self.v1, multiGenLRU: false, source: "test")
        #expect(Self.count(c, GB_FC_LRU_LOCK) == 2)
        #expect(Self.count(c, GB_FC_LRU_DEL) == 6)
        #expect(Self.count(c, GB_FC_UNCHARGE_GATHER) == 2)
        #expect(Self.count(c, GB_FC_UNCHARGE_FOLIO) == 3)
        // uncharge_batch, memcg_uncharge, 2 page_counter_uncharge, 3 levels x 2 page_counter_cancel,
        // memcg1_oom_recover, memcg1_uncharge_batch, count_memcg_events, memcg1_check_events, css_put's 2
        #expect(Self.count(c, GB_FC_UNCHARGE_BATCH) == 16)
        #expect(Self.count(c, GB_FC_TAIL) == 1)
        #expect(Self.count(c, GB_FC_SPILL) == 3)
        #expect(c.perFolioPut(pages: 1) == 38)
        #expect(c.perFolioPut(pages: 512) == 38 + 511)
        #expect(c.summary == "38 out-of-line calls per freed 4 KiB folio, +511 per 2 MiB folio (test)")
    }

    @Test func theRootMemcgChargesNoCounterAndTakesNoCssReference() {
        let root = MemoryCgroup(version: .v1, path: "/")
        let c = FreePathCalls.from(symbols: Self.allSymbols, memcg: root, multiGenLRU: false, source: "test")
        #expect(Self.count(c, GB_FC_UNCHARGE_GATHER) == 0)
        #expect(Self.count(c, GB_FC_UNCHARGE_FOLIO) == 1)
        #expect(Self.count(c, GB_FC_UNCHARGE_BATCH) == 4)
        #expect(c.perFolioPut(pages: 1) == 22)
    }

    @Test func withoutAMemcgOrWithTheMultiGenLRUTheMemcgCallsGo() {
        let off = FreePathCalls.from(symbols: Self.allSymbols, memcg: nil, multiGenLRU: false, source: "test")
        #expect(Self.count(off, GB_FC_LRU_DEL) == 3)
        #expect(Self.count(off, GB_FC_UNCHARGE_ONE) == 0)
        #expect(off.perFolioPut(pages: 1) == 13)
        let mglru = FreePathCalls.from(symbols: Self.allSymbols, memcg: Self.v1, multiGenLRU: true, source: "test")
        #expect(Self.count(mglru, GB_FC_LRU_DEL) == 5)
        #expect(FreePathCalls.multiGenLRU(enabled: "0x0007\n"))
        #expect(!FreePathCalls.multiGenLRU(enabled: "0x0000\n"))
        #expect(!FreePathCalls.multiGenLRU(enabled: nil))
    }

    @Test func aFunctionTheKernelInlinedIsNoCall() {
        let c = FreePathCalls.from(symbols: Self.allSymbols.subtracting(["free_tail_page_prepare", "uncharge_folio"]),
                                   memcg: Self.v1, multiGenLRU: false, source: "test")
        #expect(Self.count(c, GB_FC_TAIL) == 0)
        #expect(c.perFolioPut(pages: 512) == 37)
        #expect(FreePathCalls.none("none").summary == "none")
    }

    /// The model makes them: a last-reference release with the calls set makes exactly
    /// perFolioPut() more calls per folio than the same release without (no spill: pcp high is
    /// above the region).
    @Test(arguments: [Impl.swift, .c])
    func theFreePathMakesEachFoliosCalls(impl: Impl) throws {
        let calls = FreePathCalls.from(symbols: Self.allSymbols, memcg: Self.v1, multiGenLRU: false, source: "test")
        for (order, folios) in [(0, 2048), (9, 4)] {
            let without = try LastRefTests.lastRef(.unpinBatched, impl, order: order, memcg: Self.v1)
            let with = try LastRefTests.lastRef(.unpinBatched, impl, order: order, memcg: Self.v1, calls: calls)
            #expect(with.tally.kernel_calls - without.tally.kernel_calls
                    == UInt64(folios * calls.perFolioPut(pages: 1 << order)), "order \(order)")
            #expect(with.counts.spills == 0)
            #expect(with.detail == nil, "order \(order): \(with.detail ?? "")")
        }
    }

    /// release_pages() -> folios_put_refs(): the batch's calls once per 31 folios, the folio's
    /// own (LRU statistics, uncharge_folio(), free_pages_prepare(), the commit) once per folio.
    @Test(arguments: [Impl.swift, .c])
    func theBatchPathMakesItsCallsOncePerBatch(impl: Impl) throws {
        let calls = FreePathCalls.from(symbols: Self.allSymbols, memcg: Self.v1, multiGenLRU: false, source: "test")
        let without = try LastRefTests.lastRef(.releasePages, impl, order: 0, memcg: Self.v1)
        let with = try LastRefTests.lastRef(.releasePages, impl, order: 0, memcg: Self.v1, calls: calls)
        let perBatch: [gb_free_call_site] = [GB_FC_RELEASE_BATCH, GB_FC_LRU_LOCK, GB_FC_LRU_UNLOCK, GB_FC_UNCHARGE_FOLIOS,
                                             GB_FC_UNCHARGE_GATHER, GB_FC_UNCHARGE_BATCH, GB_FC_FREE_BATCH,
                                             GB_FC_PCP_LOCK, GB_FC_PCP_UNLOCK]
        let perFolio: [gb_free_call_site] = [GB_FC_LRU_DEL, GB_FC_UNCHARGE_FOLIO, GB_FC_PREPARE, GB_FC_COMMIT]
        let batches = 67, folios = 2048  // ceil(2048 / 31)
        let expected = batches * perBatch.reduce(0) { $0 + Self.count(calls, $1) }
            + folios * perFolio.reduce(0) { $0 + Self.count(calls, $1) }
        #expect(with.tally.kernel_calls - without.tally.kernel_calls == UInt64(expected))
        #expect(with.detail == nil, "\(with.detail ?? "")")
    }
}
