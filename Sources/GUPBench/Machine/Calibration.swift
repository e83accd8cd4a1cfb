import CShims

/// `gupbench calibrate`: the machine's limits on the node and CPUs a run uses, measured with
/// the instructions the release loops use. The one Swift caller of the C calibrations
/// (gb_calibrate.h) and the holder of their figures (`samples`, `combined`). One calibration
/// takes a fraction of a second; a run calibrates before its first round and after every round
/// (`Calibrator.sample()`), and its roofline uses each figure combined by its rule
/// (`CalibrationFigures.combine`: the lowest, so calibrations disturbed by a neighbour do not
/// lift it above what the machine can do).
public final class Calibrator {
    public let topology: Topology
    public let cpus: [Int]
    /// Node the chase buffers are placed on.
    private let memNode: Int
    public private(set) var samples: [CalibrationFigures] = []

    /// Tries of the contended atomic before it is declared invalid.
    public static let contendedTries = 3

    /// One buffer per memmap size a run will release from (4 KiB pages, like the memmap),
    /// linked for the random chase once.
    private var memmapBuffers: [MemoryRegion] = []

    private let memmapSizes: [Int]

    /// Maps nothing yet: the buffers are mapped by the first `sample()`, inside the run whose
    /// memory budget counts them.
    public init(topology: Topology, memNode: Int, cpus: [Int], memmapSizes: [Int] = []) {
        self.topology = topology
        self.cpus = cpus
        self.memNode = memNode
        self.memmapSizes = Set(memmapSizes).sorted().filter { $0 >= 64 << 9 }
    }

    /// The memmap-sized buffers, mapped once and linked for the random chase.
    private func mapMemmapBuffers() throws {
        guard memmapBuffers.isEmpty else { return }
        for bytes in memmapSizes {
            let region = try MemoryRegion(size: (bytes + 4095) / 4096 * 4096, backing: .fourK, policy: .bind, node: memNode)
            gb_calibrate_chase_prepare(descriptors(region), bytes / 64, 0x6d65_6d6d)
            memmapBuffers.append(region)
        }
    }

    /// The chase buffers' sizes: four times the LLC (beyond it) and a quarter of it (inside it),
    /// in whole 2 MiB chunks.
    public static func chaseBufferSizes(llcBytes: Int) -> (beyond: Int, inside: Int) {
        let llc = max(llcBytes, 1 << 20)
        let chunk = 2 << 20
        return ((4 * llc + chunk - 1) / chunk * chunk, max(chunk, llc / 4 / chunk * chunk))
    }

    /// What a calibration holds while it runs (its chase buffers), for the memory budget.
    public static func chaseBufferBytes(llcBytes: Int) -> Int64 {
        let sizes = chaseBufferSizes(llcBytes: llcBytes)
        return Int64(sizes.beyond + sizes.inside)
    }

    /// Real mappings placed like a memmap, each linked into one random cycle for the
    /// dependent-load chase. Backed by THP where the kernel allows it, so the chase measures
    /// the cache or DRAM and not page walks: the loops pay their translations on top, and the
    /// figure stays a lower bound. Mapped for one calibration only, so a run never holds them
    /// beside a region (the region is unmapped between rounds, when calibrations run).
    private func chaseBuffer(_ size: Int, seed: UInt64) throws -> MemoryRegion {
        let region = try (try? MemoryRegion(size: size, backing: .thp, policy: .bind, node: memNode))
            ?? MemoryRegion(size: size, backing: .fourK, policy: .bind, node: memNode)
        gb_calibrate_chase_prepare(descriptors(region), size / 64, seed)
        return region
    }

    private func descriptors(_ r: MemoryRegion) -> PagePointer { r.unsafeData.assumingMemoryBound(to: gb_page.self) }

