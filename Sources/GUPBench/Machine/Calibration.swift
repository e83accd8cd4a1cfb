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
        var figures = CalibrationFigures(atomicNs: atomic, contendedAtomicNs: contended,
                                         streamNsPerDescriptor: outOfCache,
                                         streamNsPerDescriptorInCache: inCache, llcBytes: topology.llcBytes)
        figures.lockPairNs = gb_calibrate_lock_pair_ns(2_000_000)
        if cpus.count > 1 {
            let ids = cpus.prefix(2).map(Int32.init)
            let ns = gb_calibrate_contended_lock_pair_ns(ids, Int32(ids.count), 2_000)
            figures.contendedLockPairNs = ns > 0 ? ns : nil
        }
        return figures
    }

    /// The main thread only waits and audits during runs; left pinned to the first CPU it
    /// would compete with worker 0, so it gets every allowed CPU back.
    static func restoreAffinity(_ topology: Topology) {
        let cpus = topology.allowedCPUs.map(Int32.init)
        if !cpus.isEmpty { _ = gb_allow_cpus(cpus, Int32(cpus.count)) }
    }
}
