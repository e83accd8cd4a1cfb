import CShims

/// The least time a release loop could take per page on this machine, resource by resource:
/// for each resource the loop used, (events the loop performed) × (the fastest this machine
/// does one such event, from a calibration built to be the fastest way to do it). A loop can
/// overlap its resources but cannot do any one of them faster than the machine's fastest, so
/// each floor is a lower bound on its own, and the largest of them is the floor of the result.
/// Nothing here looks at the loops' timings; docs/floors.md says how each calibration is made.
///
/// A result faster than its floor beyond its CI means that resource's calibration is not the
/// fastest way to do the event: the calibration is to be fixed, never the formula.
public enum FloorResource: String, Sendable, CaseIterable {
    /// LOCK-prefixed RMWs: the tally's atomics and the two locked adds of every vmstat fold.
    case lockedRmw = "locked_rmw"
    /// 64-byte lines read: the distinct descriptor lines the loop touches (at the memmap's
    /// fastest line rate) and the lines of the arrays it walks (at the in-cache line rate).
    case lines
    /// Out-of-line calls and their returns, in the run's mitigation mode.
    case calls
    /// Uncontended spin_lock()/spin_unlock() pairs (--last-ref's lruvec, pcp and zone locks).
    case lockPairs = "lock_pairs"
    /// Unlocked cmpxchgs on the per-CPU vmstat diff: a chain, each reads the last one's result.
    case percpuCmpxchg = "percpu_cmpxchg"
}

/// One resource's floor: events per page per thread × the calibrated cost of one.
public struct Floor: Sendable, Equatable {
    public let resource: FloorResource
    public let eventsPerPage: Double
    public let ns: Double
    /// The calibration figure `ns` comes from, by its name (`CalibrationFigure.rawValue`; two
    /// joined by "+" for a mix of descriptor and array lines).
    public let calibration: String
    public var nsPerPage: Double { eventsPerPage * ns }

    public init(_ resource: FloorResource, eventsPerPage: Double, ns: Double, calibration: String) {
        self.resource = resource
        self.eventsPerPage = eventsPerPage
        self.ns = ns
        self.calibration = calibration
    }
}

/// Every floor of one result and the largest, which bounds it.
public struct FloorEstimate: Sendable, Equatable {
    public let floors: [Floor]

    public init(floors: [Floor]) { self.floors = floors }

    /// The floor that binds: the largest (the first of equals, in resource order).
    public var binding: Floor? {
        floors.reduce(nil) { best, f in best.map { f.nsPerPage > $0.nsPerPage ? f : $0 } ?? f }
    }
    public var nsPerPage: Double { binding?.nsPerPage ?? 0 }
    public var bound: FloorResource? { binding?.resource }
}

/// What one thread's share of a release did, per page of the share: the events each floor
/// counts. Totals over threads are divided by the thread count: the slowest thread, whose
/// pages the result is per, did at least the average.
public struct FloorEvents: Sendable, Equatable {
    public var lockedRmws = 0.0
    public var descriptorLines = 0.0
    public var arrayLines = 0.0
    public var calls = 0.0
    public var lockPairs = 0.0
    public var percpuCmpxchgs = 0.0

    public init(lockedRmws: Double = 0, descriptorLines: Double = 0, arrayLines: Double = 0, calls: Double = 0,
                lockPairs: Double = 0, percpuCmpxchgs: Double = 0) {
        self.lockedRmws = lockedRmws
        self.descriptorLines = descriptorLines
        self.arrayLines = arrayLines
        self.calls = calls
        self.lockPairs = lockPairs
        self.percpuCmpxchgs = percpuCmpxchgs
    }

    /// From a repetition's release tally (all threads), its lock counts, and the lines the most
    /// line-hungry thread touched (`LinesTouched`), for `threads` threads of at most
    /// `pagesPerThread` pages each.
    public init(tally t: gb_tally, locks: gb_lock_counts?, lines: LinesTouched, threads: Int, pagesPerThread: Int) {
        let perThreadPage = Double(max(1, threads)) * Double(max(1, pagesPerThread))
        lockedRmws = Double(t.atomics + 2 * t.vmstat_folds) / perThreadPage
        calls = Double(t.kernel_calls) / perThreadPage
        percpuCmpxchgs = Double(t.vmstat_cmpxchgs) / perThreadPage
        if let locks { lockPairs = Double(locks.lruvec + locks.pcp + locks.zone) / perThreadPage }
        descriptorLines = Double(lines.descriptorLines) / Double(max(1, pagesPerThread))
        arrayLines = Double(lines.arrayLines) / Double(max(1, pagesPerThread))
    }
}

