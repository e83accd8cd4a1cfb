/// One figure a calibration measures: the one list of them. The report's JSON, the table's
/// summary line, the floors, `combine` and the gate's machine comparison (`MachineState`) all
/// take their names and rules from here, so a figure is added or renamed in one place.
public enum CalibrationFigure: String, CaseIterable, Sendable {
    case atomic = "atomic_ns"
    case contendedAtomic = "contended_atomic_ns"
    case stream = "stream_ns_per_descriptor"
    case streamInCache = "stream_ns_per_descriptor_in_cache"
    case latency = "latency_ns_per_descriptor"
    case latencyInCache = "latency_ns_per_descriptor_in_cache"
    case lockPair = "lock_pair_ns"
    case contendedLockPair = "contended_lock_pair_ns"
    case kernelCall = "kernel_call_ns"
    case kernelCallSafeRet = "kernel_call_safe_ret_ns"
    case localCmpxchg = "local_cmpxchg_ns"
    /// The descriptor-line floor on a buffer of one memmap's size: one per memmap size, in the
    /// calibration's `memmaps` (`MemmapFigures`), named "memmap_line_ns" by the floors and the gate.
    case memmapLine = "memmap_line_ns"

    /// How the figures of several calibrations make one.
    public enum Combining: Sendable {
        /// The lowest: noise only ever adds time to a timed loop, so the fastest calibration is
        /// the machine's, and a floor built from it stays a lower bound.
        case lowest
        /// The median of the valid ones: threads that did not really run together measure too
        /// little, so the lowest would be the least trustworthy.
        case median
    }

    /// The figure's name in reports' JSON (its key in the calibration object, "line_ns" in a
    /// memmap's), and its inverse.
    public var jsonKey: String { self == .memmapLine ? "line_ns" : rawValue }
    public init?(jsonKey: String) {
        guard let f = Self.allCases.first(where: { $0.jsonKey == jsonKey }) else { return nil }
        self = f
    }

    /// Whether the figure is measured per memmap size rather than once per calibration.
    public var perMemmap: Bool { self == .memmapLine }

    /// The figures of the calibration object itself, in report order.
    public static let scalars: [CalibrationFigure] = allCases.filter { !$0.perMemmap }

    /// The contended figures take the median (see `Combining`); every other the lowest.
    public var combining: Combining {
        switch self {
        case .contendedAtomic, .contendedLockPair: return .median
        default: return .lowest
        }
    }

    /// `values` (one per calibration that measured the figure) combined by the figure's rule; nil
    /// when none did.
    public func combine(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        switch combining {
        case .lowest: return values.min()
        case .median: return Statistics.median(values)
        }
    }

    /// How far the figure may move between two processes of the same binary on an unchanged
    /// machine (a factor; the gate allows now/before in [1/t, t]): exp(3·√2·σ), σ the robust
    /// standard deviation (1.4826 × median absolute deviation) of the figure's log over A/A
    /// runs, so a pair differs beyond three standard deviations of a difference; never under
    /// 1.10, the gate's default threshold (`scripts/machine_tolerance.py`, docs/gate.md). Each
    /// is the wider of two sets of `compare` runs on the AMD EPYC host: 12 with a
    /// compiler on the other vCPU, and 25 of a day when another tenant loaded the host (the
    /// in-cache figures and the atomic move most then). nil: not compared — the contended
    /// figures (two CPUs of a shared guest rarely run together).
    public var tolerance: Double? {
        switch self {
        case .atomic: return 1.309
        case .kernelCall, .kernelCallSafeRet, .localCmpxchg: return 1.1
        case .streamInCache: return 1.497
        case .latency: return 1.622
        case .latencyInCache: return 3.456
        case .lockPair: return 1.101
        case .memmapLine: return 1.845
        case .stream: return 1.556
        case .contendedAtomic, .contendedLockPair: return nil
        }
    }

    /// The figure's label on the report table's calibration line; nil for figures it leaves out.
    public var summaryLabel: String? {
        switch self {
        case .atomic: return "atomic"
        case .contendedAtomic: return "contended atomic"
        case .stream: return "stream"
        case .streamInCache, .latencyInCache: return "in cache"
        case .latency: return "dependent load"
        default: return nil
        }
    }
}

