import CShims
import Foundation
import Testing
@testable import GUPBench

/// `--layout-file`: the replay builds exactly the captured structure, and each strategy does
/// exactly the work that structure implies.
@Suite(.serialized)
struct LayoutReplayTests {
    /// Partial folios at both edges, a hole, zero pages, a folio reached again after a hole,
    /// single pages, an mTHP-sized folio and whole THPs.
    static let mixed = FolioLayout(runs: [
        .folio(order: 9, index: 256, pages: 256, revisit: nil),
        .absent(pages: 10),
        .folio(order: 0, index: 0, pages: 5, revisit: nil),
        .zero(pages: 3),
        .folio(order: 4, index: 0, pages: 16, revisit: nil),
        .folio(order: 4, index: 0, pages: 8, revisit: nil),
        .absent(pages: 1),
        .folio(order: 9, index: 0, pages: 10, revisit: 0),
        .folio(order: 9, index: 0, pages: 512, revisit: nil),
        .folio(order: 9, index: 0, pages: 512, revisit: nil),
        .folio(order: 0, index: 0, pages: 7, revisit: nil),
        .folio(order: 9, index: 0, pages: 100, revisit: nil),
    ], mappings: [], kernel: "test")

    static func write(_ layout: FolioLayout, _ name: String) throws -> LayoutFile {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gupbench-\(getpid())-\(name).json").path
        try layout.write(to: path)
        return try LayoutFile(path: path)
    }

    /// The atomics each strategy must perform on a layout's page array, worked out from the runs
    /// alone: 1 per put_page() (and per entry of release_pages()); 1 per unpin of an order-0 page, 2 of a large folio's page
    /// (_pincount, then _refcount); batched: that once per run of consecutive entries of one
    /// folio; range: once per folio segment of each contiguous stretch.
    static func expectedAtomics(_ layout: FolioLayout) -> [Strategy: Int] {
        struct E { let folio: Int; let index: Int; let order: Int; let joinsPrevious: Bool }
        var entries: [E] = []
        var orders: [Int] = []
        var afterHole = false
        for run in layout.runs {
            switch run {
            case .absent, .zero: afterHole = true
            case .folio(let order, let index, let pages, let revisit):
                for k in 0..<pages {
                    let folio: Int
                    if let revisit { folio = revisit } else if order == 0 || k == 0 {
                        folio = orders.count
                        orders.append(order)
                    } else { folio = orders.count - 1 }
                    let prev = entries.last
                    // A range continues inside a folio, or from the last page of the newest folio
                    // into the first page of the next new one when no hole lies between.
                    let joins = prev.map { p in
                        (p.folio == folio && p.index + 1 == index + k)
                            || (!afterHole && revisit == nil && index + k == 0 && folio == orders.count - 1
                                && p.folio == folio - 1 && p.index == (1 << p.order) - 1)
                    } ?? false
                    entries.append(E(folio: folio, index: index + k, order: order, joinsPrevious: joins))
                    afterHole = false
                }
            }
        }
        func cost(_ e: E) -> Int { e.order > 0 ? 2 : 1 }
        var each = 0, batched = 0, range = 0
        for (k, e) in entries.enumerated() {
            each += cost(e)
            let sameFolio = k > 0 && entries[k - 1].folio == e.folio
            if !sameFolio { batched += cost(e) }
            if !(e.joinsPrevious && sameFolio) { range += cost(e) }
        }
        // release_pages() without the last reference: one folio_ref_sub_and_test() per entry.
        // unpin_folios() groups the same runs gup_folio_next() finds. These layouts mix folio
        // sizes, so io_check_coalesce_buffer() fails: one bvec, one unpin per page.
        return [.putPage: entries.count, .unpinEach: each, .unpinBatched: batched, .unpinRange: range,
                .releasePages: entries.count, .unpinFolios: batched, .ioUringRelease: each]
    }

    func replay(_ file: LayoutFile, threads: Int, sharing: Sharing) throws -> [LoopMeasurement] {
        let topology = Topology.read()
        let plan = LayoutMemmap(file.layout)
        let region = try MemoryRegion(size: plan.descriptors * 4096, backing: .fourK, policy: .bind,
                                      node: topology.localNode)
        let model = PageModel(region: region, layout: file)
        let shares = PageShares(model: model, threads: threads, sharing: sharing, layout: .sequential)
        let cpus = Array(topology.node(topology.localNode)!.cpus.prefix(threads))
        let runner = try ReleaseRunner(model: model, shares: shares, cpus: cpus)
        return runner.measure(Strategy.allCases.map { LoopKey($0, .swift) } + Strategy.allCases.map { LoopKey($0, .c) },
                              dirty: .none, batch: nil, repetitions: 2, warmup: 1)
    }

