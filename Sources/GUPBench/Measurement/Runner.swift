import CShims
import Foundation
import Synchronization

/// Worker threads pinned one per CPU, started together by a spin barrier, releasing the pages
/// of their share while the main thread waits; the main thread audits between repetitions.
///
/// Per repetition, untimed: each worker clears PG_dirty (when dirtying) and takes the references
/// the strategy releases (pins, or FOLL_GET references for put-page). Timed: the release only.
/// Untimed again: the audit of every descriptor.
public final class ReleaseRunner: @unchecked Sendable {
    public let model: PageModel
    public let shares: PageShares
    public let cpus: [Int]

    private struct Job {
        var key = LoopKey(.unpinEach, .swift)
        var dirty = DirtyMode.none
        var batch: Int?
        var stop = false
        /// --last-ref: unmap after the grab, release through the free model.
        var lastRef = false
        /// Time the release of the share's first entry alone; the rest is released untimed after
        /// it (`firstEntrySample`).
        var firstEntryAlone = false
    }

    /// Per-thread results, one 128-byte slot per thread so writers never share a line.
    struct Slot {
        var startNs: UInt64 = 0
        var endNs: UInt64 = 0
        /// The thread's CPU clock around its timed window (read just outside it).
        var cpuStartNs: UInt64 = 0
        var cpuEndNs: UInt64 = 0
        var release = gb_tally()
        var grab = gb_tally()
        var cpu: Int = -1
        var pinError: Int32 = 0
    }
    /// Each worker's slot on cache lines of its own (the tally grows with the model's counters).
    private static let slotStride = (MemoryLayout<Slot>.stride + 63) / 64 * 64

    private var job = Job()
    private let slots: UnsafeMutableRawPointer
    private let go = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    /// Workers yet to finish the current phase; the one that takes it to zero signals `done`.
    private let unfinished = Atomic<Int>(0)
    /// Start-up handshake: each worker signals it once, after writing its own pinError. The main
    /// thread waits for every one of them before reading any slot. (Handing out `go` tokens for
    /// this would not do: a fast worker could take two while a slow one had not yet pinned.)
    private let ready = DispatchSemaphore(value: 0)
    private let barrier: OpaquePointer
    private var threads: [Thread] = []
    /// The shadow record of --detect ledger, allocated on first use.
    private var ledger: LedgerPointer?
    /// The last-reference model (lruvec, pcp and zone lists and locks), made on first --last-ref use.
    public private(set) var freeModel: FreeModel?

    public init(model: PageModel, shares: PageShares, cpus: [Int]) throws {
        precondition(cpus.count == shares.arrays.count)
        self.model = model
        self.shares = shares
        self.cpus = cpus
        let slots = UnsafeMutableRawPointer.allocate(byteCount: Self.slotStride * cpus.count,
                                                     alignment: 64)
        for t in 0..<cpus.count {
            (slots + t * Self.slotStride).bindMemory(to: Slot.self, capacity: 1).initialize(to: Slot())
        }
        self.slots = slots
        barrier = gb_spin_barrier_create(Int32(cpus.count))!
        for t in 0..<cpus.count {
            // The workers borrow the runner: a method call on a plain or unowned capture would
            // hold a strong reference for as long as workerLoop runs, so the runner (its
            // threads, its model and so the mapped region) would never be freed. Its owner's
            // last reference ends it: deinit stops the workers before anything is freed.
            let borrowed = Unmanaged.passUnretained(self)
            let thread = Thread { borrowed._withUnsafeGuaranteedRef { $0.workerLoop(t) } }
            thread.stackSize = 1 << 20
            threads.append(thread)
            thread.start()
        }
        // Every worker reports whether it could pin itself before any work is handed out.
        for _ in threads { ready.wait() }
        if let bad = (0..<cpus.count).first(where: { slot($0).pointee.pinError != 0 }) {
            let error = slot(bad).pointee.pinError  // read before shutdown() frees the slots
            shutdown()
            throw GUPBenchError.environment(
                "cannot run a thread on CPU \(cpus[bad]): sched_setaffinity failed with "
                + errnoDescription(error))
        }
    }

