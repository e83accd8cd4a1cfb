import CShims
import Foundation

/// One worker's free path (its pcp, the shared lruvecs and zone), handed to the release loops.
public typealias FreeContextPointer = UnsafeMutablePointer<gb_free_ctx>

/// The last-reference model of a memmap (`CShims/include/gb_free.h`): the node's lruvec with its
/// LRU list, one per-CPU free list per worker, the zone's free list, and their spinlocks.
/// Built before and audited after every timed release of `--last-ref`; docs/last-reference.md.
public final class FreeModel: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<gb_free_model>
    public let high: Int
    public let batch: Int
    /// Consecutive folios (memmap order) that share a lruvec before the next one starts.
    public let lruvecRun: Int

    /// The memory cgroup the frees uncharge (nil: none).
    public let memcg: MemoryCgroup?

    /// `high` and `batch` default to the machine's own pcp figures for the memory's node
    /// (`PcpSettings.read`); `memcg` is the cgroup whose page counters a free subtracts from;
    /// `calls` the kernel's out-of-line calls at each site of the path (FreePathCalls.running for
    /// the running kernel's).
    public init(model: PageModel, threads: Int, lruvecs: Int = 1, lruvecRun: Int = 1,
                high: Int? = nil, batch: Int? = nil, node: Int = 0, memcg: MemoryCgroup? = nil,
                calls: FreePathCalls = .none("none")) {
        let machine = PcpSettings.read(node: node)
        self.high = high ?? machine.high
        self.batch = batch ?? machine.batch
        self.lruvecRun = lruvecRun
        self.memcg = memcg
        guard let p = gb_free_model_create(model.memmap, model.pageCount, Int32(lruvecs), Int32(max(1, threads)),
                                           self.high, self.batch,
                                           Int32(memcg.map { min($0.levels, Int(GB_MEMCG_MAX_LEVELS)) } ?? -1),
                                           memcg?.memsw == true ? 1 : 0)
        else { preconditionFailure("gb_free_model_create: bad arguments or out of memory") }
        pointer = p
        let counts = calls.counts.map { UInt8(clamping: $0) }
        counts.withUnsafeBufferPointer { gb_free_model_set_calls(p, $0.baseAddress!, Int32($0.count)) }
        // A frame-spaced memmap (--layout pfn) holds descriptors of other memory between the
        // region's: only the folios the page array names are built, freed and audited.
        if let entries = model.pageArray {
            let rc = entries.withUnsafeBufferPointer { gb_free_model_set_members(p, $0.baseAddress!, $0.count) }
            precondition(rc == 0, "gb_free_model_set_members: out of memory")
        }
    }

    deinit { gb_free_model_destroy(pointer) }

    public func context(_ thread: Int) -> FreeContextPointer { gb_free_model_ctx(pointer, Int32(thread)) }

    /// Every folio allocated, mapped (_refcount 1) and on its lruvec's LRU list; locks counted from 0.
    public func rebuild() { gb_free_model_rebuild(pointer, lruvecRun) }

    /// Back to the reference-drop baseline (_refcount 1, off every list).
    public func restore() { gb_free_model_restore(pointer) }

    /// The lock counts of every worker since the last rebuild.
    public var counts: gb_lock_counts { gb_free_model_counts(pointer) }

    /// Each page counter's usage, the memcg's level first (memory, then memsw on v1): the
    /// pages charged since the last rebuild and not uncharged. Empty without a memcg.
    public var memcgUsage: [Int] {
        guard let m = pointer.pointee.memcg?.pointee else { return [] }
        let levels = Int(m.levels)
        let memory = withUnsafeBytes(of: m.memory) { Array($0.bindMemory(to: gb_page_counter.self).prefix(levels)) }
        let memsw = withUnsafeBytes(of: m.memsw) { Array($0.bindMemory(to: gb_page_counter.self).prefix(levels)) }
        return (memory + (m.memsw_on != 0 ? memsw : [])).map { $0.usage }
    }

    public func audit() -> gb_free_audit {
        var a = gb_free_audit()
        gb_free_model_audit(pointer, &a)
        return a
    }

    /// Memmap indexes of the folios on worker `thread`'s pcp list (head first), or on the zone's
    /// free list for nil.
    public func freeList(thread: Int?) -> [Int] {
        let max = pointer.pointee.npages
        var out = [Int](repeating: 0, count: max)
        let n = out.withUnsafeMutableBufferPointer {
            gb_free_model_list(pointer, Int32(thread ?? -1), $0.baseAddress!, max)
        }
        return Array(out.prefix(n))
    }

    /// nil when every folio was freed exactly once, none is left on an LRU list, and the free
    /// lists hold exactly the freed folios; otherwise what is wrong, naming the first folio.
    public static func describe(_ a: gb_free_audit, counts: gb_lock_counts) -> String? {
        var parts: [String] = []
        if a.double_freed > 0 {
            parts.append("double free: folio at index \(a.first_double_index) is on the free lists twice")
        }
        if a.leaked > 0 {
            parts.append("leak: \(a.leaked) folios never reached a free list, first at index \(a.first_leak_index) "
                + "(_refcount \(a.first_leak_refcount)\(a.first_leak_on_lru != 0 ? ", still on the LRU" : ""))")
        }
        if a.on_lru > 0 && a.leaked == 0 {
            parts.append("\(a.on_lru) freed folios still marked PG_lru, first at index \(a.first_lru_index)")
        }
        if a.not_zero > 0 {
            parts.append("\(a.not_zero) folios on a free list with _refcount not 0, first at index \(a.first_not_zero_index)")
        }
        if a.broken_lists > 0 { parts.append("\(a.broken_lists) corrupt lists") }
        if a.count_mismatch > 0 { parts.append("\(a.count_mismatch) list counters disagree with their lists") }
        if counts.bad_frees > 0 { parts.append("\(counts.bad_frees) frees of a folio still referenced or on the LRU") }
        if a.double_freed == 0 && a.broken_lists == 0 && counts.folios_freed != UInt64(a.freed_folios) {
            parts.append("\(counts.folios_freed) frees counted but \(a.freed_folios) folios on the free lists")
        }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }
}

/// The kernel's per-CPU page list limits for a node's main zone, read from /proc/zoneinfo
/// (`pagesets` → `high:` and `batch:` of the first CPU of the zone with the largest `high`, i.e.
/// Normal on a machine that has it). Falls back to the kernel's historical default (batch 63,
/// high 6 × batch, mm/page_alloc.c before the dynamic pcp->high) when the file says nothing.
public struct PcpSettings: Sendable, Equatable {
    public var high: Int
    public var batch: Int

    public static func read(node: Int, text: String? = nil) -> PcpSettings {
        let zoneinfo = text ?? (try? String(contentsOfFile: "/proc/zoneinfo", encoding: .utf8)) ?? ""
        var best: PcpSettings?
        var inNode = false
        var high: Int?
        for raw in zoneinfo.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("Node ") {
                inNode = line.hasPrefix("Node \(node),")
                high = nil
                continue
            }
            guard inNode else { continue }
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            guard words.count == 2, let value = Int(words[1]) else { continue }
            if words[0] == "high:" && high == nil {
                high = value
            } else if words[0] == "batch:", let h = high, h > 0, value > 0 {
                if best == nil || h > best!.high { best = PcpSettings(high: h, batch: value) }
                high = -1  // only the first CPU's pair of each zone
            }
        }
        return best ?? PcpSettings(high: 6 * 63, batch: 63)
    }
}
