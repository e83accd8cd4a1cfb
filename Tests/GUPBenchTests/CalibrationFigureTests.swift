import CShims
import Foundation
import Testing
@testable import GUPBench

/// The typed calibration figures: names that round-trip, the one list every consumer derives
/// from, and each figure's combining rule on constructed calibrations (exact values, no timing).
@Suite struct CalibrationFigureTests {
    /// Every figure measured, distinct values, and one memmap: the floors' calibration plus the
    /// figures that are no floor.
    static var figures: CalibrationFigures {
        var c = FloorTests.calibration
        c.latencyNsPerDescriptor = 80
        c.latencyNsPerDescriptorInCache = 4
        c.contendedLockPairNs = 60
        return c
    }

    @Test func eachFiguresNamesRoundTrip() {
        for f in CalibrationFigure.allCases {
            #expect(CalibrationFigure(rawValue: f.rawValue) == f)
            #expect(CalibrationFigure(jsonKey: f.jsonKey) == f)
        }
        #expect(CalibrationFigure(jsonKey: "llc_bytes") == nil)
        #expect(CalibrationFigure.memmapLine.jsonKey == "line_ns")
        #expect(CalibrationFigure.atomic.jsonKey == "atomic_ns")
        #expect(Set(CalibrationFigure.allCases.map(\.jsonKey)).count == CalibrationFigure.allCases.count)
    }

    @Test func theReportJSONHoldsExactlyTheFigures() throws {
        let report = Report(command: "calibrate", topology: Topology.read(), calibration: Self.figures)
        let data = Data(report.json().serialized().utf8)
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let calibration = try #require(json["calibration"] as? [String: Any])
        let figureKeys = Set(calibration.keys).subtracting(["llc_bytes", "samples", "rejected_contended", "spread", "memmaps"])
        #expect(figureKeys == Set(CalibrationFigure.scalars.map(\.jsonKey)))
        for f in CalibrationFigure.scalars {
            #expect((calibration[f.jsonKey] as? NSNumber)?.doubleValue == Self.figures[f], "\(f)")
        }
        let memmap = try #require((calibration["memmaps"] as? [[String: Any]])?.first)
        #expect((memmap[CalibrationFigure.memmapLine.jsonKey] as? NSNumber)?.doubleValue == 1.5)

        // The gate reads back every figure the JSON holds, by the same names, and nothing else.
        let state = try #require(MachineState.read(json: json))
        #expect(Set(state.figures.keys) == Set(CalibrationFigure.scalars.map(\.rawValue) + ["memmap_line_ns@1MiB"]))
        #expect(state.figures["atomic_ns"]?.value == 2)
    }

    @Test func theTableLineAndTheToleranceTableComeFromTheList() {
        let line = Report.calibrationLine(Self.figures)
        #expect(line == "calibration (ns, lowest of 1 [range]; contended: median): atomic 2.00, contended atomic 20.0, "
                + "stream 5.00, in cache 0.500, dependent load 80.0, in cache 4.00")
        let labelled = CalibrationFigure.allCases.filter { $0.summaryLabel != nil }
        #expect(labelled == [.atomic, .contendedAtomic, .stream, .streamInCache, .latency, .latencyInCache])
        #expect(Set(MachineState.tolerance.keys) == Set(CalibrationFigure.allCases.filter { $0.tolerance != nil }.map(\.rawValue)))
        #expect(MachineState.tolerance["atomic_ns"] == 1.309)
        #expect(MachineState.tolerance["contended_atomic_ns"] == nil)
    }

    @Test func theContendedFiguresTakeTheMedianEveryOtherTheLowest() throws {
        var a = Self.figures, b = Self.figures, c = Self.figures
        a.atomicNs = 3; b.atomicNs = 2.5; c.atomicNs = 4
        a.contendedAtomicNs = 10; b.contendedAtomicNs = 40; c.contendedAtomicNs = 30
        a.contendedLockPairNs = 50; b.contendedLockPairNs = 90; c.contendedLockPairNs = 70
        a.kernelCallNs = 1.2; b.kernelCallNs = 0.9; c.kernelCallNs = nil
        c.memmaps = [MemmapFigures(bytes: 1 << 20, lineNs: 1.25)]
        let combined = try #require(CalibrationFigures.combine([a, b, c]))
        #expect(CalibrationFigure.contendedAtomic.combining == .median)
        #expect(CalibrationFigure.contendedLockPair.combining == .median)
        #expect(CalibrationFigure.allCases.filter { $0.combining == .median } == [.contendedAtomic, .contendedLockPair])
        #expect(combined.atomicNs == 2.5)
        #expect(combined.contendedAtomicNs == 30)
        #expect(combined.contendedLockPairNs == 70)
        #expect(combined.kernelCallNs == 0.9)
        #expect(combined.spread[.atomic] == 2.5...4)
        #expect(combined.spread[.kernelCall] == 0.9...1.2)
        #expect(combined.memmap(bytes: 1 << 20)?.lineNs == 1.25)
        #expect(combined.samples == 3)
    }
}

/// The one /proc/self/pagemap reader and the one -errno conversion.
@Suite struct CReaderTests {
    @Test(.enabled(if: geteuid() == 0, "pagemap shows PFNs to root only"))
    func thePagemapReaderReturnsAPresentPFNForATouchedPage() throws {
        let page = try #require(mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        try #require(page != MAP_FAILED)
        defer { munmap(page, 4096) }
        page.storeBytes(of: 1, as: UInt8.self)
        var entry: UInt64 = 0
        #expect(gb_pagemap_read_self(page, 1, &entry) == 0)
        #expect(gb_pagemap_present(entry))
        #expect(gb_pagemap_pfn(entry) != 0)
        var pfn: UInt64 = 0
        #expect(gb_pfns_read(page, 1, &pfn) == 0)
        #expect(pfn == gb_pagemap_pfn(entry))
    }

    @Test func aNegatedErrnoBecomesAnEnvironmentErrorNamingIt() throws {
        #expect(throws: GUPBenchError.environment("mmap of the data failed: ENOMEM (Cannot allocate memory)")) {
            try checkErrno(Int32(-ENOMEM), "mmap of the data")
        }
        #expect(GUPBenchError.fromErrno(-ENOMEM, "x").exitCode == 1)
        #expect(try checkErrno(Int32(0), "nothing") == 0)
        #expect(try checkErrno(7, "a count") == 7)
    }

    @Test func theSwiftChoicesMirrorTheirCEnums() {
        #expect(DirtyMode.allCases.map(\.cValue) == [GB_DIRTY_NONE, GB_DIRTY_DIRTY, GB_DIRTY_LOCK])
        #expect(MemPolicy.allCases.map(\.cValue) == [GB_POLICY_BIND, GB_POLICY_PREFERRED, GB_POLICY_INTERLEAVE])
        #expect(DetectMode.allCases.map(\.cValue) == [GB_DETECT_OFF, GB_DETECT_AUDIT, GB_DETECT_UNDERFLOW, GB_DETECT_LEDGER])
        #expect(Mitigations.allCases.map(\.cValue)
                == [GB_MITIGATION_OFF, GB_MITIGATION_SAFE_RET, GB_MITIGATION_RETPOLINE, GB_MITIGATION_RETPOLINE_SAFE_RET])
    }
}
