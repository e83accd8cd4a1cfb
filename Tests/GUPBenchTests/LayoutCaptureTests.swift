import CShims
import Foundation
import Testing
@testable import GUPBench

/// `gupbench layout` on a child whose memory is known: exact runs, histograms and run lengths.
@Suite(.serialized)
struct LayoutCaptureTests {
    static let root = geteuid() == 0

    func capture(_ child: LayoutChild, _ names: [String]) throws -> FolioLayout {
        let maps = try ProcMaps.read(pid: child.pid)
        let chosen = try names.flatMap { name in
            try ProcMaps.select(maps, vma: child.mappings[name]!.startHex, minSize: 0, pid: child.pid)
        }
        return try LayoutCapture.capture(pid: child.pid, mappings: chosen)
    }

    static func folios(_ n: Int, order: Int) -> [LayoutRun] {
        Array(repeating: .folio(order: order, index: 0, pages: 1 << order, revisit: nil), count: n)
    }

    /// Pages as gb_layout_read reports them, folded into runs without a live process.
    @Test func pagesFoldIntoRunsThatNameFoliosByOrdinal() {
        func page(_ head: UInt64, _ index: UInt32, _ order: UInt8) -> gb_layout_page {
            gb_layout_page(folio: head, index: index, order: order, state: UInt8(GB_LAYOUT_PRESENT.rawValue), thp: 0, hugetlb: 0)
        }
        let absent = gb_layout_page()
        var zero = gb_layout_page()
        zero.state = UInt8(GB_LAYOUT_ZERO.rawValue)
        var b = RunBuilder()
        for p in [page(5000, 2, 2), page(5000, 3, 2), absent, absent, page(5000, 0, 2),  // back into the folio after a hole
                  page(77, 0, 0), page(78, 0, 0), page(77, 0, 0),                    // a page mapped twice (KSM)
                  zero, zero, page(5000, 1, 0),                                       // head 5000 again, split to order 0
                  page(9000, 0, 9), page(9000, 1, 9)] {
            b.add(p)
        }
        #expect(b.runs == [
            .folio(order: 2, index: 2, pages: 2, revisit: nil), .absent(pages: 2),
            .folio(order: 2, index: 0, pages: 1, revisit: 0),
            .folio(order: 0, index: 0, pages: 2, revisit: nil), .folio(order: 0, index: 0, pages: 1, revisit: 1),
            .zero(pages: 2), .folio(order: 0, index: 0, pages: 1, revisit: nil),
            .folio(order: 9, index: 0, pages: 2, revisit: nil),
        ])
        // The page array leaves the hole out, so the folio's three entries are one
        // gup_folio_next() run: 9 entries in 6 runs.
        let layout = FolioLayout(runs: b.runs, mappings: [], kernel: "")
        #expect(layout.summary == LayoutSummary(pages: 13, present: 11, zero: 2, arrayPages: 9,
                                                foliosByOrder: [0: 3, 2: 1, 9: 1], meanRunLength: 1.5, runs: 6))
    }

    @Test func sha256MatchesTheStandardVectors() {
        #expect(SHA256.hex(Array("".utf8)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test(.enabled(if: root, "reading PFNs and kpageflags needs root"))
    func aKnownMixIsCapturedExactly() throws {
        let child = try LayoutChild(["thp:8", "4k:4", "hole:4", "split:4", "zero:1"])
        defer { child.stop() }

        // --vma as maps prints the start, with or without 0x, names the same mapping.
        let maps = try ProcMaps.read(pid: child.pid)
        let hex = child.mappings["4k"]!.startHex
        #expect(try ProcMaps.select(maps, vma: "0x" + hex, minSize: 0, pid: child.pid)
                == ProcMaps.select(maps, vma: hex, minSize: 0, pid: child.pid))
        #expect(try ProcMaps.select(maps, vma: hex, minSize: 0, pid: child.pid).map(\.pages) == [1024])

        let fourK = try capture(child, ["4k"])
        #expect(fourK.runs == [.folio(order: 0, index: 0, pages: 1024, revisit: nil)])
        #expect(fourK.summary == LayoutSummary(pages: 1024, present: 1024, zero: 0, arrayPages: 1024,
                                               foliosByOrder: [0: 1024], meanRunLength: 1, runs: 1024))

        let hole = try capture(child, ["hole"])
        #expect(hole.runs == [.folio(order: 0, index: 0, pages: 256, revisit: nil), .absent(pages: 512),
                              .folio(order: 0, index: 0, pages: 256, revisit: nil)])
        #expect(hole.summary.present == 512 && hole.summary.foliosByOrder == [0: 512])

        let zero = try capture(child, ["zero"])
        #expect(zero.runs == [.zero(pages: 256)])
        #expect(zero.summary.present == 256 && zero.summary.zero == 256 && zero.summary.arrayPages == 0)

        if child.mappings["thp"]!.anonHugeKB == 8192 {
            let thp = try capture(child, ["thp"])
            #expect(thp.runs == Self.folios(4, order: 9))
            #expect(thp.summary == LayoutSummary(pages: 2048, present: 2048, zero: 0, arrayPages: 2048,
                                                 foliosByOrder: [9: 4], meanRunLength: 512, runs: 4))
        } else {
            print("skipped THP: the child got \(child.mappings["thp"]!.anonHugeKB) KiB of AnonHugePages, not 8192")
        }

        // mprotect() on the first 1 MiB split the first THP's PMD and the VMA, not the folio:
        // each half of the mapping holds part of it, and together they hold it whole.
        if child.mappings["split-rw"]!.anonHugeKB == 2048 {
            let ro = try capture(child, ["split-ro"])
            #expect(ro.runs == [.folio(order: 9, index: 0, pages: 256, revisit: nil)])
            #expect(ro.summary.foliosByOrder == [9: 1] && ro.summary.meanRunLength == 256)
            let rw = try capture(child, ["split-rw"])
            #expect(rw.runs == [.folio(order: 9, index: 256, pages: 256, revisit: nil),
                                .folio(order: 9, index: 0, pages: 512, revisit: nil)])
            #expect(rw.summary.foliosByOrder == [9: 2] && rw.summary.meanRunLength == 384)
            let both = try capture(child, ["split-ro", "split-rw"])
            #expect(both.runs == Self.folios(2, order: 9))
            #expect(both.summary.meanRunLength == 512 && both.summary.runs == 2)
        } else {
            print("skipped split THP: the child's second half has \(child.mappings["split-rw"]!.anonHugeKB) KiB AnonHugePages, not 2048")
        }
    }

    @Test(.enabled(if: root, "switching an mTHP size and reading kpageflags need root"))
    func anMTHPRangeIsCapturedAsOrder4Folios() throws {
        let before = mTHPFaultAllocs(64)
        guard let child = try withMTHP(64, { try LayoutChild(["mthp:1024"]) }) else {
            print("skipped mTHP: the 64kB size cannot be enabled here")
            return
        }
        defer { child.stop() }
        let allocated = mTHPFaultAllocs(64) - before
        guard allocated >= 16 else {
            print("skipped mTHP: only \(allocated) 64KiB folios were allocated while the child faulted")
            return
        }
        let layout = try capture(child, ["mthp"])
        #expect(layout.runs == Self.folios(16, order: 4))
        #expect(layout.summary == LayoutSummary(pages: 256, present: 256, zero: 0, arrayPages: 256,
                                                foliosByOrder: [4: 16], meanRunLength: 16, runs: 16))
    }

    @Test(.enabled(if: root, "reading the child's PFNs needs root"))
    func theFileHoldsNoAddressAndNoPFN() throws {
        let child = try LayoutChild(["thp:4", "4k:1", "hole:1"])
        defer { child.stop() }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("layout-\(getpid())-private.json")
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try CLITests.run(["layout", "--pid", "\(child.pid)", "--min-size", "1MiB", "--output", file.path])
        #expect(r.status == 0, "\(r.stderr)")
        let text = try String(contentsOf: file, encoding: .utf8)

        var pfns = Set<UInt64>(), addresses = Set<UInt64>()
        for m in child.mappings.values {
            for (k, entry) in try child.pagemap(m).enumerated() {
                addresses.insert(m.start + UInt64(k) * 4096)
                if entry >> 63 == 1 { pfns.insert(entry & ((1 << 55) - 1)) }
            }
        }
        #expect(pfns.count == 1024 + 256 + 128)
        let numbers = text.split(whereSeparator: { !$0.isHexDigit }).compactMap { token -> [UInt64]? in
            [UInt64(token), UInt64(token, radix: 16)].compactMap { $0 }
        }.flatMap { $0 }
        #expect(!numbers.isEmpty)
        #expect(numbers.filter { pfns.contains($0) || addresses.contains($0) }.isEmpty)
        let layout = try LayoutFile(path: file.path).layout
        #expect(layout.summary.arrayPages == 1024 + 256 + 128)
    }

    @Test(.enabled(if: root, "reading PFNs needs root"))
    func sixtyFourMiBOfTHPAndSixteenOf4kGive32And4096Folios() throws {
        let child = try LayoutChild(["thp:64", "4k:16"])
        defer { child.stop() }
        guard child.mappings["thp"]!.anonHugeKB == 65536 else {
            print("skipped: the child got \(child.mappings["thp"]!.anonHugeKB) KiB of THP, not 65536")
            return
        }
        let r = try CLITests.run(["layout", "--pid", "\(child.pid)"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("folios by order: order 0: 4096, order 9: 32"), "\(r.stdout)")
        #expect(r.stdout.contains("page array 20480 entries in 4128 folio runs"), "\(r.stdout)")
    }

    @Test(.enabled(if: root, "reading pagemap needs root"))
    func aProcessThatExitsWhileItIsReadIsReportedAsExited() throws {
        let child = try LayoutChild(["4k:1"])
        let m = child.mappings["4k"]!
        var pagemap: Int32 = -1
        try #require(gb_pagemap_open(child.pid, &pagemap) == 0)
        let kpageflags = open("/proc/kpageflags", O_RDONLY)
        defer { close(pagemap); close(kpageflags) }
        var pages = [gb_layout_page](repeating: gb_layout_page(), count: m.pages)
        #expect(gb_layout_read(pagemap, kpageflags, UInt(m.start), m.pages, &pages) == 0)
        #expect(pages.allSatisfy { $0.state == UInt8(GB_LAYOUT_PRESENT.rawValue) && $0.order == 0 })
        child.stop()  // exits and is reaped: its mm is gone under the open pagemap
        #expect(gb_layout_read(pagemap, kpageflags, UInt(m.start), m.pages, &pages) == -ESRCH)
        #expect(throws: GUPBenchError.environment("--pid \(child.pid): no such process")) {
            try LayoutCapture.capture(pid: child.pid, mappings: [])
        }
    }

    @Test func noSuchProcessOrMappingIsExitOne() throws {
        let gone = try CLITests.run(["layout", "--pid", "999999999"])
        #expect(gone.status == 1)
        #expect(gone.stderr == "gupbench: --pid 999999999: no such process (cannot read /proc/999999999/maps)\n")
        let own = getpid()
        let noVMA = try CLITests.run(["layout", "--pid", "\(own)", "--vma", "[nothing-here]"])
        #expect(noVMA.status == 1)
        #expect(noVMA.stderr == "gupbench: --vma [nothing-here]: no mapping of process \(own) starts at that address or has that name (see /proc/\(own)/maps)\n")
        let bad = try CLITests.run(["layout", "--pid", "0"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--pid 0 is not a process id"))
    }

    @Test(.enabled(if: root && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs root to drop to nobody"))
    func notRootIsExitOneWithOneLine() throws {
        let p = try Spawn.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups",
                                                   CLITests.executable.path, "layout", "--pid", "\(getpid())",
                                                   "--vma", "[heap]"])
        let text = p.stderr
        guard !text.contains("Permission denied") || text.contains("gupbench:") else {
            print("skipped: nobody cannot execute the test build of gupbench (\(text))")
            return
        }
        #expect(p.status == 1)
        #expect(text.hasPrefix("gupbench: "))
        #expect(text.split(separator: "\n").count == 1, "\(text)")
    }
}
