import CShims
import Foundation

/// `gupbench layout`: the folio structure of a live process's mappings, page by page in virtual
/// order, from /proc/PID/pagemap and /proc/kpageflags (gb_layout_read), folded into runs that
/// keep no address and no PFN.
public enum LayoutCapture {
    public static func capture(pid: Int32, mappings: [ProcMapping]) throws -> FolioLayout {
        guard geteuid() == 0 else {
            throw GUPBenchError.environment(
                "gupbench layout needs root: without CAP_SYS_ADMIN /proc/\(pid)/pagemap hides PFNs "
                + "and /proc/kpageflags cannot be read (uid \(geteuid()))")
        }
        let before = try processStart(pid)
        var pagemap: Int32 = -1
        let opened = gb_pagemap_open(pid, &pagemap)
        guard opened == 0 else {
            if opened == -ENOENT || opened == -ESRCH { throw exited(pid) }
            throw GUPBenchError.environment("cannot open /proc/\(pid)/pagemap: \(errnoDescription(-opened))")
        }
        defer { close(pagemap) }
        let kpageflags = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC)
        guard kpageflags >= 0 else {
            throw GUPBenchError.environment("cannot open /proc/kpageflags: \(errnoDescription(errno))")
        }
        defer { close(kpageflags) }

        var builder = RunBuilder()
        for mapping in mappings {
            let count = mapping.pages
            var pages = [gb_layout_page](repeating: gb_layout_page(), count: count)
            let rc = pages.withUnsafeMutableBufferPointer {
                gb_layout_read(pagemap, kpageflags, UInt(mapping.start), count, $0.baseAddress!)
            }
            switch -rc {
            case 0: break
            case ESRCH: throw exited(pid)
            case EPERM:
                throw GUPBenchError.environment(
                    "/proc/\(pid)/pagemap reports no PFNs: reading them needs CAP_SYS_ADMIN")
            case EIO:
                throw GUPBenchError.environment(
                    "the folios of process \(pid) changed while they were read (split, freed or migrated); "
                    + "capture again")
            default:
                throw GUPBenchError.fromErrno(rc, "reading /proc/\(pid)/pagemap or /proc/kpageflags")
            }
            for page in pages { builder.add(page) }
        }
        // A process that exited (or whose PID was reused) while we read gives a capture of nothing
        // in particular: refuse it.
        guard (try? processStart(pid)) == before else { throw exited(pid) }
        return FolioLayout(runs: builder.runs, mappings: mappings.map { ($0.kind, $0.pages) },
                           kernel: Topology.read().kernel)
    }

    static func exited(_ pid: Int32) -> GUPBenchError {
        .environment("process \(pid) exited during the capture; nothing was written")
    }

    /// The process's start time (field 22 of /proc/PID/stat); throws if it is gone or a zombie.
    static func processStart(_ pid: Int32) throws -> UInt64 {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { throw GUPBenchError.environment("--pid \(pid): no such process") }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3); starttime is field 22.
        guard fields.count > 19, let start = UInt64(fields[19]) else {
            throw GUPBenchError.environment("--pid \(pid): /proc/\(pid)/stat is unreadable")
        }
        if fields[0] == "Z" || fields[0] == "X" { throw exited(pid) }
        return start
    }
}

/// Folds pages into runs. The head PFN identifies a folio only here, in memory: the runs name
/// folios by ordinal of first appearance.
struct RunBuilder {
    private(set) var runs: [LayoutRun] = []
    /// A folio is its head PFN and its order: a folio split while we read comes back as new
    /// folios rather than as a revisit of a different order.
    private struct FolioKey: Hashable { let head: UInt64; let order: UInt8 }
    private var ordinals: [FolioKey: Int] = [:]
    private var nextOrdinal = 0
    /// The folio and index of the last page added to a large-folio run.
    private var last: (folio: FolioKey, index: Int)?

    mutating func add(_ page: gb_layout_page) {
        switch Int32(page.state) {
        case Int32(GB_LAYOUT_ABSENT.rawValue):
            last = nil
            if case .absent(let n)? = runs.last { runs[runs.count - 1] = .absent(pages: n + 1) }
            else { runs.append(.absent(pages: 1)) }
        case Int32(GB_LAYOUT_ZERO.rawValue):
            last = nil
            if case .zero(let n)? = runs.last { runs[runs.count - 1] = .zero(pages: n + 1) }
            else { runs.append(.zero(pages: 1)) }
        default:
            addPresent(page)
        }
    }

    private mutating func addPresent(_ page: gb_layout_page) {
        let order = Int(page.order)
        let index = Int(page.index)
        let key = FolioKey(head: page.folio, order: page.order)
        let seen = ordinals[key]
        if order == 0 && seen == nil {
            ordinals[key] = nextOrdinal
            nextOrdinal += 1
            last = nil
            if case .folio(0, 0, let n, nil)? = runs.last { runs[runs.count - 1] = .folio(order: 0, index: 0, pages: n + 1, revisit: nil) }
            else { runs.append(.folio(order: 0, index: 0, pages: 1, revisit: nil)) }
            return
        }
        // The same large folio, next page: extend the run.
        if order > 0, let last, last.folio == key, last.index + 1 == index,
           case .folio(let o, let i, let n, let r)? = runs.last {
            runs[runs.count - 1] = .folio(order: o, index: i, pages: n + 1, revisit: r)
            self.last = (key, index)
            return
        }
        if let seen {
            runs.append(.folio(order: order, index: index, pages: 1, revisit: seen))
        } else {
            ordinals[key] = nextOrdinal
            nextOrdinal += 1
            runs.append(.folio(order: order, index: index, pages: 1, revisit: nil))
        }
        last = order > 0 ? (key, index) : nil
    }
}
