import CShims
import Foundation

/// An io_uring instance used for one thing: registering a region as fixed buffers, which makes
/// the kernel pin every page, and unregistering them, which makes it unpin. Owns the ring fd
/// and the region it registered; deinit unregisters (synchronously) and closes.
///
/// The corresponding C functions are `gb_io_uring_setup`, `gb_io_uring_register_buffers`,
/// `gb_io_uring_unregister_buffers` and `gb_close_fd`.
public final class FixedBufferRing: KernelPinner {
    private let fd: Int32
    /// Kept alive while registered, so nothing unmaps it by accident under the pins. Only
    /// `--last-ref` unmaps the data on purpose (MemoryRegion.unmapData()): then the pins hold the
    /// pages' last references and unregister() frees them.
    private var registered: MemoryRegion?

    /// io_uring_setup with one entry. Throws `.environment` naming why io_uring is refused and
    /// how to allow it.
    public init() throws {
        let rc = gb_io_uring_setup(1)
        guard rc >= 0 else { throw Self.setupError(-rc) }
        fd = rc
    }

    deinit {
        if registered != nil { _ = gb_io_uring_unregister_buffers(fd) }
        _ = gb_close_fd(fd)
    }

    /// IORING_REGISTER_BUFFERS over the first `bytes` of the region, by default all of it
    /// (iovecs of at most 1 GiB).
    public func register(_ region: MemoryRegion, bytes: Int? = nil) throws {
        precondition(registered == nil, "one registration at a time")
        let size = min(bytes ?? region.size, region.size)
        let rc = gb_io_uring_register_buffers(fd, region.unsafeData, size)
        guard rc == 0 else { throw Self.registerError(-rc, size: size) }
        registered = region
    }

    /// IORING_UNREGISTER_BUFFERS: the kernel unpins before the call returns.
    public func unregister() throws {
        guard registered != nil else { return }
        let rc = gb_io_uring_unregister_buffers(fd)
        registered = nil
        guard rc == 0 else {
            throw GUPBenchError.environment(
                "IORING_UNREGISTER_BUFFERS failed: \(errnoDescription(-rc))")
        }
    }

