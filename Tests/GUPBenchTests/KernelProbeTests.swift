import CShims
import Foundation
import Testing
@testable import GUPBench

/// Why io_uring cannot be used here (nil when it can), asked once before the tests are listed.
let ioUringUnavailable = FixedBufferRing.unavailableReason()
/// Exact vmstat deltas need the per-CPU counters folded first (/proc/sys/vm/stat_refresh, root).
let vmstatExact = FollPinCounters.canRefresh

/// Mappings of exactly `bytes` in /proc/self/maps: a region that leaked would still be there.
func mappings(ofSize bytes: Int) -> Int {
    let maps = (try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8)) ?? ""
    return maps.split(separator: "\n").filter { line in
        let range = line.split(separator: " ")[0].split(separator: "-")
        guard range.count == 2, let lo = Int(range[0], radix: 16), let hi = Int(range[1], radix: 16)
        else { return false }
        return hi - lo == bytes
    }.count
}

/// Whether any mapping of this process covers `address`: mincore() fails with ENOMEM on an
/// unmapped page. (Not /proc/self/maps through Foundation, which came back cut short in a
/// sanitized test process with thousands of mappings.)
func isMapped(_ address: UInt) -> Bool {
    var resident: UInt8 = 0
    let page = address & ~UInt(4095)
    return mincore(UnsafeMutableRawPointer(bitPattern: page), 4096, &resident) == 0
}

/// Open io_uring instances of this process (anon inodes named "[io_uring]").
func openRings() -> Int {
    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return fds.filter {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)"))?
            .contains("io_uring") == true
    }.count
}

/// Runs `body` on a thread of its own whose effective capabilities lack CAP_IPC_LOCK, so an
/// io_uring ring it creates is charged against RLIMIT_MEMLOCK like an unprivileged user's.
final class ThreadResult<T>: @unchecked Sendable {
    var dropped = false
    var value: T?
}

func withoutIPCLock<T: Sendable>(_ body: @escaping @Sendable () -> T) -> (dropped: Bool, value: T) {
    let box = ThreadResult<T>()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        box.dropped = gb_thread_drop_cap_ipc_lock() == 0 && gb_thread_has_cap_ipc_lock() == 0
        box.value = body()
        done.signal()
    }
    thread.start()
    done.wait()
    return (box.dropped, box.value!)
}

@Suite("gupbench kernel: the real kernel pins and unpins through io_uring", .serialized)
struct KernelProbeTests {
    let topology = Topology.read()

    func probe(_ size: Int, _ backing: Backing, repetitions: Int = 2) throws -> KernelMeasurement {
        try KernelProbe.measure(size: size, backing: backing, node: topology.localNode, cpu: nil,
                                repetitions: repetitions, warmup: 0, topology: topology)
    }

    @Test("registering pins every page; unregistering releases every pin",
          .enabled(if: ioUringUnavailable == nil, "io_uring unavailable: \(ioUringUnavailable ?? "")"),
          .enabled(if: vmstatExact, "needs root to fold per-CPU vmstat counters (/proc/sys/vm/stat_refresh)"),
          arguments: [Backing.fourK, .thp])
    func registerUnregister(backing: Backing) throws {
        let m = try probe(8 << 20, backing)
        let pages = UInt64(m.pages)
        #expect(m.pages == 2048)
        #expect(m.cycles.count == 2)
        for c in m.cycles {
            #expect(c.register.acquired >= pages)   // pin_user_pages_fast: one pin per 4 KiB page
            #expect(c.released >= pages)            // all of them released again (others may add)
            #expect(c.unregister.released >= UInt64(m.folios))
        }
        #expect(m.vmstatComplete)
        #expect(openRings() == 0)
    }

    @Test("on fully THP-backed memory io_uring keeps one pin per folio: unregister releases per folio",
          .enabled(if: ioUringUnavailable == nil, "io_uring unavailable: \(ioUringUnavailable ?? "")"),
          .enabled(if: vmstatExact, "needs root to fold per-CPU vmstat counters (/proc/sys/vm/stat_refresh)"))
    func thpCoalesced() throws {
        let m = try probe(8 << 20, .thp, repetitions: 1)
        guard m.thpBackedFraction == 1 else {
            print("skipped: only \(Fmt.percent(m.thpBackedFraction)) of the region is THP-backed")
            return
        }
        #expect(m.folios == 4)
        let c = m.cycles[0]
        // io_coalesce_buffer(): unpin_user_folio(folio, nr - 1) during registration.
        #expect(c.register.released >= UInt64(m.pages - m.folios))
        #expect(c.unregister.released >= 4)
        #expect(c.unregister.released < UInt64(m.pages))
        // Within a folio the frames are consecutive: at least pages - folios neighbouring pairs.
        if let adjacent = m.framesAdjacentFraction {
            #expect(adjacent * Double(m.pages - 1) >= Double(m.pages - m.folios) - 0.5)
        }
    }

    @Test("the release's fixed cost is measured apart, once per timed repetition, and the loop is the rest",
          .enabled(if: ioUringUnavailable == nil, "io_uring unavailable: \(ioUringUnavailable ?? "")"),
          .enabled(if: vmstatExact, "needs root to fold per-CPU vmstat counters (/proc/sys/vm/stat_refresh)"))
    func fixedCostApart() throws {
        let before = try FollPinCounters.read(refresh: true)
        let m = try probe(8 << 20, .fourK, repetitions: 3)
        let after = try FollPinCounters.read(refresh: true)
        #expect(m.fixedReleaseNs.count == 3 && m.unpinNsPerPage.count == 3)
        #expect(m.fixedReleaseNs.allSatisfy { $0 > 0 })
        // Three whole regions and three one-page ones, every pin released (others may add).
        #expect(after.acquired - before.acquired >= 3 * UInt64(m.pages) + 3)
        #expect(after.released - before.released >= 3 * UInt64(m.pages) + 3)
        let spread = m.fixedRelease.median / Double(m.pages)
        #expect(zip(m.loopNsPerPage, m.unpinNsPerPage).allSatisfy { abs($0 - ($1 - spread)) < 1e-9 })
        #expect(openRings() == 0)
    }

