import Foundation
import Testing
@testable import GUPBench

/// The scenario plan: exactly which scenarios a configuration measures, in which order, with
/// which loops, and why the loops it leaves out are left out. Nothing is mapped: the plan is
/// built for a constructed machine (its local node and the CPUs of each node).
@Suite struct ScenarioPlanTests {
    static let mib = 1 << 20

    /// A config of one 4 MiB 4k region, one thread and the given strategies (both impls).
    static func config(_ strategies: [Strategy] = [.unpinEach], size: Int = 4 << 20) -> BenchConfig {
        var c = BenchConfig()
        c.sizes = [size]
        c.backings = [.fourK]
        c.threads = [1]
        c.strategies = strategies
        return c
    }

    /// Node 0 with `cpus` CPUs, node 1 with one.
    static func plan(_ c: BenchConfig, cpus: Int = 2) throws -> ScenarioPlan {
        try ScenarioPlan(config: c, localNode: 0) { $0 == 0 ? cpus : 1 }
    }

    /// Each entry as one line: a scenario's options and loops, then its skips; a region skip.
    static func lines(_ plan: ScenarioPlan) -> [String] {
        plan.entries.flatMap { entry -> [String] in
            switch entry {
            case .scenario(let s):
                return ["\(s.options): \(s.loopNames.joined(separator: " "))"] + s.skipped.map { "skip \($0)" }
            case .skip(let r, let order, let reason):
                return ["skip \(ByteSize.format(r.size)) \(r.backing.rawValue) order \(order.map(String.init) ?? "auto"): \(reason)"]
            }
        }
    }

    static let node0 = "--cpu-node 0 --mem-node 0 --mem-policy bind"

