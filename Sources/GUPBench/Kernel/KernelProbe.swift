import CShims
import Foundation

/// What /proc/vmstat said about one register + unregister cycle (deltas, per 4 KiB page).
public struct PinCycle: Sendable, Equatable {
    /// Around IORING_REGISTER_BUFFERS: pins taken (kernel: pin_user_pages_fast, one per page)
    /// and released (io_coalesce_buffer() keeps one pin per large folio and drops the rest).
    public var register: FollPinCounters
    /// Around IORING_UNREGISTER_BUFFERS: one release per bvec (per folio when coalesced).
    public var unregister: FollPinCounters

    public var acquired: UInt64 { register.acquired + unregister.acquired }
    public var released: UInt64 { register.released + unregister.released }
}

/// The real kernel pinning and unpinning one region, timed per 4 KiB page.
public struct KernelMeasurement: KernelPathMeasurement {
    /// The path that pinned and released the region; it judges the cycles (`vmstatProof`).
    public let path: any KernelPath
    public let region: PinnedRegion
    /// Share of neighbouring 4 KiB pages at consecutive page frames (nil: PFNs hidden). The
    /// kernel's struct pages are indexed by frame, so a low share would mean its unpin loop
    /// walks scattered descriptors while the model's memmap is in virtual order.
    public let framesAdjacentFraction: Double?
    public let warmup: Int
    /// ns per 4 KiB page of the pin (io_uring: IORING_REGISTER_BUFFERS) and the release
    /// (IORING_UNREGISTER_BUFFERS), one value per timed repetition.
    public let pinNsPerPage: [Double]
    public let unpinNsPerPage: [Double]
    /// ns of releasing the region's first page alone, one per timed repetition.
    public let fixedReleaseNs: [Double]
    /// Every cycle, warm-ups included.
    public let cycles: [PinCycle]
    /// True when the per-CPU vmstat deltas were folded before each read (root).
    public let vmstatExact: Bool
    /// The CPU the probe ran on.
    public let cpu: Int
    /// The page frame of each page of the region the kernel pinned (nil: PFNs hidden): the model's
    /// same loop lays its descriptors out on these very frames (BenchConfig.framePfns).
    public var framePfns: [UInt64]? = nil

    public var pin: Summary { Summary(pinNsPerPage) }

    /// The smallest count over cycles: every cycle did at least this much.
    public var vmstatPinsAcquired: UInt64 { cycles.map(\.acquired).min() ?? 0 }
    public var vmstatPinsReleased: UInt64 { cycles.map(\.released).min() ?? 0 }
    public var vmstatReleasedAtRegister: UInt64 { cycles.map(\.register.released).min() ?? 0 }
    public var vmstatReleasedAtUnregister: UInt64 { cycles.map(\.unregister.released).min() ?? 0 }

    /// A cycle's delta larger than this run's pins (acquired, or released over register and
    /// unregister, above the pages registered) by more than the tolerance: another process
    /// pinned during the run (see VmstatProof).
    public var vmstatOtherPinning: Bool { vmstatProof == .otherPinning }

    /// Each cycle pinned and released at least every page (others' pins may add a little).
    public var vmstatComplete: Bool {
        !cycles.isEmpty && cycles.allSatisfy { $0.acquired >= UInt64(region.pages) && $0.released >= UInt64(region.pages) }
    }
}

/// `gupbench kernel`'s measurement: map and fault in a region as the rest of gupbench does,
/// verify its placement and THP backing, then let a kernel path pin and release it (io_uring:
/// register and unregister it as fixed buffers), timing each call and reading /proc/vmstat
/// around it (outside the timed window).
public enum KernelProbe {
    /// A size beyond the machine's memory would map (MAP_NORESERVE) and then be killed while
    /// faulting in: refuse it first, as every command does; then the path's own limits.
    static func check(size: Int, backing: Backing, node: Int, path: any KernelPath, topology: Topology) throws {
        var check = BenchConfig()
        (check.sizes, check.backings, check.threads, check.memNodes) = ([size], [backing], [1], [node])
        try check.validate(on: topology)
        try path.checkResources(size: size, backings: [backing])
    }

    /// The release's fixed cost: `repetitions` timed cycles (after `warmup`) that pin only the
    /// region's first page and release it, ns per release. What a release costs beyond its
    /// loop over the pins (io_uring: the syscall, io_rsrc_data_free()'s resource node and the
    /// buffer table's kvfree; see io_uring/rsrc.c io_sqe_buffers_unregister()), plus one unpin.
    /// Measured rather than fitted, so the kernel's loop can be compared with the model's
    /// same loop at every size (`loopNsPerPage`).
    static func fixedReleaseNs(_ pinner: any KernelPinner, _ region: MemoryRegion, repetitions: Int,
                               warmup: Int, beforeRelease: () throws -> Void) throws -> [Double] {
        var ns: [Double] = []
        for rep in 0..<(warmup + repetitions) {
            let one = try fixedReleaseNs(pinner, region, beforeRelease: beforeRelease)
            if rep >= warmup { ns.append(one) }
            if SignalStop.requested { break }
        }
        return ns
    }

