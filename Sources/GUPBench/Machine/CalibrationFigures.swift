/// The machine's limits (`gupbench calibrate`), nil until measured. After several calibrations
/// each figure is the lowest of them (the median for contended figures; `combine`) and
/// `spread` gives the range it came from.
public struct CalibrationFigures: Sendable {
    /// One LOCK-prefixed RMW on a line only this thread uses.
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
    /// One uncontended spin_lock()/spin_unlock() pair (gb_free.h), and one acquisition handed
    /// over from another CPU (two CPUs taking one lock in strict turn); what the roofline charges
    /// per lock in --last-ref.
    public var lockPairNs: Double?
    /// One out-of-line call and its return, plain and through the Safe-RET thunk, and one
    /// unlocked cmpxchg on a per-CPU byte (gb_kcalls.h).
    public var kernelCallNs: Double?
    public var kernelCallSafeRetNs: Double?
    public var localCmpxchgNs: Double?
    /// What one plain release call (call, is_zero_folio(), the accounting call and its unlocked
    /// cmpxchg) adds to a loop of locked RMWs on a line in L1 (gb_calibrate_release_call_ns()).
    public var releaseCallNs: Double?
    public var contendedLockPairNs: Double?
    /// How many calibrations the figures are the median of.
    public var samples: Int = 1
    /// Each term's lowest and highest figure over those calibrations, by its JSON name.
    public var spread: [String: ClosedRange<Double>] = [:]
    /// Contended measurements thrown away for coming out below the uncontended atomic.
    public var rejectedContended: Int = 0
    /// The same kinds of cost measured on a buffer the size of a run's memmap, written once
    /// before each pass as pinning writes the memmap: what the release loop really finds.
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
         ("local_cmpxchg_ns", localCmpxchgNs), ("release_call_ns", releaseCallNs)]
    }

    /// Several calibrations made one. On a shared machine noise only ever adds time to a
    /// timed loop (preemption, a neighbour on the sibling hyperthread or in the cache), so the
    /// lowest figure any calibration measured is the machine's: the roofline built from it
    /// stays a lower bound however many calibrations a neighbour disturbed, and `spread` keeps
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
        c.releaseCallNs = low(all.compactMap(\.releaseCallNs))
        c.samples = all.reduce(0) { $0 + $1.samples }
        c.rejectedContended = all.reduce(0) { $0 + $1.rejectedContended }
        for (k, term) in c.terms.enumerated() where term.value != nil {
            let values = all.compactMap { $0.terms[k].value }
            c.spread[term.name] = values.min()!...values.max()!
        }
        var sizes: [Int] = []
        for m in all.flatMap(\.memmaps) where !sizes.contains(m.bytes) { sizes.append(m.bytes) }
        c.memmaps = sizes.map { bytes in
            let ms = all.flatMap(\.memmaps).filter { $0.bytes == bytes }
            return MemmapFigures(bytes: bytes, streamNs: low(ms.map(\.streamNs))!,
                                 atomicStreamNs: low(ms.map(\.atomicStreamNs))!, jumpNs: low(ms.map(\.jumpNs))!,
                                 latencyNs: low(ms.map(\.latencyNs))!,
                                 releaseCallStreamNs: low(ms.compactMap(\.releaseCallStreamNs)),
                                 stridedRmwNs: low(ms.compactMap(\.stridedRmwNs)),
                                 spread: MemmapFigures.names.reduce(into: [:]) { out, name in
                                     let values = ms.compactMap { $0.value(name) }
                                     if let lo = values.min(), let hi = values.max() { out[name] = lo...hi }
                                 })
        }
        // The medians of two terms come from different calibrations; the rule must hold for
        // the figures the roofline uses too.
        if let contended = c.contendedAtomicNs, contended < c.atomicNs { c.contendedAtomicNs = c.atomicNs }
        return c
    }
}

/// The memmap figures timed on a run's own memmap (`Calibrator.sampleOwnMemmap`).
public struct OwnMemmapFigures: Sendable, Equatable {
    public let streamNs: Double
    public let stridedRmwNs: Double
    public init(streamNs: Double, stridedRmwNs: Double) {
        self.streamNs = streamNs
        self.stridedRmwNs = stridedRmwNs
    }
}