/// The machine's limits (`gupbench calibrate`), nil until measured. After several calibrations
/// each figure is combined by its rule (`CalibrationFigure.combining`; `combine`) and `spread`
/// gives the range it came from.
public struct CalibrationFigures: Sendable {
    /// One LOCK-prefixed RMW on lines only this thread uses, the fastest way (the floor of
    /// locked RMWs).
    public var atomicNs: Double
    /// The same on a line every CPU of the run hammers; nil with one CPU, or when every try
    /// measured it below the uncontended figure (impossible, so invalid).
    public var contendedAtomicNs: Double?
    /// Reading consecutive 64-byte descriptors, beyond the LLC and inside it.
    public var streamNsPerDescriptor: Double
    public var streamNsPerDescriptorInCache: Double
    /// A dependent load of a descriptor whose address came from the previous load, beyond the
    /// LLC and inside it; nil when not calibrated.
    public var latencyNsPerDescriptor: Double?
    public var latencyNsPerDescriptorInCache: Double?
    public var llcBytes: Int
    /// One uncontended spin_lock()/spin_unlock() pair (gb_free.h; the floor of a lock taken in
    /// --last-ref), and one acquisition handed over from another CPU (two CPUs taking one lock
    /// in strict turn; the machine's state, not a floor).
    public var lockPairNs: Double?
    /// One out-of-line call and its return, plain and through the Safe-RET thunk, and one
    /// unlocked cmpxchg on a per-CPU byte (gb_kcalls.h): the floors of calls and of per-CPU
    /// counter updates.
    public var kernelCallNs: Double?
    public var kernelCallSafeRetNs: Double?
    public var localCmpxchgNs: Double?
    public var contendedLockPairNs: Double?
    /// How many calibrations the figures are combined from.
    public var samples: Int = 1
    /// Each term's lowest and highest figure over those calibrations.
    public var spread: [CalibrationFigure: ClosedRange<Double>] = [:]
    /// Contended measurements thrown away for coming out below the uncontended atomic.
    public var rejectedContended: Int = 0
    /// The fastest line read on a buffer the size of a run's memmap, written once before each
    /// pass as pinning writes the memmap (the floor of descriptor lines at that size).
    public var memmaps: [MemmapFigures] = []

    /// The figures for a memmap of `bytes`, if the run calibrated one of that size.
    public func memmap(bytes: Int) -> MemmapFigures? { memmaps.first { $0.bytes == bytes } }

    public init(atomicNs: Double, contendedAtomicNs: Double?, streamNsPerDescriptor: Double,
                streamNsPerDescriptorInCache: Double, latencyNsPerDescriptor: Double? = nil,
                latencyNsPerDescriptorInCache: Double? = nil, llcBytes: Int) {
        self.atomicNs = atomicNs
        self.contendedAtomicNs = contendedAtomicNs
        self.streamNsPerDescriptor = streamNsPerDescriptor
        self.streamNsPerDescriptorInCache = streamNsPerDescriptorInCache
        self.latencyNsPerDescriptor = latencyNsPerDescriptor
        self.latencyNsPerDescriptorInCache = latencyNsPerDescriptorInCache
        self.llcBytes = llcBytes
    }

