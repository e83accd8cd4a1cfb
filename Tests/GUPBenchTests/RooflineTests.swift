import Testing
@testable import GUPBench

@Suite struct RooflineTests {
    static let calibration = CalibrationFigures(atomicNs: 3, contendedAtomicNs: 20, streamNsPerDescriptor: 5,
                                                streamNsPerDescriptorInCache: 1, llcBytes: 32 << 20)

    static func scenario(order: Int, threads: Int = 1, sharing: Sharing = .disjoint) -> ScenarioKey {
        ScenarioKey(size: 1 << 30, backing: .fourK, folioOrder: order, forcedOrder: false, threads: threads,
                    sharing: sharing, layout: .sequential, dirty: .none, batch: nil, memNode: 0, cpuNode: 0,
                    memPolicy: .bind)
    }

    @Test func unpinEachOnOrderZeroInCacheIsOneAtomicPlusOneDescriptorAndAnEighth() {
        let ns = Roofline.nsPerPage(strategy: .unpinEach, scenario: Self.scenario(order: 0), atomicsPerPage: 1,
                                    memmapBytes: 1 << 20, calibration: Self.calibration)
        #expect(ns == 3 + 1.125 * 1)
    }

    @Test func outOfCacheMemmapUsesTheStreamingCost() {
        let ns = Roofline.nsPerPage(strategy: .putPage, scenario: Self.scenario(order: 0), atomicsPerPage: 1,
                                    memmapBytes: 64 << 20, calibration: Self.calibration)
        #expect(ns == 3 + 1.125 * 5)
    }

    @Test func unpinEachOnOrderNineIsTwoAtomicsPerPage() {
        let ns = Roofline.nsPerPage(strategy: .unpinEach, scenario: Self.scenario(order: 9), atomicsPerPage: 2,
                                    memmapBytes: 1 << 20, calibration: Self.calibration)
        #expect(ns == 6 + 1.125)
    }

    @Test func unpinBatchedOnOrderNineReadsEveryDescriptorButAtomicsPerFolio() {
        let ns = Roofline.nsPerPage(strategy: .unpinBatched, scenario: Self.scenario(order: 9), atomicsPerPage: 2.0 / 512,
                                    memmapBytes: 1 << 20, calibration: Self.calibration)
        #expect(ns == 3 * 2.0 / 512 + 1.125)
    }

    @Test func unpinRangeOnOrderNineTouchesHeadAndFirstTailPerFolio() {
        let ns = Roofline.nsPerPage(strategy: .unpinRange, scenario: Self.scenario(order: 9), atomicsPerPage: 2.0 / 512,
                                    memmapBytes: 1 << 20, calibration: Self.calibration)
        #expect(ns == 3 * 2.0 / 512 + 2.0 / 512)
    }

    @Test func sharedFoliesAcrossThreadsUseTheContendedAtomic() {
        let ns = Roofline.nsPerPage(strategy: .unpinEach, scenario: Self.scenario(order: 9, threads: 2, sharing: .interleaved),
                                    atomicsPerPage: 2, memmapBytes: 1 << 20, calibration: Self.calibration)
        #expect(ns == 40 + 1.125)
    }
}
