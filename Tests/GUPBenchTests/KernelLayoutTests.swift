import Foundation
import Testing
@testable import GUPBench

/// A small BTF writer (Documentation/bpf/btf.rst): a 24-byte header, the type section, the string
/// section, with just the kinds the model's three kernel types need. Lets the tests build kernels
/// whose layout they choose.
struct BTFBuilder {
    private var types: [UInt32] = []
    private var strings: [UInt8] = [0]  // offset 0 is the empty name
    private var lastID: UInt32 = 0      // type id 0 is void

    private mutating func name(_ s: String) -> UInt32 {
        guard !s.isEmpty else { return 0 }
        let offset = UInt32(strings.count)
        strings += Array(s.utf8) + [0]
        return offset
    }

    /// A type record's three words: name_off, info (kind << 24 | vlen), size or type.
    private mutating func record(_ s: String, kind: UInt32, vlen: Int, size: Int) -> UInt32 {
        let n = name(s)
        types += [n, kind << 24 | UInt32(vlen), UInt32(size)]
        lastID += 1
        return lastID
    }

    /// BTF_KIND_INT (1): unsigned, 8 * bytes bits.
    mutating func int(_ s: String, bytes: Int) -> UInt32 {
        let id = record(s, kind: 1, vlen: 0, size: bytes)
        types.append(UInt32(8 * bytes))
        return id
    }

    /// BTF_KIND_STRUCT (4); members (name, type id, bit offset), "" for an anonymous one.
    mutating func structure(_ s: String, bytes: Int, _ members: [(String, UInt32, Int)]) -> UInt32 {
        let id = record(s, kind: 4, vlen: members.count, size: bytes)
        for m in members {
            let n = name(m.0)
            types += [n, m.1, UInt32(m.2)]
        }
        return id
    }

    /// BTF_KIND_ENUM (6), 4 bytes.
    mutating func enumeration(_ s: String, _ values: [(String, Int32)]) -> UInt32 {
        let id = record(s, kind: 6, vlen: values.count, size: 4)
        for v in values {
            let n = name(v.0)
            types += [n, UInt32(bitPattern: v.1)]
        }
        return id
    }

    var blob: [UInt8] {
        func le32(_ x: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: x >> (8 * $0)) } }
        let typeLen = UInt32(types.count * 4)
        let header: [UInt8] = [0x9F, 0xEB, 1, 0] // magic 0xeB9F little-endian, version 1, flags 0
            + le32(24) + le32(0) + le32(typeLen) + le32(typeLen) + le32(UInt32(strings.count))
        return header + types.flatMap(le32) + strings
    }
}

/// A kernel with Linux 6.18's layout (include/linux/mm_types.h, include/linux/page-flags.h, as
/// pahole reads this project's host), or with one thing changed.
func kernelBTF(refcountByte: Int = 52, withPincount: Bool = true) -> [UInt8] {
    var b = BTFBuilder()
    let int = b.int("int", bytes: 4)
    let ulong = b.int("long unsigned int", bytes: 8)
    let uint = b.int("unsigned int", bytes: 4)
    _ = b.structure("page", bytes: 64, [("flags", ulong, 0), ("compound_head", ulong, 64),
                                        ("_mapcount", int, 48 * 8), ("_refcount", int, refcountByte * 8),
                                        ("memcg_data", ulong, 56 * 8)])
    // struct folio keeps page[1]'s fields in an anonymous struct, as the kernel does; the reader
    // must add its offset. _mm_id_mapcount[2] stands in as one 8-byte word.
    var second: [(String, UInt32, Int)] = [("_flags_1", ulong, 0), ("_head_1", ulong, 64),
                                           ("_large_mapcount", int, 128), ("_nr_pages_mapped", int, 160),
                                           ("_entire_mapcount", int, 192), ("_pincount", int, 224),
                                           ("_mm_id_mapcount", ulong, 256), ("_mm_ids", ulong, 320),
                                           ("_nr_pages", uint, 448)]
    if !withPincount { second.removeAll { $0.0 == "_pincount" } }
    let page1 = b.structure("", bytes: 64, second)
    _ = b.structure("folio", bytes: 256, [("", page1, 512)])
    _ = b.enumeration("pageflags", [("PG_locked", 0), ("PG_writeback", 1), ("PG_referenced", 2),
                                    ("PG_uptodate", 3), ("PG_dirty", 4), ("PG_lru", 5), ("PG_head", 6)])
    return b.blob
}

@Suite struct KernelLayoutTests {
    @Test func aKernelWithTheModelsLayoutMatches() {
        let layout = KernelLayout.check(blob: kernelBTF())
        #expect(layout.verdict == .matches)
        #expect(layout.verdict.description == "matches")
        #expect(layout.rows.count == KernelLayout.fields.count)
        #expect(layout.rows.allSatisfy { $0.matches })
        let refcount = layout.rows.first { $0.field.name == "page._refcount" }
        #expect(refcount?.model == "52/4" && refcount?.kernel == "52/4")
        let pincount = layout.rows.first { $0.field.name == "folio._pincount" }
        #expect(pincount?.model == "92/4" && pincount?.kernel == "92/4")
        #expect(layout.rows.first { $0.field.name == "PG_head" }?.kernel == "6")
    }

