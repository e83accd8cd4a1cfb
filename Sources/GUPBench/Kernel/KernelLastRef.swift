import CShims
import Foundation

/// pgfree of /proc/vmstat: base pages freed to the page allocator, system-wide (kernel:
/// mm/page_alloc.c free_frozen_page_commit() and free_one_page() count
/// `__count_vm_events(PGFREE, 1 << order)`, so a 2 MiB folio counts 512). A per-CPU event
/// counter summed at read time (all_vm_events()), so it needs no refresh.
public enum VmEvents {
    public static func pgfree(text: String? = nil) throws -> UInt64 {
        let vmstat = text ?? Topology.readFile("/proc/vmstat") ?? ""
        for line in vmstat.split(separator: "\n") where line.hasPrefix("pgfree ") {
            if let v = UInt64(line.dropFirst("pgfree ".count).trimmingCharacters(in: .whitespaces)) { return v }
        }
        throw GUPBenchError.environment("/proc/vmstat has no pgfree counter: cannot prove the pages were freed")
    }
}

/// What /proc/vmstat said about one `--last-ref` cycle: register, munmap, unregister.
public struct LastRefCycle: Sendable, Equatable {
    /// FOLL_PIN deltas around IORING_REGISTER_BUFFERS, the munmap and IORING_UNREGISTER_BUFFERS.
    public var register: FollPinCounters
    public var unmap: FollPinCounters
    public var unregister: FollPinCounters
    /// pgfree deltas (base pages) around the munmap and around the unregistration.
    public var pgfreeAtUnmap: UInt64
    public var pgfreeAtUnregister: UInt64

    public init(register: FollPinCounters, unmap: FollPinCounters, unregister: FollPinCounters,
                pgfreeAtUnmap: UInt64, pgfreeAtUnregister: UInt64) {
        self.register = register
        self.unmap = unmap
        self.unregister = unregister
        self.pgfreeAtUnmap = pgfreeAtUnmap
        self.pgfreeAtUnregister = pgfreeAtUnregister
    }

    public var acquired: UInt64 { register.acquired + unmap.acquired + unregister.acquired }
    public var released: UInt64 { register.released + unmap.released + unregister.released }
}

extension LastRefCycle: PinCounts {}

/// What the vmstat deltas prove about `--last-ref`: every cycle took exactly one pin per page
/// and released every one (nr_foll_pin_acquired = nr_foll_pin_released = pages: exact, the
/// per-CPU counters folded first), and the unregistration freed at least the region's pages
/// (pgfree, system-wide: other processes free pages too, so only "at least" is a proof).
/// The same verdicts as a plain run's, with `notFreed` besides.
public typealias LastRefProof = VmstatProof

extension VmstatProof {
    /// With exact counters (root) the pins must match to the page; without, within each CPU's
    /// stat threshold on each read (VmstatProof.tolerance).
    public static func judge(_ cycles: [LastRefCycle], pages: Int, exact: Bool, cpus: Int) -> LastRefProof {
        let slack = exact ? 0 : tolerance(pages: pages, exact: false, cpus: cpus)
        let pins = judgePins(cycles, pages: pages, below: slack, above: slack)
        if pins != .ok { return pins }
        return cycles.contains(where: { $0.pgfreeAtUnregister < UInt64(pages) }) ? .notFreed : .ok
    }
}

/// The real kernel dropping the last reference: `gupbench kernel --last-ref`, one backing.
public struct KernelLastRefMeasurement: KernelPathMeasurement {
    /// The path that pinned and released the region; it judges the cycles (`proof`).
    public let path: any KernelPath
    /// The first cycle's region (every cycle maps a fresh one of the same size and backing).
    public let region: PinnedRegion
    public let warmup: Int
    /// ns per 4 KiB page of the release after the munmap (io_uring: IORING_UNREGISTER_BUFFERS;
    /// the unpin, and the free of every folio), one per timed repetition.
    public let unpinNsPerPage: [Double]
    /// ns of releasing one mapped page alone (the fixed cost), one per timed repetition.
    public let fixedReleaseNs: [Double]
    /// Every cycle, warm-ups included.
    public let cycles: [LastRefCycle]
    public let vmstatExact: Bool
    public let cpu: Int
    /// The frames of the first cycle's region (nil: PFNs hidden): the model's same loop runs on them.
    public let framePfns: [UInt64]?

    /// The smallest delta over cycles: every cycle did at least this much.
    public var pinsAcquired: UInt64 { cycles.map(\.acquired).min() ?? 0 }
    public var pinsReleased: UInt64 { cycles.map(\.released).min() ?? 0 }
    public var releasedAtUnregister: UInt64 { cycles.map(\.unregister.released).min() ?? 0 }
    public var pgfreeAtUnregister: UInt64 { cycles.map(\.pgfreeAtUnregister).min() ?? 0 }
    public var pgfreeAtUnmap: UInt64 { cycles.map(\.pgfreeAtUnmap).max() ?? 0 }

