import CShims
import Foundation
import Testing
@testable import GUPBench

/// --last-ref: the release drops each folio's last reference and frees it (docs/last-reference.md).
/// Exact lock counts per strategy and folio order, exact free-list contents, and the audit
/// catching a constructed double free and leak by name.
@Suite(.serialized) struct LastRefTests {
    /// A memmap, its free model and the page array released, after one last-reference release.
    struct Run {
        let model: PageModel
        let free: FreeModel
        let tally: gb_tally
        var counts: gb_lock_counts { free.counts }
        var audit: gb_free_audit { free.audit() }
        var detail: String? { FreeModel.describe(free.audit(), counts: free.counts) }
    }

    /// Rebuilds the LRU, grabs every page with the strategy's reference kind, drops the mapping's
    /// reference (munmap while held), then releases every page except `forget` on one thread.
    static func lastRef(_ strategy: Strategy, _ impl: Impl = .swift, order: Int, pages: Int = 2048,
                        high: Int = 1 << 30, pcpBatch: Int = 63, lruvecs: Int = 1, lruvecRun: Int = 1,
                        callBatch: Int? = nil, forget: Set<Int> = [], memcg: MemoryCgroup? = nil,
                        calls: FreePathCalls = .none("none")) throws -> Run {
        let model = try makeModel(pages: pages, order: order)
        let free = FreeModel(model: model, threads: 1, lruvecs: lruvecs, lruvecRun: lruvecRun,
                             high: high, batch: pcpBatch, memcg: memcg, calls: calls)
        free.rebuild()
        let all = PageList(model, indices: Array(0..<pages))
        _ = grab(strategy, all)
        var unmap = gb_tally()
        gb_drop_mapping_refs(all.base, all.count, &unmap)
        let released = PageList(model, indices: (0..<pages).filter { !forget.contains($0) })
        var t = gb_tally()
        released.input.release(LoopKey(strategy, impl), batch: callBatch ?? released.count,
                               dirty: DirtyMode.none.cValue, ledger: nil, free: free.context(0), tally: &t)
        return Run(model: model, free: free, tally: t)
    }

    static let perFolio: [Strategy] = [.putPage, .unpinEach, .unpinBatched, .unpinRange]

    @Test(arguments: [Impl.swift, .c])
    func perPageStrategiesTakeOneLruvecLockPerFolio(impl: Impl) throws {
        for strategy in Self.perFolio {
            for (order, folios) in [(0, 2048), (9, 4)] {
                let r = try Self.lastRef(strategy, impl, order: order)
                let label = "\(strategy.rawValue) \(impl.rawValue) order \(order)"
                #expect(r.counts.lruvec == UInt64(folios), "\(label)")
                #expect(r.counts.pcp == UInt64(folios), "\(label)")  // orders 0 and 9 go to the pcp
                #expect(r.counts.zone == 0, "\(label)")
                #expect(r.counts.folios_freed == UInt64(folios), "\(label)")
                #expect(r.counts.pages_freed == 2048, "\(label)")
                #expect(r.detail == nil, "\(label): \(r.detail ?? "")")
            }
        }
    }

    /// free_pages_prepare() walks every tail of a large folio (511 per THP, none for order 0), and
    /// the folio keeps its shape: a second rebuild and release free it the same way.
    @Test(arguments: [Impl.swift, .c])
    func freeingALargeFolioWalksItsTails(impl: Impl) throws {
        for (order, tails) in [(0, 0), (4, 128 * 15), (9, 4 * 511)] {
            let r = try Self.lastRef(.unpinBatched, impl, order: order)
            #expect(r.counts.tails_prepared == UInt64(tails), "order \(order)")
            #expect(r.detail == nil, "order \(order): \(r.detail ?? "")")
            let head = r.model.page(512)
            #expect(order == 0 || gb_compound_head(head + 1) == gb_compound_head(head), "order \(order)")
            #expect(gb_folio_nr_pages(gb_compound_head(head)) == 1 << order, "order \(order)")
        }
    }

    @Test(arguments: [Impl.swift, .c])
    func releasePagesTakesOneLruvecLockPerBatchOf31(impl: Impl) throws {
        // 2048 order-0 folios: ceil(2048 / 31) = 67 batches, one lruvec and one pcp lock each.
        let small = try Self.lastRef(.releasePages, impl, order: 0)
        #expect(small.counts.lruvec == 67)
        #expect(small.counts.pcp == 67)
        #expect(small.counts.zone == 0)
        #expect(small.counts.folios_freed == 2048)
        #expect(small.tally.atomics == 2048)  // one folio_ref_sub_and_test() per entry
        #expect(small.detail == nil, "\(small.detail ?? "")")
        // Calls of 10 pages: each call is its own release_pages(), one batch: 205 calls.
        let calls = try Self.lastRef(.releasePages, impl, order: 0, callBatch: 10)
        #expect(calls.counts.lruvec == 205)
        #expect(calls.counts.pcp == 205)
        // THP: 512 entries of one folio; only the batch holding the last reference frees it.
        let thp = try Self.lastRef(.releasePages, impl, order: 9)
        #expect(thp.counts.lruvec == 4)
        #expect(thp.counts.pcp == 4)
        #expect(thp.tally.atomics == 2048)
        // Order 4 is above PAGE_ALLOC_COSTLY_ORDER: no pcp, the zone lock for each folio.
        let order4 = try Self.lastRef(.releasePages, impl, order: 4)
        #expect(order4.counts.pcp == 0)
        #expect(order4.counts.zone == 128)
        #expect(order4.counts.lruvec == 67)  // 31 entries ≈ 2 folios: one lock per batch that frees
        #expect(order4.detail == nil, "\(order4.detail ?? "")")
    }

