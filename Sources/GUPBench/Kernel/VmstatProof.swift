import Foundation

/// What the /proc/vmstat deltas prove about one backing's register/unregister cycles.
///
/// One cycle of this run pins every 4 KiB page once at registration (kernel:
/// pin_user_pages_fast() -> try_grab_folio() adds `refs` to NR_FOLL_PIN_ACQUIRED) and releases
/// every one of those pins again, at registration for the coalesced tails (io_coalesce_buffer())
/// and at unregistration for the rest (gup_put_folio() adds to NR_FOLL_PIN_RELEASED). So each
/// cycle's deltas are exactly `pages` acquired and `pages` released, unless someone else pinned
/// at the same time: the counters are system-wide. A delta short of `pages` means the kernel
/// did not do the work; one above it by more than a small tolerance means another process was
/// pinning (another `gupbench kernel`, O_DIRECT I/O, RDMA, VFIO), and the timings share the
/// machine with it.
public enum VmstatProof: String, Sendable, Equatable {
    case ok
    /// A cycle counted fewer pins or releases than pages: the kernel did not pin or unpin them all.
    case short
    /// A cycle counted more than this run's pins beyond the tolerance: another process pinned.
    case otherPinning = "other-pinning"
    /// `--last-ref` only: the release freed fewer base pages than the region has (LastRefProof).
    case notFreed = "not-freed"

    /// The table's word.
    public var word: String {
        switch self {
        case .ok: return "ok"
        case .short: return "SHORT"
        case .otherPinning: return "OTHERS"
        case .notFreed: return "NOT FREED"
        }
    }

    /// The pin counts alone: short when a cycle counted fewer pins or releases than `pages`
    /// less `below`, other pinning when one counted more than `pages` plus `above`.
    static func judgePins(_ cycles: [some PinCounts], pages: Int, below: UInt64, above: UInt64) -> VmstatProof {
        let p = UInt64(pages)
        if cycles.isEmpty || cycles.contains(where: { $0.acquired + below < p || $0.released + below < p }) {
            return .short
        }
        return cycles.contains(where: { $0.acquired > p + above || $0.released > p + above }) ? .otherPinning : .ok
    }

    /// Pins beyond this run's that a cycle may show and still be ok: 1% of the pages or 64,
    /// whichever is more, for stray pins elsewhere; plus, when the per-CPU counters could not be
    /// folded before each read, each CPU's stat threshold (kernel: mm/vmstat.c
    /// calculate_normal_threshold() caps it at 125) on each of the two reads.
    public static func tolerance(pages: Int, exact: Bool, cpus: Int) -> UInt64 {
        let stray = max(64, UInt64(pages) / 100)
        return exact ? stray : stray + 2 * 125 * UInt64(max(1, cpus))
    }

    /// The largest amount by which a cycle's acquired or released delta exceeded the pages.
    public static func excess(_ cycles: [PinCycle], pages: Int) -> UInt64 {
        let p = UInt64(pages)
        return cycles.map { c in
            let most = max(c.acquired, c.released)
            return most > p ? most - p : 0
        }.max() ?? 0
    }

    /// The verdict on a backing's cycles: never fewer than the pages, at most the tolerance more.
    public static func judge(_ cycles: [PinCycle], pages: Int, exact: Bool, cpus: Int) -> VmstatProof {
        judgePins(cycles, pages: pages, below: 0, above: tolerance(pages: pages, exact: exact, cpus: cpus))
    }
}

/// The FOLL_PIN deltas of one cycle, whatever steps it had (PinCycle, LastRefCycle).
protocol PinCounts {
    var acquired: UInt64 { get }
    var released: UInt64 { get }
}

extension PinCycle: PinCounts {}

extension KernelMeasurement {
    public var vmstatTolerance: UInt64 {
        VmstatProof.tolerance(pages: region.pages, exact: vmstatExact, cpus: ProcessInfo.processInfo.activeProcessorCount)
    }

    public var vmstatExcess: UInt64 { VmstatProof.excess(cycles, pages: region.pages) }

    /// The path's verdict on the cycles.
    public var vmstatProof: VmstatProof {
        path.judge(cycles, pages: region.pages, exact: vmstatExact, cpus: ProcessInfo.processInfo.activeProcessorCount)
    }
}

extension KernelComparison {
    /// Some backing's cycles counted pins of another process (see `VmstatProof`).
    public var otherPinning: Bool { rows.contains { $0.kernel.vmstatProof == .otherPinning } }
}