    /// nil when this process can create an io_uring instance; otherwise the reason, one line.
    public static func unavailableReason() -> String? {
        do {
            _ = try FixedBufferRing()
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// /proc/sys/kernel/io_uring_disabled: 0 allowed, 1 restricted to io_uring_group and
    /// CAP_SYS_ADMIN, 2 disabled; nil when the file is absent (kernels before 6.6).
    static func disabledSetting() -> Int? {
        Topology.readFile("/proc/sys/kernel/io_uring_disabled").flatMap { Int($0.trimmed) }
    }

    static func setupError(_ err: Int32) -> GUPBenchError {
        setupError(err, disabled: disabledSetting(),
                   group: Topology.readFile("/proc/sys/kernel/io_uring_group")?.trimmed)
    }

    /// Why io_uring_setup failed with `err` given the io_uring_disabled setting, and how to allow it.
    public static func setupError(_ err: Int32, disabled: Int?, group: String?) -> GUPBenchError {
        let allow = "allow it with 'sysctl -w kernel.io_uring_disabled=0' as root"
        if disabled == 2 {
            return .environment(
                "io_uring is disabled on this machine (/proc/sys/kernel/io_uring_disabled = 2); \(allow)")
        }
        if err == EPERM && disabled == 1 {
            return .environment(
                "io_uring is restricted (/proc/sys/kernel/io_uring_disabled = 1) and this user is "
                + "neither in kernel.io_uring_group (gid \(group ?? "?")) nor CAP_SYS_ADMIN; \(allow) "
                + "or add the user to that group")
        }
        if err == EPERM {
            return .environment(
                "io_uring_setup was refused (EPERM) although io_uring_disabled is "
                + "\(disabled.map(String.init) ?? "absent"): a seccomp filter (container runtime) "
                + "blocks it; run outside the sandbox or allow io_uring_setup and io_uring_register")
        }
        if err == ENOSYS {
            return .environment(
                "this kernel has no io_uring (io_uring_setup: ENOSYS); it needs CONFIG_IO_URING=y")
        }
        return .environment("io_uring_setup failed: \(errnoDescription(err))")
    }

    static func registerError(_ err: Int32, size: Int) -> GUPBenchError {
        let what = "the kernel would not pin \(ByteSize.format(size)) as io_uring fixed buffers "
            + "(IORING_REGISTER_BUFFERS: \(errnoDescription(err)))"
        if err == ENOMEM && gb_thread_has_cap_ipc_lock() == 0 {
            let limit = MemlockLimit.read()
            return .environment(
                "\(what): RLIMIT_MEMLOCK is \(MemlockLimit.text(limit.soft)) and this user lacks "
                + "CAP_IPC_LOCK; \(limit.hint(forBytes: size))")
        }
        if err == ENOMEM {
            return .environment("\(what): the machine ran out of memory; try a smaller --size")
        }
        return .environment(what)
    }
}

/// io_uring's kernel path: the region registered as fixed buffers and unregistered again.
///
/// Pin: IORING_REGISTER_BUFFERS, io_uring/rsrc.c io_sqe_buffers_register() ->
/// io_sqe_buffer_register() -> io_pin_pages() -> pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM),
/// one pin per 4 KiB page; on large folios io_coalesce_buffer() then drops all but one pin per
/// folio (unpin_user_folio(folio, nr - 1)). Release: IORING_UNREGISTER_BUFFERS,
/// io_sqe_buffers_unregister() -> io_buffer_unmap() -> io_release_ubuf(), unpin_user_folio()
/// per bvec (mm/gup.c gup_put_folio()). Proof: each cycle's nr_foll_pin_acquired and
/// nr_foll_pin_released deltas are exactly the pages (VmstatProof).
public struct IoUringFixedBuffers: KernelPath {
    public init() {}

    public var name: String { "io-uring" }

    /// io_release_ubuf()'s own loop in the model.
    public var modelStrategy: Strategy { .ioUringRelease }

    /// io_release_ubuf() unpins per bvec: per page on 4k (model: unpin-each), per folio on
    /// coalesced THP/hugetlb (model: unpin-range, one descriptor per folio).
    public func modelStrategy(for backing: Backing) -> Strategy {
        backing == .fourK ? .unpinEach : .unpinRange
    }

    public func unavailableReason() -> String? { FixedBufferRing.unavailableReason() }

    /// Without CAP_IPC_LOCK every pinned page is charged to RLIMIT_MEMLOCK (io_account_mem()).
    public func checkPinLimit(size: Int, backing: Backing) throws {
        try MemlockLimit.read().check(size: size, backing: backing)
    }

    public func makePinner() throws -> any KernelPinner { try FixedBufferRing() }

    /// Every page pinned once by pin_user_pages_fast() and every pin released, at registration
    /// (coalesced tails) and unregistration: FOLL_PIN deltas of exactly the pages.
    public func judge(_ cycles: [PinCycle], pages: Int, exact: Bool, cpus: Int) -> VmstatProof {
        VmstatProof.judge(cycles, pages: pages, exact: exact, cpus: cpus)
    }

    public func judge(_ cycles: [LastRefCycle], pages: Int, exact: Bool, cpus: Int) -> LastRefProof {
        LastRefProof.judge(cycles, pages: pages, exact: exact, cpus: cpus)
    }

    public var words: KernelPathWords {
        KernelPathWords(
            pinnedAs: "io_uring fixed buffers", pin: "register", release: "unregister",
            releaseNoun: "unregistration", pinning: "registering", releasing: "unregistering",
            calls: "pin = IORING_REGISTER_BUFFERS (pin_user_pages_fast FOLL_LONGTERM), unpin = IORING_UNREGISTER_BUFFERS",
            releaseNote: "on large folios io_uring keeps one pin per folio: io_coalesce_buffer() releases the "
                + "rest during registration, so unregistration releases once per folio",
            sameLoop: "io_release_ubuf(): bvec walk, page_folio(), out-of-line unpin_user_folio() and mod_node_page_state()",
            lastRefChain: "unpin_user_folio() -> folio_put_refs() -> __folio_put()")
    }
}

extension FixedBufferRing {
    /// KernelPinner: IORING_REGISTER_BUFFERS.
    public func pin(_ region: MemoryRegion, bytes: Int) throws { try register(region, bytes: bytes) }
    /// KernelPinner: IORING_UNREGISTER_BUFFERS, unpinned before it returns.
    public func release() throws { try unregister() }
}