    @Test func relockDropsTheLockOnlyWhenTheLruvecChanges() throws {
        // Two lruvecs alternating folio by folio: every folio needs the other lock.
        let alternating = try Self.lastRef(.releasePages, order: 0, lruvecs: 2, lruvecRun: 1)
        #expect(alternating.counts.lruvec == 2048)
        #expect(alternating.counts.pcp == 67)
        // Runs of 31 folios per lruvec, aligned with the batches: one lock per batch again.
        let aligned = try Self.lastRef(.releasePages, order: 0, lruvecs: 2, lruvecRun: 31)
        #expect(aligned.counts.lruvec == 67)
        #expect(alternating.detail == nil && aligned.detail == nil)
    }

    @Test(arguments: [Strategy.putPage, .releasePages])
    func pcpSpillsToTheZoneAtItsHighMark(strategy: Strategy) throws {
        // high 8, batch 2: the 8th free spills clamp(free_count, 2, 8 - 2) = 6 of the oldest
        // pages; then every 6 frees another 6. 20 frees: spills at 8, 14, 20.
        let r = try Self.lastRef(strategy, order: 0, pages: 20, high: 8, pcpBatch: 2)
        #expect(r.counts.zone == 3)
        #expect(r.counts.spills == 3)
        #expect(r.free.freeList(thread: 0) == [19, 18])
        #expect(r.free.freeList(thread: nil) == Array((0...17).reversed()))
        #expect(r.detail == nil, "\(r.detail ?? "")")
        let a = r.audit
        #expect(a.on_pcp == 2 && a.on_zone == 18 && a.freed_folios == 20 && a.on_lru == 0)
    }

    @Test func freeListsHoldExactlyTheFreedFolios() throws {
        let r = try Self.lastRef(.unpinBatched, order: 0, pages: 64)
        // list_add() at the head: the last freed first.
        #expect(r.free.freeList(thread: 0) == Array((0..<64).reversed()))
        #expect(r.free.freeList(thread: nil) == [])
        let thp = try Self.lastRef(.unpinRange, order: 9, pages: 2048)
        #expect(thp.free.freeList(thread: 0) == [1536, 1024, 512, 0])
        #expect(thp.audit.on_lru == 0 && thp.audit.freed_folios == 4 && thp.audit.leaked == 0)
    }

    @Test func auditNamesADoubleFree() throws {
        let r = try Self.lastRef(.putPage, order: 0, pages: 64)
        #expect(r.detail == nil)
        var t = gb_tally()
        gb__folio_put(r.model.page(10), r.free.context(0), &t)  // the same folio freed again
        let a = r.audit
        #expect(a.double_freed == 1)
        #expect(a.first_double_index == 10)
        #expect(r.detail?.hasPrefix("double free: folio at index 10 is on the free lists twice") == true, "\(r.detail ?? "")")
    }

