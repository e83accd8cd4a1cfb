import CShims
import Foundation

/// What the machine is: NUMA nodes with their CPUs and memory, distances, the LLC, the THP mode
/// and the hugetlb pool. Read from libnuma and sysfs/procfs.
public struct Topology: Sendable {
    public struct Node: Sendable {
        public let id: Int
        public let cpus: [Int]
        public let memoryBytes: Int64
        public let freeBytes: Int64
        public let hasMemory: Bool
    }

    public let nodes: [Node]
    /// distances[i][j] between nodes[i] and nodes[j] (10 = local).
    public let distances: [[Int]]
    public let allowedCPUs: [Int]
    public let llcBytes: Int
    public let thpMode: String
    public let hugePagesTotal: Int
    public let hugePagesFree: Int
    public let hugePageBytes: Int
    public let kernel: String
    public let cpuModel: String
    public let numaAvailable: Bool
    public let memTotalBytes: Int64

    public var maxNode: Int { nodes.map(\.id).max() ?? 0 }

    public func node(_ id: Int) -> Node? { nodes.first { $0.id == id } }

    /// The node of the CPU this thread runs on: "local".
    public var localNode: Int {
        let cpu = Int(gb_current_cpu())
        return nodes.first { $0.cpus.contains(cpu) }?.id ?? nodes.first?.id ?? 0
    }

    public static func read() -> Topology {
        let available = gb_numa_available() != 0
        let maxNode = Int(gb_numa_max_node())
        var nodes: [Node] = []
        for id in 0...maxNode {
            var cpus = [Int32](repeating: 0, count: 4096)
            let n = Int(max(0, gb_node_cpus(Int32(id), &cpus, Int32(cpus.count))))
            // Unknown sizes stay -1 (the report says so); a failure is not an error here.
            var total: Int64 = -1, free: Int64 = -1
            _ = gb_node_memory(Int32(id), &total, &free)
            let hasMemory = gb_node_has_memory(Int32(id)) != 0
            if n == 0 && !hasMemory { continue }
            nodes.append(Node(id: id, cpus: cpus.prefix(n).map(Int.init), memoryBytes: total,
                              freeBytes: free, hasMemory: hasMemory))
        }
        let distances = nodes.map { a in nodes.map { b in Int(gb_numa_distance(Int32(a.id), Int32(b.id))) } }
        var allowed = [Int32](repeating: 0, count: 4096)
        let nAllowed = Int(max(0, gb_allowed_cpus(&allowed, Int32(allowed.count))))
        let meminfo = Self.meminfo()
        return Topology(
            nodes: nodes, distances: distances, allowedCPUs: allowed.prefix(nAllowed).map(Int.init),
            llcBytes: Self.llcBytes(), thpMode: Self.thpMode(),
            hugePagesTotal: meminfo["HugePages_Total"] ?? 0,
            hugePagesFree: meminfo["HugePages_Free"] ?? 0,
            hugePageBytes: (meminfo["Hugepagesize"] ?? 2048) * 1024,
            kernel: Self.kernelRelease(), cpuModel: Self.cpuModel(), numaAvailable: available,
            memTotalBytes: Int64(meminfo["MemTotal"] ?? 0) * 1024)
    }

    static func readFile(_ path: String) -> String? {
        try? String(contentsOfFile: path, encoding: .utf8)
    }

    /// The largest cache's size, from /sys/devices/system/cpu/cpu0/cache/index*/size.
    static func llcBytes() -> Int {
        var best = (level: 0, bytes: 0)
        for index in 0..<8 {
            let dir = "/sys/devices/system/cpu/cpu0/cache/index\(index)"
            guard let level = readFile(dir + "/level").flatMap({ Int($0.trimmed) }),
                  let size = readFile(dir + "/size")?.trimmed else { continue }
            var bytes = Int(size.filter(\.isNumber)) ?? 0
            if size.hasSuffix("K") { bytes <<= 10 } else if size.hasSuffix("M") { bytes <<= 20 }
            if level >= best.level { best = (level, bytes) }
        }
        return best.bytes
    }

    /// "always", "madvise" or "never": the bracketed word of THP's `enabled` file.
    static func thpMode() -> String {
        guard let text = readFile("/sys/kernel/mm/transparent_hugepage/enabled"),
              let open = text.firstIndex(of: "["), let close = text.firstIndex(of: "]")
        else { return "unavailable" }
        return String(text[text.index(after: open)..<close])
    }

    static func meminfo() -> [String: Int] {
        var out: [String: Int] = [:]
        for line in (readFile("/proc/meminfo") ?? "").split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            out[String(parts[0])] = Int(parts[1].split(separator: " ").first ?? "")
        }
        return out
    }

    static func kernelRelease() -> String {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: &u.release) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
    }

    static func cpuModel() -> String {
        for line in (readFile("/proc/cpuinfo") ?? "").split(separator: "\n")
        where line.hasPrefix("model name") {
            return line.split(separator: ":", maxSplits: 1).last.map { String($0).trimmed } ?? ""
        }
        return "unknown"
    }
}

extension String {
    var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