    @Test func theMemmapHoldsEachFolioWholeAndTheArrayOnlyPresentPages() throws {
        let plan = LayoutMemmap(Self.mixed)
        #expect(plan.folioOrders == [9, 0, 0, 0, 0, 0, 4, 4, 9, 9, 0, 0, 0, 0, 0, 0, 0, 9])
        // 512 + hole spare + 5 + hole spare + 16 + 16 + (revisit) + 512 + 512 + 7 + 512
        #expect(plan.descriptors == 512 + 1 + 5 + 1 + 16 + 16 + 512 + 512 + 7 + 512)
        #expect(plan.entries.count == 256 + 5 + 16 + 8 + 10 + 512 + 512 + 7 + 100)
        #expect(Array(plan.entries.prefix(3)) == [256, 257, 258])
        #expect(plan.entries[256] == 513)  // the first single page, after the spare that ends the hole
        let s = Self.mixed.summary
        #expect(s.foliosByOrder == [0: 12, 4: 2, 9: 4])
        #expect(s.pages == 256 + 10 + 5 + 3 + 16 + 8 + 1 + 10 + 512 + 512 + 7 + 100)
        #expect(s.present == s.pages - 11 && s.zero == 3 && s.arrayPages == plan.entries.count)
        // gup_folio_next() runs: 1 + 5 + 1 + 1 + 1 + 1 + 1 + 7 + 1
        #expect(s.runs == 19)
    }

