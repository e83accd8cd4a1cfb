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
    /// same loop at every size (`loopNsPerPage`). `beforeRelease` is what the region's own cycle
    /// does between its pin and its timed release (the vmstat read, which folds every CPU's
    /// counters and leaves the caches cold): done here too, so the fixed cost is measured in the
    /// state the region's release starts from, not warm from the pin just before.
    static func fixedReleaseNs(_ pinner: any KernelPinner, _ region: MemoryRegion, repetitions: Int,
                               warmup: Int, beforeRelease: () throws -> Void) throws -> [Double] {
        var ns: [Double] = []
        for rep in 0..<(warmup + repetitions) {
            try pinner.pin(region, bytes: 4096)
            try beforeRelease()
            let t0 = gb_now_ns()
            try pinner.release()
            let t1 = gb_now_ns()
            if rep >= warmup { ns.append(Double(t1 - t0)) }
            if SignalStop.requested { break }
        }
        return ns
    }

    public static func measure(size: Int, backing: Backing, node: Int, cpu: Int?, repetitions: Int,
                               warmup: Int, topology: Topology,
                               path: any KernelPath = KernelPaths.ioUring) throws -> KernelMeasurement {
        try check(size: size, backing: backing, node: node, path: path, topology: topology)
        let region = try MemoryRegion(size: size, backing: backing, policy: .bind, node: node)
        let pinned = try PinnedRegion(region, topology: topology)
        let adjacent = gb_pfn_adjacent_pairs(region.unsafeData, region.pageCount)
        let pinner = try path.makePinner()
        if let cpu { _ = gb_pin_current_thread(Int32(cpu)) }
        defer { Calibration.restoreAffinity(topology) }

        let exact = FollPinCounters.canRefresh
        let pages = Double(region.pageCount)
        var pinNs: [Double] = [], unpinNs: [Double] = [], cycles: [PinCycle] = []
        for rep in 0..<(warmup + repetitions) {
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
            if rep >= warmup {
                pinNs.append(Double(t1 - t0) / pages)
                unpinNs.append(Double(t3 - t2) / pages)
            }
            // SIGINT/SIGTERM: the cycle is complete (released, every pin dropped); stop here.
            if SignalStop.requested { break }
        }
        let fixed = try fixedReleaseNs(pinner, region, repetitions: repetitions, warmup: warmup) {
            _ = try FollPinCounters.read(refresh: exact)
        }
        return KernelMeasurement(
            path: path, region: pinned,
            framesAdjacentFraction: adjacent >= 0 && region.pageCount > 1
                ? Double(adjacent) / Double(region.pageCount - 1) : nil,
            warmup: warmup, pinNsPerPage: pinNs, unpinNsPerPage: unpinNs, fixedReleaseNs: fixed, cycles: cycles,
            vmstatExact: exact,
            cpu: Int(gb_current_cpu()), framePfns: try? PfnOrder.read(region))
    }
}