    @Test("the JSON report carries the kernel keys of docs/report-schema.md",
          .enabled(if: ioUringUnavailable == nil, "io_uring unavailable: \(ioUringUnavailable ?? "")"))
    func jsonKeys() throws {
        let m = try probe(4 << 20, .fourK, repetitions: 1)
        let report = Report(command: "kernel", topology: topology, calibration: nil)
        let json = report.json(extra: KernelComparison(kernel: [m], model: report).jsonFields)
        guard case .object(let top) = json, let kernel = top.first(where: { $0.0 == "kernel" })?.1,
              case .array(let rows) = kernel, case .object(let row) = rows.first else {
            Issue.record("no kernel array in \(json.serialized())")
            return
        }
        let keys = Set(row.map(\.0))
        for key in ["backing", "pages", "pin_ns_per_page", "unpin_ns_per_page", "fixed_release_ns",
                    "loop_ns_per_page", "vmstat_pins_acquired", "vmstat_pins_released"] {
            #expect(keys.contains(key))
        }
        #expect(row.first { $0.0 == "pages" }?.1 == .int(1024))
    }

    @Test("registering more than RLIMIT_MEMLOCK without CAP_IPC_LOCK is a clear error, nothing left behind",
          .enabled(if: ioUringUnavailable == nil, "io_uring unavailable: \(ioUringUnavailable ?? "")"),
          .enabled(if: MemlockLimit.read().soft < 18 << 20, "RLIMIT_MEMLOCK is at least 18MiB: registering 18MiB is allowed"))
    func memlockRefused() throws {
        let size = 18 << 20  // 4k backing: the data mapping is exactly this long
        let before = mappings(ofSize: size)
        let counters = try FollPinCounters.read(refresh: vmstatExact)
        let topology = self.topology
        // The probe refuses before mapping anything; the kernel itself refuses the registration.
        let (dropped, results) = withoutIPCLock { () -> [Result<Void, GUPBenchError>] in
            let probe = Result {
                _ = try KernelProbe.measure(size: size, backing: .fourK, node: topology.localNode, cpu: nil,
                                            repetitions: 1, warmup: 0, topology: topology)
            }.mapError { $0 as! GUPBenchError }
            let register = Result {
                let region = try MemoryRegion(size: size, backing: .fourK, policy: .bind, node: topology.localNode)
                let ring = try FixedBufferRing()
                try ring.register(region)
                try ring.unregister()
            }.mapError { $0 as! GUPBenchError }
            return [probe, register]
        }
        try #require(dropped, "could not drop CAP_IPC_LOCK from a thread")
        guard case .failure(let early) = results[0], case .failure(let error) = results[1] else {
            Issue.record("registering 18MiB over a smaller RLIMIT_MEMLOCK succeeded")
            return
        }
        let hint = MemlockLimit.read().hint(forBytes: size)
        #expect(early.exitCode == 1)
        #expect(early.description.contains("may lock at most RLIMIT_MEMLOCK"))
        #expect(early.description.contains("the largest --size that fits is"))
        #expect(early.description.hasSuffix(hint))
        #expect(error.exitCode == 1)
        #expect(error.description.contains("IORING_REGISTER_BUFFERS: ENOMEM"))
        #expect(error.description.contains("RLIMIT_MEMLOCK"))
        #expect(error.description.hasSuffix(hint))  // 'ulimit -l' only where the hard limit allows it
        #expect(!early.description.contains("\n") && !error.description.contains("\n"))
        #expect(mappings(ofSize: size) == before)
        #expect(openRings() == 0)
        if vmstatExact {  // whatever the kernel pinned before refusing, it released
            let delta = try FollPinCounters.read(refresh: true) - counters
            #expect(delta.released >= delta.acquired)
        }
    }

    @Test("a size beyond the machine's memory is refused before anything is mapped")
    func sizeBeyondMemory() throws {
        let size = Int(topology.memTotalBytes / (2 << 20) + 1) * (2 << 20)
        let before = mappings(ofSize: size + (2 << 20))
        #expect {
            try probe(size, .thp, repetitions: 1)
        } throws: { error in
            guard let e = error as? GUPBenchError, case .environment(let text) = e else { return false }
            return text.contains("with its memmap, page arrays and calibration buffers") && text.contains("the largest --size that fits is")
        }
        #expect(mappings(ofSize: size + (2 << 20)) == before)
        #expect(openRings() == 0)
    }

    @Test("io_uring refusals name the cause and how to allow it")
    func setupMessages() {
        let disabled = FixedBufferRing.setupError(EPERM, disabled: 2, group: "-1").description
        #expect(disabled == "io_uring is disabled on this machine (/proc/sys/kernel/io_uring_disabled = 2); "
            + "allow it with 'sysctl -w kernel.io_uring_disabled=0' as root")
        let restricted = FixedBufferRing.setupError(EPERM, disabled: 1, group: "1000").description
        #expect(restricted.contains("io_uring_disabled = 1") && restricted.contains("gid 1000"))
        let seccomp = FixedBufferRing.setupError(EPERM, disabled: 0, group: nil).description
        #expect(seccomp.contains("seccomp"))
        let missing = FixedBufferRing.setupError(ENOSYS, disabled: nil, group: nil)
        #expect(missing.description.contains("CONFIG_IO_URING"))
        #expect(missing.exitCode == 1)
    }
}
