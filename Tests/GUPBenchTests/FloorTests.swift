import CShims
import Testing
@testable import GUPBench

/// The floors on constructed tallies and calibrations (exact products), the max rule, the
/// unclamped efficiency, the lines a strategy touches, and the windows --min-time implies.
@Suite struct FloorTests {
    /// Pins the type of an expected value, so the type checker need not search for it.
    static func exactly(_ x: Double) -> Double { x }

    static var calibration: CalibrationFigures {
        var c = CalibrationFigures(atomicNs: 2, contendedAtomicNs: 20, streamNsPerDescriptor: 5,
                                   streamNsPerDescriptorInCache: 0.5, llcBytes: 32 << 20)
        c.kernelCallNs = 1
        c.kernelCallSafeRetNs = 8
        c.localCmpxchgNs = 2.5
        c.lockPairNs = 10
        c.memmaps = [MemmapFigures(bytes: 1 << 20, lineNs: 1.5)]
        return c
    }

    /// One thread released 1024 pages of order 0 (unpin-each's counts).
    static var tally: gb_tally {
        var t = gb_tally()
        t.atomics = 1024; t.kernel_calls = 2048; t.vmstat_cmpxchgs = 1024; t.vmstat_folds = 8
        return t
    }

    @Test func eachResourceIsItsEventsTimesItsCalibratedCost() {
        let events = FloorEvents(tally: Self.tally, locks: nil,
                                 lines: LinesTouched(descriptorLines: 1024, arrayLines: 128), threads: 1, pagesPerThread: 1024)
        #expect(events == FloorEvents(lockedRmws: (1024 + 16) / 1024.0, descriptorLines: 1, arrayLines: 0.125,
                                      calls: 2, lockPairs: 0, percpuCmpxchgs: 1))
        let f = Floors.estimate(events: events, memmapBytes: 1 << 20, mitigations: .off, calibration: Self.calibration)
        #expect(f.floors.map(\.resource) == [.lockedRmw, .lines, .calls, .percpuCmpxchg])
        #expect(f.floors.map(\.nsPerPage) == [Self.exactly(1040.0 / 1024 * 2), Self.exactly(1 * 1.5 + 0.125 * 0.5),
                                              2, 2.5])
        // The largest binds.
        #expect(f.nsPerPage == 2.5)
        #expect(f.bound == .percpuCmpxchg)
    }

    @Test func callsCostWhatTheModesReturnCosts() {
        let events = FloorEvents(calls: 2)
        for (mode, ns) in [(Mitigations.off, 1.0), (.retpoline, 1), (.safeRet, 8), (.retpolineSafeRet, 8)] {
            let f = Floors.estimate(events: events, memmapBytes: 1 << 20, mitigations: mode, calibration: Self.calibration)
            #expect(f.floors == [Floor(.calls, eventsPerPage: 2, ns: ns,
                                       calibration: ns == 8 ? "kernel_call_safe_ret_ns" : "kernel_call_ns")], "\(mode)")
        }
    }

    @Test func withoutAMemmapFigureLinesCostTheInCacheStream() {
        let f = Floors.estimate(events: FloorEvents(descriptorLines: 1), memmapBytes: 64 << 20, mitigations: .off,
                                calibration: Self.calibration)
        #expect(f.floors == [Floor(.lines, eventsPerPage: 1, ns: 0.5, calibration: "stream_ns_per_descriptor_in_cache")])
    }

    @Test func threadsShareTheTallyAndTheSlowestThreadIsTheUnit() {
        // Two threads of 512 pages, the same tally in all: half the events per thread-page... no,
        // the same per page: 1024 events over 2 × 512 thread-pages.
        var locks = gb_lock_counts()
        locks.lruvec = 1024; locks.pcp = 1024; locks.zone = 512
        let events = FloorEvents(tally: Self.tally, locks: locks, lines: LinesTouched(descriptorLines: 512, arrayLines: 0),
                                 threads: 2, pagesPerThread: 512)
        #expect(events.lockPairs == 2.5)
        #expect(events.descriptorLines == 1)
        let f = Floors.estimate(events: events, memmapBytes: 1 << 20, mitigations: .off, calibration: Self.calibration)
        #expect(f.bound == .lockPairs)
        #expect(f.nsPerPage == 25)
    }

    @Test func efficiencyIsFloorOverMeasuredUnclampedWithItsCI() {
        let r = Fixtures.result(.unpinEach, ns: 4)  // median 4, CI from the fixture's samples
        var beaten = r
        beaten.floors = FloorEstimate(floors: [Floor(.lockedRmw, eventsPerPage: 1, ns: 8, calibration: "atomic_ns")])
        let e = try! #require(beaten.efficiency)
        #expect(e.median == 8 / beaten.nsPerPage.median)
        #expect(e.ci95Low == 8 / beaten.nsPerPage.ci95High)
        #expect(e.ci95High == 8 / beaten.nsPerPage.ci95Low)
        #expect(e.median > 1)  // never clamped: a floor above the measurement shows as such
        #expect(beaten.beatsFloor == (8 > beaten.nsPerPage.ci95High))
        var below = r
        below.floors = FloorEstimate(floors: [Floor(.lines, eventsPerPage: 1, ns: 1, calibration: "memmap_line_ns")])
        #expect(!below.beatsFloor)
        #expect(below.efficiency!.median == 1 / below.nsPerPage.median)
        #expect(r.efficiency == nil)  // no floors without a calibration
    }

    /// The windows a sizing sample adds up before `filled` holds, for windows of these lengths.
    private func windowsToFill(_ minTimeNs: Double, _ lengths: [Double]) -> Int {
        var wall = 0.0, windows = 0
        repeat {
            wall += lengths[min(windows, lengths.count - 1)]
            windows += 1
        } while !ReleaseRunner.filled(minTimeNs: minTimeNs, wallNs: wall, windows: windows)
        return windows
    }

    @Test func minTimeImpliesTheWindowsPerSample() {
        #expect(windowsToFill(0, [10_000]) == 1)
        #expect(windowsToFill(1e6, [2e6]) == 1)
        #expect(windowsToFill(1e6, [1e6]) == 1)
        #expect(windowsToFill(1e6, [300_000]) == 4)
        #expect(windowsToFill(1e6, [10_000]) == 100)
        #expect(windowsToFill(1e6, [10]) == ReleaseRunner.maxWindows)
        #expect(windowsToFill(1e6, [0]) == ReleaseRunner.maxWindows)
        // One window 25 times the others costs the sample a quarter of its windows, not 96%.
        #expect(windowsToFill(1e6, [250_000, 10_000]) == 76)
    }

    @Test func minTimeIsParsedWithItsUnit() throws {
        #expect(try DurationText.parseNs("1ms", option: "--min-time") == 1e6)
        #expect(try DurationText.parseNs("500us", option: "--min-time") == 500_000)
        #expect(try DurationText.parseNs("0.002s", option: "--min-time") == 2e6)
        #expect(try DurationText.parseNs("0", option: "--min-time") == 0)
        #expect(DurationText.format(1e6) == "1ms")
        #expect(DurationText.format(2.5e5) == "250us")
        #expect(throws: GUPBenchError.usage("--min-time 'fast' is not a time from 0 to 10s; "
                                            + "write it as 1ms, 500us, 250000ns or 0.002s")) {
            try DurationText.parseNs("fast", option: "--min-time")
        }
    }
}

