import Testing
@testable import GUPBench

/// Verdicts people read right: both directions named, CI bounds never shown as 1.00 when they
/// are not, and no verdict from one repetition.
@Suite struct VerdictWordingTests {
    @Test func boundsThatWouldRoundOntoOneGetMoreDigits() {
        #expect(Fmt.bound(0.9996) == "0.9996")
        #expect(Fmt.bound(1.0004) == "1.0004")
        #expect(Fmt.bound(0.996) == "0.996")
        #expect(Fmt.bound(0.95) == "0.95")
        #expect(Fmt.bound(1) == "1.00")
        #expect(Fmt.speedup(0.97, 0.95, 0.9996) == "0.97x [0.95-0.9996]")
    }

    @Test func fasterIsMarkedLikeSlower() {
        #expect(Verdict.faster.mark == "faster")
        #expect(Verdict.slower.mark == "slower")
        #expect(Verdict.withinNoise.mark == "≈")
    }

    @Test func oneRepetitionGivesNoVerdict() {
        #expect(Verdict.decide(speedup: 2, ciLow: 1.9, ciHigh: 2.1, repetitions: 1) == .notApplicable)
        #expect(Verdict.notApplicable.mark == "n/a: 1 repetition")
        #expect(Verdict.decide(speedup: 2, ciLow: 1.9, ciHigh: 2.1, repetitions: 2) == .faster)
    }
}
