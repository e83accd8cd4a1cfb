import CShims
import Testing
@testable import GUPBench

/// The roofline of each strategy and access pattern, on constructed calibrations (exact sums).
@Suite struct RooflineTests {
    /// Pins the type of an expected sum, so the type checker need not search for it.
    static func exactly(_ x: Double) -> Double { x }

    /// In-/out-of-LLC figures only (no memmap-sized calibration).
    static let plain = CalibrationFigures(atomicNs: 3, contendedAtomicNs: 20, streamNsPerDescriptor: 5,
                                          streamNsPerDescriptorInCache: 1, latencyNsPerDescriptor: 100,
                                          latencyNsPerDescriptorInCache: 40, llcBytes: 32 << 20)

    /// The same plus a memmap of 1 MiB calibrated at its size.
    static var sized: CalibrationFigures {
        var c = plain
        c.memmaps = [MemmapFigures(bytes: 1 << 20, streamNs: 2, atomicStreamNs: 4, jumpNs: 16, latencyNs: 50)]
        return c
    }

    static func scenario(order: Int, threads: Int = 1, sharing: Sharing = .disjoint,
                         layout: Layout = .sequential) -> ScenarioKey {
        ScenarioKey(size: 1 << 30, backing: .fourK, folioOrder: order, forcedOrder: false, threads: threads,
                    sharing: sharing, layout: layout, dirty: .none, batch: nil, memNode: 0, cpuNode: 0,
                    memPolicy: .bind)
    }

    static func roof(_ s: Strategy, _ scenario: ScenarioKey, atomics: Double, memmap: Int = 1 << 20,
                     _ c: CalibrationFigures = sized) -> RooflineEstimate {
        Roofline.estimate(strategy: s, scenario: scenario, atomicsPerPage: atomics, memmapBytes: memmap, calibration: c)
    }

    @Test func orderZeroWalkIsOneAtomicStreamWithTheArrayStreamUnderIt() {
        let r = Self.roof(.unpinEach, Self.scenario(order: 0), atomics: 1)
        #expect(r.nsPerPage == 4)
        #expect(r.terms.map(\.name) == ["memmap_atomic_stream_ns_per_descriptor"])
        #expect(r.overlapped.map(\.name) == ["memmap_stream_ns_per_descriptor"])
    }

    @Test func withoutMemmapFiguresTheInCacheFiguresStandIn() {
        // 1 MiB of memmap fits in half the LLC: in-cache stream; the atomic stands in for the
        // atomic stream.
        #expect(Self.roof(.putPage, Self.scenario(order: 0), atomics: 1, Self.plain).nsPerPage == 3)
        // 64 MiB does not: the out-of-cache stream, still under the RMW.
        let far = Self.roof(.putPage, Self.scenario(order: 0), atomics: 1, memmap: 64 << 20, Self.plain)
        #expect(far.nsPerPage == 3)
        #expect(far.overlapped.map(\.ns) == [5])
    }

    @Test func largeFolioWalkChargesTheLargerOfItsStreamAndItsAtomicsInL1() {
        // unpin-each: each entry's descriptor is read and the folio's RMWs wait for it, the next
        // read for them: an atomic stream and one more RMW (4 + 3) over the descriptor stream (2).
        let each = Self.roof(.unpinEach, Self.scenario(order: 9), atomics: 2)
        #expect(each.nsPerPage == 7)
        #expect(each.terms.map(\.name) == ["memmap_atomic_stream_ns_per_descriptor", "atomic_ns"])
        #expect(each.overlapped.map(\.name) == ["memmap_stream_ns_per_descriptor"])
        // unpin-batched: two RMWs per folio; the stream of every entry's descriptor is what
        // bounds it (the array's eighth of a line per page is fetched beside it).
        let batched = Self.roof(.unpinBatched, Self.scenario(order: 9), atomics: 2.0 / 512)
        #expect(batched.nsPerPage == 2)
        #expect(batched.terms.map(\.name) == ["memmap_stream_ns_per_descriptor"])
    }

    @Test func unpinRangeOnTHPPaysOneJumpPerFolio() {
        // Per 512-page folio: one jump (which includes one RMW) and one more RMW; page[1], the
        // next line, is streamed under them.
        let r = Self.roof(.unpinRange, Self.scenario(order: 9), atomics: 2.0 / 512)
        #expect(r.nsPerPage == Self.exactly((16 + 3) / 512))
        #expect(r.terms.map(\.name) == ["memmap_jump_ns_per_folio", "atomic_ns"])
        #expect(r.overlapped.map(\.name) == ["memmap_stream_ns_per_descriptor"])
    }

