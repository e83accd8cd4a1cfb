import CShims
import Foundation
import Testing
@testable import GUPBench

/// `gupbench kernel` over a size list, what differs where kernel and model disagree, and
/// `--last-ref`: the kernel's unpin dropping the last reference and freeing every folio.
@Suite("gupbench kernel: sizes, what differs, and the kernel's last reference", .serialized)
struct KernelSizesTests {
    let topology = Topology.read()

    // MARK: - the size list

    @Test("--size defaults to 16MiB,256MiB,1GiB and --last-ref is an option")
    func sizeDefaults() throws {
        let r = try CLITests.run(["kernel", "--help"])
        #expect(r.status == 0)
        let help = r.stdout.replacingOccurrences(of: "\n", with: " ")
            .split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        #expect(help.contains("(default: 16MiB,256MiB,1GiB)"), "\(r.stdout)")
        #expect(help.contains("--last-ref"))
        #expect(help.contains("--min-time"))
    }

    struct Bad: CustomTestStringConvertible, Sendable {
        let args: [String]
        let mentions: String
        var testDescription: String { args.joined(separator: " ") }
    }

    @Test("a bad size list is one line naming the value and what is valid, exit 2", arguments: [
        Bad(args: ["kernel", "--size", "16MiB,bogus"], mentions: "--size 'bogus' is not a size; use a positive number of bytes with an optional suffix"),
        Bad(args: ["kernel", "--size", "16MiB,,1GiB"], mentions: "--size '16MiB,,1GiB' has an empty item; give a comma-separated list"),
        Bad(args: ["kernel", "--size", "16MiB,16MiB"], mentions: "--size '16MiB,16MiB' names '16MiB' twice; give each value once"),
        Bad(args: ["kernel", "--min-time", "soon"], mentions: "--min-time 'soon'"),
        Bad(args: ["kernel", "--last-ref", "--backing", "thp,hugetlb"],
            mentions: "--backing hugetlb does not apply with --last-ref"),
    ])
    func badSizes(_ b: Bad) throws {
        let r = try CLITests.run(b.args)
        #expect(r.status == 2)
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("gupbench: " + b.mentions), "stderr: \(r.stderr)")
    }

    @Test("the memory budget applies to the largest size of the list, named in the refusal, before anything is mapped")
    func budgetOnLargest() throws {
        let r = try CLITests.run(["kernel", "--size", "16MiB,64TiB,256MiB", "--backing", "4k"])
        #expect(r.status == 1)
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("gupbench: --size 64TiB --backing 4k needs "), "\(r.stderr)")
        #expect(r.stderr.contains("the largest --size that fits is"))
        #expect(r.stdout.isEmpty)
    }

    @Test("each size of the list has its rows and its JSON, with kernel ÷ model and the verdict per row",
          .enabled(if: ioUringUnavailable == nil, "io_uring unavailable: \(ioUringUnavailable ?? "")"),
          .enabled(if: vmstatExact, "needs root to fold per-CPU vmstat counters (/proc/sys/vm/stat_refresh)"))
    func sizeListRows() throws {
        // Five minutes: four kernel regions taking turns with the model (up to 35 kernel cycles a
        // turn on these few-folio regions) ran past two under AddressSanitizer on a busy host.
        let r = try CLITests.run(["kernel", "--size", "4MiB,16MiB", "--backing", "4k,thp", "--repetitions", "2",
                                  "--warmup", "0", "--min-time", "0", "--format", "json"], timeout: 300)
        // 1: the FOLL_PIN proof saw another process pinning; the rows are still all there.
        #expect(r.status == 0 || r.status == 1, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["kernel_sizes"] as? [Int] == [4 << 20, 16 << 20])
        let rows = try #require(json["kernel"] as? [[String: Any]])
        #expect(rows.map { $0["size_bytes"] as? Int } == [4 << 20, 4 << 20, 16 << 20, 16 << 20])
        #expect(rows.map { $0["backing"] as? String } == ["4k", "thp", "4k", "thp"])
        #expect(rows.map { $0["pages"] as? Int } == [1024, 1024, 4096, 4096])
        for row in rows {
            let same = try #require(row["same_loop"] as? [String: Any])
            #expect(same["kernel_over_model"] as? Double != nil)
            let within = try #require(row["within_band"] as? Bool)
            // Outside the band a row says what differs; inside it says nothing.
            #expect((row["attribution"] is NSNull) == within)
            // With no warm-up asked, the untimed cycles are the warm ones of each turn, and each
            // turn timed as many as the region's folios call for (more than --repetitions 2: no
            // top-up).
            let warmup = try #require(row["warmup"] as? Int), timed = try #require(row["repetitions"] as? Int)
            let folios = try #require(row["folios"] as? Int)
            #expect(warmup > 0 && warmup % KernelCompanion.warmCycles == 0)
            #expect(timed == warmup / KernelCompanion.warmCycles * KernelCompanion.timedCycles(folios: folios))
        }
        let speedups = try #require(json["kernel_speedups"] as? [[String: Any]])
        #expect(speedups.map { $0["size_bytes"] as? Int } == [4 << 20, 16 << 20])
        let results = try #require(json["results"] as? [[String: Any]])
        #expect(Set(results.compactMap { $0["size_bytes"] as? Int }) == [4 << 20, 16 << 20])
    }

    // MARK: - what differs

    func inputs(kernel: Double, model: Double, seq: Double? = nil, pages: Int = 4096, kernelUnpins: Double = 1,
                modelUnpins: Double? = 1, calls: Double = 2, memmap: Double = 3, accounting: Double = 1,
                others: [(pages: Int, kernelNs: Double, modelNs: Double)] = []) -> KernelTerms.Inputs {
        KernelTerms.Inputs(kernelNs: kernel, modelNs: model, modelSequentialNs: seq, pages: pages,
                           kernelUnpinsPerPage: kernelUnpins, modelUnpinsPerPage: modelUnpins, callsNs: calls,
                           memmapNs: memmap, accountingNs: accounting, otherSizes: others)
    }

    /// The kernel's timed cycles a turn: four on regions of many folios, more the fewer folios,
    /// 32 at most (16 MiB THP: 8 folios).
    @Test func timedCyclesGrowAsTheFoliosFall() {
        #expect(KernelCompanion.timedCycles(folios: 4096) == 4)    // 16 MiB of 4 KiB pages
        #expect(KernelCompanion.timedCycles(folios: 128) == 4)     // 256 MiB THP
        #expect(KernelCompanion.timedCycles(folios: 32) == 8)
        #expect(KernelCompanion.timedCycles(folios: 8) == 32)      // 16 MiB THP
        #expect(KernelCompanion.timedCycles(folios: 2) == 32)
        #expect(KernelCompanion.timedCycles(folios: 0) == 32)
    }

    /// A release no longer than its fixed cost leaves a loop at or below zero, on either side
    /// (the model's is its release less its one-entry call): never "agrees", and the row says the
    /// run cannot resolve it.
    @Test func aLoopAtOrBelowZeroIsNeverAgreement() throws {
        for (kernel, model) in [(-0.02, 0.05), (0.05, -0.01), (0.05, 0), (0, 0.05)] {
            let a = try #require(KernelTerms.attribute(inputs(kernel: kernel, model: model)), "\(kernel) \(model)")
            #expect(a.terms == [.noise])
        }
    }

    @Test func theLoopsCIWidensByTheFixedCostsSpread() {
        let loop = Summary([1, 1, 1, 1, 1, 1, 1, 1, 1, 1])  // CI [1, 1]
        let fixed = Summary([800, 900, 1000, 1000, 1000, 1000, 1000, 1000, 1100, 1200])
        let ci = KernelPathLoop.ci(loop: loop, fixed: fixed, pages: 100)
        #expect(ci.lowerBound == 1 - (fixed.ci95High - 1000) / 100)
        #expect(ci.upperBound == 1 + (1000 - fixed.ci95Low) / 100)
        #expect(KernelPathLoop.ci(loop: loop, fixed: nil, pages: 100) == 1...1)
    }

    @Test("inside 0.67-1.5 a row agrees and names nothing")
    func insideBand() {
        #expect(KernelTerms.attribute(inputs(kernel: 10, model: 10)) == nil)
        #expect(KernelTerms.attribute(inputs(kernel: 14.9, model: 10)) == nil)
        #expect(KernelTerms.attribute(inputs(kernel: 6.8, model: 10)) == nil)
        #expect(KernelTerms.attribute(inputs(kernel: 15.1, model: 10)) != nil)
        #expect(KernelTerms.attribute(inputs(kernel: 6.6, model: 10)) != nil)
    }

    @Test("overlapping CIs are within noise, whatever the medians")
    func overlappingCIs() throws {
        var x = inputs(kernel: 55.9, model: 105)
        x.kernelCI = 47...141
        x.modelCI = 43.8...298
        let a = try #require(KernelTerms.attribute(x))
        #expect(a.terms == [.noise])
        x.kernelCI = 50...60
        x.modelCI = 90...120
        #expect(KernelTerms.attribute(x)?.terms != [.noise])
    }

    @Test("a different number of unpins per page is the calls (and their accounting)")
    func countsDiffer() throws {
        let a = try #require(KernelTerms.attribute(inputs(kernel: 40, model: 0.05, kernelUnpins: 1,
                                                          modelUnpins: 1.0 / 512)))
        #expect(a.terms == [.calls, .accounting])
        #expect(a.detail.contains("unpin_user_folio() calls"))
    }

    @Test("agreement over descriptors in virtual order only is the memmap access")
    func memmapOrder() throws {
        let a = try #require(KernelTerms.attribute(inputs(kernel: 20, model: 40, seq: 19)))
        #expect(a.terms == [.memmapAccess])
    }

    @Test("a gap that does not grow with the size is a fixed cost per unregistration")
    func fixedCost() throws {
        // 10 µs more per call at 4096 pages (2.44 ns a page) and at 262144 pages (0.038 ns a page).
        let a = try #require(KernelTerms.attribute(inputs(kernel: 2.49, model: 0.05, pages: 4096,
                                                          others: [(262144, 0.088, 0.05)])))
        #expect(a.terms == [.fixedCost])
        // The same gap per page at every size grows with the pages: not a fixed cost.
        let b = try #require(KernelTerms.attribute(inputs(kernel: 2.49, model: 0.05, pages: 4096,
                                                          calls: 0.01, memmap: 0.01, accounting: 0.01,
                                                          others: [(262144, 2.49, 0.05)])))
        #expect(b.terms != [.fixedCost])
        // Mostly fixed: 1 µs per call plus 0.04 ns a page (16 MiB, 256 MiB, 1 GiB of THP).
        let gap = { (pages: Int) in (1000 + 0.04 * Double(pages)) / Double(pages) }
        let c = try #require(KernelTerms.attribute(inputs(kernel: 0.09 + gap(4096), model: 0.09, pages: 4096,
                                                          others: [(65536, 0.05 + gap(65536), 0.05),
                                                                   (262144, 0.05 + gap(262144), 0.05)])))
        #expect(c.terms == [.fixedCost])
        #expect(c.detail.contains("fits 1.00 µs + 0.040 ns a page"))
        // The same run's 1 GiB row: the fixed part is a small share of its gap there.
        let d = KernelTerms.attribute(inputs(kernel: 0.05 + gap(262144), model: 0.05, pages: 262144,
                                             calls: 0.001, memmap: 0.001, accounting: 0.001,
                                             others: [(4096, 0.09 + gap(4096), 0.09), (65536, 0.05 + gap(65536), 0.05)]))
        #expect(d?.terms != [.fixedCost])
        // A fit whose fixed part exceeds the whole gap here does not describe this size: no verdict from it.
        let e = KernelTerms.attribute(inputs(kernel: 418, model: 42, pages: 4096, calls: 11, memmap: 0.8, accounting: 2.3,
                                             others: [(65536, 579, 132), (262144, 501, 186)]))
        #expect(e?.terms != [.fixedCost])
    }

    @Test("counts agreeing and no term standing out: said to be not attributable")
    func unattributed() throws {
        let a = try #require(KernelTerms.attribute(inputs(kernel: 30, model: 10, calls: 4, memmap: 4, accounting: 4)))
        #expect(a.terms == [.unattributed])
        #expect(a.detail.contains("not attributable"))
        // One term alone large enough for the gap, the others far from it: that term.
        let b = try #require(KernelTerms.attribute(inputs(kernel: 30, model: 10, calls: 0.5, memmap: 9, accounting: 0.5)))
        #expect(b.terms == [.memmapAccess])
        #expect(!b.measured && b.word == "memmap access?")
        // Counts and comparisons are measured.
        #expect(KernelTerms.attribute(inputs(kernel: 20, model: 40, seq: 19))?.measured == true)
    }

    // MARK: - the kernel's last reference

    @Test("--last-ref: the kernel's unregistration frees exactly the region's folios (vmstat proof)",
          .enabled(if: ioUringUnavailable == nil, "io_uring unavailable: \(ioUringUnavailable ?? "")"),
          .enabled(if: vmstatExact, "needs root to fold per-CPU vmstat counters (/proc/sys/vm/stat_refresh)"),
          arguments: [Backing.fourK, .thp])
    func lastRefFrees(backing: Backing) throws {
        // 20 MiB: a 4k region is one mapping of exactly this size, which no other test maps.
        let size = 20 << 20
        let before = mappings(ofSize: size)
        let m = try KernelProbe.measureLastRef(size: size, backing: backing, node: topology.localNode, cpu: nil,
                                               repetitions: 2, warmup: 0, topology: topology)
        let pages = UInt64(m.pages)
        #expect(m.pages == 5120)
        #expect(m.cycles.count == 2)
        #expect(m.unpinNsPerPage.count == 2)
        for c in m.cycles {
            // Exact (per-CPU counters folded): one pin per 4 KiB page, every one released.
            #expect(c.register.acquired == pages)
            #expect(c.released == pages)
            #expect(c.unmap.acquired == 0 && c.unmap.released == 0)  // munmap moves no pins
            #expect(c.unregister.acquired == 0)
            // Every folio freed by the unregistration: pgfree counts base pages, system-wide.
            #expect(c.pgfreeAtUnregister >= pages)
        }
        if backing == .thp && m.thpBackedFraction == 1 {
            #expect(m.folios == 10)
            for c in m.cycles { #expect(c.unregister.released == 10) }  // one pin per folio left after coalescing
        }
        #expect(m.proof == .ok)
        // Unmapped exactly once: nothing left mapped (a THP region's mapping is split around its
        // aligned part, so the 4k one is counted), no ring left open.
        if backing == .fourK { #expect(mappings(ofSize: size) == before) }
        #expect(openRings() == 0)
    }

    @Test("--last-ref judges short, other pinning and not freed",
          arguments: [(4096, 4096, 4096, LastRefProof.ok), (4095, 4096, 4096, .short), (4096, 4097, 4096, .otherPinning),
                      (4096, 4096, 4000, .notFreed)])
    func lastRefJudge(acquired: UInt64, released: UInt64, pgfree: UInt64, expected: LastRefProof) {
        let c = LastRefCycle(register: FollPinCounters(acquired: acquired, released: 0),
                             unmap: FollPinCounters(acquired: 0, released: 0),
                             unregister: FollPinCounters(acquired: 0, released: released),
                             pgfreeAtUnmap: 8, pgfreeAtUnregister: pgfree)
        #expect(LastRefProof.judge([c], pages: 4096, exact: true, cpus: 2) == expected)
    }

    @Test("pgfree is read from /proc/vmstat's text")
    func pgfreeParse() throws {
        #expect(try VmEvents.pgfree(text: "pgalloc_normal 5\npgfree 123456\npgactivate 2\n") == 123456)
        #expect(throws: GUPBenchError.self) { try VmEvents.pgfree(text: "pgalloc_normal 5\n") }
        #expect(try VmEvents.pgfree() > 0)
    }

    @Test("a region's data is unmapped once: a second unmap is refused")
    func unmapOnce() throws {
        // By address, not by counting mappings of the region's size: the kernel merges a
        // mapping with a neighbour of the same flags (a sanitizer's shadow mappings, say), and
        // a range freed here may be mapped again by another test at once.
        let region = try MemoryRegion(size: 6 << 20, backing: .fourK, policy: .bind, node: topology.localNode)
        let data = UInt(bitPattern: region.unsafeData)
        #expect(isMapped(data) && isMapped(data + UInt(region.size) - 1))
        try region.unmapData()
        #expect(region.dataUnmapped)
        #expect(!isMapped(data) && !isMapped(data + UInt(region.size) - 1))
        #expect(throws: GUPBenchError.self) { try region.unmapData() }
    }

    @Test("the model's io-uring-release --last-ref on the kernel's frames frees every folio once (pfn memmap)",
          .enabled(if: FollPinCounters.canRefresh, "needs root: /proc/self/pagemap shows page frames"),
          arguments: [Backing.fourK, .thp])
    func modelLastRefOnFrames(backing: Backing) throws {
        var config = BenchConfig()
        config.sizes = [8 << 20]
        config.backings = [backing]
        config.threads = [1]
        config.strategies = [.ioUringRelease]
        config.impls = [.swift, .c]
        config.layouts = [.sequential, .pfn]
        config.lastRef = true
        config.repetitions = 2
        config.warmup = 0
        config.minTimeNs = 0
        let report = try Experiment(config: config, topology: topology, calibration: nil, progress: nil)
            .run(command: "kernel")
        #expect(report.results.count == 4)
        for r in report.results {
            #expect(r.balanced, "\(r.scenario.layout.rawValue) \(r.impl.rawValue): \(r.auditDetail ?? "")")
            #expect(r.scenario.lastRef)
            let locks = try #require(r.locksPerPage)
            // Every folio freed once: one lruvec and one pcp lock per folio (512 pages on THP).
            let perFolio = backing == .fourK ? 1.0 : 1.0 / 512
            if r.thpBackedFraction == 1 || backing == .fourK {
                #expect(abs(locks.lruvec - perFolio) < 1e-9)
            }
        }
    }
}