    deinit { shutdown() }

    private var isShutDown = false
    private func shutdown() {
        guard !isShutDown else { return }
        isShutDown = true
        job.stop = true
        runPhase()
        gb_spin_barrier_destroy(barrier)
        slots.deallocate()
        if let ledger {
            gb_ledger_free(ledger)
            ledger.deallocate()
        }
    }

    private func slot(_ t: Int) -> UnsafeMutablePointer<Slot> {
        (slots + t * Self.slotStride).assumingMemoryBound(to: Slot.self)
    }

    /// Hands the current job to every worker and waits for all to finish it. Only the last
    /// worker to finish wakes this thread: woken by the first, it could be scheduled onto the
    /// CPU of a worker still inside its timed window (with as many workers as CPUs there is no
    /// idle one), and that window would take the wake-up and the switches in and out.
    private func runPhase() {
        unfinished.store(threads.count, ordering: .relaxed)  // published by `go`
        for _ in threads { go.signal() }
        done.wait()
    }

    /// A worker's end of a phase (after its slot is written).
    private func finishPhase() {
        if unfinished.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 { done.signal() }
    }

    private func workerLoop(_ t: Int) {
        // As top -H and /proc/<pid>/task/*/comm show it. (Not Thread.name: Foundation applies
        // it only if the creating thread has recorded the pthread by then, a race.)
        _ = gb_name_current_thread("gb-release-\(t)")
        let rc = gb_pin_current_thread(Int32(cpus[t]))
        slot(t).pointee.pinError = rc < 0 ? -rc : 0
        ready.signal()
        let pages = shares.arrays[t]
        // A range release goes stretch by stretch when the array is not one run of consecutive
        // descriptors (a replayed layout with holes or partial folios); otherwise one call.
        let stretches = shares.contiguous ? [] : shares.stretches[t]
        // The folio pointers and bvecs some strategies release, derived from the pages once.
        let input = ReleaseInput(pages: pages.baseAddress!, count: pages.count)
        while true {
            go.wait()
            let job = self.job  // published by the semaphore
            // A worker that could not pin itself is only ever asked to stop: init throws before
            // handing out work, so no other worker is left spinning at the barrier for it.
            if job.stop {
                finishPhase()
                return
            }
            let count = pages.count
            let base = pages.baseAddress!
            var grab = gb_tally()
            if job.dirty != .none {
                for i in 0..<count { gb_clear_bit_relaxed(Int32(GB_PG_dirty), gb_compound_head(base[i]), &grab) }
                grab = gb_tally()
            }
            let ledger = job.key.detect == .ledger ? self.ledger : nil
            input.grab(job.key.strategy, ledger: ledger, tally: &grab)
            let free = job.lastRef ? freeModel?.context(t) : nil
            if free != nil && count > 0 {  // munmap while held: the mapping's reference goes, untimed
                var unmap = gb_tally()
                gb_drop_mapping_refs(base, count, &unmap)
            }
            let entries = input.count(job.key.strategy)
            var calls = ReleaseCalls(count: entries, batch: max(1, min(job.batch ?? entries, max(entries, 1))),
                                     dirty: job.dirty.cValue, detect: job.key.detect, ledger: ledger, free: free)
            let contiguous = count > 0 && job.key.strategy.needsContiguousPages && !stretches.isEmpty
            var release = gb_tally()
            release.thread = Int64(t)
            if job.firstEntryAlone { calls.count = min(1, entries) }
            gb_spin_barrier_wait(barrier)
            let cpuStart = gb_thread_cpu_ns()
            let start = gb_now_ns()
            if job.firstEntryAlone {
                if entries > 0 { Self.release(job.key, input.entries, calls, &release) }
            } else if contiguous {
                for s in stretches {
                    calls.count = s.count
                    Self.release(job.key, ReleaseEntries(pages: base + s.lowerBound), calls, &release)
                }
            } else if entries > 0 {
                Self.release(job.key, input.entries, calls, &release)
            }
            let end = gb_now_ns()
            let cpuEnd = gb_thread_cpu_ns()
            if job.firstEntryAlone && entries > 1 {  // untimed: the rest, so every reference goes
                calls.count = entries - 1
                Self.release(job.key, input.entries.dropping(1, of: job.key.strategy.walks), calls, &release)
            }
            let s = slot(t)
            s.pointee.startNs = start
            s.pointee.endNs = end
            s.pointee.cpuStartNs = cpuStart
            s.pointee.cpuEndNs = cpuEnd
            s.pointee.release = release
            s.pointee.grab = grab
            s.pointee.cpu = Int(gb_current_cpu())
            finishPhase()
        }
    }

