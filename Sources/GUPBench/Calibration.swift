import CShims

/// `gupbench calibrate`: the machine's limits on the node and CPUs a run uses. Takes about a
/// second; measured once per command and shared by every result's roofline.
public enum Calibration {
    public static func measure(topology: Topology, memNode: Int, cpus: [Int]) throws -> CalibrationFigures {
        // The atomic and the in-cache stream run on the first CPU of the run.
        if let first = cpus.first { _ = gb_pin_current_thread(Int32(first)) }
        defer { restoreAffinity(topology) }
        let atomic = gb_calibrate_atomic_ns(2_000_000)
        var contended: Double?
        if cpus.count > 1 {
            let ids = cpus.map(Int32.init)
            let ns = gb_calibrate_contended_atomic_ns(ids, Int32(ids.count), 1_000_000)
            contended = ns > 0 ? ns : nil
        }
        // Descriptors streamed from the memmap's node: a buffer 4x the LLC (out of cache) and
        // a quarter of it (in cache), both real mappings placed like a memmap.
        let llc = max(topology.llcBytes, 1 << 20)
        let bytes = (4 * llc + (2 << 20) - 1) / (2 << 20) * (2 << 20)
        let buffer = try MemoryRegion(size: bytes, backing: .fourK, policy: .bind, node: memNode)
        let descriptors = buffer.unsafeData.assumingMemoryBound(to: gb_page.self)
        let outOfCache = gb_calibrate_stream_ns(descriptors, bytes / 64, 3)
        let inCache = gb_calibrate_stream_ns(descriptors, llc / 4 / 64, 20)
        return CalibrationFigures(atomicNs: atomic, contendedAtomicNs: contended,
                                  streamNsPerDescriptor: outOfCache,
                                  streamNsPerDescriptorInCache: inCache, llcBytes: topology.llcBytes)
    }

    /// The main thread only waits and audits during runs; left pinned to the first CPU it
    /// would compete with worker 0, so it gets every allowed CPU back.
    static func restoreAffinity(_ topology: Topology) {
        let cpus = topology.allowedCPUs.map(Int32.init)
        if !cpus.isEmpty { _ = gb_allow_cpus(cpus, Int32(cpus.count)) }
    }
}

/// The least time a release loop could take per page on this machine, from the work SPEC §4
/// gives it and the calibrated costs (README, "Reading the numbers"):
///
///     atomic time  = atomics per page × (contended ? contended atomic ns : atomic ns)
///     memory time  = descriptors per page × stream ns per descriptor
///     roofline     = atomic time + memory time
///
/// A sum, not the classical max: on x86 a LOCK-prefixed instruction drains the store buffer and
/// no later load may pass it, so the descriptor reads of the next entry cannot overlap the
/// current entry's atomic, and atomics do not overlap each other (KERNEL-FACTS, Hardware).
///
/// Descriptors per page: 1 for the per-entry walks (put-page, unpin-each, unpin-batched read
/// every entry's descriptor) plus 1/8 for the page array's 8-byte pointer; unpin-range reads the
/// head and page[1] of each folio, 2 / 2^order. The stream cost is the in-cache one when the
/// memmap fits in half the LLC, the out-of-cache one otherwise. Contended atomics apply when
/// threads share folios (`interleaved`, more than one thread).
public enum Roofline {
    public static func descriptorsPerPage(strategy: Strategy, folioOrder: Int) -> Double {
        switch strategy {
        case .putPage, .unpinEach, .unpinBatched: return 1 + 1.0 / 8
        case .unpinRange: return folioOrder == 0 ? 1 : 2.0 / Double(1 << folioOrder)
        }
    }

    public static func nsPerPage(strategy: Strategy, scenario: ScenarioKey, atomicsPerPage: Double,
                                 memmapBytes: Int, calibration: CalibrationFigures) -> Double {
        let contended = scenario.sharing == .interleaved && scenario.threads > 1
        let atomicNs = contended ? (calibration.contendedAtomicNs ?? calibration.atomicNs) : calibration.atomicNs
        let inCache = memmapBytes <= calibration.llcBytes / 2
        let streamNs = inCache ? calibration.streamNsPerDescriptorInCache : calibration.streamNsPerDescriptor
        let atomicTime = atomicsPerPage * atomicNs
        let memoryTime = descriptorsPerPage(strategy: strategy, folioOrder: scenario.folioOrder) * streamNs
        return atomicTime + memoryTime
    }
}
