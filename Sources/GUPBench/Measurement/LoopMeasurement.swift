import CShims
import Foundation

/// One loop to time: a strategy in one implementation.
public struct LoopKey: Hashable, Sendable {
    public let strategy: Strategy
    public let impl: Impl
    public let detect: DetectMode
    public init(_ strategy: Strategy, _ impl: Impl, _ detect: DetectMode = .off) {
        self.strategy = strategy
        self.impl = impl
        self.detect = detect
    }
}

/// What the runner measured for one loop over all timed repetitions.
public struct LoopMeasurement: Sendable {
    public let key: LoopKey
    /// Wall time of the parallel release section, per timed repetition (ns): the mean of the
    /// sample's windows.
    public var wallNs: [Double] = []
    /// Timed windows each sample sums (Runner.windows): 1 unless --min-time asked for more.
    public var windowsPerSample = 1
    /// Each thread's own release time, per repetition: threadNs[rep][thread].
    public var threadNs: [[Double]] = []
    /// Per repetition: the time all threads released together ÷ the wall time (ThreadOverlap).
    public var overlaps: [Double] = []
    /// Per repetition: the least share of its timed windows any thread spent on its CPU
    /// (`ReleaseRunner.Sample.threadsRan`).
    public var threadsRan: [Double] = []
    /// Release-side counts of one repetition (all repetitions are identical work).
    public var releaseTally = gb_tally()
    /// Grab-side counts of the same repetition.
    public var grabTally = gb_tally()
    /// Summed over every repetition, warm-ups included.
    public var pinsAcquired: UInt64 = 0
    public var pinsReleased: UInt64 = 0
    /// The CPU each thread ran its releases on (sched_getcpu after the timed window).
    public var cpusUsed: [Int] = []
    /// Audit after every repetition; the first failure is kept.
    public var auditFailure: String?
    /// --detect underflow and ledger: releases whose atomic went below zero, ledger violations.
    public var underflows: UInt64 = 0
    public var ledgerViolations: Int = 0
    /// --last-ref: the locks one repetition took (all threads), and that the release freed.
    public var lockCounts = gb_lock_counts()
    public var lastRef = false
    /// The lines the most line-hungry thread's release touches (set by the experiment).
    public var linesTouched: LinesTouched?
    /// ns of the loop's release of its first entry alone, per timed sample (empty unless asked:
    /// BenchConfig.firstEntryAloneOf; ReleaseRunner.firstEntrySample).
    public var firstEntryReleaseNs: [Double] = []

    public var balanced: Bool { auditFailure == nil && pinsAcquired == pinsReleased }
}