    @Test func defaultThreadsAreOneAndAllOfTheNodesCPUs() throws {
        var c = Self.config()
        c.threads = []
        c.backings = [.fourK, .thp]
        #expect(Self.lines(try Self.plan(c)) == [
            "--size 4MiB --backing 4k \(Self.node0) --threads 1 --sharing disjoint --layout sequential --dirty none --mitigations off: unpin-each/swift unpin-each/c",
            "--size 4MiB --backing 4k \(Self.node0) --threads 2 --sharing disjoint --layout sequential --dirty none --mitigations off: unpin-each/swift unpin-each/c",
            "--size 4MiB --backing thp \(Self.node0) --threads 1 --sharing disjoint --layout sequential --dirty none --mitigations off: unpin-each/swift unpin-each/c",
            "--size 4MiB --backing thp \(Self.node0) --threads 2 --sharing disjoint --layout sequential --dirty none --mitigations off: unpin-each/swift unpin-each/c",
        ])
        // A node of one CPU: one thread count, where the old hand-kept count assumed two.
        let single = try Self.plan(c, cpus: 1)
        #expect(single.scenarios.map(\.pool.threads) == [1, 1])
        // Progress: 2 loops × (30 repetitions + 3 warm-ups), per scenario.
        #expect(single.steps == 2 * 2 * 33)
        #expect(try Self.plan(c).steps == 4 * 2 * 33)
    }

    @Test func scenariosFollowTheRegionThenFolioOrderThenPoolThenCellOrder() throws {
        var c = Self.config()
        c.sizes = [4 << 20, 8 << 20]
        c.folioOrders = [nil, 2]
        c.threads = [1, 2]
        c.dirties = [.none, .dirty]
        c.batches = [nil, 8]
        c.mitigations = [.off, .safeRet]
        c.impls = [.c]
        let plan = try Self.plan(c)
        #expect(plan.regions.map(\.size) == [4 << 20, 8 << 20])
        #expect(plan.scenarios.count == 2 * 2 * 2 * 2 * 2 * 2)
        let first = plan.scenarios.prefix(9).map(\.options)
        let head = "--size 4MiB --backing 4k \(Self.node0)"
        #expect(first == [
            "\(head) --threads 1 --sharing disjoint --layout sequential --dirty none --mitigations off",
            "\(head) --threads 1 --sharing disjoint --layout sequential --dirty none --mitigations safe-ret",
            "\(head) --threads 1 --sharing disjoint --layout sequential --dirty none --batch 8 --mitigations off",
            "\(head) --threads 1 --sharing disjoint --layout sequential --dirty none --batch 8 --mitigations safe-ret",
            "\(head) --threads 1 --sharing disjoint --layout sequential --dirty dirty --mitigations off",
            "\(head) --threads 1 --sharing disjoint --layout sequential --dirty dirty --mitigations safe-ret",
            "\(head) --threads 1 --sharing disjoint --layout sequential --dirty dirty --batch 8 --mitigations off",
            "\(head) --threads 1 --sharing disjoint --layout sequential --dirty dirty --batch 8 --mitigations safe-ret",
            "\(head) --threads 2 --sharing disjoint --layout sequential --dirty none --mitigations off",
        ])
        #expect(plan.scenarios[16].options
            == "--size 4MiB --backing 4k --folio-order 2 \(Self.node0) --threads 1 --sharing disjoint --layout sequential --dirty none --mitigations off")
        #expect(plan.scenarios.allSatisfy { $0.loopNames == ["unpin-each/c"] && $0.skipped.isEmpty })
    }

    @Test func nodesResolveToTheThreadsNodeUnlessGiven() throws {
        var c = Self.config()
        c.cpuNodes = [nil, 1]
        c.memNodes = [nil, 0]
        c.memPolicies = [.bind, .interleave]
        c.threads = []
        let regions = try Self.plan(c).regions
        #expect(regions.map { "\($0.cpuNode)/\($0.memNode)/\($0.memPolicy.rawValue)" }
            == ["0/0/bind", "0/0/interleave", "0/0/bind", "0/0/interleave",
                "1/1/bind", "1/1/interleave", "1/0/bind", "1/0/interleave"])
        // Node 1 has one CPU: one thread there, 1 and 2 on node 0.
        #expect(try Self.plan(c).scenarios.map(\.pool.threads) == [1, 2, 1, 2, 1, 2, 1, 2, 1, 1, 1, 1])
    }

    @Test func lastRefOnHugetlbSkipsTheWholeRegionAndStrategiesWithoutAFreeModel() throws {
        var c = Self.config([.unpinEach, .unpinFolios])
        c.backings = [.hugetlb, .fourK]
        c.sizes = [2 << 20]
        c.folioOrders = [nil, 9]
        c.lastRef = true
        let hugetlb = "--last-ref skipped on hugetlb: a hugetlb folio goes back to its pool (free_huge_folio()), "
            + "not through the LRU and per-CPU free lists the model has"
        let noModel = "unpin-folios skipped for --last-ref: it has no last-reference model"
        #expect(Self.lines(try Self.plan(c)) == [
            "skip 2MiB hugetlb order auto: \(hugetlb)",
            "skip 2MiB hugetlb order 9: \(hugetlb)",
            "--size 2MiB --backing 4k \(Self.node0) --threads 1 --sharing disjoint --layout sequential --dirty none --mitigations off: unpin-each/swift unpin-each/c",
            "skip \(noModel)",
            "--size 2MiB --backing 4k --folio-order 9 \(Self.node0) --threads 1 --sharing disjoint --layout sequential --dirty none --mitigations off: unpin-each/swift unpin-each/c",
            "skip \(noModel)",
        ])
        #expect(try Self.plan(c).skipped == [hugetlb, noModel])
        #expect(try Self.plan(c).regions.map(\.backing) == [.hugetlb, .fourK])
    }

    @Test func rangeReleaseNeedsContiguousPageArrays() throws {
        var c = Self.config([.unpinEach, .unpinRange])
        c.impls = [.swift]
        c.threads = [1, 2]
        c.sharings = [.disjoint, .interleaved]
        c.layouts = [.sequential, .shuffled]
        let plan = try Self.plan(c)
        let runs = plan.scenarios.map { "t\($0.pool.threads) \($0.pool.sharing.rawValue) \($0.pool.layout.rawValue): "
            + $0.loopNames.joined(separator: " ") }
        #expect(runs == [
            "t1 disjoint sequential: unpin-each/swift unpin-range/swift",
            "t1 disjoint shuffled: unpin-each/swift",
            "t1 interleaved sequential: unpin-each/swift unpin-range/swift",
            "t1 interleaved shuffled: unpin-each/swift",
            "t2 disjoint sequential: unpin-each/swift unpin-range/swift",
            "t2 disjoint shuffled: unpin-each/swift",
            "t2 interleaved sequential: unpin-each/swift",
            "t2 interleaved shuffled: unpin-each/swift",
        ])
        let why = { (sharing: String, layout: String) in
            "unpin-range skipped for --sharing \(sharing) --layout \(layout): it releases contiguous ranges, and these page arrays are not"
        }
        #expect(plan.skipped == [why("disjoint", "shuffled"), why("interleaved", "shuffled"), why("interleaved", "sequential")])
        #expect(plan.scenarios.map(\.skipped.count) == [0, 1, 0, 1, 0, 1, 1, 1])
    }

    @Test func aPageArrayOfItsOwnIsReleasedStretchByStretch() throws {
        // --layout pfn: the frame-spaced model's page array; unpin-range runs on its stretches.
        var c = Self.config([.unpinRange])
        c.threads = [2]
        c.sharings = [.interleaved]
        c.layouts = [.pfn]
        #expect(try Self.plan(c).scenarios.map(\.loops.count) == [2])
        #expect(try Self.plan(c).skipped.isEmpty)
        // A replayed layout: the same, whatever the sharing and order.
        var replay = Self.config([.unpinRange])
        replay.replay(try LayoutReplayTests.write(LayoutReplayTests.mixed, "plan"))
        replay.threads = [2]
        replay.sharings = [.interleaved]
        replay.layouts = [.sequential, .shuffled]
        #expect(try Self.plan(replay).scenarios.map(\.loops.count) == [2, 2])
        // Both at once cannot be: the layout's memmap is not at the region's frames.
        replay.layouts = [.pfn]
        #expect(throws: GUPBenchError.usage("--layout pfn places the region's own descriptors at their page frames; "
                                            + "it cannot be combined with --layout-file (use sequential or shuffled)")) {
            try Self.plan(replay)
        }
    }

    @Test func aRegionOfNoMorePagesThanThreadsGivesOnePagePerThread() throws {
        // Two 4k pages interleaved over two threads: each array is one page, a run of one.
        var c = Self.config([.unpinRange], size: 8192)
        c.threads = [2]
        c.sharings = [.interleaved]
        #expect(try Self.plan(c).scenarios.map(\.loops.count) == [2])
    }

    @Test func strategiesWithoutADirtyingVariantAreSkippedWhenDirtying() throws {
        var c = Self.config([.unpinEach, .unpinFolios, .ioUringRelease])
        c.dirties = [.none, .dirty, .dirtyLock]
        c.detects = [.off, .ledger]
        c.impls = [.swift]
        let plan = try Self.plan(c)
        #expect(plan.scenarios.map(\.loopNames) == [
            ["unpin-each/swift", "unpin-each/swift/ledger", "unpin-folios/swift", "unpin-folios/swift/ledger",
             "io-uring-release/swift", "io-uring-release/swift/ledger"],
            ["unpin-each/swift", "unpin-each/swift/ledger"],
            ["unpin-each/swift", "unpin-each/swift/ledger"],
        ])
        #expect(plan.skipped == [
            "unpin-folios skipped for --dirty dirty: unpin_folios() has no dirtying variant",
            "io-uring-release skipped for --dirty dirty: io_release_ubuf() has no dirtying variant",
            "unpin-folios skipped for --dirty dirty-lock: unpin_folios() has no dirtying variant",
            "io-uring-release skipped for --dirty dirty-lock: io_release_ubuf() has no dirtying variant",
        ])
        // 6 + 2 + 2 loops, each 30 repetitions and 3 warm-ups.
        #expect(plan.steps == 10 * 33)
    }

    @Test func aScenarioWhoseEveryStrategyIsSkippedStaysInThePlanWithNoLoop() throws {
        var c = Self.config([.unpinRange])
        c.layouts = [.shuffled]
        let plan = try Self.plan(c)
        #expect(plan.scenarios.count == 1)
        #expect(plan.scenarios[0].loops.isEmpty)
        #expect(plan.steps == 0)
    }

    @Test func moreThreadsThanTheNodeHasCPUsIsAnErrorBeforeAnyPlan() throws {
        let topology = Topology(
            nodes: [.init(id: 0, cpus: [0, 1], memoryBytes: 1 << 34, freeBytes: 1 << 33, hasMemory: true)],
            distances: [[10]], allowedCPUs: [0, 1], llcBytes: 1 << 25, thpMode: "madvise", hugePagesTotal: 0,
            hugePagesFree: 0, hugePageBytes: 2 << 20, kernel: "test", cpuModel: "test", numaAvailable: true,
            memTotalBytes: 1 << 34)
        var c = Self.config()
        c.threads = [1, 3]
        #expect(throws: GUPBenchError.environment("--threads 3: node 0 has only 2 CPUs this process may use, "
                                                  + "and each thread needs its own; valid: 1-2")) {
            try c.validate(on: topology)
        }
    }

    @Test func theEstimateIsEveryLoopsRepetitionsAtLeastMinTimeEachAndEveryRegionOnceARound() throws {
        var c = Self.config()  // 1024 pages, 2 loops
        c.minTimeNs = 1e6
        let plan = try Self.plan(c)
        // 1024 pages × 40 ns is under --min-time: each of the 2 × 33 repetitions lasts 1 ms.
        let (mapping, measuring) = plan.estimate(mappingSecondsPerByte: 1e-9, nsPerPage: 40)
        #expect(measuring == 0.066)
        #expect(mapping == 1e-9 * Double(4 << 20) * 3)
        c.minTimeNs = 0
        #expect(try Self.plan(c).estimate(mappingSecondsPerByte: 0, nsPerPage: 40).measuring == 66 * 1024 * 40 / 1e9)
    }

    @Test func dryRunListsEveryScenarioAndSkipWithItsEstimates() throws {
        var c = Self.config([.unpinEach, .unpinFolios])
        c.dirties = [.none, .dirty]
        let plan = try Self.plan(c)
        let budget = MemoryBudget(availableBytes: 8 << 30, totalBytes: 16 << 30, hugetlbFreeBytes: 0)
        let peak = budget.predictPeak(sizes: c.sizes, backings: c.backings, shape: c.memoryShape,
                                      calibrationBytes: 0, processBytes: 0)
        let text = plan.rendered(command: "compare", budget: budget, shape: c.memoryShape, peak: peak, nsPerPage: 40)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 6)
        #expect(lines[0].hasPrefix("gupbench compare --dry-run: 2 scenario(s) on 1 region(s), 3 round(s) of 10+10+10 repetitions"))
        #expect(lines[1].hasPrefix("region 4MiB 4k, memory on node 0 (bind), threads on node 0: holds "))
        #expect(lines[2].hasPrefix("  scenario --size 4MiB --backing 4k \(Self.node0) --threads 1 --sharing disjoint "
            + "--layout sequential --dirty none --mitigations off: unpin-each/swift unpin-each/c unpin-folios/swift unpin-folios/c; memory "))
        #expect(lines[3].hasPrefix("  scenario --size 4MiB --backing 4k \(Self.node0) --threads 1 --sharing disjoint "
            + "--layout sequential --dirty dirty --mitigations off: unpin-each/swift unpin-each/c; memory "))
        #expect(lines[4] == "  skip unpin-folios skipped for --dirty dirty: unpin_folios() has no dirtying variant")
        #expect(lines[5].hasPrefix("predicted peak "))
    }
}