    /// The timed call: one strategy in one implementation, through the registry; the `--last-ref`
    /// loop when `calls.free` is set.
    @inline(__always)
    static func release(_ key: LoopKey, _ entries: ReleaseEntries, _ calls: ReleaseCalls, _ tally: inout gb_tally) {
        if calls.free != nil, let loop = key.strategy.lastRefLoop(key.impl) {
            loop(entries, calls, &tally)
            return
        }
        key.strategy.loop(key.impl)(entries, calls, &tally)
    }

    /// Makes the last-reference model (once per runner; rebuilt before every repetition).
    public func ensureFreeModel(lruvecs: Int = 1, lruvecRun: Int = 1, high: Int? = nil,
                                batch: Int? = nil) -> FreeModel {
        if let freeModel { return freeModel }
        let m = FreeModel(model: model, threads: cpus.count, lruvecs: lruvecs, lruvecRun: lruvecRun,
                          high: high, batch: batch, node: model.region.node, memcg: MemoryCgroup.current,
                          calls: .running)
        freeModel = m
        return m
    }

    /// Allocates the ledger for --detect ledger (once; reused and balanced between runs).
    private func ensureLedger() {
        guard ledger == nil else { return }
        let l = LedgerPointer.allocate(capacity: 1)
        l.initialize(to: gb_ledger())
        precondition(gb_ledger_init(l, model.memmap, model.pageCount) == 0, "out of memory for the ledger")
        ledger = l
    }

    /// Whether a sizing sample has windows enough: they add up to `minTimeNs` (at least one,
    /// at most `maxWindows`). A THP release of a few microseconds is dominated by noise alone,
    /// and a sample of many such windows is not. The last untimed repetition of each loop adds
    /// windows until this holds and every timed sample of the loop then has as many: the count
    /// is measured over `minTimeNs` of windows, not extrapolated from one window (one that met
    /// an interrupt or a descheduling once sized a loop's samples at 4 windows where 150 fit).
    public static func filled(minTimeNs: Double, wallNs: Double, windows: Int) -> Bool {
        windows >= maxWindows || (windows >= 1 && wallNs >= minTimeNs)
    }
    public static let maxWindows = 1000

