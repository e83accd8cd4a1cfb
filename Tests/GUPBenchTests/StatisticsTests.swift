import Testing
@testable import GUPBench

@Suite struct StatisticsTests {
    @Test func medianOfOddAndEvenSamples() {
        #expect(Statistics.median([5, 1, 3]) == 3)
        #expect(Statistics.median([4, 1, 3, 2]) == 2.5)
    }

    @Test func bootstrapCIOfMedianContainsTheTrueMedian() {
        // A symmetric sample around 100: the CI must contain 100.
        let xs = (0..<41).map { 100 + Double($0 - 20) * 0.5 }
        let ci = Statistics.medianCI(xs)
        #expect(ci.low <= 100 && 100 <= ci.high)
        #expect(ci.low >= 95 && ci.high <= 105)
    }

    @Test func speedupOfTwiceAsFastIsTwo() {
        let base = [10.0, 10.1, 9.9, 10.0, 10.2]
        let cand = base.map { $0 / 2 }
        let s = Statistics.speedup(baseline: base, candidate: cand)
        #expect(s.median == 2)
        #expect(s.low <= 2 && 2 <= s.high)
    }

    @Test func verdictRules() {
        #expect(Verdict.decide(speedup: 1.5, ciLow: 1.4, ciHigh: 1.6) == .faster)
        #expect(Verdict.decide(speedup: 1.01, ciLow: 1.005, ciHigh: 1.02) == .withinNoise)  // under 2%
        #expect(Verdict.decide(speedup: 1.3, ciLow: 0.98, ciHigh: 1.5) == .withinNoise)     // CI crosses 1
        #expect(Verdict.decide(speedup: 0.5, ciLow: 0.45, ciHigh: 0.55) == .slower)
    }
}