    @Test func eachStrategyDoesTheWorkTheLayoutImplies() throws {
        let file = try Self.write(Self.mixed, "mixed")
        defer { try? FileManager.default.removeItem(atPath: file.path) }
        let expected = Self.expectedAtomics(Self.mixed)
        #expect(expected == [.putPage: 1426, .unpinEach: 2840, .unpinBatched: 26, .unpinRange: 26, .releasePages: 1426,
                             .unpinFolios: 26, .ioUringRelease: 2840])
        for m in try replay(file, threads: 1, sharing: .disjoint) {
            #expect(Int(m.releaseTally.atomics) == expected[m.key.strategy], "\(m.key.strategy) \(m.key.impl)")
            #expect(m.pinsAcquired == 3 * 1426 && m.pinsReleased == 3 * 1426, "\(m.key.strategy)")
            #expect(m.balanced, "\(m.auditFailure ?? "")")
        }
    }

    @Test func twoThreadsInterleavedStayBalanced() throws {
        guard Topology.read().node(Topology.read().localNode)!.cpus.count >= 2 else { return }
        let file = try Self.write(Self.mixed, "mixed2")
        defer { try? FileManager.default.removeItem(atPath: file.path) }
        for m in try replay(file, threads: 2, sharing: .interleaved) {
            // Interleaving splits every folio run between the threads: per-page work is unchanged.
            if m.key.strategy == .putPage || m.key.strategy == .unpinEach {
                #expect(Int(m.releaseTally.atomics) == Self.expectedAtomics(Self.mixed)[m.key.strategy])
            }
            #expect(m.pinsAcquired == m.pinsReleased && m.balanced, "\(m.key.strategy): \(m.auditFailure ?? "")")
        }
    }

    @Test(.enabled(if: geteuid() == 0, "capturing needs root"))
    func aCapturedChildReplaysWithTheWorkItsLayoutImplies() throws {
        let child = try LayoutChild(["thp:4", "4k:1", "hole:1", "split:4", "zero:1"])
        defer { child.stop() }
        let maps = try ProcMaps.read(pid: child.pid)
        let layout = try LayoutCapture.capture(pid: child.pid, mappings: try ProcMaps.select(maps, vma: nil, minSize: 4096, pid: child.pid))
        let file = try Self.write(layout, "child")
        defer { try? FileManager.default.removeItem(atPath: file.path) }
        let expected = Self.expectedAtomics(layout)
        let pages = layout.summary.arrayPages
        for m in try replay(file, threads: 1, sharing: .disjoint) {
            #expect(Int(m.releaseTally.atomics) == expected[m.key.strategy], "\(m.key.strategy)")
            #expect(m.pinsAcquired == UInt64(3 * pages) && m.pinsReleased == UInt64(3 * pages))
            #expect(m.balanced)
        }
    }

    struct BadFile: CustomTestStringConvertible, Sendable {
        let name: String
        let text: String
        let message: String
        var testDescription: String { name }
    }

    static let badFiles: [BadFile] = [
        BadFile(name: "not-json", text: "{ runs", message: "not a JSON object; expected a gupbench-layout/1 file written by 'gupbench layout'"),
        BadFile(name: "report", text: #"{"schema": "gupbench/1", "results": []}"#, message: "schema is 'gupbench/1'; expected gupbench-layout/1"),
        BadFile(name: "no-runs", text: #"{"schema": "gupbench-layout/1", "summary": {}}"#, message: "no \"runs\" array"),
        BadFile(name: "order", text: #"{"schema": "gupbench-layout/1", "runs": [{"order": 30, "index": 0, "pages": 1}]}"#,
                message: "run 0 has order 30; valid: 0-22"),
        BadFile(name: "outside", text: #"{"schema": "gupbench-layout/1", "runs": [{"order": 2, "index": 3, "pages": 2}]}"#,
                message: "run 0 has pages 3..<5, outside a folio of order 2"),
        BadFile(name: "revisit", text: #"{"schema": "gupbench-layout/1", "runs": [{"order": 9, "index": 0, "pages": 1, "folio": 4}]}"#,
                message: "run 0 revisits folio 4, which no earlier run of order 9 introduced"),
        BadFile(name: "summary", text: """
            {"schema": "gupbench-layout/1", "summary": {"pages": 3, "present": 2, "array_pages": 2, "folios_by_order": {"0": 2}},
             "runs": [{"order": 0, "index": 0, "pages": 2}]}
            """, message: "summary.pages is 3 but the runs give 2 (file damaged?)"),
        BadFile(name: "histogram", text: """
            {"schema": "gupbench-layout/1", "summary": {"pages": 2, "present": 2, "array_pages": 2, "folios_by_order": {"0": 3}},
             "runs": [{"order": 0, "index": 0, "pages": 2}]}
            """, message: "summary.folios_by_order does not match the runs (order 0: 2) (file damaged?)"),
        BadFile(name: "all-absent", text: """
            {"schema": "gupbench-layout/1", "summary": {"pages": 4, "present": 0, "array_pages": 0, "folios_by_order": {}},
             "runs": [{"absent": 4}]}
            """, message: "no present pages to pin (4 pages, all absent or zero)"),
    ]

    @Test(arguments: badFiles)
    func aBadLayoutFileIsExitTwoNamingWhatIsWrong(_ bad: BadFile) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gupbench-\(getpid())-bad-\(bad.name).json").path
        try bad.text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try CLITests.run(["compare", "--layout-file", path] + CLITests.small)
        #expect(r.status == 2)
        #expect(r.stderr == "gupbench: --layout-file \(path): \(bad.message)\n")
    }

    @Test func sizeWithALayoutFileIsExitTwo() throws {
        let file = try Self.write(Self.mixed, "clash")
        defer { try? FileManager.default.removeItem(atPath: file.path) }
        let r = try CLITests.run(["run", "--layout-file", file.path, "--size", "4MiB"])
        #expect(r.status == 2)
        #expect(r.stderr == "gupbench: --size does not apply with --layout-file: the layout fixes the memory; drop one of them\n")
        let lastRef = try CLITests.run(["compare", "--layout-file", file.path, "--last-ref"])
        #expect(lastRef.status == 2)
        #expect(lastRef.stderr.hasPrefix("gupbench: --last-ref does not apply with --layout-file: "))
        let sweep = try CLITests.run(["sweep", "--param", "size", "--layout-file", file.path])
        #expect(sweep.status == 2)
        #expect(sweep.stderr.contains("--param size does not apply with --layout-file"))
    }

    @Test func compareOnALayoutFileNamesItsDigestAndHistogram() throws {
        let file = try Self.write(Self.mixed, "json")
        defer { try? FileManager.default.removeItem(atPath: file.path) }
        let r = try CLITests.run(["compare", "--layout-file", file.path, "--threads", "1", "--format", "json"] + CLITests.small)
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let layout = json["layout_file"] as! [String: Any]
        #expect(layout["sha256"] as? String == file.sha256)
        let summary = layout["summary"] as! [String: Any]
        #expect(summary["folios_by_order"] as? [String: Int] == ["0": 12, "4": 2, "9": 4])
        #expect(summary["array_pages"] as? Int == 1426)
        let results = json["results"] as! [[String: Any]]
        #expect(results.count == 2 * Strategy.defaultSet.count)  // the Swift loops and their C twins
        #expect(results.allSatisfy { $0["layout_file_sha256"] as? String == file.sha256 && $0["pages"] as? Int == 1426 })
        #expect(results.allSatisfy { ($0["audit"] as? [String: Any])?["balanced"] as? Bool == true })
        // atomics per page × pages = the work the layout implies, per strategy.
        let expected = Self.expectedAtomics(Self.mixed)
        for r in results {
            let strategy = Strategy(rawValue: r["strategy"] as! String)!
            let atomics = (r["atomics_per_page"] as! Double) * 1426
            #expect(Int(atomics.rounded()) == expected[strategy], "\(strategy)")
        }
    }
}