extension CalibrationFigures {
    /// The memmap stream and strided RMW lowered to what the run's own memmaps did, their
    /// spread widened to include them.
    public func withOwnMemmaps(_ own: [Int: [OwnMemmapFigures]]) -> CalibrationFigures {
        var c = self
        func lower(_ figure: Double?, _ times: [Double], _ name: String, _ k: Int) -> Double? {
            guard let low = times.min() else { return figure }
            let was = c.memmaps[k].spread[name] ?? figure.map { $0...$0 } ?? low...low
            c.memmaps[k].spread[name] = min(was.lowerBound, low)...max(was.upperBound, times.max()!)
            return min(figure ?? low, low)
        }
        for k in c.memmaps.indices {
            guard let figures = own[c.memmaps[k].bytes], !figures.isEmpty else { continue }
            c.memmaps[k].streamNs = lower(c.memmaps[k].streamNs, figures.map(\.streamNs),
                                          "memmap_stream_ns_per_descriptor", k)!
            c.memmaps[k].stridedRmwNs = lower(c.memmaps[k].stridedRmwNs, figures.map(\.stridedRmwNs).filter { $0 > 0 },
                                              "memmap_strided_rmw_ns_per_folio", k)
        }
        return c
    }
}

/// Costs measured on a buffer of one memmap's size (4 KiB pages, like the memmap), each
/// written once before the timed pass. Per descriptor unless named otherwise.
public struct MemmapFigures: Sendable, Equatable {
    public let bytes: Int
    /// Reading consecutive descriptors: the lower of the calibration buffer's and (where the
    /// run timed it) the run's own memmap's.
    public var streamNs: Double
    /// One LOCK-prefixed RMW on each consecutive descriptor (the read included).
    public let atomicStreamNs: Double
    /// Per folio of order `jumpOrder`: read the distance to the next folio in this one, one
    /// LOCK-prefixed RMW there, jump (each address depends on the previous load).
    public let jumpNs: Double
    /// Per folio of order `jumpOrder`: one LOCK-prefixed RMW on each folio's head, the next
    /// head's address known without a load from the memmap (an array names it); nil when not
    /// calibrated.
    public var stridedRmwNs: Double? = nil
    /// A dependent load of a descriptor at a random place (a shuffled array's next entry).
    public let latencyNs: Double
    /// What one plain release call (the call, is_zero_folio(), the accounting call and its
    /// unlocked cmpxchg) adds to the atomic stream, per descriptor
    /// (gb_calibrate_release_call_stream_ns()); nil when not calibrated.
    public var releaseCallStreamNs: Double? = nil
    public var spread: [String: ClosedRange<Double>] = [:]

    /// The folio order the jump is calibrated at: THP's 2 MiB, 32 KiB of memmap per jump.
    public static let jumpOrder = 9

    public static let names = ["memmap_stream_ns_per_descriptor", "memmap_atomic_stream_ns_per_descriptor",
                               "memmap_jump_ns_per_folio", "memmap_latency_ns_per_descriptor",
                               "memmap_release_call_stream_ns_per_descriptor", "memmap_strided_rmw_ns_per_folio"]

    public func value(_ name: String) -> Double? {
        switch name {
        case "memmap_stream_ns_per_descriptor": return streamNs
        case "memmap_atomic_stream_ns_per_descriptor": return atomicStreamNs
        case "memmap_jump_ns_per_folio": return jumpNs
        case "memmap_release_call_stream_ns_per_descriptor": return releaseCallStreamNs
        case "memmap_strided_rmw_ns_per_folio": return stridedRmwNs
        default: return latencyNs
        }
    }

    public init(bytes: Int, streamNs: Double, atomicStreamNs: Double, jumpNs: Double, latencyNs: Double,
                releaseCallStreamNs: Double? = nil, stridedRmwNs: Double? = nil, spread: [String: ClosedRange<Double>] = [:]) {
        self.bytes = bytes
        self.streamNs = streamNs
        self.atomicStreamNs = atomicStreamNs
        self.jumpNs = jumpNs
        self.latencyNs = latencyNs
        self.releaseCallStreamNs = releaseCallStreamNs
        self.stridedRmwNs = stridedRmwNs
        self.spread = spread
    }
}
