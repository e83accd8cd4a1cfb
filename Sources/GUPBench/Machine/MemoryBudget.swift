import CShims
import Foundation

/// What a run holds at its peak, term by term, predicted before anything is mapped.
///
/// A run holds one region at a time: a round maps, measures and unmaps each (size, backing)
/// in turn, and the runner that borrows it ends with its round. Calibration maps its chase
/// buffers only while it calibrates, between regions. So the peak is what the process held
/// before the run, plus what it holds all run long, plus the larger of the two phases.
public struct PeakPrediction: Sendable, Equatable {
    /// Resident before the run: the binary, the Swift runtime, libraries (VmRSS when predicted).
    public var processBytes: Int64
    /// Held all run: the calibrator's memmap-sized buffers, one per distinct memmap size.
    public var memmapBufferBytes: Int64
    /// Held only while calibrating: the chase buffers beyond and inside the LLC.
    public var calibrationBytes: Int64
    /// The largest region phase: data, memmap and the arrays built from them (`regionNeed`).
    public var regionBytes: Int64

    public var totalBytes: Int64 { processBytes + memmapBufferBytes + max(calibrationBytes, regionBytes) }
}

/// What a run may map without meeting the OOM killer: checked before anything is mapped.
///
/// Data regions are mapped `MAP_NORESERVE` and faulted in at once, so the kernel never refuses
/// the mmap: a size beyond what is free would fault for seconds and end in the OOM killer
/// (exit 137, no message). So the predicted peak (`PeakPrediction`) is compared with
/// `MemAvailable` (kernel: mm/show_mem.c si_mem_available(): free pages above the low
/// watermarks plus reclaimable page cache and slab), less a headroom of 1/64 of MemTotal for
/// everything else on the machine. The part already resident is in neither: MemAvailable has
/// counted it as used.
public struct MemoryBudget: Sendable, Equatable {
    /// MemAvailable in bytes.
    public var availableBytes: Int64
    /// MemTotal in bytes.
    public var totalBytes: Int64
    /// HugePages_Free × Hugepagesize.
    public var hugetlbFreeBytes: Int64

    /// /proc/meminfo now.
    public static func read() -> MemoryBudget {
        let m = Topology.meminfo()
        return MemoryBudget(availableBytes: Int64(m["MemAvailable"] ?? m["MemFree"] ?? 0) * 1024,
                            totalBytes: Int64(m["MemTotal"] ?? 0) * 1024,
                            hugetlbFreeBytes: Int64(m["HugePages_Free"] ?? 0) * Int64(m["Hugepagesize"] ?? 2048) * 1024)
    }

    /// Left for the rest of the machine: 1/64 of MemTotal.
    public var headroomBytes: Int64 { totalBytes / 64 }

    /// What a run's matrix does that changes how much it holds per page.
    public struct Shape: Sendable, Equatable {
        /// Page arrays that are not one run of consecutive descriptors (shuffled or interleaved
        /// arrays, a replayed layout): a stretch list of 16 bytes per entry beside them.
        public var scattered = false
        /// `--detect ledger`: a shadow record of 8 bytes per page.
        public var ledger = false
        /// `--last-ref`: the free model's list snapshots, 8 bytes and a mark byte per page.
        public var lastRef = false
        /// `--layout pfn`: a memmap spaced as the region's frames, at most one descriptor per
        /// frame of the machine (MemTotal / 64), and at most a 2 MiB mapping per page.
        public var frameSpaced = false
        /// `gupbench kernel`: the kernel's side of a fixed-buffer registration, a 16-byte bio_vec
        /// and an 8-byte page pointer per page (io_uring/rsrc.c io_sqe_buffer_register()).
        public var kernel = false
        /// Regions of the run's size held beside each region phase, one per backing listed:
        /// `gupbench kernel`'s own regions, pinned and released in turn with the model's samples
        /// (KernelCompanion). Each holds its data (hugetlb: from the pool), its memmap and the
        /// kernel's side of the registration.
        public var heldBeside: [Backing] = []