    @Test func auditNamesALeak() throws {
        // A release forgotten: folio 5 keeps its reference and stays on the LRU.
        let forgot = try Self.lastRef(.unpinEach, order: 0, pages: 64, forget: [5])
        #expect(forgot.audit.leaked == 1)
        #expect(forgot.audit.first_leak_index == 5)
        #expect(forgot.detail == "leak: 1 folios never reached a free list, first at index 5 (_refcount 1024, still on the LRU)")
        // A folio lost from its free list after being freed.
        let lost = try Self.lastRef(.releasePages, order: 0, pages: 64)
        let pcp = lost.free.context(0).pointee.pcp
        gb_list_del(gb_lru_node(lost.model.page(7)))
        pcp.pointee.nr_folios -= 1
        #expect(lost.audit.first_leak_index == 7)
        #expect(lost.detail?.hasPrefix("leak: 1 folios never reached a free list, first at index 7 (_refcount 0)") == true,
                "\(lost.detail ?? "")")
    }

    @Test(arguments: [0, 9])
    func runnerFreesEveryFolioOnceWithUnpins(order: Int) throws {
        let model = try makeModel(pages: 4096, order: order)
        let cpus = RunnerTests.cpus
        for sharing in [Sharing.disjoint, .interleaved] {
            let shares = PageShares(model: model, threads: cpus.count, sharing: sharing, layout: .sequential)
            let runner = try ReleaseRunner(model: model, shares: shares, cpus: cpus)
            var keys = [LoopKey(.unpinEach, .swift), LoopKey(.unpinBatched, .c), LoopKey(.releasePages, .swift)]
            if shares.contiguous { keys.append(LoopKey(.unpinRange, .swift)) }
            let results = runner.measure(keys, dirty: .none, batch: nil, repetitions: 5, warmup: 1, lastRef: true)
            let folios = UInt64(4096 >> order)
            for m in results {
                let label = "\(m.key) \(sharing.rawValue)"
                #expect(m.auditFailure == nil, "\(label): \(m.auditFailure ?? "")")
                #expect(m.lastRef)
                #expect(m.lockCounts.folios_freed == folios, "\(label)")
                #expect(m.lockCounts.pages_freed == 4096, "\(label)")
                #expect(m.lockCounts.bad_frees == 0, "\(label)")
                #expect(m.pinsReleased == m.pinsAcquired, "\(label)")
            }
            // After the run the memmap is back at the reference-drop baseline.
            #expect(model.audit().unbalanced_pages == 0)
        }
    }

    @Test func zoneinfoGivesThePcpLimitsOfTheLargestZone() {
        let text = """
            Node 0, zone   DMA32
              pagesets
                cpu: 0
                          count: 10
                          high:  5972
                          batch: 63
            Node 0, zone   Normal
                    high     1234
              pagesets
                cpu: 0
                          count: 20
                          high:  31087
                          batch: 63
                cpu: 1
                          high:  36351
                          batch: 63
            Node 1, zone   Normal
              pagesets
                          high:  99999
                          batch: 7
            """
        #expect(PcpSettings.read(node: 0, text: text) == PcpSettings(high: 31087, batch: 63))
        #expect(PcpSettings.read(node: 1, text: text) == PcpSettings(high: 99999, batch: 7))
        #expect(PcpSettings.read(node: 2, text: text) == PcpSettings(high: 378, batch: 63))
    }

    @Test func compareReportsLocksPerPageAndLastRefInJSON() throws {
        let r = try CLITests.run(["compare", "--last-ref", "--strategies", "put-page,release-pages", "--impl", "swift", "--backing", "4k",
                                  "--threads", "1", "--size", "8MiB", "--format", "json"] + CLITests.small)
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let results = try #require(json["results"] as? [[String: Any]])
        #expect(results.count == 2)
        for result in results {
            let strategy = result["strategy"] as? String
            #expect(result["last_ref"] as? Bool == true)
            let locks = try #require(result["locks_per_page"] as? [String: Double])
            let audit = try #require(result["audit"] as? [String: Any])
            #expect(audit["balanced"] as? Bool == true)
            // 2048 order-0 folios: put-page one lruvec lock each, release-pages one per 31.
            // (JSON carries six significant digits)
            let expected = strategy == "put-page" ? 1 : 67.0 / 2048
            #expect(abs(locks["lruvec", default: -1] - expected) < 1e-6, "\(strategy ?? ""): \(locks)")
            #expect(locks["pcp"] == locks["lruvec"])
        }
        let comparisons = try #require(json["comparisons"] as? [[String: Any]])
        #expect(comparisons.contains { $0["baseline"] as? String == "put-page" && $0["candidate"] as? String == "release-pages"
            && $0["last_ref"] as? Bool == true })
    }

    @Test func baselineSavedBeforeLastRefPairsWithReferenceDropRuns() {
        var saved: [String: Any] = ["strategy": "put-page", "impl": "swift", "detect": "off", "backing": "4k",
                                    "threads": 1, "size_bytes": 1 << 30]
        let older = Gate.identity(saved)
        saved["last_ref"] = false
        #expect(older == Gate.identity(saved))
        saved["last_ref"] = true
        #expect(older != Gate.identity(saved))
    }

    @Test func swiftAndCLoopsFreeTheSameFoliosInTheSameOrder() throws {
        for strategy in Strategy.allCases where strategy.lastRefSwiftLoop != nil {
            for order in [0, 2, 9] {
                // A small pcp (high 40, batch 8) so both lists and the spills are compared.
                let runs = try [Impl.swift, .c].map {
                    try Self.lastRef(strategy, $0, order: order, pages: 2048, high: 40, pcpBatch: 8, callBatch: 100)
                }
                let label = "\(strategy.rawValue) order \(order)"
                #expect(runs[0].free.freeList(thread: 0) == runs[1].free.freeList(thread: 0), "\(label)")
                #expect(runs[0].free.freeList(thread: nil) == runs[1].free.freeList(thread: nil), "\(label)")
                #expect(runs[0].counts.lruvec == runs[1].counts.lruvec, "\(label)")
                #expect(runs[0].counts.zone == runs[1].counts.zone, "\(label)")
                #expect(runs[0].detail == nil && runs[1].detail == nil, "\(label): \(runs[0].detail ?? runs[1].detail ?? "")")
            }
        }
    }
}
