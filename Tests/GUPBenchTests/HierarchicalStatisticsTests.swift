import Testing
@testable import GUPBench

/// The statistics that spread repetitions over rounds, on constructed samples whose spread is
/// known exactly.
@Suite struct HierarchicalStatisticsTests {
    /// Five rounds; inside each round every repetition is the same value, so all the spread
    /// is between rounds: 100, 101, 102, 103, 104.
    static let onlyBetween = RoundSamples((0..<5).map { r in Array(repeating: 100 + Double(r), count: 10) })

    /// Five identical rounds: 96, 98, 100, 102, 104 each, so all the spread is within rounds.
    static let onlyWithin = RoundSamples(Array(repeating: [96, 98, 100, 102, 104], count: 5))

    @Test func spreadSplitsBetweenAndWithinRounds() {
        let b = Statistics.spread(Self.onlyBetween)
        #expect(b.withinRoundCV == 0)
        // Round means 100...104: sample SD = sqrt(2.5), grand mean 102.
        #expect(abs(b.betweenRoundCV - 2.5.squareRoot() / 102) < 1e-12)
        let w = Statistics.spread(Self.onlyWithin)
        #expect(w.betweenRoundCV == 0)
        // Deviations -4,-2,0,2,4 in each round: 40 per round, 200 over 25 − 5 degrees of freedom.
        #expect(abs(w.withinRoundCV - (200.0 / 20).squareRoot() / 100) < 1e-12)
    }

    @Test func hierarchicalCICoversTheRoundsThatAFlatBootstrapMisses() {
        let flat = Statistics.medianCI(Self.onlyBetween.all)
        let rounds = Statistics.medianCI(Self.onlyBetween)
        // A resample's median is a round's value or the midpoint of two: the CI's bounds are
        // on the half-unit grid between 100 and 104, and reach at least one round either side
        // of the middle one.
        for bound in [rounds.low, rounds.high] {
            #expect(bound >= 100 && bound <= 104)
            #expect((bound * 2).rounded() == bound * 2)
        }
        #expect(rounds.low <= 101 && rounds.high >= 103)
        #expect(rounds.high - rounds.low > flat.high - flat.low)
    }

    @Test func oneRoundIsTheOrdinaryBootstrap() {
        let xs = [10.0, 11, 12, 9, 10.5, 10.2, 9.8]
        let one = Statistics.medianCI(RoundSamples([xs]))
        let flat = Statistics.medianCI(xs)
        #expect(one.low == flat.low && one.high == flat.high)
    }

    @Test func emptyRoundsAreDropped() {
        let s = RoundSamples([[1, 2], [], [3]])
        #expect(s.rounds.count == 2)
        #expect(s.count == 3)
        #expect(s.all == [1, 2, 3])
        #expect(s.roundMedians == [1.5, 3])
    }

    @Test func identicalSidesAreNoChange() {
        let s = Statistics.speedup(baseline: Self.onlyWithin, candidate: Self.onlyWithin, paired: false)
        #expect(s.median == 1)
        #expect(s.low <= 1 && 1 <= s.high)
        #expect(s.p > 0.5)
    }

    @Test func aThirdSlowerEverywhereIsSignificantBeyondTheBootstrapsCountingResolution() {
        let slower = Self.onlyWithin.scaled(by: 4.0 / 3)
        let s = Statistics.speedup(baseline: Self.onlyWithin, candidate: slower, paired: false,
                                   resamples: 2000)
        #expect(abs(s.median - 0.75) < 1e-12)
        #expect(s.high < 1)
        // No resampled ratio reaches 1: counting would say 2 × 1/2001; the normal tail of the
        // log ratios resolves far below that.
        #expect(s.p < 2.0 / 2001)
        #expect(s.logSE > 0)
    }

    @Test func pairedRoundsCancelTheSpreadTheyShare() {
        // The candidate is the baseline 10% faster in every round: drawn in pairs the rounds'
        // offsets cancel and every resampled ratio is 1.1 exactly; drawn apart they do not.
        let candidate = Self.onlyBetween.scaled(by: 1 / 1.1)
        let paired = Statistics.speedup(baseline: Self.onlyBetween, candidate: candidate, paired: true)
        #expect(abs(paired.low - 1.1) < 1e-12 && abs(paired.high - 1.1) < 1e-12)
        let apart = Statistics.speedup(baseline: Self.onlyBetween, candidate: candidate, paired: false)
        #expect(apart.high - apart.low > 0.01)
    }

    @Test func oneRepetitionHasNoTest() {
        let s = Statistics.speedup(baseline: RoundSamples([[10]]), candidate: RoundSamples([[5]]), paired: false)
        #expect(s.median == 2)
        #expect(s.p.isNaN)
    }

    /// Holm's procedure on the textbook example (four p-values): sorted 0.005, 0.01, 0.03, 0.04
    /// times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04, made non-decreasing: 0.02, 0.03, 0.06, 0.06.
    @Test func holmOnTextbookPValues() {
        let adjusted = Statistics.holm([0.01, 0.04, 0.03, 0.005])
        let expected = [0.03, 0.06, 0.06, 0.02]
        for (a, e) in zip(adjusted, expected) { #expect(abs(a - e) < 1e-12) }
        // At α = 0.05 Holm rejects two of the four where the uncorrected test rejects all four.
        #expect(adjusted.filter { $0 < 0.05 }.count == 2)
    }

    @Test func holmCapsAtOneAndSkipsUntested() {
        let adjusted = Statistics.holm([0.5, .nan, 0.4])
        #expect(adjusted[0] == 0.8)
        #expect(adjusted[1].isNaN)
        #expect(adjusted[2] == 0.8)
        #expect(Statistics.holm([0.9, 0.8, 0.7]) == [1, 1, 1])
    }
}
