import CShims
import Foundation
import Testing
@testable import GUPBench

/// Nothing lost, nothing clobbered, nothing racy: the runner's start-up, the memory and
/// locked-memory checks, the commit read from .git, the --output file and the vmstat proof.
@Suite struct ReliabilityTests {
    // MARK: the runner's start-up

    @Test("a worker that cannot pin itself is a clean environment error, not a hang",
          .timeLimit(.minutes(10)))  // generous for sanitizer builds on a loaded machine; a hang never ends
    func workerThatCannotPinThrows() throws {
        let model = try makeModel(pages: 1024, order: 0)
        let shares = PageShares(model: model, threads: 2, sharing: .disjoint, layout: .sequential)
        let cpu = Topology.read().allowedCPUs.first ?? 0
        // CPU 1000 is inside the kernel's cpumask range but exists on no machine this runs on.
        #expect(throws: GUPBenchError.environment(
            "cannot run a thread on CPU 1000: sched_setaffinity failed with EINVAL (Invalid argument)")) {
            _ = try ReleaseRunner(model: model, shares: shares, cpus: [cpu, 1000])
        }
        // The other worker was not left spinning: a new runner on good CPUs still works.
        let again = try ReleaseRunner(model: model, shares: PageShares(model: model, threads: 1, sharing: .disjoint,
                                                                       layout: .sequential), cpus: [cpu])
        let m = again.measure([LoopKey(.unpinEach, .swift)], dirty: .none, batch: nil, repetitions: 2, warmup: 0)
        #expect(m[0].pinsAcquired == 2 * 1024)
        #expect(m[0].balanced)
    }

    // MARK: memory

    static let gib: Int64 = 1 << 30
    let budget = MemoryBudget(availableBytes: 8 * gib, totalBytes: 16 * gib, hugetlbFreeBytes: 0)

    @Test func regionNeedCountsDataMemmapAndArrays() {
        // 1 GiB = 262144 pages: a 16 MiB memmap (whole 2 MiB mappings) and 64 bytes of arrays
        // per page; the kernel probe adds 24 per page, a frame-spaced memmap MemTotal / 64.
        #expect(budget.regionNeed(size: 1 << 30, backing: .fourK, shape: .init()) == (1 << 30) + (16 << 20) + (16 << 20))
        #expect(budget.regionNeed(size: 1 << 30, backing: .thp, shape: .init(kernel: true))
                == (1 << 30) + (16 << 20) + 262_144 * 88)
        #expect(budget.regionNeed(size: 1 << 30, backing: .hugetlb, shape: .init()) == (16 << 20) + (16 << 20))
        #expect(budget.regionNeed(size: 1 << 30, backing: .fourK, shape: .init(frameSpaced: true))
                == (1 << 30) + (32 << 20) + (256 << 20))
        #expect(budget.regionNeed(size: 1 << 30, backing: .fourK, shape: .init(scattered: true, ledger: true, lastRef: true))
                == (1 << 30) + (16 << 20) + 262_144 * (64 + 16 + 8 + 9))
        // A memmap of 64 MiB / 4096 * 64 = 1 MiB still takes a whole 2 MiB mapping.
        #expect(budget.regionNeed(size: 64 << 20, backing: .fourK, shape: .init()) == (64 << 20) + (2 << 20) + (1 << 20))
        #expect(budget.headroomBytes == 256 << 20)
    }

    /// gupbench kernel holds its own region of each backing beside the model's: its data (not
    /// for hugetlb, which comes from the pool, twice), its memmap and the kernel's 88 per page.
    @Test func regionsHeldBesideAreCountedInTheBudgetAndThePool() {
        let held = MemoryBudget.Shape(heldBeside: [.fourK, .thp])
        let one: Int64 = (1 << 30) + (16 << 20) + 262_144 * 88
        #expect(budget.regionNeed(size: 1 << 30, backing: .thp, shape: held)
                == budget.regionNeed(size: 1 << 30, backing: .thp, shape: .init()) + 2 * one)
        let pooled = MemoryBudget(availableBytes: 8 * Self.gib, totalBytes: 16 * Self.gib, hugetlbFreeBytes: Self.gib)
        let hugetlbBeside = MemoryBudget.Shape(heldBeside: [.hugetlb])
        #expect(pooled.hugetlbNeed(size: 1 << 29, backing: .hugetlb, shape: hugetlbBeside) == 1 << 30)
        #expect((try? pooled.check(sizes: [1 << 29], backings: [.hugetlb], shape: hugetlbBeside)) != nil)
        #expect(throws: GUPBenchError.self) {
            try pooled.check(sizes: [1 << 30], backings: [.hugetlb], shape: hugetlbBeside)
        }
        #expect(pooled.largestSize(backing: .hugetlb, shape: hugetlbBeside) == 1 << 29)
    }

    @Test func peakIsTheLargerPhaseOnTopOfWhatTheRunHoldsThroughout() {
        // Two sizes: one memmap-sized calibration buffer each (16 MiB + 4 MiB) held all run; the
        // chase buffers (136 MiB) and the largest region (1056 MiB) never at once.
        let p = budget.predictPeak(sizes: [1 << 30, 256 << 20], backings: [.fourK, .thp], shape: .init(),
                                   calibrationBytes: 136 << 20, processBytes: 30 << 20)
        #expect(p == PeakPrediction(processBytes: (30 << 20) + MemoryBudget.runtimeAllowanceBytes,
                                    memmapBufferBytes: 20 << 20, calibrationBytes: 136 << 20,
                                    regionBytes: (1 << 30) + (32 << 20)))
        #expect(p.totalBytes == (46 + 20 + 1056) << 20)
        // A run small enough that calibrating is its larger phase.
        let small = budget.predictPeak(sizes: [64 << 20], backings: [.fourK], shape: .init(),
                                       calibrationBytes: 136 << 20, processBytes: 30 << 20)
        #expect(small.totalBytes == (30 << 20) + MemoryBudget.runtimeAllowanceBytes + (1 << 20) + (136 << 20))
        // Without a calibrator, no calibration buffers at all.
        let bare = budget.predictPeak(sizes: [64 << 20], backings: [.fourK], shape: .init(), calibrationBytes: 0,
                                      processBytes: 0)
        #expect(bare.totalBytes == MemoryBudget.runtimeAllowanceBytes + (67 << 20))
    }

    @Test func sizeBeyondWhatIsAvailableNamesTheLargestThatFits() throws {
        // Usable: 8 GiB - 256 MiB. 7693 MiB needs 8320663552 bytes (data, a 61-mapping memmap,
        // 64 bytes of arrays per page), which fits; 7694 MiB needs 8321728512, which does not.
        // THP steps in 2 MiB: 7692 MiB.
        #expect(budget.largestSize(backing: .fourK, shape: .init()) == 7693 << 20)
        #expect(budget.largestSize(backing: .thp, shape: .init()) == 7692 << 20)
        // With a calibrator: the size's own memmap-sized buffer too (7579 MiB: 118.4 MiB of it).
        #expect(budget.largestSize(backing: .fourK, shape: .init(), calibrationBytes: 136 << 20) == 7579 << 20)
        let fits = budget.largestSize(backing: .fourK, shape: .init())
        try budget.check(sizes: [fits], backings: [.fourK])
        #expect(throws: (any Error).self) { try budget.check(sizes: [fits + (1 << 20)], backings: [.fourK]) }
        #expect(throws: GUPBenchError.environment(
            "--size 8GiB --backing 4k needs 8.2GiB with its memmap, page arrays and calibration buffers, "
            + "but only 7.8GiB is available (MemAvailable 8.0GiB less 256MiB left for the rest of the "
            + "machine); the largest --size that fits is 7693MiB")) {
            try budget.check(sizes: [1 << 20, 8 << 30], backings: [.fourK])
        }
    }

    @Test func statusValuesAreReadWhateverTheirPadding() {
        let text = "VmPeak:\t18000000 kB\nVmHWM:\t17459428 kB\nVmRSS:\t    2192 kB\n"
        #expect(ProcessMemory.bytes("VmHWM", inStatus: text) == 17_459_428 * 1024)
        #expect(ProcessMemory.bytes("VmRSS", inStatus: text) == 2192 * 1024)
        #expect(ProcessMemory.bytes("VmSwap", inStatus: text) == 0)
    }

    @Test func memoryShapeFollowsTheMatrix() {
        var c = BenchConfig()
        #expect(c.memoryShape == MemoryBudget.Shape())
        c.layouts = [.sequential, .pfn]
        c.detects = [.off, .ledger]
        c.lastRef = true
        #expect(c.memoryShape == MemoryBudget.Shape(scattered: true, ledger: true, lastRef: true, frameSpaced: true))
        c = BenchConfig()
        c.sharings = [.interleaved]
        #expect(c.memoryShape == MemoryBudget.Shape(scattered: true))
    }

    @Test func hugetlbDataIsComparedWithTheFreePool() throws {
        var b = budget
        b.hugetlbFreeBytes = 64 << 20
        try b.check(sizes: [64 << 20], backings: [.hugetlb])
        #expect(throws: GUPBenchError.environment(
            "--size 128MiB --backing hugetlb needs 128MiB of huge pages but only 64MiB are free "
            + "(HugePages_Free); the largest --size that fits is 64MiB")) {
            try b.check(sizes: [128 << 20], backings: [.hugetlb])
        }
    }

    @Test func memlockCheckAndHintsThatCanWork() throws {
        let mib = UInt64(1 << 20)
        // Exempt (CAP_IPC_LOCK) or unlimited: anything goes.
        try MemlockLimit(soft: 8 * mib, hard: 8 * mib, exempt: true).check(size: 1 << 30, backing: .fourK)
        try MemlockLimit(soft: .max, hard: .max, exempt: false).check(size: 1 << 30, backing: .fourK)
        // The hard limit allows raising the soft one: say by how much.
        let raisable = MemlockLimit(soft: 8 * mib, hard: 64 * mib, exempt: false)
        #expect(throws: GUPBenchError.environment(
            "--size 16MiB: gupbench kernel registers it as io_uring fixed buffers, which without "
            + "CAP_IPC_LOCK may lock at most RLIMIT_MEMLOCK 8MiB; the largest --size that fits is 8MiB; "
            + "raise it with 'ulimit -l 16384' (the hard limit 64MiB allows up to 'ulimit -l 65536')")) {
            try raisable.check(size: 16 << 20, backing: .fourK)
        }
        // The hard limit forbids it: 'ulimit -l unlimited' would fail, so it is not suggested.
        let stuck = MemlockLimit(soft: 8 * mib, hard: 8 * mib, exempt: false)
        #expect(!stuck.hint(forBytes: 16 << 20).contains("ulimit -l"))
        #expect(stuck.hint(forBytes: 16 << 20).contains("hard limit 8MiB forbids raising it"))
        #expect(MemlockLimit(soft: 8 * mib, hard: .max, exempt: false).hint(forBytes: 16 << 20)
                == "raise it with 'ulimit -l unlimited' (or 'ulimit -l 16384')")
        // THP sizes come in 2 MiB steps.
        let error = #expect(throws: GUPBenchError.self) {
            try MemlockLimit(soft: 3 * mib, hard: 3 * mib, exempt: false).check(size: 4 << 20, backing: .thp)
        }
        #expect(error?.description.contains("the largest --size that fits is 2MiB") == true)
    }

    @Test func registrationRefusalHintFollowsTheHardLimit() {
        let limit = MemlockLimit.read()
        let error = FixedBufferRing.registerError(ENOMEM, size: 1 << 40)
        if gb_thread_has_cap_ipc_lock() == 0 {
            #expect("\(error)".contains(limit.hint(forBytes: 1 << 40)))
        }
        #expect(!"\(error)".contains("\n"))
    }

    // MARK: the commit, without a subprocess

    func makeRepository(_ files: [String: String]) throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("gupbench-git-\(UUID().uuidString)")
        for (path, text) in files {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return root
    }

    static let hashA = "0123456789abcdef0123456789abcdef01234567"
    static let hashB = "89abcdef0123456789abcdef0123456789abcdef"

    @Test func commitFromLooseRefPackedRefDetachedHeadAndWorktree() throws {
        let loose = try makeRepository([".git/HEAD": "ref: refs/heads/main\n",
                                        ".git/refs/heads/main": Self.hashA + "\n", "src/a.txt": ""])
        defer { try? FileManager.default.removeItem(at: loose) }
        #expect(GitCheckout.commit(containing: loose.appendingPathComponent("src")) == "0123456789ab")

        let packed = try makeRepository([".git/HEAD": "ref: refs/heads/topic\n",
                                         ".git/packed-refs": "# pack-refs with: peeled fully-peeled sorted\n"
                                            + "\(Self.hashA) refs/heads/main\n\(Self.hashB) refs/heads/topic\n^\(Self.hashA)\n"])
        defer { try? FileManager.default.removeItem(at: packed) }
        #expect(GitCheckout.commit(containing: packed) == "89abcdef0123")

        let detached = try makeRepository([".git/HEAD": Self.hashB + "\n"])
        defer { try? FileManager.default.removeItem(at: detached) }
        #expect(GitCheckout.commit(containing: detached) == "89abcdef0123")

        // A linked worktree: .git is a file; the branch ref lives in the common directory.
        let repo = try makeRepository(["main/.git/refs/heads/wt": Self.hashB + "\n",
                                       "main/.git/worktrees/wt/HEAD": "ref: refs/heads/wt\n",
                                       "main/.git/worktrees/wt/commondir": "../..\n"])
        defer { try? FileManager.default.removeItem(at: repo) }
        let wt = repo.appendingPathComponent("wt")
        try FileManager.default.createDirectory(at: wt, withIntermediateDirectories: true)
        try "gitdir: \(repo.path)/main/.git/worktrees/wt\n".write(to: wt.appendingPathComponent(".git"),
                                                                   atomically: true, encoding: .utf8)
        #expect(GitCheckout.commit(containing: wt) == "89abcdef0123")

        // A branch with no commit yet, and no checkout at all: nil ("unknown" in reports).
        let unborn = try makeRepository([".git/HEAD": "ref: refs/heads/none\n"])
        defer { try? FileManager.default.removeItem(at: unborn) }
        #expect(GitCheckout.commit(containing: unborn) == nil)
        #expect(GitCheckout.commit(containing: URL(fileURLWithPath: "/proc/self")) == nil)
    }

    // MARK: --output

    func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("gupbench-out-\(UUID().uuidString)-\(name)").path
    }

    @Test func outputRefusesDirectoriesFIFOsAndDevices() throws {
        let fifo = temporary("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        for (path, kind) in [(NSTemporaryDirectory(), "a directory"), (fifo, "a FIFO"), ("/dev/null", "a device")] {
            do {
                _ = try OutputFile(path: path)
                Issue.record("--output \(path) was accepted")
            } catch let error as GUPBenchError {
                #expect(error.exitCode == 2)
                #expect(error.description.hasPrefix("--output '\(path)' is \(kind)"))
            }
        }
    }

    @Test func outputFollowsASymlinkAndKeepsAFileUntilTheReportIsReady() throws {
        let target = temporary("target"), link = temporary("link")
        try "the previous report, longer than the next one\n".write(toFile: target, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        defer { unlink(link); unlink(target) }
        let file = try OutputFile(path: link)
        // Opened, not truncated: a run that fails now keeps the previous report.
        #expect(try String(contentsOfFile: target, encoding: .utf8).hasPrefix("the previous report"))
        try file.write("new\n")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "new\n")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == target)
    }
}

