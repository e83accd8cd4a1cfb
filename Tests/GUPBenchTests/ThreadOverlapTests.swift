import Testing
@testable import GUPBench

/// thread_overlap from constructed start and end times.
@Suite struct ThreadOverlapTests {
    @Test func threadsThatRanTogetherOverlapFully() {
        #expect(ThreadOverlap.fraction(starts: [100, 100], ends: [200, 200]) == 1)
    }

    @Test func oneThreadAfterTheOtherDoNotOverlapAtAll() {
        // The run --threads 2 of the report: thread 1 started when thread 0 had finished.
        #expect(ThreadOverlap.fraction(starts: [0, 100], ends: [100, 200]) == 0)
        #expect(ThreadOverlap.fraction(starts: [0, 150], ends: [100, 250]) == 0)
    }

    @Test func partlyTogetherIsTheSharedTimeOverTheWallTime() {
        // Together from 40 to 100 (60 ns) of a section from 0 to 120.
        #expect(ThreadOverlap.fraction(starts: [0, 40], ends: [100, 120]) == 0.5)
        // Three threads: the latest start (30) and the earliest end (90) bound the shared time.
        #expect(ThreadOverlap.fraction(starts: [0, 10, 30], ends: [100, 90, 120]) == 0.5)
    }

    @Test func oneThreadOverlapsItself() {
        #expect(ThreadOverlap.fraction(starts: [5], ends: [9]) == 1)
        #expect(ThreadOverlap.fraction(starts: [], ends: []) == 1)
    }

    @Test func theNoisyMarkIsBelowNinetyPercent() {
        #expect(ThreadOverlap.noisyBelow == 0.9)
    }
}