/// The lines each access pattern touches, counted on a real model.
@Suite struct LinesTouchedTests {
    @Test(arguments: [0, 9])
    func linesFollowTheAccessPattern(order: Int) throws {
        let region = try MemoryRegion(size: 4 << 20, backing: .fourK, policy: .bind, node: Topology.read().localNode)
        let model = try PageModel(region: region, forcedOrder: order)
        let shares = PageShares(model: model, threads: 1, sharing: .disjoint, layout: .sequential)
        let pages = shares.arrays[0]
        let folios = 1024 >> order
        func lines(_ s: Strategy) -> LinesTouched { LinesTouched(strategy: s, pages: pages, model: model) }
        // Every entry's own descriptor (heads among them); page[1] is one of the entries too.
        #expect(lines(.unpinEach) == LinesTouched(descriptorLines: 1024, arrayLines: 1024 * 8 / 64))
        #expect(lines(.putPage) == LinesTouched(descriptorLines: 1024, arrayLines: 128))
        // Folio arithmetic: each head, and page[1] of a large folio for the pin count; no array.
        #expect(lines(.unpinRange) == LinesTouched(descriptorLines: order > 0 ? 2 * folios : folios, arrayLines: 0))
        #expect(lines(.unpinFolios) == LinesTouched(descriptorLines: order > 0 ? 2 * folios : folios, arrayLines: 128))
        // A bvec per folio run (16 bytes), its first page being the head.
        #expect(lines(.ioUringRelease) == LinesTouched(descriptorLines: order > 0 ? 2 * folios : folios,
                                                       arrayLines: (folios * 16 + 63) / 64))
    }

    @Test func calibratingTouchesNoReleaseCounter() throws {
        // The floors' microbenchmarks do the events, not the loops: this thread's per-CPU vmstat
        // diff (thread-local; the node counters are shared with the suites running beside this
        // one) and every descriptor count of a live model's memmap stay as they were.
        let topology = Topology.read()
        let region = try MemoryRegion(size: 4 << 20, backing: .fourK, policy: .bind, node: topology.localNode)
        let model = try PageModel(region: region)
        let before = gb_vmstat_this_cpu_diff()
        let calibrator = Calibrator(topology: topology, memNode: topology.localNode, cpus: [topology.allowedCPUs[0]],
                                    memmapSizes: [64 << 10])
        try calibrator.sample()
        calibrator.sampleOwnMemmap(model)
        #expect(gb_vmstat_this_cpu_diff() == before)
        let audit = model.audit()
        #expect(audit.unbalanced_pages == 0)
        #expect(calibrator.ownMemmaps[model.pageCount * 64]?.count == 1)
    }
}