    /// One calibration of every term, kept in `samples`.
    @discardableResult
    public func sample() throws -> CalibrationFigures {
        try mapMemmapBuffers()
        let sizes = Self.chaseBufferSizes(llcBytes: topology.llcBytes)
        let beyond = try chaseBuffer(sizes.beyond, seed: 0x6361_6c69)
        let inside = try chaseBuffer(sizes.inside, seed: 0x6361_6c6a)
        let beyondCount = sizes.beyond / 64, insideCount = sizes.inside / 64
        // The atomic, the streams and the chases run on the first CPU of the run.
        if let first = cpus.first { _ = gb_pin_current_thread(Int32(first)) }
        defer { Self.restoreAffinity(topology) }
        let atomic = gb_calibrate_atomic_ns(250_000)
        var contended: Double?
        var rejected = 0
        if cpus.count > 1 {
            let ids = cpus.map(Int32.init)
            for _ in 0..<Self.contendedTries {
                var ns = 0.0
                // A CPU could not be pinned (or a thread not started): no figure.
                guard gb_calibrate_contended_atomic_ns(ids, Int32(ids.count), 1_000_000, &ns) == 0, ns > 0 else { break }
                // A line two CPUs fight over cannot be cheaper than one nobody else touches:
                // such a figure means the threads did not really run together.
                if ns >= atomic {
                    contended = ns
                    break
                }
                rejected += 1
            }
        }
        let outOfCache = gb_calibrate_stream_ns(descriptors(beyond), beyondCount, 3)
        let inCache = gb_calibrate_stream_ns(descriptors(inside), insideCount, 20)
        let latency = gb_calibrate_chase_ns(descriptors(beyond), beyondCount, min(beyondCount, 1 << 16), 2)
        let latencyInCache = gb_calibrate_chase_ns(descriptors(inside), insideCount, min(insideCount, 1 << 16), 2)
        var c = CalibrationFigures(atomicNs: atomic, contendedAtomicNs: contended,
                                   streamNsPerDescriptor: outOfCache, streamNsPerDescriptorInCache: inCache,
                                   latencyNsPerDescriptor: latency, latencyNsPerDescriptorInCache: latencyInCache,
                                   llcBytes: topology.llcBytes)
        c.rejectedContended = rejected
        c.lockPairNs = gb_calibrate_lock_pair_ns(2_000_000)
        c.kernelCallNs = gb_calibrate_kcall_ns(GB_MITIGATION_OFF, 200_000)
        c.kernelCallSafeRetNs = gb_calibrate_kcall_ns(GB_MITIGATION_SAFE_RET, 200_000)
        c.localCmpxchgNs = gb_calibrate_local_cmpxchg_ns(200_000)
        if cpus.count > 1 {
            let ids = cpus.prefix(2).map(Int32.init)
            var ns = 0.0
            let rc = gb_calibrate_contended_lock_pair_ns(ids, Int32(ids.count), 2_000, &ns)
            c.contendedLockPairNs = rc == 0 && ns > 0 ? ns : nil
        }
        c.memmaps = memmapBuffers.map { region in
            MemmapFigures(bytes: region.size, lineNs: gb_calibrate_line_ns(descriptors(region), region.size / 64, 3))
        }
        samples.append(c)
        return c
    }

    /// The line floor timed on the run's own memmaps, ns per line by memmap bytes.
    public private(set) var ownMemmaps: [Int: [Double]] = [:]

    /// Times the line floor on `model`'s own memmap (between rounds; reads only, after a touch
    /// that adds 0, so every count stays as it was).
    public func sampleOwnMemmap(_ model: PageModel) {
        guard model.pageCount >= 8 else { return }
        ownMemmaps[model.pageCount * 64, default: []].append(gb_calibrate_line_ns(model.memmap, model.pageCount, 3))
    }

    /// Every calibration so far combined (each figure by its rule), with each term's range.
    public var combined: CalibrationFigures? {
        CalibrationFigures.combine(samples)?.withOwnMemmaps(ownMemmaps)
    }
}

/// The name commands use for `Calibrator`'s static entry points (`Calibration.measure`).
public typealias Calibration = Calibrator

extension Calibrator {
    /// Calibrations a command makes when it has no rounds to interleave them with.
    public static let standaloneSamples = 3

    /// `standaloneSamples` calibrations, combined.
    public static func measure(topology: Topology, memNode: Int, cpus: [Int], memmapSizes: [Int] = []) throws
        -> CalibrationFigures
    {
        let calibrator = Calibrator(topology: topology, memNode: memNode, cpus: cpus, memmapSizes: memmapSizes)
        for _ in 0..<standaloneSamples { try calibrator.sample() }
        return calibrator.combined!
    }

    /// The main thread only waits and audits during runs; left pinned to the first CPU it
    /// would compete with worker 0, so it gets every allowed CPU back.
    static func restoreAffinity(_ topology: Topology) {
        let cpus = topology.allowedCPUs.map(Int32.init)
        if !cpus.isEmpty { _ = gb_allow_cpus(cpus, Int32(cpus.count)) }
    }
}