    /// A scalar figure's value (nil = not measured; `.memmapLine` is per memmap: `memmap(bytes:)`).
    /// Setting nil leaves a figure every calibration measures as it was.
    public subscript(figure: CalibrationFigure) -> Double? {
        get {
            switch figure {
            case .atomic: return atomicNs
            case .contendedAtomic: return contendedAtomicNs
            case .stream: return streamNsPerDescriptor
            case .streamInCache: return streamNsPerDescriptorInCache
            case .latency: return latencyNsPerDescriptor
            case .latencyInCache: return latencyNsPerDescriptorInCache
            case .lockPair: return lockPairNs
            case .contendedLockPair: return contendedLockPairNs
            case .kernelCall: return kernelCallNs
            case .kernelCallSafeRet: return kernelCallSafeRetNs
            case .localCmpxchg: return localCmpxchgNs
            case .memmapLine: return nil
            }
        }
        set {
            switch figure {
            case .atomic: if let newValue { atomicNs = newValue }
            case .contendedAtomic: contendedAtomicNs = newValue
            case .stream: if let newValue { streamNsPerDescriptor = newValue }
            case .streamInCache: if let newValue { streamNsPerDescriptorInCache = newValue }
            case .latency: latencyNsPerDescriptor = newValue
            case .latencyInCache: latencyNsPerDescriptorInCache = newValue
            case .lockPair: lockPairNs = newValue
            case .contendedLockPair: contendedLockPairNs = newValue
            case .kernelCall: kernelCallNs = newValue
            case .kernelCallSafeRet: kernelCallSafeRetNs = newValue
            case .localCmpxchg: localCmpxchgNs = newValue
            case .memmapLine: break
            }
        }
    }

    /// The scalar figures in report order (nil = not measured).
    public var terms: [(figure: CalibrationFigure, value: Double?)] {
        CalibrationFigure.scalars.map { ($0, self[$0]) }
    }

    /// Several calibrations made one, each figure by its rule (`CalibrationFigure.combining`:
    /// the lowest, the median for the contended figures), with `spread` keeping each range.
    public static func combine(_ all: [CalibrationFigures]) -> CalibrationFigures? {
        guard var c = all.first else { return nil }
        c.spread = [:]
        for figure in CalibrationFigure.scalars {
            let values = all.compactMap { $0[figure] }
            c[figure] = figure.combine(values)
            if let low = values.min(), let high = values.max() { c.spread[figure] = low...high }
        }
        c.samples = all.reduce(0) { $0 + $1.samples }
        c.rejectedContended = all.reduce(0) { $0 + $1.rejectedContended }
        var sizes: [Int] = []
        for m in all.flatMap(\.memmaps) where !sizes.contains(m.bytes) { sizes.append(m.bytes) }
        c.memmaps = sizes.map { bytes in
            let lines = all.flatMap(\.memmaps).filter { $0.bytes == bytes }.map(\.lineNs)
            return MemmapFigures(bytes: bytes, lineNs: CalibrationFigure.memmapLine.combine(lines)!,
                                 spread: lines.min()!...lines.max()!)
        }
        // The medians of two terms come from different calibrations; a line two CPUs fight
        // over cannot be cheaper than one nobody else touches.
        if let contended = c.contendedAtomicNs, contended < c.atomicNs { c.contendedAtomicNs = c.atomicNs }
        return c
    }
}

extension CalibrationFigures {
    /// The memmap line figure lowered to what the run's own memmaps did (`Calibrator.sampleOwnMemmap`,
    /// ns per line by memmap bytes), its spread widened to include them: the buffer calibrated
    /// at the memmap's size is other physical memory, and where its lines land in the cache can
    /// differ; the lower figure is the floor.
    public func withOwnMemmaps(_ own: [Int: [Double]]) -> CalibrationFigures {
        var c = self
        for k in c.memmaps.indices {
            guard let times = own[c.memmaps[k].bytes], let low = times.min(), let high = times.max() else { continue }
            let was = c.memmaps[k].spread
            c.memmaps[k].spread = min(was.lowerBound, low)...max(was.upperBound, high)
            c.memmaps[k].lineNs = min(c.memmaps[k].lineNs, low)
        }
        return c
    }
}

/// The floor of descriptor lines on a buffer of one memmap's size (4 KiB pages, like the memmap).
public struct MemmapFigures: Sendable, Equatable {
    public let bytes: Int
    /// ns per 64-byte line, the fastest read of consecutive descriptors just written
    /// (gb_calibrate_line_ns): the lower of the calibration buffer's and the run's own memmap's.
    public var lineNs: Double
    public var spread: ClosedRange<Double>

    public init(bytes: Int, lineNs: Double, spread: ClosedRange<Double>? = nil) {
        self.bytes = bytes
        self.lineNs = lineNs
        self.spread = spread ?? lineNs...lineNs
    }
}
