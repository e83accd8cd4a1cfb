import CShims

/// The least time a release loop could take per page on this machine, from the work each strategy
/// does per page (docs/model.md, "Strategies") and the calibrated costs (README, "Reading the numbers"):
///
///     atomic time  = atomics per page × (contended ? contended atomic ns : atomic ns)
///     memory time  = descriptors per page × stream ns per descriptor
///     roofline     = atomic time + memory time
///
/// A sum, not the classical max: on x86 a LOCK-prefixed instruction drains the store buffer and
/// no later load may pass it, so the descriptor reads of the next entry cannot overlap the
/// current entry's atomic, and atomics do not overlap each other (x86 memory ordering: locked
/// instructions have a total order, and loads and stores are not reordered with them).
///
/// Descriptors per page: 1 for the per-entry walks (put-page, unpin-each, unpin-batched read
/// every entry's descriptor) plus 1/8 for the page array's 8-byte pointer; unpin-range reads the
/// head and page[1] of each folio, 2 / 2^order; unpin-folios adds its 8-byte folio pointers to
/// that, io-uring-release reads a 16-byte bvec per entry (per folio once coalesced). The stream cost is the in-cache one when the
/// memmap fits in half the LLC, the out-of-cache one otherwise. Contended atomics apply when
/// threads share folios (`interleaved`, more than one thread).
public enum Roofline {
    public static func descriptorsPerPage(strategy: Strategy, folioOrder: Int) -> Double {
        switch strategy.access {
        case .entryWalk: return 1 + 1.0 / 8
        case .folioArithmetic: return folioOrder == 0 ? 1 : 2.0 / Double(1 << folioOrder)
        case .folioPointers: return 1.0 / 8 + (folioOrder == 0 ? 1 : 2.0 / Double(1 << folioOrder))
        // 16-byte bvecs: a quarter line each, per page on order 0, per folio once coalesced.
        case .bvecWalk: return folioOrder == 0 ? 1 + 1.0 / 4 : (2 + 1.0 / 4) / Double(1 << folioOrder)
        }
    }

    public static func nsPerPage(strategy: Strategy, scenario: ScenarioKey, atomicsPerPage: Double,
                                 memmapBytes: Int, calibration: CalibrationFigures,
                                 locksPerPage: LocksPerPage? = nil) -> Double {
        let contended = scenario.sharing == .interleaved && scenario.threads > 1
        let atomicNs = contended ? (calibration.contendedAtomicNs ?? calibration.atomicNs) : calibration.atomicNs
        let inCache = memmapBytes <= calibration.llcBytes / 2
        let streamNs = inCache ? calibration.streamNsPerDescriptorInCache : calibration.streamNsPerDescriptor
        let atomicTime = atomicsPerPage * atomicNs
        let memoryTime = descriptorsPerPage(strategy: strategy, folioOrder: scenario.folioOrder) * streamNs
        return atomicTime + memoryTime + lockTime(locksPerPage, threads: scenario.threads, calibration: calibration)
    }

    /// --last-ref: each lock taken costs a lock/unlock pair. The pcp lock is per CPU, never
    /// contended. The lruvec and zone locks are one per node, shared by every thread: with T > 1
    /// threads every acquisition is (at worst) a handoff from another CPU, and the acquisitions
    /// of all T threads are serial, so each page of one thread waits for T of them
    /// (docs/last-reference.md, "What the formula predicts"):
    ///
    ///     lock time = pcp × pair + (lruvec + zone) × (T = 1 ? pair : T × handoff)
    public static func lockTime(_ locks: LocksPerPage?, threads: Int, calibration: CalibrationFigures) -> Double {
        guard let locks, let pair = calibration.lockPairNs else { return 0 }
        let shared = threads > 1 ? Double(threads) * (calibration.contendedLockPairNs ?? pair) : pair
        return locks.pcp * pair + (locks.lruvec + locks.zone) * shared
    }
}
