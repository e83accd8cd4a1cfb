// The release strategies of the registry (docs/model.md) on both backings, as package-benchmark suites: one
// benchmark per strategy × backing over a fixed 64 MiB region (16,384 pages; 32 THP folios), so
// `swift package benchmark baseline compare` can tell a regression in a release loop from noise.
//
// Per benchmark, once (setup hook): map the region on the local node, lay out the page model
// from its verified backing, build the single thread's page array. Per iteration, untimed: take
// the references the strategy releases (pins, or FOLL_GET references for put-page). Timed,
// between startMeasurement() and stopMeasurement(): the release loop alone, the strategy's
// Swift loop that `gupbench compare` runs. Untimed again: the audit, every descriptor back at
// its baseline and pins acquired == pins released, or the benchmark fails.
//
// Metrics: wall clock of the release call, mallocs inside it (the loops must not allocate: 0
// expected), and ps/page, the loop's own time per page from the tool's clock. Picoseconds, because
// package-benchmark records integers and unpin-range on THP takes about 0.05 ns per page.
import Benchmark
import CShims
import GUPBench

let regionBytes = 64 << 20

/// The real memory and page model one benchmark releases, made once in its setup hook.
final class Fixture: @unchecked Sendable {
    let region: MemoryRegion
    let model: PageModel
    let shares: PageShares
    /// The thread's pages, and the folio pointers and bvecs derived from them.
    let input: ReleaseInput

    init(backing: Backing) throws {
        let topology = Topology.read()
        region = try MemoryRegion(size: regionBytes, backing: backing, policy: .bind,
                                  node: topology.localNode)
        model = try PageModel(region: region)
        shares = PageShares(model: model, threads: 1, sharing: .disjoint, layout: .sequential)
        input = ReleaseInput(pages: shares.arrays[0].baseAddress!, count: shares.arrays[0].count)
    }

    /// Why this fixture cannot stand for `backing`, or nil when it can.
    func unusable(for backing: Backing) -> String? {
        guard backing != .fourK, model.folioOrder != 9 else { return nil }
        return "--backing \(backing.rawValue): only \(Int(model.thpBackedFraction * 100))% of the "
            + "region's 2MiB chunks are backed by huge folios (see "
            + "/sys/kernel/mm/transparent_hugepage/enabled); skipped rather than measuring 4k pages"
    }
}

/// ps/page: picoseconds per page released, from the release loop's own clock readings.
let psPerPage = BenchmarkMetric.custom("ps/page", polarity: .prefersSmaller, useScalingFactor: false)

let benchmarks: @Sendable () -> Void = {
    // `baseline check` tolerances. package-benchmark's default (5% on p25..p75) flags noise on
    // a machine whose 2 CPUs are shared with other work; 10% on the median and 15% on the
    // quartiles still catches a loop that gained an atomic per page (+20% or more). Any malloc
    // inside the timed release is a regression, whatever the baseline.
    let timing = BenchmarkThresholds(relative: [.p25: 15.0, .p50: 10.0, .p75: 15.0])
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, psPerPage],
        timeUnits: .nanoseconds,
        warmupIterations: 10,
        maxDuration: .seconds(1),
        maxIterations: 10_000,
        thresholds: [
            .wallClock: timing,
            psPerPage: timing,
            .mallocCountTotal: BenchmarkThresholds(absolute: [.p100: 0]),
        ]
    )

    for backing in [Backing.fourK, .thp] {
        for strategy in Strategy.allCases {
            Benchmark("\(strategy.rawValue) \(backing.rawValue) \(regionBytes >> 20)MiB") { benchmark, fixture in
                if let reason = fixture.unusable(for: backing) {
                    benchmark.error(reason)
                    return
                }
                let input = fixture.input
                let count = input.pageCount

                var grab = gb_tally()
                input.grab(strategy, ledger: nil, tally: &grab)  // FOLL_GET for put-page, else pins
                var tally = gb_tally()

                benchmark.startMeasurement()
                let start = gb_now_ns()
                // The strategy's Swift loop, one call for all its entries.
                input.release(LoopKey(strategy, .swift), batch: input.count(strategy),
                              dirty: GB_DIRTY_NONE, ledger: nil, tally: &tally)
                let end = gb_now_ns()
                benchmark.stopMeasurement()

                benchmark.measurement(psPerPage, Int((end &- start) * 1000 / UInt64(count)))
                let acquired = grab.pins_acquired + grab.refs_acquired
                let released = tally.pins_released + tally.refs_released
                let audit = fixture.model.audit()
                if audit.unbalanced_pages != 0 || audit.locked_pages != 0 || acquired != released {
                    benchmark.error("audit failed: \(audit.unbalanced_pages) pages off baseline, "
                        + "\(audit.locked_pages) folios locked, acquired \(acquired), released \(released)")
                }
            } setup: {
                try Fixture(backing: backing)
            }
        }
    }
}
