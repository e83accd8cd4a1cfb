import CShims
import Foundation

/// The page-descriptor model (CShims/include/gb_page.h) checked against the running kernel's own
/// types, read from its BTF (/sys/kernel/btf/vmlinux, CShims/gb_btf.c). The model claims to be
/// struct page, with struct folio's page[1] fields in the second descriptor, and its flag bits
/// to be enum pageflags' numbers: every figure the model leans on is listed here, the model's
/// side taken from its real struct (MemoryLayout of gb_page, the GB_PG_* constants), the kernel's
/// from BTF, so a kernel that moves a field makes the check fail instead of the model silently
/// describing another kernel. GB_PIN_COUNTING_BIAS is a #define, absent from BTF: not checked.
public struct KernelLayout: Sendable {
    /// Where a field lives in the kernel's types.
    public enum Place: Sendable, Equatable {
        /// sizeof(struct `name`).
        case structSize(String)
        /// Members `first` through `last` of struct `name`: from first's offset to last's end
        /// (first == last for one member; a span where one model field covers several).
        case members(String, first: String, last: String)
        /// The value of `enumerator` in enum `name`.
        case enumerator(String, String)
    }

    /// One figure the model relies on. `model` is a byte count (structSize), a bit offset
    /// (members, with `modelBytes` its size) or an enumerator's value.
    public struct Field: Sendable {
        public let name: String
        public let place: Place
        public let model: Int
        public let modelBytes: Int

        /// Model and kernel in one notation: bytes "offset/size" for members (a bit offset only
        /// when not byte-aligned), plain numbers otherwise.
        func show(_ value: Int, bytes: Int) -> String {
            guard case .members = place else { return String(value) }
            return (value % 8 == 0 ? "\(value / 8)" : "bit \(value)") + "/\(bytes)"
        }
    }

    public struct Row: Sendable {
        public let field: Field
        public let model: String
        /// What BTF says, "absent" when the kernel has no such member, struct or enumerator.
        public let kernel: String
        public let matches: Bool
    }

    public enum Verdict: Sendable, Equatable, CustomStringConvertible {
        case matches
        /// Each differing field with both figures: "page._refcount (model 52/4, kernel 44/4)".
        case differs([String])
        /// No BTF to check against: the path (or blob) and the errno text.
        case skipped(String)

        public var description: String {
            switch self {
            case .matches: return "matches"
            case .differs(let fields): return "differs: " + fields.joined(separator: ", ")
            case .skipped(let reason): return "skipped: " + reason
            }
        }
    }

    /// Where the BTF came from: a path, or "a BTF blob of N bytes".
    public let source: String
    public let rows: [Row]
    public let verdict: Verdict

    public static let defaultPath = "/sys/kernel/btf/vmlinux"

    /// The running kernel's verdict, read once per process (every report's machine object carries
    /// it; the file is 5 MB and cannot change under a running kernel).
    public static let running = check(path: defaultPath)

    /// Every field the model relies on, in table order.
    public static var fields: [Field] { pageFields() + folioFields() + pageflagsFields() }

    // MARK: the model's side

    private static let descriptor = MemoryLayout<gb_page>.size

    /// Kernel members `first` through `last` of struct `name` against the model's fields
    /// `modelFirst` through `modelLast` of descriptor `page` (page 1: a folio's second page).
    private static func span<A, B>(_ name: String, _ first: String, _ last: String,
                                   model modelFirst: KeyPath<gb_page, A>, _ modelLast: KeyPath<gb_page, B>,
                                   page: Int = 0) -> Field {
        let start = MemoryLayout<gb_page>.offset(of: modelFirst)!
        let end = MemoryLayout<gb_page>.offset(of: modelLast)! + MemoryLayout<B>.size
        return Field(name: "\(name).\(first)" + (last == first ? "" : "..\(last)"),
                     place: .members(name, first: first, last: last),
                     model: 8 * (page * descriptor + start), modelBytes: end - start)
    }

    /// One kernel member against one model field.
    private static func member<A>(_ name: String, _ member: String, model: KeyPath<gb_page, A>,
                                  page: Int = 0) -> Field {
        span(name, member, member, model: model, model, page: page)
    }

    /// include/linux/mm_types.h, struct page: the descriptor is one struct page (64 bytes on
    /// 64-bit), flags, compound_head, _mapcount and _refcount where the kernel keeps them.
    /// memcg_data is the word the model splits into nr_pages (page[1]'s _nr_pages) and
    /// memcg_data_hi.
    static func pageFields() -> [Field] {
        [
            Field(name: "sizeof(struct page)", place: .structSize("page"), model: descriptor, modelBytes: 0),
            member("page", "flags", model: \.flags),
            member("page", "compound_head", model: \.compound_head),
            member("page", "_mapcount", model: \.mapcount),
            member("page", "_refcount", model: \.refcount),
            span("page", "memcg_data", "memcg_data", model: \.nr_pages, \.memcg_data_hi),
        ]
    }

    /// include/linux/mm_types.h, struct folio: the fields it keeps in page[1] of a large folio,
    /// which the model reads from the second descriptor (offset sizeof(gb_page) from the head).
    /// The model's mm_ids bytes stand for _mm_id_mapcount[2] and _mm_ids together.
    static func folioFields() -> [Field] {
        [
            member("folio", "_flags_1", model: \.flags, page: 1),
            member("folio", "_head_1", model: \.compound_head, page: 1),
            member("folio", "_large_mapcount", model: \.large_mapcount, page: 1),
            member("folio", "_nr_pages_mapped", model: \.nr_pages_mapped, page: 1),
            member("folio", "_entire_mapcount", model: \.entire_mapcount, page: 1),
            member("folio", "_pincount", model: \.pincount, page: 1),
            span("folio", "_mm_id_mapcount", "_mm_ids", model: \.mm_ids, \.mm_ids, page: 1),
            member("folio", "_nr_pages", model: \.nr_pages, page: 1),
        ]
    }