    @Test func theModelSideIsTheModelsStruct() {
        let model = Dictionary(uniqueKeysWithValues: KernelLayout.fields.map { ($0.name, $0.show($0.model, bytes: $0.modelBytes)) })
        #expect(model["sizeof(struct page)"] == "64")
        #expect(model["page.memcg_data"] == "56/8")           // nr_pages + memcg_data_hi
        #expect(model["folio._mm_id_mapcount.._mm_ids"] == "96/16")
        #expect(model["folio._nr_pages"] == "120/4")          // page[1] of the folio
        #expect(model["PG_lru"] == "5")
    }

    @Test func aMovedRefcountDiffers() {
        let layout = KernelLayout.check(blob: kernelBTF(refcountByte: 44))
        #expect(layout.verdict.description == "differs: page._refcount (model 52/4, kernel 44/4)")
        #expect(layout.rows.filter { !$0.matches }.map(\.field.name) == ["page._refcount"])
    }

    @Test func anAbsentFieldDiffers() {
        let layout = KernelLayout.check(blob: kernelBTF(withPincount: false))
        #expect(layout.verdict == .differs(["folio._pincount (model 92/4, kernel absent)"]))
    }

    @Test func aTruncatedBlobIsSkippedWithTheReason() {
        let blob = kernelBTF()
        let layout = KernelLayout.check(blob: Array(blob.prefix(blob.count / 2)))
        #expect(layout.rows.isEmpty)
        #expect(layout.verdict.description
            == "skipped: cannot parse a BTF blob of \(blob.count / 2) bytes: EINVAL (Invalid argument)")
    }

    @Test func aMissingFileIsSkippedNamingThePath() {
        let layout = KernelLayout.check(path: "/nonexistent/vmlinux")
        #expect(layout.verdict.description
            == "skipped: cannot read BTF from /nonexistent/vmlinux: ENOENT (No such file or directory)")
    }

    static let btfReadable = FileManager.default.isReadableFile(atPath: KernelLayout.defaultPath)

    @Test("the running kernel's struct page, struct folio and enum pageflags are the model's",
          .enabled(if: btfReadable, "\(KernelLayout.defaultPath) is not readable"))
    func runningKernelMatches() {
        let layout = KernelLayout.running
        #expect(layout.verdict == .matches, "\(layout.verdict)")
        #expect(layout.rows.count == KernelLayout.fields.count)
        for row in layout.rows { #expect(row.matches, "\(row.field.name): model \(row.model), kernel \(row.kernel)") }
    }

    @Test("without BTF the running kernel's check says why",
          .enabled(if: !btfReadable, "\(KernelLayout.defaultPath) is readable: checked above"))
    func runningKernelWithoutBTFSaysWhy() {
        guard case .skipped(let reason) = KernelLayout.running.verdict else {
            Issue.record("no BTF, yet the verdict is \(KernelLayout.running.verdict)")
            return
        }
        #expect(reason.contains(KernelLayout.defaultPath))
    }

    @Test func everyReportsMachineCarriesTheVerdict() throws {
        let report = Report(command: "test", topology: Topology.read(), calibration: nil)
        guard case .object(let top) = report.json(), case .object(let machine)? = top.first(where: { $0.0 == "machine" })?.1,
              case .string(let verdict)? = machine.first(where: { $0.0 == "kernel_layout" })?.1 else {
            Issue.record("no machine.kernel_layout string")
            return
        }
        #expect(verdict == KernelLayout.running.verdict.description)
        #expect(!verdict.isEmpty)
    }

    @Test func checkLayoutAtTheCommandLine() throws {
        let r = try CLITests.run(["kernel", "--check-layout"])
        if Self.btfReadable {
            #expect(r.status == 0, "stderr: \(r.stderr)")
            #expect(r.stdout.contains("verdict: matches"))
            #expect(r.stdout.contains("page._refcount"))
            #expect(r.stderr.isEmpty)
        } else {
            #expect(r.status == 1)
            #expect(r.stdout.contains("verdict: skipped: "))
            #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains(KernelLayout.defaultPath))
        }
    }

    @Test func checkLayoutAsJSON() throws {
        let r = try CLITests.run(["kernel", "--check-layout", "--format", "json"])
        #expect(r.status == (Self.btfReadable ? 0 : 1), "stderr: \(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let verdict = try #require(json["verdict"] as? String)
        #expect(Self.btfReadable ? verdict == "matches" : verdict.hasPrefix("skipped: "))
        let rows = try #require(json["rows"] as? [[String: Any]])
        #expect(rows.count == (Self.btfReadable ? KernelLayout.fields.count : 0))
        for row in rows { #expect(row["match"] as? Bool == true, "\(row)") }
    }
}