        public init(scattered: Bool = false, ledger: Bool = false, lastRef: Bool = false,
                    frameSpaced: Bool = false, kernel: Bool = false, heldBeside: [Backing] = []) {
            self.scattered = scattered
            self.ledger = ledger
            self.lastRef = lastRef
            self.frameSpaced = frameSpaced
            self.kernel = kernel
            self.heldBeside = heldBeside
        }
    }

    /// Bytes of ordinary memory a run holds per 4 KiB page of data, besides the data and its
    /// memmap: the page array 8, the folio pointers 8 and bio_vecs 16 the loops read
    /// (ReleaseInput), the index lists and folio starts the arrays are built from (8 each,
    /// grown by appending, so up to twice that: 32), and what the shape adds.
    public static func arrayBytesPerPage(_ shape: Shape) -> Int64 {
        8 + 24 + 32 + (shape.scattered ? 16 : 0) + (shape.ledger ? 8 : 0) + (shape.lastRef ? 9 : 0)
            + (shape.kernel ? 24 : 0)
    }

    /// What the process adds besides the arrays once it runs: worker threads' stacks and malloc
    /// arenas, code and runtime pages first touched by the run. Without it a 4 GiB 4k run
    /// peaked 9 MiB above the prediction (AMD EPYC host); with it, nine differently shaped runs
    /// (docs/scaling.md) peaked 12-43 MiB below.
    public static let runtimeAllowanceBytes: Int64 = 16 << 20

    /// Ordinary memory one region phase of `size` bytes of `backing` holds: the data (unless it
    /// is hugetlb, which comes from its pool), the memmap in whole 2 MiB mappings, the arrays,
    /// and for `--layout pfn` the frame-spaced memmap.
    public func regionNeed(size: Int, backing: Backing, shape: Shape) -> Int64 {
        let pages = Int64(size) / 4096
        let chunk: Int64 = 2 << 20
        let memmap = (pages * 64 + chunk - 1) / chunk * chunk
        let frameMemmap = shape.frameSpaced ? min(totalBytes / 64, pages * chunk) : 0
        let held = shape.heldBeside.reduce(Int64(0)) {
            $0 + ($1 == .hugetlb ? 0 : Int64(size)) + memmap + pages * Self.arrayBytesPerPage(Shape(kernel: true))
        }
        return (backing == .hugetlb ? 0 : Int64(size)) + memmap + frameMemmap
            + pages * Self.arrayBytesPerPage(shape) + held
    }

    /// Huge pages a region phase of `size` takes from the pool: the region's own and those of
    /// the regions held beside it.
    func hugetlbNeed(size: Int, backing: Backing, shape: Shape) -> Int64 {
        Int64(size) * Int64((backing == .hugetlb ? 1 : 0) + shape.heldBeside.filter { $0 == .hugetlb }.count)
    }

    /// The calibrator's memmap-sized buffer for `size` bytes of data: one descriptor per page.
    static func memmapBufferBytes(size: Int) -> Int64 { (Int64(size) / 4096 * 64 + 4095) / 4096 * 4096 }

    /// The calibrator's memmap-sized buffers for a run over `sizes`, held all run; none
    /// without a calibrator (`calibrationBytes` 0).
    static func memmapBufferBytes(sizes: [Int], calibrationBytes: Int64) -> Int64 {
        calibrationBytes > 0 ? Set(sizes).reduce(Int64(0)) { $0 + memmapBufferBytes(size: $1) } : 0
    }

    /// What a run over `sizes` holds beyond the process while `size` × `backing` is mapped:
    /// every size's calibration buffer, and the larger of the chase buffers and this region.
    func need(sizes: [Int], size: Int, backing: Backing, shape: Shape, calibrationBytes: Int64) -> Int64 {
        Self.memmapBufferBytes(sizes: sizes, calibrationBytes: calibrationBytes)
            + max(calibrationBytes, regionNeed(size: size, backing: backing, shape: shape))
    }

