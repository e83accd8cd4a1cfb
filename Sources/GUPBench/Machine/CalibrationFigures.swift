/// The machine's limits (`gupbench calibrate`), nil until measured. After several calibrations
/// each figure is the lowest of them (the median for contended figures; `combine`) and
/// `spread` gives the range it came from.
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
    /// How many calibrations the figures are the median of.
    public var samples: Int = 1
    /// Each term's lowest and highest figure over those calibrations, by its JSON name.
    public var spread: [String: ClosedRange<Double>] = [:]
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

    /// The terms by JSON name, in report order (nil = not measured).
    public var terms: [(name: String, value: Double?)] {
        [("atomic_ns", atomicNs), ("contended_atomic_ns", contendedAtomicNs),
         ("stream_ns_per_descriptor", streamNsPerDescriptor),
         ("stream_ns_per_descriptor_in_cache", streamNsPerDescriptorInCache),
         ("latency_ns_per_descriptor", latencyNsPerDescriptor),
         ("latency_ns_per_descriptor_in_cache", latencyNsPerDescriptorInCache),
         ("lock_pair_ns", lockPairNs), ("contended_lock_pair_ns", contendedLockPairNs),
         ("kernel_call_ns", kernelCallNs), ("kernel_call_safe_ret_ns", kernelCallSafeRetNs),
         ("local_cmpxchg_ns", localCmpxchgNs)]
    }

    /// Several calibrations made one. On a shared machine noise only ever adds time to a
    /// timed loop (preemption, a neighbour on the sibling hyperthread or in the cache), so the
    /// lowest figure any calibration measured is the machine's: the floors built from it stay
    /// lower bounds however many calibrations a neighbour disturbed, and `spread` keeps
    /// the range. The contended figures are the exception: threads that did not really run
    /// together measure too little, so those take the median of the valid ones.
    public static func combine(_ all: [CalibrationFigures]) -> CalibrationFigures? {
        guard let first = all.first else { return nil }
        func low(_ xs: [Double]) -> Double? { xs.min() }
        func med(_ xs: [Double]) -> Double? { xs.isEmpty ? nil : Statistics.median(xs) }
        var c = CalibrationFigures(
            atomicNs: low(all.map(\.atomicNs))!, contendedAtomicNs: med(all.compactMap(\.contendedAtomicNs)),
            streamNsPerDescriptor: low(all.map(\.streamNsPerDescriptor))!,
            streamNsPerDescriptorInCache: low(all.map(\.streamNsPerDescriptorInCache))!,
            latencyNsPerDescriptor: low(all.compactMap(\.latencyNsPerDescriptor)),
            latencyNsPerDescriptorInCache: low(all.compactMap(\.latencyNsPerDescriptorInCache)),
            llcBytes: first.llcBytes)
        c.lockPairNs = low(all.compactMap(\.lockPairNs))
        c.contendedLockPairNs = med(all.compactMap(\.contendedLockPairNs))
        c.kernelCallNs = low(all.compactMap(\.kernelCallNs))
        c.kernelCallSafeRetNs = low(all.compactMap(\.kernelCallSafeRetNs))
        c.localCmpxchgNs = low(all.compactMap(\.localCmpxchgNs))
        c.samples = all.reduce(0) { $0 + $1.samples }
        c.rejectedContended = all.reduce(0) { $0 + $1.rejectedContended }
        for (k, term) in c.terms.enumerated() where term.value != nil {
            let values = all.compactMap { $0.terms[k].value }
            c.spread[term.name] = values.min()!...values.max()!
        }
        var sizes: [Int] = []
        for m in all.flatMap(\.memmaps) where !sizes.contains(m.bytes) { sizes.append(m.bytes) }
        c.memmaps = sizes.map { bytes in
            let lines = all.flatMap(\.memmaps).filter { $0.bytes == bytes }.map(\.lineNs)
            return MemmapFigures(bytes: bytes, lineNs: lines.min()!, spread: lines.min()!...lines.max()!)
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
