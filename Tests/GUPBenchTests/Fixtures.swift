import CShims
@testable import GUPBench

/// A small real region (4 KiB pages) with its memmap laid out at a forced folio order.
func makeModel(pages: Int = 2048, order: Int) throws -> PageModel {
    let region = try MemoryRegion(size: pages * 4096, backing: .fourK, policy: .bind,
                                  node: Topology.read().localNode)
    return try PageModel(region: region, forcedOrder: order)
}

/// A page array over descriptors [start, start + count) of a model, in order.
final class PageList {
    let buffer: UnsafeMutableBufferPointer<PagePointer>
    var base: PageArray { buffer.baseAddress! }
    var count: Int { buffer.count }

    /// The folio pointers and bvecs derived from the pages, as the runner derives them.
    let input: ReleaseInput

    init(_ model: PageModel, indices: [Int]) {
        buffer = .allocate(capacity: max(1, indices.count))
        for (k, i) in indices.enumerated() { buffer[k] = model.page(i) }
        input = ReleaseInput(pages: buffer.baseAddress!, count: indices.count)
    }

    deinit { buffer.deallocate() }
}

/// Calls one strategy in one implementation, as the runner does (entries per call: `batch`).
func release(_ strategy: Strategy, _ impl: Impl, _ list: PageList, batch: Int, dirty: DirtyMode) -> gb_tally {
    var tally = gb_tally()
    list.input.release(LoopKey(strategy, impl), batch: batch, dirty: dirty.cValue, ledger: nil, tally: &tally)
    return tally
}

func grab(_ strategy: Strategy, _ list: PageList) -> gb_tally {
    var tally = gb_tally()
    list.input.grab(strategy, ledger: nil, tally: &tally)
    return tally
}

/// The atomics docs/model.md says a strategy performs, worked out from folio geometry alone:
/// per-page strategies do 1 atomic per page (2 for a subpage of a large folio when unpinning);
/// batched strategies do that once per run of consecutive entries of one folio inside one call;
/// dirtying adds 1 (set_bit) or 3 (lock, set, unlock) the first time a folio is seen clean.
func expectedAtomics(_ strategy: Strategy, indices: [Int], order: Int, batch: Int, dirty: DirtyMode) -> Int {
    let folio = { (i: Int) in i >> order }
    let large = order > 0
    let dirtyCost = dirty == .none ? 0 : (dirty == .dirty ? 1 : 3)
    var dirtied = Set<Int>()
    var atomics = 0
    var start = 0
    while start < indices.count {
        let call = Array(indices[start..<min(start + batch, indices.count)])
        var i = 0
        while i < call.count {
            var end = i + 1
            if strategy.releasesFolioRuns { while end < call.count && folio(call[end]) == folio(call[i]) { end += 1 } }
            if dirtied.insert(folio(call[i])).inserted { atomics += dirtyCost }
            atomics += strategy.foll == GB_FOLL_GET ? 1 : (large ? 2 : 1)  // put-page, release-pages: 1
            i = end
        }
        start += batch
    }
    return atomics
}

/// The bvecs registration builds for consecutive page indices of a forced-order model: one per
/// folio touched when io_check_coalesce_buffer() holds (large folios, pages in order), else one
/// per page. Worked out from folio geometry alone.
func expectedBvecs(indices: [Int], order: Int) -> Int {
    guard order > 0, indices.count > 1, zip(indices, indices.dropFirst()).allSatisfy({ $1 == $0 + 1 }) else {
        return indices.count
    }
    return Set(indices.map { $0 >> order }).count
}

enum Fixtures {
    /// A result of `strategy` whose samples are `ns` ± 5% over three rounds of ten, no floors.
    static func result(_ strategy: Strategy, ns: Double) -> ResultRecord {
        let rounds = RoundSamples((0..<3).map { r in (0..<10).map { ns * (0.95 + 0.01 * Double(($0 + r) % 10)) } })
        let scenario = ScenarioKey(size: 1 << 30, backing: .fourK, folioOrder: 0, forcedOrder: false, threads: 1,
                                   sharing: .disjoint, layout: .sequential, dirty: .none, batch: nil, memNode: 0,
                                   cpuNode: 0, memPolicy: .bind)
        let placement = PlacementReport(policy: .bind, requestedNode: 0, dataNodePages: [1024], memmapNodePages: [16],
                                        dataSampled: 1024, memmapSampled: 16, sampleStride: 1)
        return ResultRecord(
            strategy: strategy, impl: .swift, detect: .off, scenario: scenario, pages: 1024, pagesPerThread: 1024,
            repetitions: 30, nsPerPageRounds: rounds, nsPerPage: Summary(rounds), pagesPerSecond: 1e9 / ns,
            atomicsPerPage: 1, flagTestsPerPage: 0, thpBackedFraction: 0, folioBackedFraction: 1, placement: placement,
            cpus: [0], perThreadNsPerPage: [ns], threadOverlap: nil, windowsPerSample: 1, balanced: true,
            auditDetail: nil, pinsAcquired: 30 * 1024, pinsReleased: 30 * 1024, underflows: 0, ledgerViolations: 0)
    }
}

extension Strategy {
    /// Runs this strategy's loop of one implementation straight on a page array, for tests that
    /// release by hand (twice, with a ledger, from several threads). Strategies that walk pages.
    func release(_ pages: PageArray, count: Int, batch: Int, dirty: gb_dirty_mode = GB_DIRTY_NONE,
                 detect: DetectMode = .off, ledger: LedgerPointer? = nil, impl: Impl = .swift,
                 tally: inout gb_tally) {
        loop(impl)(ReleaseEntries(pages: pages),
                   ReleaseCalls(count: count, batch: batch, dirty: dirty, detect: detect, ledger: ledger), &tally)
    }
}