    /// One cycle of the fixed cost: pin the region's first page, do `beforeRelease` (what the
    /// region's own cycle does between its pin and its timed release: the vmstat read, which
    /// folds every CPU's counters and leaves the caches cold), then release it, timed; ns. Done
    /// alike so the fixed cost is measured in the state the region's release starts from.
    static func fixedReleaseNs(_ pinner: any KernelPinner, _ region: MemoryRegion,
                               beforeRelease: () throws -> Void) throws -> Double {
        try pinner.pin(region, bytes: 4096)
        try beforeRelease()
        let t0 = gb_now_ns()
        try pinner.release()
        let t1 = gb_now_ns()
        return Double(t1 - t0)
    }

    /// The kernel's cycles on a region of their own, one after another (`KernelCycler`);
    /// `gupbench kernel` instead takes turns with the model's samples (KernelCompanion).
    public static func measure(size: Int, backing: Backing, node: Int, cpu: Int?, repetitions: Int,
                               warmup: Int, topology: Topology,
                               path: any KernelPath = KernelPaths.ioUring) throws -> KernelMeasurement {
        let cycler = try KernelCycler(size: size, backing: backing, node: node, cpu: cpu, warmup: warmup,
                                      topology: topology, path: path)
        for _ in 0..<repetitions {
            cycler.cycle(timed: true)
            if SignalStop.requested { break }
        }
        return try cycler.measurement()
    }
}

/// The kernel's side of `gupbench kernel` on one region: mapped, faulted in and verified at
/// once, with `warmup` cycles made and its page frames read (after a pin, which may have moved
/// them); then one cycle per `cycle(timed:)`: /proc/vmstat read, the region pinned (timed),
/// vmstat read, released (timed), vmstat read, and right after it the fixed cost's cycle of its
/// first page alone (`KernelProbe.fixedReleaseNs`). The two are subtracted (loopNsPerPage), so
/// they are measured in turn, in the same phases of the machine.
public final class KernelCycler {
    let path: any KernelPath
    let region: MemoryRegion
    let pinned: PinnedRegion
    let pinner: any KernelPinner
    let topology: Topology
    let cpu: Int?
    /// Untimed cycles so far: the warm-up, and those made before each turn's timed ones.
    private var untimedCycles = 0
    let exact = FollPinCounters.canRefresh
    let framesAdjacentFraction: Double?
    /// The region's page frames after the warm-up (nil: PFNs hidden).
    public private(set) var framePfns: [UInt64]? = nil
    private var pinNs: [Double] = [], unpinNs: [Double] = [], fixed: [Double] = [], cycles: [PinCycle] = []
    private var cpuUsed = 0
    /// The first error a cycle met; no cycle runs after it, and `measurement()` throws it.
    private var failure: Error?

    public init(size: Int, backing: Backing, node: Int, cpu: Int?, warmup: Int, topology: Topology,
                path: any KernelPath) throws {
        try KernelProbe.check(size: size, backing: backing, node: node, path: path, topology: topology)
        region = try MemoryRegion(size: size, backing: backing, policy: .bind, node: node)
        pinned = try PinnedRegion(region, topology: topology)
        let adjacent = gb_pfn_adjacent_pairs(region.unsafeData, region.pageCount)
        framesAdjacentFraction = adjacent >= 0 && region.pageCount > 1
            ? Double(adjacent) / Double(region.pageCount - 1) : nil
        pinner = try path.makePinner()
        (self.path, self.topology, self.cpu) = (path, topology, cpu)
        for _ in 0..<warmup { cycle(timed: false) }
        if let failure { throw failure }
        framePfns = try? PfnOrder.read(region)
    }

    /// Timed cycles so far.
    public var timedCycles: Int { unpinNs.count }

    /// One cycle, on `cpu` (the calling thread's affinity restored after).
    public func cycle(timed: Bool) {
        guard failure == nil else { return }
        if let cpu { _ = gb_pin_current_thread(Int32(cpu)) }
        defer { if cpu != nil { Calibration.restoreAffinity(topology) } }
        do {
            let pages = Double(region.pageCount)
            let before = try FollPinCounters.read(refresh: exact)
            let t0 = gb_now_ns()
            try pinner.pin(region)             // io_uring: pin_user_pages_fast(FOLL_LONGTERM)
            let t1 = gb_now_ns()
            let pinnedCounts = try FollPinCounters.read(refresh: exact)
            let t2 = gb_now_ns()
            try pinner.release()               // io_uring: unpin_user_folio() per bvec
            let t3 = gb_now_ns()
            let after = try FollPinCounters.read(refresh: exact)
            cycles.append(PinCycle(register: pinnedCounts - before, unregister: after - pinnedCounts))
            let oneFixed = try KernelProbe.fixedReleaseNs(pinner, region) { _ = try FollPinCounters.read(refresh: exact) }
            cpuUsed = Int(gb_current_cpu())
            if timed {
                pinNs.append(Double(t1 - t0) / pages)
                unpinNs.append(Double(t3 - t2) / pages)
                fixed.append(oneFixed)
            } else {
                untimedCycles += 1
            }
        } catch {
            failure = error
        }
    }

    /// Every cycle so far; throws the error a cycle met.
    public func measurement() throws -> KernelMeasurement {
        if let failure { throw failure }
        return KernelMeasurement(
            path: path, region: pinned, framesAdjacentFraction: framesAdjacentFraction,
            warmup: untimedCycles, pinNsPerPage: pinNs, unpinNsPerPage: unpinNs, fixedReleaseNs: fixed, cycles: cycles,
            vmstatExact: exact, cpu: cpuUsed, framePfns: framePfns)
    }
}
