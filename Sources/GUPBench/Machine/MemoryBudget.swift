import CShims
import Foundation

/// What a run may map without meeting the OOM killer: checked before anything is mapped.
///
/// Data regions are mapped `MAP_NORESERVE` and faulted in at once, so the kernel never refuses
/// the mmap: a size beyond what is free would fault for seconds and end in the OOM killer
/// (exit 137, no message). So the need is compared with `MemAvailable` (kernel:
/// mm/show_mem.c si_mem_available(): free pages above the low watermarks plus reclaimable page
/// cache and slab), less a headroom of 1/64 of MemTotal for everything else on the machine.
///
/// One region is mapped at a time (a matrix of sizes maps, measures and unmaps each in turn),
/// so the need is the largest single size's:
/// - the data (from the hugetlb pool for `--backing hugetlb`, compared with HugePages_Free),
/// - its memmap, 64 bytes per 4 KiB page,
/// - the page arrays, 8 bytes per page, and as much again for a shuffled layout's index list
///   or the `--detect ledger` shadow record,
/// - for `gupbench kernel`, the kernel's side of a fixed-buffer registration (a 16-byte bio_vec
///   per page and the 8-byte page pointers pin_user_pages_fast() fills; kernel:
///   io_uring/rsrc.c io_sqe_buffer_register()), and the locked-memory limit (below).
public struct MemoryBudget: Sendable, Equatable {
    /// MemAvailable in bytes.
    public var availableBytes: Int64
    /// MemTotal in bytes.
    public var totalBytes: Int64
    /// HugePages_Free × Hugepagesize.
    public var hugetlbFreeBytes: Int64

    public init(availableBytes: Int64, totalBytes: Int64, hugetlbFreeBytes: Int64) {
        self.availableBytes = availableBytes
        self.totalBytes = totalBytes
        self.hugetlbFreeBytes = hugetlbFreeBytes
    }

    /// /proc/meminfo now.
    public static func read() -> MemoryBudget {
        let m = Topology.meminfo()
        return MemoryBudget(availableBytes: Int64(m["MemAvailable"] ?? m["MemFree"] ?? 0) * 1024,
                            totalBytes: Int64(m["MemTotal"] ?? 0) * 1024,
                            hugetlbFreeBytes: Int64(m["HugePages_Free"] ?? 0) * Int64(m["Hugepagesize"] ?? 2048) * 1024)
    }

    /// Left for the rest of the machine: 1/64 of MemTotal.
    public var headroomBytes: Int64 { totalBytes / 64 }

    /// Bytes of ordinary memory a run needs per 4 KiB page of data, besides the data itself:
    /// memmap 64 + page array 8 + index list or ledger 8, and for the kernel probe bio_vec 16 +
    /// page pointer 8.
    public static func overheadPerPage(kernel: Bool) -> Int64 { 64 + 8 + 8 + (kernel ? 24 : 0) }

    /// Ordinary memory `size` bytes of `backing` need (the data counts unless it is hugetlb).
    public static func need(size: Int, backing: Backing, kernel: Bool) -> Int64 {
        let pages = Int64(size) / 4096
        return (backing == .hugetlb ? 0 : Int64(size)) + pages * overheadPerPage(kernel: kernel)
    }

    /// The largest size (whole MiB, and a multiple of the backing's folio size) whose need fits.
    public func largestSize(backing: Backing, kernel: Bool) -> Int {
        let usable = max(0, availableBytes - headroomBytes)
        let perPage = Int64(backing == .hugetlb ? 0 : 4096) + Self.overheadPerPage(kernel: kernel)
        var size = usable / perPage * 4096
        if backing == .hugetlb { size = min(size, hugetlbFreeBytes) }
        let unit = Int64(max(1 << 20, backing.sizeUnit))  // whole MiB, and whole folios
        return Int(size / unit * unit)
    }

    /// Throws `.environment` (exit 1), one line naming the size, what it needs, what is
    /// available and the largest size that fits.
    public func check(sizes: [Int], backings: [Backing], kernel: Bool = false) throws {
        for size in sizes {
            for backing in backings {
                let need = Self.need(size: size, backing: backing, kernel: kernel)
                let usable = max(0, availableBytes - headroomBytes)
                let hugetlbShort = backing == .hugetlb && Int64(size) > hugetlbFreeBytes
                guard need > usable || hugetlbShort else { continue }
                let largest = largestSize(backing: backing, kernel: kernel)
                let fits = largest > 0 ? "the largest --size that fits is \(ByteSize.format(largest))"
                    : "nothing fits now; free some memory first"
                if hugetlbShort {
                    throw GUPBenchError.environment(
                        "--size \(ByteSize.format(size)) --backing hugetlb needs \(ByteSize.format(size)) of "
                        + "huge pages but only \(Self.gib(hugetlbFreeBytes)) are free (HugePages_Free); \(fits)")
                }
                throw GUPBenchError.environment(
                    "--size \(ByteSize.format(size)) --backing \(backing.rawValue) needs \(Self.gib(need)) "
                    + "with its memmap and page arrays, but only \(Self.gib(usable)) is available "
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

/// The locked-memory limit an io_uring fixed-buffer registration is charged against: without
/// CAP_IPC_LOCK, every pinned page counts against RLIMIT_MEMLOCK (kernel: io_uring/rsrc.c
/// io_account_mem() -> __io_account_mem() returns -ENOMEM beyond it).
public struct MemlockLimit: Sendable, Equatable {
    /// Soft and hard limits in bytes; UInt64.max = unlimited.
    public var soft: UInt64
    public var hard: UInt64
    /// Whether the calling thread is exempt (CAP_IPC_LOCK in its effective set).
    public var exempt: Bool

    public init(soft: UInt64, hard: UInt64, exempt: Bool) {
        self.soft = soft
        self.hard = hard
        self.exempt = exempt
    }

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