    /// The path's verdict on the cycles.
    public var proof: LastRefProof {
        path.judge(cycles, pages: region.pages, exact: vmstatExact, cpus: ProcessInfo.processInfo.activeProcessorCount)
    }
}

extension KernelProbe {
    /// `--last-ref`: per cycle, map and fault in a fresh region, pin it (io_uring: register it
    /// as fixed buffers), munmap it (the mapping's references go; the pins are the only ones
    /// left), then release, timed: io_release_ubuf()'s unpin_user_folio() drops each folio's
    /// last reference and frees it (mm/gup.c gup_put_folio() -> folio_put_refs() -> __folio_put()).
    /// vmstat is read around each step, outside the timed window. The region is unmapped exactly
    /// once (MemoryRegion.unmapData(); its deinit then unmaps only the memmap).
    public static func measureLastRef(size: Int, backing: Backing, node: Int, cpu: Int?, repetitions: Int,
                                      warmup: Int, topology: Topology,
                                      path: any KernelPath = KernelPaths.ioUring) throws -> KernelLastRefMeasurement {
        try check(size: size, backing: backing, node: node, path: path, topology: topology)
        let pinner = try path.makePinner()
        if let cpu { _ = gb_pin_current_thread(Int32(cpu)) }
        defer { Calibration.restoreAffinity(topology) }

        let exact = FollPinCounters.canRefresh
        var first: (region: PinnedRegion, pfns: [UInt64]?)? = nil
        var unpinNs: [Double] = [], cycles: [LastRefCycle] = []
        var pages = 0
        var fixed: [Double] = []
        for rep in 0..<(warmup + repetitions) {
            let region = try MemoryRegion(size: size, backing: backing, policy: .bind, node: node)
            pages = region.pageCount
            func read() throws -> (FollPinCounters, UInt64) {
                let pins = try FollPinCounters.read(refresh: exact)
                return (pins, try VmEvents.pgfree())
            }
            if first == nil {
                first = (try PinnedRegion(region, topology: topology), try? PfnOrder.read(region))
                // The fixed cost on a page still mapped: the free of one folio is per-page work.
                fixed = try fixedReleaseNs(pinner, region, repetitions: repetitions, warmup: warmup) { _ = try read() }
            }
            let before = try read()
            try pinner.pin(region)             // io_uring: pin_user_pages_fast(FOLL_LONGTERM)
            let pinned = try read()
            try region.unmapData()             // kernel: zap: the mapping's references go, the pins stay
            let unmapped = try read()
            let t0 = gb_now_ns()
            try pinner.release()               // io_uring: unpin_user_folio() per bvec, each the last reference
            let t1 = gb_now_ns()
            let after = try read()
            cycles.append(LastRefCycle(register: pinned.0 - before.0, unmap: unmapped.0 - pinned.0,
                                       unregister: after.0 - unmapped.0,
                                       pgfreeAtUnmap: unmapped.1 &- pinned.1,
                                       pgfreeAtUnregister: after.1 &- unmapped.1))
            if rep >= warmup { unpinNs.append(Double(t1 - t0) / Double(max(1, pages))) }
            if SignalStop.requested { break }
        }
        let f = first!
        return KernelLastRefMeasurement(
            path: path, region: f.region, warmup: warmup, unpinNsPerPage: unpinNs, fixedReleaseNs: fixed, cycles: cycles,
            vmstatExact: exact, cpu: Int(gb_current_cpu()), framePfns: f.pfns)
    }
}

/// `gupbench kernel --last-ref`: per size and backing, the kernel's freeing release beside the
/// model's `--last-ref` same loop (io_uring: io-uring-release) on the same frames.
public struct KernelLastRefComparison: Sendable {
    public struct Row: Sendable, SameLoopRow {
        public let kernel: KernelLastRefMeasurement
        /// The model's same loop with --last-ref on the kernel's frames (layout pfn) when the
        /// PFNs were readable, else in virtual order.
        public let sameLoop: ResultRecord?
        public let sameLoopSequential: ResultRecord?
        var releasedAtRelease: UInt64 { kernel.releasedAtUnregister }
    }

    public let path: any KernelPath
    public let rows: [Row]

    /// `reports`: the model's report per size.
    public init(kernel: [KernelLastRefMeasurement], reports: [Int: Report], path: any KernelPath = KernelPaths.ioUring) {
        self.path = path
        rows = kernel.map { k in
            let same = Row.sameLoop(for: k, in: reports[k.size]?.results ?? [], lastRef: true)
            return Row(kernel: k, sameLoop: same.sameLoop, sameLoopSequential: same.sequential)
        }
    }

    public var proven: Bool { rows.allSatisfy { $0.kernel.proof == .ok } }

    public func attribution(_ row: Row) -> KernelTerms.Attribution? { row.attribution(among: rows) }