/// The vmstat proof on the numbers alone, then against a real second pinner.
@Suite("vmstat proof", .serialized) struct VmstatProofTests {
    func cycle(_ acquired: UInt64, _ released: UInt64) -> PinCycle {
        PinCycle(register: FollPinCounters(acquired: acquired, released: 0),
                 unregister: FollPinCounters(acquired: 0, released: released))
    }

    @Test func exactCountsAreOkShortIsShortAndTwiceIsOthers() {
        let pages = 131_072
        #expect(VmstatProof.tolerance(pages: pages, exact: true, cpus: 2) == 1310)
        #expect(VmstatProof.tolerance(pages: 1024, exact: true, cpus: 2) == 64)
        #expect(VmstatProof.tolerance(pages: 1024, exact: false, cpus: 2) == 64 + 500)
        #expect(VmstatProof.judge([cycle(131_072, 131_072)], pages: pages, exact: true, cpus: 2) == .ok)
        #expect(VmstatProof.judge([cycle(131_072 + 1310, 131_072)], pages: pages, exact: true, cpus: 2) == .ok)
        #expect(VmstatProof.judge([cycle(131_071, 131_072)], pages: pages, exact: true, cpus: 2) == .short)
        #expect(VmstatProof.judge([PinCycle](), pages: pages, exact: true, cpus: 2) == .short)
        // Two runs at once: one counted 262126 pins for its 131072 pages.
        let both = [cycle(131_072, 131_072), cycle(262_126, 262_126)]
        #expect(VmstatProof.judge(both, pages: pages, exact: true, cpus: 2) == .otherPinning)
        #expect(VmstatProof.excess(both, pages: pages) == 131_054)
    }

