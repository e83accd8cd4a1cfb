import CShims

/// One strategy in one implementation on one scenario.
public struct ResultRecord: Sendable {
    public let strategy: Strategy
    public let impl: Impl
    public let detect: DetectMode
    public let scenario: ScenarioKey
    public let pages: Int
    public let pagesPerThread: Int
    public let repetitions: Int
    /// ns per page per thread, one value per repetition, grouped by round.
    public let nsPerPageRounds: RoundSamples
    /// Every repetition, round after round.
    public var nsPerPageSamples: [Double] { nsPerPageRounds.all }
    public let nsPerPage: Summary
    public let pagesPerSecond: Double
    public let atomicsPerPage: Double
    public let flagTestsPerPage: Double
    /// Every resource's floor (Floors); nil without a calibration.
    public var floors: FloorEstimate?
    public var floorNsPerPage: Double? { floors?.nsPerPage }
    public let thpBackedFraction: Double
    /// Fraction of the region's pages in verified folios of the order the backing asks for.
    public let folioBackedFraction: Double
    public let placement: PlacementReport
    public let cpus: [Int]
    /// Each thread's own median ns per page (its release time over its own pages).
    public let perThreadNsPerPage: [Double]
    /// Median over repetitions of the time all threads ran together ÷ the section's wall time
    /// (`ThreadOverlap`); nil for one thread.
    public let threadOverlap: Double?
    /// Timed windows each sample added up (the fewest of any round; ReleaseRunner.filled).
    public let windowsPerSample: Int
    public let balanced: Bool
    public let auditDetail: String?
    public let pinsAcquired: UInt64
    public let pinsReleased: UInt64
    /// --detect underflow/ledger findings (0 in a correct run).
    public let underflows: UInt64
    public let ledgerViolations: Int
    /// --last-ref: locks taken per page released (nil in reference-drop mode, where none are).
    public var locksPerPage: LocksPerPage? = nil
    /// Per repetition, by round like `nsPerPageRounds`: the least share of its timed windows
    /// any thread spent on its CPU (the gate drops repetitions below `Gate.ranAtLeast`).
    public var threadsRan: [[Double]] = []
    /// The kernel's per-call work per 4 KiB page (gb_kcalls.h).
    public var kernelCallsPerPage: KernelCallsPerPage? = nil
    /// ns of one call releasing the first entry alone, per timed sample (the mean of the sample's
    /// windows, ReleaseRunner.firstEntrySample; `gupbench kernel`'s same loop only, else empty).
    public var firstEntryReleaseNs: [Double] = []

    /// ns per page of the walk: each sample less the median cost of a call releasing one entry
    /// (`firstEntryReleaseNs`), spread over the thread's pages; as the kernel's loop is its release
    /// less its release of one page (KernelPathMeasurement.loop). The plain ns per page where
    /// the one-entry call was not measured.
    public var loop: Summary {
        guard !firstEntryReleaseNs.isEmpty else { return nsPerPage }
        let fixed = Statistics.median(firstEntryReleaseNs)
        return Summary(nsPerPageRounds.shifted(by: fixed / Double(max(1, pagesPerThread))))
    }

    public var key: LoopKey { LoopKey(strategy, impl, detect) }

    /// True when the measurement is faster than its floor even at the top of its CI: the
    /// binding resource's calibration is not the fastest way to do that event.
    public var beatsFloor: Bool { floorNsPerPage.map { $0 > nsPerPage.ci95High } ?? false }

    /// floor ÷ measured, unclamped, with the CI the measurement's CI gives it (1 = the loop
    /// runs at the floor; above 1, beyond the CI, the floor is wrong); nil without floors.
    public var efficiency: Efficiency? {
        guard let floor = floorNsPerPage, floor > 0 else { return nil }
        return Efficiency(median: floor / nsPerPage.median, ci95Low: floor / nsPerPage.ci95High,
                          ci95High: floor / nsPerPage.ci95Low)
    }

    /// Why the figure should not be trusted alone: a wide spread, or threads that did not run
    /// together.
    public var noiseReasons: [String] {
        var reasons: [String] = []
        if nsPerPage.noisy {
            reasons.append("CV \(Fmt.percent(nsPerPage.cv)) over \(Fmt.percent(Summary.noisyCV))")
        }
        if let overlap = threadOverlap, overlap < ThreadOverlap.noisyBelow {
            reasons.append("threads ran together for only \(Fmt.percent(overlap)) of the section")
        }
        return reasons
    }

    public var noisy: Bool { !noiseReasons.isEmpty }
}

/// Locks taken per page released, by kind (docs/last-reference.md): the node's lruvec lock
/// (`__page_cache_release()`), the per-CPU list's lock (`free_frozen_pages()`,
/// `free_unref_folios()`) and the zone lock (the spill, `free_pcppages_bulk()`, or
/// `free_one_page()`).
/// Out-of-line calls, is_zero_folio() tests, unlocked vmstat cmpxchgs and vmstat folds per page.
public struct KernelCallsPerPage: Sendable, Equatable {
    public var calls, zeroFolioTests, vmstatCmpxchgs, vmstatFolds: Double

    public init(_ t: gb_tally, pages: Double) {
        calls = Double(t.kernel_calls) / pages
        zeroFolioTests = Double(t.zero_folio_tests) / pages
        vmstatCmpxchgs = Double(t.vmstat_cmpxchgs) / pages
        vmstatFolds = Double(t.vmstat_folds) / pages
    }

    var json: JSON {
        .object([("calls", .num(calls)), ("zero_folio_tests", .num(zeroFolioTests)),
                 ("vmstat_cmpxchgs", .num(vmstatCmpxchgs)), ("vmstat_folds", .num(vmstatFolds))])
    }
}

public struct LocksPerPage: Sendable, Equatable {
    public var lruvec: Double
    public var pcp: Double
    public var zone: Double
    public var total: Double { lruvec + pcp + zone }

    public init(lruvec: Double, pcp: Double, zone: Double) {
        self.lruvec = lruvec
        self.pcp = pcp
        self.zone = zone
    }

    public init(_ c: gb_lock_counts, pages: Double) {
        let n = max(pages, 1)
        self.init(lruvec: Double(c.lruvec) / n, pcp: Double(c.pcp) / n, zone: Double(c.zone) / n)
    }
}

/// floor ÷ measured ns per page, with its 95% CI.
public struct Efficiency: Sendable, Equatable {
    public let median: Double
    public let ci95Low: Double
    public let ci95High: Double
}