    /// Times `keys` with their repetitions interleaved (A B A B …) so drift hits all alike.
    /// A repetition (one sample) is one or more windows of pin (untimed) + release (timed), as
    /// many as made `minTimeNs` of timed release in each loop's last untimed repetition
    /// (`filled`; one is made when `warmup` is 0). `progress` is called after each
    /// repetition of each loop. `firstEntryAloneOf`: that strategy's loop is also timed
    /// releasing its first entry alone (`firstEntrySample`), one sample right after each of its
    /// own, one thread only. `afterRepetition` is called after each repetition of every loop
    /// (true once the repetitions are timed): what is timed in turn with the loops.
    public func measure(_ keys: [LoopKey], dirty: DirtyMode, batch: Int?, repetitions: Int,
                        warmup: Int, lastRef: Bool = false, minTimeNs: Double = 0,
                        firstEntryAloneOf: Strategy? = nil, afterRepetition: ((Bool) -> Void)? = nil,
                        progress: (() -> Void)? = nil) -> [LoopMeasurement] {
        precondition(firstEntryAloneOf == nil || (cpus.count == 1 && !lastRef),
                     "the first entry alone is timed on one thread, without --last-ref")
        precondition(!lastRef || keys.allSatisfy { $0.strategy.lastRefLoop($0.impl) != nil },
                     "--last-ref needs every strategy's last-reference loop")
        let free = lastRef ? ensureFreeModel() : nil
        defer { free?.restore() }
        if keys.contains(where: { $0.detect == .ledger }) { ensureLedger() }
        var results = keys.map { LoopMeasurement(key: $0) }
        let untimed = minTimeNs > 0 ? max(1, warmup) : warmup
        var windows = [Int](repeating: 1, count: keys.count)
        for rep in 0..<(untimed + repetitions) {
            for (k, key) in keys.enumerated() {
                job = Job(key: key, dirty: dirty, batch: batch, stop: false, lastRef: lastRef)
                let sizing = rep == untimed - 1
                var sample = Sample()
                repeat {
                    free?.rebuild()  // untimed: every folio mapped and on the LRU again
                    runPhase()
                    sample.add(window: (0..<cpus.count).map { slot($0).pointee }, active: activeThreads)
                } while sizing ? !Self.filled(minTimeNs: minTimeNs, wallNs: sample.wallNs, windows: sample.windows)
                               : sample.windows < windows[k]
                record(sample, into: &results[k], timed: rep >= untimed)
                if key.strategy == firstEntryAloneOf {
                    let ns = firstEntrySample(key, windows: windows[k])
                    if rep >= untimed { results[k].firstEntryReleaseNs.append(ns) }
                }
                if sizing { windows[k] = sample.windows }
                if rep >= untimed || warmup > 0 { progress?() }
            }
            afterRepetition?(rep >= untimed)
            // Ctrl-C / SIGTERM: stop after a whole repetition of every loop, so each keeps as
            // many samples as the others and every pin taken has been released and audited.
            if SignalStop.requested { break }
        }
        return results
    }

    /// The model's counterpart of the kernel's release measured apart (KernelProbe.fixedReleaseNs):
    /// one sample of `key`'s loop releasing only the first entry of one thread's share, in as
    /// many windows as the loop's own sample has (untimed around each: the grab of every entry,
    /// and the release of the rest after the timed one); ns per call, the windows' mean. What a
    /// release call costs beyond its walk: the call into the loop, its set-up and, with
    /// `--mitigations retpoline`, the indirect call a release begins with, and one entry's
    /// release. Sampled as the loop is and right after it, so the difference of the two
    /// (ResultRecord.loop) is not the difference of two statistics or two moments. Only for loops
    /// that walk an array in one call per batch (not a range release over stretches).
    func firstEntrySample(_ key: LoopKey, windows: Int) -> Double {
        precondition(cpus.count == 1 && !key.strategy.needsContiguousPages,
                     "the first entry alone is timed on one thread, for loops over an array")
        job = Job(key: key, dirty: .none, batch: nil, stop: false, lastRef: false, firstEntryAlone: true)
        var sample = Sample()
        for _ in 0..<max(1, windows) {
            runPhase()
            sample.add(window: [slot(0).pointee], active: [true])
        }
        precondition(sample.released == sample.acquired, "every reference taken is released")
        return sample.meanWallNs
    }

    /// The threads that had pages to release.
    private var activeThreads: [Bool] { shares.arrays.map { $0.count > 0 } }

    /// One sample's windows, added up.
    struct Sample {
        var windows = 0
        var wallNs = 0.0
        var threadNs: [Double] = []
        /// Wall-weighted sum of the windows' thread overlaps.
        var overlapNs = 0.0
        /// Per thread, its CPU time and its own wall time over the windows (the CPU clock is
        /// read just outside the wall clock, so an undisturbed thread has a little more CPU
        /// than wall time).
        var threadCpuNs: [Double] = []
        var threadWallNs: [Double] = []
        var release = gb_tally()
        var grab = gb_tally()
        var released: UInt64 = 0
        var acquired: UInt64 = 0
        var underflows: UInt64 = 0
        var cpus: [Int] = []

        var meanWallNs: Double { windows > 0 ? wallNs / Double(windows) : 0 }

        /// The least share of its own timed windows any thread spent on its CPU (1 = none was
        /// descheduled). Unlike the overlap, a thread that simply takes longer (the code under
        /// test making one thread slower) keeps its share at 1.
        var threadsRan: Double {
            zip(threadCpuNs, threadWallNs).map { $1 > 0 ? min(1, $0 / $1) : 1 }.min() ?? 1
        }