    public func renderTable() -> String {
        let reps = rows.first?.kernel.unpinNsPerPage.count ?? 0
        let w = path.words, strategy = path.modelStrategy.rawValue
        var out = "gupbench kernel --last-ref: \(w.pin) as \(w.pinnedAs), munmap, then \(w.release) "
            + "(timed): the unpin drops the last reference and frees every folio; \(reps) reps\n"
            + "median ns per 4 KiB page [95% CI]; model = \(strategy) --last-ref (\(w.lastRefChain))\n\n"
        var t = TextTable(header: ["size", "backing", "pages", "folios", "THP", "kernel \(w.release)", "fixed",
                                   "kernel loop", "model seq.",
                                   "model", "kernel ÷ model", "differs", "pins acq.", "released",
                                   "pgfree unmap", "pgfree unreg.", "proof"], labelColumns: 2)
        var details: [String] = []
        for row in rows {
            let k = row.kernel
            let verdict = attribution(row)
            t.add([ByteSize.format(k.size), k.backing.rawValue, String(k.pages), String(k.folios),
                   Fmt.percent(k.thpBackedFraction), KernelComparison.ci(k.unpin)]
                  + row.loopCells + row.sameLoopCells + [row.differsCell(verdict),
                   String(k.pinsAcquired), String(k.pinsReleased), String(k.pgfreeAtUnmap),
                   String(k.pgfreeAtUnregister), k.proof.word])
            if let line = row.differsLine(verdict) { details.append(line) }
        }
        out += t.rendered() + "\n"
        if !details.isEmpty { out += "\n" + details.joined(separator: "\n") + "\n" }
        var notes = [
            "pins acq. / released = smallest per-cycle delta of nr_foll_pin_acquired / nr_foll_pin_released over "
                + "\(w.pin) + munmap + \(w.release): one pin per 4 KiB page, every one released (exact: "
                + (rows.allSatisfy(\.kernel.vmstatExact) ? "per-CPU counters folded first" : "NOT folded, needs root")
                + ")",
            "pgfree unmap = largest pgfree delta around the munmap (page tables; the data pages are held by the pins), "
                + "pgfree unreg. = smallest around the \(w.releaseNoun), in base pages (a 2 MiB folio counts 512): at "
                + "least the region's pages proves the unpin freed them; system-wide, so others' frees add to both",
            "model: \(strategy) with --last-ref (the mapping's reference dropped first, untimed), one thread, "
                + "its descriptors on the kernel's frames ('pfn') when /proc/self/pagemap shows them; model seq. = "
                + "the same loop over descriptors in virtual order; its free path makes this kernel's out-of-line "
                + "calls: \(FreePathCalls.running.summary)",
            Row.loopNote(release: w.releaseNoun),
        ]
        for row in rows where row.kernel.proof != .ok {
            let k = row.kernel
            notes.append("\(k.proof.word): \(ByteSize.format(k.size)) \(k.backing.rawValue): pins acquired "
                + "\(k.pinsAcquired), released \(k.pinsReleased), pgfree at \(w.releaseNoun) \(k.pgfreeAtUnregister), "
                + "for \(k.pages) pages")
        }
        out += "\n" + notes.map { "note: " + $0 }.joined(separator: "\n") + "\n"
        return out
    }

    public var jsonFields: [(String, JSON)] {
        [("kernel_last_ref", .array(rows.map { row in
            let k = row.kernel
            let a = attribution(row)
            return .object(k.region.jsonHead + [
                ("thp_backed_fraction", .num(k.thpBackedFraction)),
                ("folio_order", .int(k.folioOrder)),
                ("unpin_ns_per_page", .num(k.unpin.median)),
                ("unpin", k.unpin.json),
                ("unpin_samples", .array(k.unpinNsPerPage.map { JSON.num($0) })),
            ] + row.loopJSON + [
                ("repetitions", .int(k.unpinNsPerPage.count)),
                ("warmup", .int(k.warmup)),
                ("vmstat_pins_acquired", .int(Int(k.pinsAcquired))),
                ("vmstat_pins_released", .int(Int(k.pinsReleased))),
                ("vmstat_released_at_unregister", .int(Int(k.releasedAtUnregister))),
                ("pgfree_at_unmap", .int(Int(k.pgfreeAtUnmap))),
                ("pgfree_at_unregister", .int(Int(k.pgfreeAtUnregister))),
                ("vmstat_exact", .bool(k.vmstatExact)),
                ("proof", .string(k.proof.rawValue)),
                ("placement", k.placement.json),
                ("cpu", .int(k.cpu)),
                ("model_ns_per_page", .num(row.sameLoop?.nsPerPage.median)),
                ("model_descriptor_order", row.sameLoop.map { .string($0.scenario.layout == .pfn ? "pfn" : "virtual") } ?? .null),
                ("sequential_model_ns_per_page", .num(row.sameLoopSequential?.nsPerPage.median)),
                ("kernel_over_model", .num(row.kernelOverModel)),
            ] + row.bandJSON(a))
        }))]
    }
}