    @Test("another process pinning during the probe is told apart",
          .enabled(if: ioUringUnavailable == nil, "io_uring unavailable: \(ioUringUnavailable ?? "")"),
          .enabled(if: vmstatExact, "needs root to fold per-CPU vmstat counters"))
    func concurrentPinnerIsOthers() throws {
        let topology = Topology.read()
        let other = try MemoryRegion(size: 32 << 20, backing: .fourK, policy: .bind, node: topology.localNode)
        let stop = Flag()
        let cycles = Counter()
        let done = DispatchSemaphore(value: 0)
        let pinning = DispatchSemaphore(value: 0)
        // The second pinner: registers and unregisters 8192 pages for as long as the probe runs.
        let thread = Thread {
            if let ring = try? FixedBufferRing() {
                while !stop.value {
                    if (try? ring.register(other)) != nil {
                        try? ring.unregister()
                        if cycles.increment() == 1 { pinning.signal() }
                    }
                }
            }
            done.signal()
        }
        thread.start()
        // The probe starts once the pinner has pinned and unpinned once: it is really running.
        #expect(pinning.wait(timeout: .now() + 30) == .success, "the second pinner never pinned")
        // The pinner shares 2 CPUs with the suites running beside this one: a probe whose short
        // windows all fell while it was descheduled saw nothing of it. So up to 4 probes, until
        // one sees it; none may ever come up short (our own pins are always all counted).
        var proofs: [VmstatProof] = []
        var seen: KernelMeasurement? = nil
        for _ in 0..<4 where seen == nil {
            let before = cycles.value
            let m = try KernelProbe.measure(size: 16 << 20, backing: .fourK, node: topology.localNode, cpu: nil,
                                            repetitions: 8, warmup: 0, topology: topology)
            proofs.append(m.vmstatProof)
            if m.vmstatProof == .otherPinning { seen = m }
            #expect(cycles.value > before || m.vmstatProof != .otherPinning)
        }
        stop.value = true
        done.wait()
        #expect(!proofs.contains(.short), "proofs \(proofs)")
        let m = try #require(seen, "no probe saw the second pinner: proofs \(proofs), its cycles \(cycles.value)")
        #expect(m.vmstatExcess > m.vmstatTolerance)
    }
}

/// A count one thread bumps and another reads.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var raw = 0
    var value: Int { lock.withLock { raw } }
    /// Adds one; returns the new count.
    func increment() -> Int { lock.withLock { raw += 1; return raw } }
}

/// A flag one thread sets and another polls.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var raw = false
    var value: Bool {
        get { lock.withLock { raw } }
        set { lock.withLock { raw = newValue } }
    }
}