    /// The peak of a run over `sizes` × `backings`, with the calibrator's buffers
    /// (`calibrationBytes`: the chase buffers, 0 without a calibrator; then also one
    /// memmap-sized buffer per size) and what the process holds now.
    public func predictPeak(sizes: [Int], backings: [Backing], shape: Shape, calibrationBytes: Int64,
                            processBytes: Int64) -> PeakPrediction {
        let buffers = Self.memmapBufferBytes(sizes: sizes, calibrationBytes: calibrationBytes)
        var region: Int64 = 0
        for size in sizes { for backing in backings { region = max(region, regionNeed(size: size, backing: backing, shape: shape)) } }
        return PeakPrediction(processBytes: processBytes + Self.runtimeAllowanceBytes, memmapBufferBytes: buffers,
                              calibrationBytes: calibrationBytes, regionBytes: region)
    }

    /// The largest size (whole MiB, and a multiple of the backing's folio size) that a run of
    /// that one size fits in, its calibration buffers included.
    public func largestSize(backing: Backing, shape: Shape, calibrationBytes: Int64 = 0) -> Int {
        let usable = max(0, availableBytes - headroomBytes)
        let unit = Int64(max(1 << 20, backing.sizeUnit))  // whole MiB, and whole folios
        func fits(_ size: Int64) -> Bool {
            need(sizes: [Int(size)], size: Int(size), backing: backing, shape: shape, calibrationBytes: calibrationBytes)
                <= usable
        }
        // The need grows with the size: start from the linear estimate and step down to one that fits.
        let perPage = Int64(backing == .hugetlb ? 0 : 4096) + 64 + Self.arrayBytesPerPage(shape)
            + (shape.frameSpaced ? 64 : 0) + (calibrationBytes > 0 ? 64 : 0)
            + shape.heldBeside.reduce(Int64(0)) { $0 + ($1 == .hugetlb ? 0 : 4096) + 64 + Self.arrayBytesPerPage(Shape(kernel: true)) }
        var size = usable / perPage * 4096 / unit * unit
        let pooled = hugetlbNeed(size: 1, backing: backing, shape: shape)
        if pooled > 0 { size = min(size, hugetlbFreeBytes / pooled / unit * unit) }
        while size > 0 && !fits(size) { size -= unit }
        return Int(max(0, size))
    }

    /// Throws `.environment` (exit 1), one line naming the size, what the run would hold at its
    /// peak, what is available and the largest size that fits. The process's own resident
    /// bytes are already counted as used by MemAvailable, so they are left out of the check.
    public func check(sizes: [Int], backings: [Backing], shape: Shape = Shape(), calibrationBytes: Int64 = 0) throws {
        let usable = max(0, availableBytes - headroomBytes)
        for size in sizes {
            for backing in backings {
                let need = need(sizes: sizes, size: size, backing: backing, shape: shape,
                                calibrationBytes: calibrationBytes)
                let pooled = hugetlbNeed(size: size, backing: backing, shape: shape)
                let hugetlbShort = pooled > 0 && pooled > hugetlbFreeBytes
                guard need > usable || hugetlbShort else { continue }
                let largest = largestSize(backing: backing, shape: shape, calibrationBytes: calibrationBytes)
                let fits = largest > 0 ? "the largest --size that fits is \(ByteSize.format(largest))"
                    : "nothing fits now; free some memory first"
                if hugetlbShort {
                    throw GUPBenchError.environment(
                        "--size \(ByteSize.format(size)) --backing \(backing.rawValue) needs \(ByteSize.format(Int(pooled))) of "
                        + "huge pages but only \(Self.gib(hugetlbFreeBytes)) are free (HugePages_Free); \(fits)")
                }
                throw GUPBenchError.environment(
                    "--size \(ByteSize.format(size)) --backing \(backing.rawValue) needs \(Self.gib(need)) "
                    + "with its memmap, page arrays and calibration buffers, but only \(Self.gib(usable)) is available "
                    + "(MemAvailable \(Self.gib(availableBytes)) less \(Self.gib(headroomBytes)) left for the "
                    + "rest of the machine); \(fits)")
            }
        }
    }