    @Test func unpinRangeOnSmallFoliosStreamsHeadAndFirstTail() {
        // Order 2: the next folio is 256 bytes on, on the same memmap page: streamed.
        let r = Self.roof(.unpinRange, Self.scenario(order: 2), atomics: 2.0 / 4)
        #expect(r.nsPerPage == Self.exactly(3 * 2.0 / 4))  // the RMWs (1.5) over the stream (1)
    }

    @Test func unpinRangeOnOrderZeroIsAnAtomicStream() {
        #expect(Self.roof(.unpinRange, Self.scenario(order: 0), atomics: 1).nsPerPage == Self.exactly(4))
    }

    @Test func shuffledArraysPayADependentLoadPerEntry() {
        let r = Self.roof(.unpinEach, Self.scenario(order: 0, layout: .shuffled), atomics: 1)
        #expect(r.nsPerPage == 53)
        #expect(r.terms.first?.name == "memmap_latency_ns_per_descriptor")
        // Without memmap figures: the in-cache dependent load.
        #expect(Self.roof(.unpinEach, Self.scenario(order: 0, layout: .shuffled), atomics: 1, Self.plain).nsPerPage
                == 43)
    }

    @Test func folioPointerAndBvecWalksStreamTheirArraysAndEachFolio() {
        // unpin-folios on THP: an eighth of a line of folio pointers per page and page[1] per
        // folio, streamed (2.0 × (1/8 + 1/512)), above a jump to each head and its second RMW
        // ((16 + 3) / 512).
        let folios = Self.roof(.unpinFolios, Self.scenario(order: 9), atomics: 2.0 / 512)
        #expect(folios.nsPerPage == Self.exactly(2 * (1.0 / 8 + 1.0 / 512)))
        #expect(folios.overlapped.map(\.name) == ["memmap_jump_ns_per_folio", "atomic_ns"])
        // io-uring-release on THP: one bvec per folio; the jump to its head and the second RMW
        // ((16 + 3) / 512) outweigh streaming the bvec and page[1] (2 × 1.25 / 512).
        let thp = Self.roof(.ioUringRelease, Self.scenario(order: 9), atomics: 2.0 / 512)
        #expect(thp.nsPerPage == Self.exactly((16 + 3) / 512))
        #expect(thp.terms.map(\.name) == ["memmap_jump_ns_per_folio", "atomic_ns"])
        // Below jumpOrder the next head is on the same memmap page: streamed.
        let small = Self.roof(.ioUringRelease, Self.scenario(order: 4), atomics: 2.0 / 16)
        #expect(small.nsPerPage == Self.exactly(3 * 2.0 / 16))
        // io-uring-release on 4 KiB pages: an RMW on each descriptor (atomic stream, 4) over a
        // quarter line of bvec (0.5).
        let bvecs = Self.roof(.ioUringRelease, Self.scenario(order: 0), atomics: 1)
        #expect(bvecs.nsPerPage == 4)
        #expect(bvecs.overlapped.map(\.perPage) == [0.25])
    }

    @Test func anArrayNamingEachHeadPaysAStridedRMWWhereTheRangeWalkPaysAJump() {
        var c = Self.plain
        c.memmaps = [MemmapFigures(bytes: 1 << 20, streamNs: 2, atomicStreamNs: 4, jumpNs: 16, latencyNs: 50,
                                   stridedRmwNs: 6)]
        // io-uring-release on THP: the bvec names the head, so the step to it is the strided
        // RMW (6), not the dependent jump (16): (6 + 3) / 512 over the stream (2 × 1.25 / 512).
        let bvec = Self.roof(.ioUringRelease, Self.scenario(order: 9), atomics: 2.0 / 512, c)
        #expect(bvec.nsPerPage == Self.exactly((6 + 3) / 512))
        #expect(bvec.terms.map(\.name) == ["memmap_strided_rmw_ns_per_folio", "atomic_ns"])
        // unpin-folios on THP: the same step, under its pointer array's stream.
        let folios = Self.roof(.unpinFolios, Self.scenario(order: 9), atomics: 2.0 / 512, c)
        #expect(folios.overlapped.map(\.name) == ["memmap_strided_rmw_ns_per_folio", "atomic_ns"])
        // unpin-range reads the next folio's distance in this one: still the jump.
        let range = Self.roof(.unpinRange, Self.scenario(order: 9), atomics: 2.0 / 512, c)
        #expect(range.nsPerPage == Self.exactly((16 + 3) / 512))
        #expect(range.terms.map(\.name) == ["memmap_jump_ns_per_folio", "atomic_ns"])
        // Calibrations combine to the lowest strided figure, with its spread.
        var other = c
        other.memmaps = [MemmapFigures(bytes: 1 << 20, streamNs: 2, atomicStreamNs: 4, jumpNs: 16, latencyNs: 50,
                                       stridedRmwNs: 9)]
        let both = CalibrationFigures.combine([c, other])!.memmap(bytes: 1 << 20)!
        #expect(both.stridedRmwNs == 6)
        #expect(both.spread["memmap_strided_rmw_ns_per_folio"] == 6...9)
    }

    @Test func theRunsOwnMemmapLowersTheStreamAndStridedRMWWhereItWasFaster() {
        var c = Self.plain
        c.memmaps = [MemmapFigures(bytes: 1 << 20, streamNs: 2, atomicStreamNs: 4, jumpNs: 16, latencyNs: 50,
                                   spread: ["memmap_stream_ns_per_descriptor": 2...2.5])]
        func own(_ stream: Double, _ strided: Double) -> OwnMemmapFigures {
            OwnMemmapFigures(streamNs: stream, stridedRmwNs: strided)
        }
        let lowered = c.withOwnMemmaps([1 << 20: [own(1.75, 12), own(2.25, 10)], 2 << 20: [own(0.5, 1)]])
            .memmap(bytes: 1 << 20)!
        #expect(lowered.streamNs == 1.75)
        #expect(lowered.spread["memmap_stream_ns_per_descriptor"] == 1.75...2.5)
        #expect(lowered.atomicStreamNs == 4)
        // No strided RMW calibrated on the buffer: the own memmap's lowest stands.
        #expect(lowered.stridedRmwNs == 10)
        #expect(lowered.spread["memmap_strided_rmw_ns_per_folio"] == 10...12)
        // Slower than the buffer: the buffer's figure stands, the spread still shows it.
        let kept = c.withOwnMemmaps([1 << 20: [own(3, 10)]]).memmap(bytes: 1 << 20)!
        #expect(kept.streamNs == 2)
        #expect(kept.spread["memmap_stream_ns_per_descriptor"] == 2...3)
        // unpin-batched on THP is charged the lowered stream.
        var low = c
        low.memmaps = [lowered]
        #expect(Self.roof(.unpinBatched, Self.scenario(order: 9), atomics: 2.0 / 512, low).nsPerPage == 1.75)
    }

    @Test func timingTheOwnMemmapChangesNoCount() throws {
        let region = try MemoryRegion(size: 4 << 20, backing: .fourK, policy: .bind, node: 0)
        let model = try PageModel(region: region)
        #expect(model.audit().unbalanced_pages == 0)
        #expect(gb_calibrate_touched_stream_ns(model.memmap, model.pageCount, 2) > 0)
        #expect(gb_calibrate_strided_rmw_ns(model.memmap, model.pageCount, 512, 2) > 0)
        // Every descriptor still at its baseline: the pass's RMWs added 0.
        let after = model.audit()
        #expect(after.unbalanced_pages == 0)
        #expect(after.first_bad_index == -1)
        #expect(after.refcount_excess == 0)
    }

    @Test func sharedFoliosAcrossThreadsUseTheContendedAtomic() {
        // Two contended RMWs (2 × 20) outweigh the atomic stream and one contended RMW (4 + 20).
        let r = Self.roof(.unpinEach, Self.scenario(order: 9, threads: 2, sharing: .interleaved), atomics: 2)
        #expect(r.nsPerPage == 40)
        #expect(r.overlapped.map(\.name).first == "memmap_atomic_stream_ns_per_descriptor")
    }

    @Test func aResultBelowTheRooflineNamesTheLargestTermThatCoversTheGap() {
        let r = Self.roof(.unpinRange, Self.scenario(order: 9), atomics: 2.0 / 512)
        #expect(r.suspects(gap: 10.0 / 512) == ["memmap_jump_ns_per_folio"])
        #expect(r.suspects(gap: 1) == ["memmap_jump_ns_per_folio", "atomic_ns"])
    }

    /// 1024 pages released in `calls` release calls, each an out-of-line call and the accounting
    /// call (2 kernel calls, 1 is_zero_folio() test), no folds.
    static func kernelCalls(releaseCalls: Int) -> KernelCallsPerPage {
        var t = gb_tally()
        t.kernel_calls = UInt64(2 * releaseCalls); t.zero_folio_tests = UInt64(releaseCalls)
        t.vmstat_cmpxchgs = UInt64(releaseCalls)
        return KernelCallsPerPage(t, pages: 1024)
    }

    static var withReleaseCall: CalibrationFigures {
        var c = sized
        c.releaseCallNs = 1.5
        return c
    }

    static func roof(_ s: Strategy, _ scenario: ScenarioKey, atomics: Double, releaseCalls: Int) -> RooflineEstimate {
        Roofline.estimate(strategy: s, scenario: scenario, atomicsPerPage: atomics, memmapBytes: 1 << 20,
                          calibration: withReleaseCall, kernelCalls: kernelCalls(releaseCalls: releaseCalls))
    }

    @Test func releaseCallsAreChargedPerCallOnTheRMWSide() {
        // unpin-each, order 0: the larger of the atomic stream (4) and the RMW in L1 with one
        // call (3 + 1.5): part of a call hides under the line's arrival.
        let each = Self.roof(.unpinEach, Self.scenario(order: 0), atomics: 1, releaseCalls: 1024)
        #expect(each.nsPerPage == 4.5)
        #expect(each.terms.map(\.name) == ["atomic_ns", "release_call_ns"])
        #expect(each.terms.last?.perPage == 1)
        #expect(each.overlapped.map(\.name) == ["memmap_atomic_stream_ns_per_descriptor", "memmap_stream_ns_per_descriptor"])
        // unpin-batched, order 0, one call in 8 pages: the atomic stream (4) is the larger.
        let runs = Self.roof(.unpinBatched, Self.scenario(order: 0), atomics: 1, releaseCalls: 128)
        #expect(runs.nsPerPage == 4)
        #expect(runs.terms.map(\.name) == ["memmap_atomic_stream_ns_per_descriptor"])
        // unpin-each, THP: two RMWs (6) and a call (1.5) per page outweigh the atomic stream and
        // the second RMW (7) and the descriptor stream (2).
        let thp = Self.roof(.unpinEach, Self.scenario(order: 9), atomics: 2, releaseCalls: 1024)
        #expect(thp.nsPerPage == 7.5)
        // unpin-batched, THP: 2 calls in 1024 pages join the RMWs (3 × 4/1024 + 1.5 × 2/1024 =
        // 15/1024), still under the stream of every entry's descriptor (2): the stream is charged.
        let batched = Self.roof(.unpinBatched, Self.scenario(order: 9), atomics: 4.0 / 1024, releaseCalls: 2)
        #expect(batched.nsPerPage == 2)
        #expect(batched.overlapped.map(\.name) == ["atomic_ns", "release_call_ns"])
        #expect(batched.overlapped.last?.perPage == Self.exactly(2.0 / 1024))
        // unpin-range, order 0: the same larger of the two.
        let range = Self.roof(.unpinRange, Self.scenario(order: 0), atomics: 1, releaseCalls: 1024)
        #expect(range.nsPerPage == 4.5)
        // unpin-range, THP: one call per folio on top of the jump and the second RMW.
        let jump = Self.roof(.unpinRange, Self.scenario(order: 9), atomics: 4.0 / 1024, releaseCalls: 2)
        #expect(jump.nsPerPage == Self.exactly(16 * 2.0 / 1024 + 3 * 2.0 / 1024 + 1.5 * 2.0 / 1024))
        // unpin-folios, THP: a jump per folio, the second RMWs and the calls (16 × 2/1024 +
        // 3 × 2/1024 + 1.5 × 2/1024) against the stream of the pointer array and each page[1]
        // (2 × (1/8 + 2/1024)), the larger.
        let folios = Self.roof(.unpinFolios, Self.scenario(order: 9), atomics: 4.0 / 1024, releaseCalls: 2)
        #expect(folios.nsPerPage == Self.exactly(2 * (1.0 / 8 + 2.0 / 1024)))
        // io-uring-release, THP: the next head's address comes from the bvec, so the calls run
        // while its line is on its way: the jump and the second RMW (16 + 3 per folio) are
        // charged, the RMWs with their calls (2 × 3 + 1.5) run beside them.
        let bvecTHP = Self.roof(.ioUringRelease, Self.scenario(order: 9), atomics: 4.0 / 1024, releaseCalls: 2)
        #expect(bvecTHP.nsPerPage == Self.exactly((16 + 3) * 2.0 / 1024))
        #expect(bvecTHP.overlapped.map(\.name).contains("release_call_ns"))
        // io-uring-release, order 0: one unpin_user_folio() per bvec, the RMW and call (4.5) over
        // the atomic stream (4).
        let bvecs = Self.roof(.ioUringRelease, Self.scenario(order: 0), atomics: 1, releaseCalls: 1024)
        #expect(bvecs.nsPerPage == 4.5)
        // Without the calibrated figure, or without counted calls, nothing is charged.
        #expect(Self.roof(.unpinEach, Self.scenario(order: 0), atomics: 1, releaseCalls: 0).nsPerPage == 4)
        #expect(Roofline.estimate(strategy: .unpinEach, scenario: Self.scenario(order: 0), atomicsPerPage: 1,
                                  memmapBytes: 1 << 20, calibration: Self.sized,
                                  kernelCalls: Self.kernelCalls(releaseCalls: 1024)).nsPerPage == 4)
    }

    @Test func onOrderZeroTheCallsPartOutsideTheLinesArrivalIsAddedToTheStream() {
        var c = Self.withReleaseCall
        c.memmaps = [MemmapFigures(bytes: 1 << 20, streamNs: 2, atomicStreamNs: 4, jumpNs: 16, latencyNs: 50,
                                   releaseCallStreamNs: 1)]
        func roof(_ order: Int, _ atomics: Double) -> RooflineEstimate {
            Roofline.estimate(strategy: .unpinEach, scenario: Self.scenario(order: order), atomicsPerPage: atomics,
                              memmapBytes: 1 << 20, calibration: c, kernelCalls: Self.kernelCalls(releaseCalls: 1024))
        }
        // Order 0: the atomic stream and what a call adds to it (4 + 1) over the RMW and a call
        // in L1 (3 + 1.5).
        let four = roof(0, 1)
        #expect(four.nsPerPage == 5)
        #expect(four.terms.map(\.name) == ["memmap_atomic_stream_ns_per_descriptor",
                                            "memmap_release_call_stream_ns_per_descriptor"])
        // THP: not charged; the RMWs and a call in L1 (2 × 3 + 1.5) as before.
        #expect(roof(9, 2).nsPerPage == 7.5)
    }

    @Test func combinedCalibrationsTakeTheLowestReleaseCall() {
        var a = Self.plain, b = Self.plain
        a.releaseCallNs = 2.5
        b.releaseCallNs = 0.75
        let all = CalibrationFigures.combine([a, b])!
        #expect(all.releaseCallNs == 0.75)
        #expect(all.spread["release_call_ns"] == 0.75...2.5)
    }

    @Test func combinedCalibrationsTakeTheLowestAndNeverLetContendedFallBelow() {
        let a = CalibrationFigures(atomicNs: 2, contendedAtomicNs: 10, streamNsPerDescriptor: 5,
                                   streamNsPerDescriptorInCache: 1, llcBytes: 32 << 20)
        let b = CalibrationFigures(atomicNs: 4, contendedAtomicNs: nil, streamNsPerDescriptor: 7,
                                   streamNsPerDescriptorInCache: 1, llcBytes: 32 << 20)
        let c = CalibrationFigures(atomicNs: 3, contendedAtomicNs: 2.5, streamNsPerDescriptor: 6,
                                   streamNsPerDescriptorInCache: 1, llcBytes: 32 << 20)
        let all = CalibrationFigures.combine([a, b, c])!
        // Noise only adds time: the lowest figure of each term is the machine's.
        #expect(all.atomicNs == 2)
        #expect(all.streamNsPerDescriptor == 5)
        #expect(all.samples == 3)
        #expect(all.spread["atomic_ns"] == 2...4)
        // Contended: the median of the two valid figures (10, 2.5) = 6.25, above the atomic's 2.
        #expect(all.contendedAtomicNs == 6.25)
        let low = CalibrationFigures.combine([c])!
        #expect(low.contendedAtomicNs == 3)  // 2.5 < 3: raised to the uncontended figure
    }
}