    /// include/linux/page-flags.h, enum pageflags: the bit numbers the model sets and tests in
    /// a descriptor's flags (PG_lru: the free path, gb_free.h).
    static func pageflagsFields() -> [Field] {
        [("PG_locked", Int(GB_PG_locked)), ("PG_dirty", Int(GB_PG_dirty)), ("PG_lru", Int(GB_PG_lru)),
         ("PG_head", Int(GB_PG_head))].map {
            Field(name: $0.0, place: .enumerator("pageflags", $0.0), model: $0.1, modelBytes: 0)
        }
    }

    // MARK: the kernel's side

    /// Checks every field against the BTF file at `path`.
    public static func check(path: String = defaultPath) -> KernelLayout {
        var btf: OpaquePointer?
        let rc = gb_btf_open_file(path, &btf)
        guard rc == 0, let btf else {
            return KernelLayout(source: path, rows: [],
                                verdict: .skipped("cannot read BTF from \(path): \(errnoDescription(-rc))"))
        }
        defer { gb_btf_close(btf) }
        return check(btf, source: path)
    }

    /// Checks every field against an in-memory BTF blob (tests build their own kernels).
    public static func check(blob: [UInt8]) -> KernelLayout {
        let source = "a BTF blob of \(blob.count) bytes"
        var btf: OpaquePointer?
        let rc = blob.withUnsafeBytes { gb_btf_open_blob($0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, $0.count, &btf) }
        guard rc == 0, let btf else {
            return KernelLayout(source: source, rows: [], verdict: .skipped("cannot parse \(source): \(errnoDescription(-rc))"))
        }
        defer { gb_btf_close(btf) }
        return check(btf, source: source)
    }

    private static func check(_ btf: OpaquePointer, source: String) -> KernelLayout {
        let rows = fields.map { row($0, btf) }
        let differing = rows.filter { !$0.matches }.map { "\($0.field.name) (model \($0.model), kernel \($0.kernel))" }
        return KernelLayout(source: source, rows: rows, verdict: differing.isEmpty ? .matches : .differs(differing))
    }

    /// The kernel's figure for one field, in the field's notation; "absent" for -ENOENT, the
    /// errno otherwise (a malformed record: never a match).
    private static func row(_ f: Field, _ btf: OpaquePointer) -> Row {
        let model = f.show(f.model, bytes: f.modelBytes)
        func failed(_ rc: Int32) -> Row {
            Row(field: f, model: model, kernel: rc == -ENOENT ? "absent" : errnoDescription(-rc), matches: false)
        }
        switch f.place {
        case .structSize(let name):
            var size = 0
            let rc = gb_btf_struct_size(btf, name, &size)
            guard rc == 0 else { return failed(rc) }
            return Row(field: f, model: model, kernel: String(size), matches: size == f.model)
        case .enumerator(let name, let enumerator):
            var value: Int64 = 0
            let rc = gb_btf_enum_value(btf, name, enumerator, &value)
            guard rc == 0 else { return failed(rc) }
            return Row(field: f, model: model, kernel: String(value), matches: value == Int64(f.model))
        case .members(let name, let first, let last):
            var (off1, bits1, bytes1) = (0, 0, 0), (off2, bits2, bytes2) = (0, 0, 0)
            var rc = gb_btf_member(btf, name, first, &off1, &bits1, &bytes1)
            if rc == 0 { rc = gb_btf_member(btf, name, last, &off2, &bits2, &bytes2) }
            guard rc == 0 else { return failed(rc) }
            // A bitfield is not the word the model's atomics address: shown, never a match.
            let bitfield = bits1 != 0 || bits2 != 0
            let bytes = (off2 / 8 + bytes2) - off1 / 8
            let kernel = f.show(off1, bytes: bytes) + (bitfield ? " (bitfield)" : "")
            return Row(field: f, model: model, kernel: kernel,
                       matches: !bitfield && off1 == f.model && bytes == f.modelBytes)
        }
    }

    // MARK: output

    /// The table `gupbench kernel --check-layout` prints, with the verdict under it.
    public func table() -> String {
        var lines = ["the page-descriptor model (gb_page.h) against the kernel's BTF (\(source))", ""]
        if !rows.isEmpty {
            var t = TextTable(header: ["field", "model", "kernel", "match"])
            for r in rows { t.add([r.field.name, r.model, r.kernel, r.matches ? "yes" : "NO"]) }
            lines += ["offset/size in bytes; folio fields from the start of struct folio (the model's "
                        + "page[1] at \(Self.descriptor)); PG_* are bit numbers", "", t.rendered(), ""]
        }
        return (lines + ["verdict: \(verdict)"]).joined(separator: "\n") + "\n"
    }

    public var json: JSON {
        .object([
            ("btf", .string(source)),
            ("rows", .array(rows.map { r in
                .object([("field", .string(r.field.name)), ("model", .string(r.model)),
                         ("kernel", .string(r.kernel)), ("match", .bool(r.matches))])
            })),
            ("verdict", .string(verdict.description)),
        ])
    }
}