    /// "23.2GiB", "384MiB": sizes that are rarely whole numbers of anything.
    static func gib(_ bytes: Int64) -> String {
        bytes >= 1 << 40 ? String(format: "%.1fTiB", Double(bytes) / Double(1 << 40))
            : bytes >= 1 << 30 ? String(format: "%.1fGiB", Double(bytes) / Double(1 << 30))
            : "\(bytes >> 20)MiB"
    }
}

/// The process's own memory, from /proc/self/status: what it holds now (VmRSS) and the most
/// it has held (VmHWM, the high-water mark the kernel keeps: fs/proc/task_mmu.c task_mem()).
public enum ProcessMemory {
    static func status(_ key: String) -> Int64 {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        return bytes(key, inStatus: text)
    }

    /// `key`'s value in a /proc/<pid>/status text, in bytes (0 when absent).
    public static func bytes(_ key: String, inStatus text: String) -> Int64 {
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            // "VmHWM:\t   1234 kB": the padding shrinks as the number grows, down to none.
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            return (fields.count > 1 ? Int64(fields[1]) ?? 0 : 0) * 1024
        }
        return 0
    }
    public static var residentBytes: Int64 { status("VmRSS") }
    public static var peakResidentBytes: Int64 { status("VmHWM") }
}

/// The locked-memory limit an io_uring fixed-buffer registration is charged against: without
/// CAP_IPC_LOCK, every pinned page counts against RLIMIT_MEMLOCK (kernel: io_uring/rsrc.c
/// io_account_mem() -> __io_account_mem() returns -ENOMEM beyond it).
public struct MemlockLimit: Sendable, Equatable {
    /// Soft and hard limits in bytes; UInt64.max = unlimited.
    public var soft: UInt64
    public var hard: UInt64
    /// Whether the calling thread is exempt (CAP_IPC_LOCK in its effective set).
    public var exempt: Bool

    /// The calling thread's limits and capability now.
    public static func read() -> MemlockLimit {
        var soft: UInt64 = 0, hard: UInt64 = 0
        if gb_memlock_limits(&soft, &hard) != 0 { (soft, hard) = (0, 0) }
        return MemlockLimit(soft: soft, hard: hard, exempt: gb_thread_has_cap_ipc_lock() == 1)
    }

    static func text(_ bytes: UInt64) -> String {
        bytes == UInt64.max ? "unlimited" : ByteSize.format(Int(bytes))
    }

    /// How to get `bytes` locked, in words that can work here: raise the soft limit when the
    /// hard limit allows it, otherwise the hard limit itself (limits.conf, root) or CAP_IPC_LOCK.
    public func hint(forBytes bytes: Int) -> String {
        let kib = (bytes + 1023) / 1024
        if hard == UInt64.max {
            return "raise it with 'ulimit -l unlimited' (or 'ulimit -l \(kib)')"
        }
        if UInt64(bytes) <= hard {
            return "raise it with 'ulimit -l \(kib)' (the hard limit \(Self.text(hard)) allows up to "
                + "'ulimit -l \(hard / 1024)')"
        }
        return "the hard limit \(Self.text(hard)) forbids raising it: as root, raise the memlock line "
            + "in /etc/security/limits.conf (or 'prlimit --memlock' on this shell), or run with CAP_IPC_LOCK"
    }

    /// Throws `.environment` (exit 1) when registering `size` bytes would exceed the limit.
    public func check(size: Int, backing: Backing) throws {
        guard !exempt, soft != UInt64.max, UInt64(size) > soft else { return }
        let unit = UInt64(backing.sizeUnit)
        let largest = soft / unit * unit
        let fits = largest > 0 ? "the largest --size that fits is \(ByteSize.format(Int(largest)))"
            : "no --size fits"
        throw GUPBenchError.environment(
            "--size \(ByteSize.format(size)): gupbench kernel registers it as io_uring fixed buffers, "
            + "which without CAP_IPC_LOCK may lock at most RLIMIT_MEMLOCK \(Self.text(soft)); \(fits); "
            + hint(forBytes: size))
    }
}