public enum Floors {
    /// The floors of a result with `events`, on a memmap of `memmapBytes`, in `mitigations`.
    public static func estimate(events e: FloorEvents, memmapBytes: Int, mitigations: Mitigations,
                                calibration c: CalibrationFigures) -> FloorEstimate {
        var floors: [Floor] = []
        func add(_ r: FloorResource, _ events: Double, _ name: String, _ ns: Double?) {
            guard events > 0, let ns else { return }
            floors.append(Floor(r, eventsPerPage: events, ns: ns, calibration: name))
        }
        func add(_ r: FloorResource, _ events: Double, _ figure: CalibrationFigure) {
            add(r, events, figure.rawValue, c[figure])
        }
        add(.lockedRmw, e.lockedRmws, .atomic)
        // A descriptor line at the memmap's own size where calibrated; otherwise the in-cache
        // stream, the fastest line read the machine has. An array line: the in-cache stream.
        let inCache = CalibrationFigure.streamInCache
        let memmapLine = c.memmap(bytes: memmapBytes).map { (CalibrationFigure.memmapLine, $0.lineNs) }
            ?? (inCache, c.streamNsPerDescriptorInCache)
        if e.descriptorLines + e.arrayLines > 0 {
            let ns = (e.descriptorLines * memmapLine.1 + e.arrayLines * c.streamNsPerDescriptorInCache)
                / (e.descriptorLines + e.arrayLines)
            let name = e.arrayLines > 0 ? memmapLine.0.rawValue + "+" + inCache.rawValue : memmapLine.0.rawValue
            add(.lines, e.descriptorLines + e.arrayLines, name, ns)
        }
        let thunked = mitigations == .safeRet || mitigations == .retpolineSafeRet
        add(.calls, e.calls, thunked ? .kernelCallSafeRet : .kernelCall)
        add(.lockPairs, e.lockPairs, .lockPair)
        add(.percpuCmpxchg, e.percpuCmpxchgs, .localCmpxchg)
        return FloorEstimate(floors: floors)
    }
}

/// The 64-byte lines one thread's release touches, counted from the arrays it walks (outside
/// any timed window), by the strategy's access pattern:
/// - descriptors: every entry's own descriptor where the loop reads each entry (a per-entry
///   walk; a bvec's first page), each folio's head, and for pins on a large folio its page[1]
///   (_pincount);
/// - arrays: 8 bytes per entry of the page or folio-pointer array, 16 per bvec; none for a range.
public struct LinesTouched: Sendable, Equatable {
    public var descriptorLines: Int
    public var arrayLines: Int

    public init(descriptorLines: Int, arrayLines: Int) {
        self.descriptorLines = descriptorLines
        self.arrayLines = arrayLines
    }

    /// For `strategy` releasing `pages` (descriptors of `model`).
    public init(strategy: Strategy, pages: UnsafeMutableBufferPointer<PagePointer>, model: PageModel) {
        let memmap = model.memmap
        var seen = [Bool](repeating: false, count: model.pageCount)
        var lines = 0
        func mark(_ p: PagePointer) {
            let i = p - memmap
            guard i >= 0, i < seen.count, !seen[i] else { return }
            seen[i] = true
            lines += 1
        }
        let pins = strategy.foll == GB_FOLL_PIN
        var runs = 0
        var lastHead: PagePointer? = nil
        for (k, page) in pages.enumerated() {
            let head = gb_compound_head(page)
            let startsRun = k == 0 || head != lastHead || page != pages[k - 1] + 1
            if startsRun { runs += 1 }
            lastHead = head
            switch strategy.access {
            case .entryWalk: mark(page)
            case .bvecWalk: if startsRun { mark(page) }
            case .folioArithmetic, .folioPointers: break
            }
            mark(head)
            if pins && gb_folio_order(head) > 0 { mark(head + 1) }
        }
        descriptorLines = lines
        let arrayBytes: Int
        switch strategy.access {
        case .entryWalk, .folioPointers: arrayBytes = pages.count * 8
        case .bvecWalk: arrayBytes = runs * 16
        case .folioArithmetic: arrayBytes = 0
        }
        arrayLines = (arrayBytes + 63) / 64
    }
}
