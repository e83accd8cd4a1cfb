import Foundation

/// The memory cgroup this process's pages are charged to, as the kernel's uncharge walks it when
/// a folio is freed (mm/memcontrol.c uncharge_batch() -> page_counter_uncharge()): one page
/// counter per level from the memcg up to and including root's, each a `lock xadd`, and on
/// cgroup v1 a memsw counter per level as well (do_memsw_account()). The last-reference model
/// (FreeModel, gb_free.h) uncharges the same way: per folio in `__folio_put()`, once per batch in
/// `folios_put_refs()`.
public struct MemoryCgroup: Sendable, Equatable {
    public enum Version: String, Sendable { case v1, v2 }
    public var version: Version
    /// The cgroup's path in its hierarchy ("/" for the root).
    public var path: String

    /// Page counters one uncharge subtracts from: the path's components plus root's; 0 in the
    /// root memcg, whose folios charge no counter (try_charge() returns early for root). The
    /// model keeps at most GB_MEMCG_MAX_LEVELS (32) of them. Inside a cgroup namespace the path
    /// starts at the namespace's root, so the levels above it go uncounted: fewer than the kernel's.
    public var levels: Int {
        let components = path.split(separator: "/").count
        return components == 0 ? 0 : components + 1
    }

    /// cgroup v1 keeps memory+swap counters beside the memory ones.
    public var memsw: Bool { version == .v1 }

    /// Locked RMWs of one uncharge_batch() that uncharges pages.
    public var atomicsPerBatch: Int { levels * (memsw ? 2 : 1) }

    /// "v1 /a/b: 3 levels, memory+memsw" for reports.
    public var summary: String {
        "\(version.rawValue) \(path): \(levels) level\(levels == 1 ? "" : "s")"
            + (levels == 0 ? " (root: no page counter)" : memsw ? ", memory+memsw counters" : ", memory counters")
    }

    /// This process's memcg, or nil when the memory controller is off or nowhere to be found.
    public static let current: MemoryCgroup? = parse(
        cgroups: (try? String(contentsOfFile: "/proc/cgroups", encoding: .utf8)) ?? "",
        selfCgroup: (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? "",
        v2Controllers: try? String(contentsOfFile: "/sys/fs/cgroup/cgroup.controllers", encoding: .utf8))

    /// From /proc/cgroups (is the memory controller enabled), /proc/self/cgroup (`id:controllers:path`
    /// lines; v1 names `memory` in its controllers, v2 is the `0::path` line) and the v2 root's
    /// cgroup.controllers (whether memory is on the unified hierarchy). v1 wins where both appear:
    /// a controller is bound to one hierarchy.
    static func parse(cgroups: String, selfCgroup: String, v2Controllers: String?) -> MemoryCgroup? {
        let memoryLine = cgroups.split(separator: "\n").map { $0.split(whereSeparator: \.isWhitespace) }
            .first { $0.first == "memory" }
        if let memoryLine, memoryLine.count >= 4, memoryLine[3] == "0" { return nil }  // cgroup_disable=memory
        var unified: String?
        for line in selfCgroup.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            if fields[1].split(separator: ",").contains("memory") {
                return MemoryCgroup(version: .v1, path: String(fields[2]))
            }
            if fields[0] == "0" && fields[1].isEmpty { unified = String(fields[2]) }
        }
        guard let unified, let v2Controllers,
              v2Controllers.split(whereSeparator: \.isWhitespace).contains("memory") else { return nil }
        return MemoryCgroup(version: .v2, path: unified)
    }
}
