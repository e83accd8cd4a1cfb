import CShims
import Testing
@testable import GUPBench

/// The runner on real threads: exact counts after many repetitions, contention included.
@Suite(.serialized) struct RunnerTests {
    static var cpus: [Int] {
        let t = Topology.read()
        return Array((t.node(t.localNode)?.cpus ?? [0]).prefix(2))
    }

    @Test(arguments: [0, 4, 9])
    func interleavedThreadsLeaveEveryCountExact(order: Int) throws {
        let model = try makeModel(pages: 4096, order: order)
        let cpus = Self.cpus
        let shares = PageShares(model: model, threads: cpus.count, sharing: .interleaved, layout: .sequential)
        // Thread t holds pages t, t+N, …: every folio of order > 0 is shared.
        #expect(shares.arrays[0][0] == model.page(0))
        if cpus.count > 1 { #expect(shares.arrays[1][0] == model.page(1)) }
        let runner = try ReleaseRunner(model: model, shares: shares, cpus: cpus)
        let keys = [LoopKey(.unpinEach, .swift), LoopKey(.unpinBatched, .c), LoopKey(.putPage, .swift)]
        let results = runner.measure(keys, dirty: .dirtyLock, batch: 7, repetitions: 25, warmup: 2)
        for m in results {
            #expect(m.auditFailure == nil, "\(m.key)")
            #expect(m.pinsAcquired == UInt64(27 * 4096), "\(m.key)")
            #expect(m.pinsReleased == m.pinsAcquired, "\(m.key)")
            #expect(m.wallNs.count == 25)
            #expect(Set(m.cpusUsed) == Set(cpus))
        }
        #expect(model.audit().unbalanced_pages == 0)
    }

    /// `gupbench kernel`'s model fixed cost: the first entry's release timed alone, the rest
    /// released untimed after it, so every pin comes back, on every entry kind; one such sample
    /// after each of the same loop's own, none for the other loops.
    @Test(arguments: [Strategy.ioUringRelease, .unpinEach, .unpinFolios])
    func theFirstEntryAloneIsTimedAndEveryPinComesBack(strategy: Strategy) throws {
        for order in [0, 9] {
            let model = try makeModel(pages: 2048, order: order)
            let shares = PageShares(model: model, threads: 1, sharing: .disjoint, layout: .sequential)
            let runner = try ReleaseRunner(model: model, shares: shares, cpus: [Self.cpus[0]])
            let other: Strategy = strategy == .putPage ? .unpinEach : .putPage
            let keys = [Impl.swift, .c].map { LoopKey(strategy, $0) } + [LoopKey(other, .swift)]
            let results = runner.measure(keys, dirty: .none, batch: nil, repetitions: 4, warmup: 1,
                                         minTimeNs: 20_000, firstEntryAloneOf: strategy)
            for m in results {
                let what = "\(m.key.strategy.rawValue) \(m.key.impl.rawValue) order \(order)"
                #expect(m.firstEntryReleaseNs.count == (m.key.strategy == strategy ? 4 : 0), "\(what)")
                #expect(m.firstEntryReleaseNs.allSatisfy { $0 > 0 }, "\(what)")
                #expect(m.auditFailure == nil, "\(what)")
                #expect(m.pinsReleased == m.pinsAcquired, "\(what)")
            }
            #expect(model.audit().unbalanced_pages == 0, "\(strategy.rawValue) order \(order)")
        }
        #expect(RoundSamples([[5, 7], [9]]).shifted(by: 2) == RoundSamples([[3, 5], [7]]))
    }

    /// --min-time: the last untimed repetition (here the one made because warmup is 0) adds
    /// windows until they last that long; every sample then adds up as many of pin and release.
    @Test func samplesAddUpTheWindowsMinTimeAsksFor() throws {
        let model = try makeModel(pages: 1024, order: 0)
        let shares = PageShares(model: model, threads: 1, sharing: .disjoint, layout: .sequential)
        let runner = try ReleaseRunner(model: model, shares: shares, cpus: [Self.cpus[0]])
        // How many windows 200 us takes depends on the machine (several here, one under a
        // sanitizer); that every sample has the same number, and every pin of every window came
        // back, does not.
        let m = runner.measure([LoopKey(.unpinEach, .swift)], dirty: .none, batch: nil, repetitions: 3, warmup: 0,
                               minTimeNs: 200_000)[0]
        #expect(m.windowsPerSample >= 1 && m.windowsPerSample <= ReleaseRunner.maxWindows)
        #expect(m.wallNs.count == 3)
        #expect(m.pinsAcquired == UInt64(1024 * 4 * m.windowsPerSample))  // the sizing repetition, then 3 samples
        #expect(m.pinsReleased == m.pinsAcquired)
        #expect(m.auditFailure == nil)
        #expect(model.audit().unbalanced_pages == 0)
    }

    @Test func disjointSharesAreWholeFoliesAndCoverEveryPageOnce() throws {
        let model = try makeModel(pages: 4096, order: 9)
        let shares = PageShares(model: model, threads: 2, sharing: .disjoint, layout: .sequential)
        #expect(shares.arrays.map(\.count) == [2048, 2048])
        #expect(shares.contiguous)
        #expect(shares.arrays[1][0] == model.page(2048))
    }

    @Test func shuffledLayoutKeepsEveryPageButNotTheOrder() throws {
        let model = try makeModel(pages: 1024, order: 0)
        let shares = PageShares(model: model, threads: 1, sharing: .disjoint, layout: .shuffled)
        let indices = shares.arrays[0].map { ($0 - model.memmap) }
        #expect(Set(indices) == Set(0..<1024))
        #expect(indices != Array(0..<1024))
        #expect(!shares.contiguous)
    }

    /// A companion (gupbench kernel's kernel side) makes one cycle after every repetition of the
    /// scenarios it pairs with, untimed for the warm-ups, and none for the others.
    @Test func aCompanionTakesTurnsWithItsScenarioOnly() throws {
        final class Counter: SampleCompanion {
            var timed = 0, untimed = 0
            func pairs(with s: ScenarioPlan.Scenario) -> Bool { s.pool.layout == .sequential }
            func cycle(backing: Backing, timed: Bool) {
                #expect(backing == .fourK)
                if timed { self.timed += 1 } else { untimed += 1 }
            }
        }
        var config = BenchConfig()
        config.sizes = [4 << 20]
        config.backings = [.fourK]
        config.threads = [1]
        config.layouts = [.sequential, .shuffled]
        config.strategies = [.unpinEach, .ioUringRelease]
        config.impls = [.swift]
        config.repetitions = 6
        config.rounds = 2
        config.warmup = 1
        config.minTimeNs = 0
        let counter = Counter()
        var experiment = Experiment(config: config, topology: Topology.read())
        experiment.companion = counter
        let report = try experiment.run(command: "test")
        #expect(report.allBalanced)
        #expect(counter.timed == 6)    // the repetitions, over both rounds
        #expect(counter.untimed == 2)  // one warm-up a round
    }

    @Test func experimentSkipsUnpinRangeOnShuffledPages() throws {
        var config = BenchConfig()
        config.sizes = [4 << 20]
        config.backings = [.fourK]
        config.threads = [1]
        config.layouts = [.shuffled]
        config.strategies = [.unpinEach, .unpinRange]
        config.impls = [.swift]
        config.repetitions = 2
        config.warmup = 0
        let report = try Experiment(config: config, topology: Topology.read()).run(command: "test")
        #expect(report.results.map(\.strategy) == [.unpinEach])
        #expect(report.skipped.count == 1)
        #expect(report.allBalanced)
    }
}