        mutating func add(window all: [Slot], active: [Bool]) {
            let timed = zip(all, active).filter(\.1).map(\.0)
            let start = timed.map(\.startNs).min() ?? 0, end = timed.map(\.endNs).max() ?? 0
            let wall = Double(end &- start)
            windows += 1
            wallNs += wall
            overlapNs += wall * ThreadOverlap.fraction(starts: timed.map(\.startNs), ends: timed.map(\.endNs))
            let times = all.map { Double($0.endNs &- $0.startNs) }
            threadNs = threadNs.isEmpty ? times : zip(threadNs, times).map(+)
            let cpu = timed.map { Double($0.cpuEndNs &- $0.cpuStartNs) }
            let own = timed.map { Double($0.endNs &- $0.startNs) }
            threadCpuNs = threadCpuNs.isEmpty ? cpu : zip(threadCpuNs, cpu).map(+)
            threadWallNs = threadWallNs.isEmpty ? own : zip(threadWallNs, own).map(+)
            var r = gb_tally(), g = gb_tally()
            for s in all {
                r.add(s.release)
                g.add(s.grab)
            }
            release = r  // every window does the same work: one window's counts
            grab = g
            acquired += g.pins_acquired + g.refs_acquired
            released += r.pins_released + r.refs_released
            underflows += r.underflows
            cpus = all.map(\.cpu)
        }
    }

    private func record(_ sample: Sample, into m: inout LoopMeasurement, timed: Bool) {
        m.pinsAcquired += sample.acquired
        m.pinsReleased += sample.released
        m.releaseTally = sample.release
        m.grabTally = sample.grab
        m.underflows += sample.underflows
        if m.key.detect == .ledger, let ledger { m.ledgerViolations = ledger.pointee.violations }
        m.cpusUsed = sample.cpus
        if job.lastRef, let freeModel {
            m.lastRef = true
            m.lockCounts = freeModel.counts
            if m.auditFailure == nil {
                m.auditFailure = Self.describeLastRef(freeModel, release: sample.release, acquired: sample.acquired,
                                                      released: sample.released)
            }
        } else if m.auditFailure == nil {
            let audit = model.audit()
            if audit.unbalanced_pages != 0 || audit.locked_pages != 0 || sample.acquired != sample.released {
                m.auditFailure = Self.describe(audit, acquired: sample.acquired, released: sample.released)
            }
        }
        guard timed else { return }
        let n = Double(max(1, sample.windows))
        m.windowsPerSample = sample.windows
        m.wallNs.append(sample.wallNs / n)
        m.overlaps.append(sample.wallNs > 0 ? sample.overlapNs / sample.wallNs : 1)
        m.threadsRan.append(sample.threadsRan)
        m.threadNs.append(sample.threadNs.map { $0 / n })
    }

    /// The --last-ref audit: the free lists (FreeModel.describe), and no folio freed while still
    /// mapped or with pins left (the release tally's events).
    static func describeLastRef(_ free: FreeModel, release: gb_tally, acquired: UInt64, released: UInt64) -> String? {
        var parts = [FreeModel.describe(free.audit(), counts: free.counts)].compactMap { $0 }
        if release.freed_while_mapped != 0 { parts.append("\(release.freed_while_mapped) folios freed while still mapped") }
        if release.freed_with_pincount != 0 { parts.append("\(release.freed_with_pincount) folios freed with _pincount left") }
        if acquired != released { parts.append("acquired \(acquired) but released \(released)") }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    static func describe(_ a: gb_audit_report, acquired: UInt64, released: UInt64) -> String {
        var parts: [String] = []
        if a.unbalanced_pages != 0 {
            parts.append("\(a.unbalanced_pages) pages off baseline, first at index \(a.first_bad_index) "
                + "(_refcount \(a.first_bad_refcount), _pincount \(a.first_bad_pincount))")
        }
        if a.locked_pages != 0 { parts.append("\(a.locked_pages) folios left locked") }
        if acquired != released { parts.append("acquired \(acquired) but released \(released)") }
        return parts.joined(separator: "; ")
    }
}
