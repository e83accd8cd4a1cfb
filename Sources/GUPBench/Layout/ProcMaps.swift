import Foundation

/// One line of /proc/PID/maps.
public struct ProcMapping: Equatable, Sendable {
    public let start: UInt64
    public let end: UInt64
    public let perms: String
    public let inode: UInt64
    /// The path or pseudo-name ("[heap]", "[stack]", "[anon:name]"); empty for plain anonymous memory.
    public let name: String

    public var pages: Int { Int((end - start) / 4096) }

    /// Anonymous memory a pin could reach: no file behind it (heap, stack and named anonymous
    /// mappings included), not one of the kernel's special mappings, and not PROT_NONE (a guard:
    /// GUP fails on it).
    public var isAnonymous: Bool {
        inode == 0 && !perms.hasPrefix("---")
            && (name.isEmpty || name == "[heap]" || name == "[stack]" || name.hasPrefix("[anon:"))
    }

    /// What the layout file says about the mapping: its kind, never its path.
    public var kind: String { name.isEmpty || name.hasPrefix("[anon:") ? "anonymous" : (inode == 0 ? name : "file") }

    /// Parses a maps line: `start-end perms offset dev inode [name]`.
    init?(line: Substring) {
        let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
        guard fields.count >= 5 else { return nil }
        let range = fields[0].split(separator: "-")
        guard range.count == 2, let s = UInt64(range[0], radix: 16), let e = UInt64(range[1], radix: 16),
              let inode = UInt64(fields[4]) else { return nil }
        start = s
        end = e
        perms = String(fields[1])
        self.inode = inode
        name = fields.count > 5 ? fields[5].trimmingCharacters(in: .whitespaces) : ""
    }
}

/// Reading and choosing a process's mappings for `gupbench layout`.
public enum ProcMaps {
    /// The mappings of `pid`; exit 1 when there is no such process.
    public static func read(pid: Int32) throws -> [ProcMapping] {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8) else {
            throw GUPBenchError.environment("--pid \(pid): no such process (cannot read /proc/\(pid)/maps)")
        }
        return text.split(separator: "\n").compactMap { ProcMapping(line: $0) }
    }

    /// `--vma`: a start address as maps prints it (with or without 0x) or a name/path (every
    /// mapping of that name); without it, every anonymous mapping of at least `minSize` bytes.
    public static func select(_ maps: [ProcMapping], vma: String?, minSize: Int, pid: Int32) throws -> [ProcMapping] {
        if let vma {
            let hex = vma.lowercased().hasPrefix("0x") ? String(vma.dropFirst(2)) : vma
            if let start = UInt64(hex, radix: 16), let hit = maps.first(where: { $0.start == start }) {
                return [hit]
            }
            let named = maps.filter { $0.name == vma }
            guard !named.isEmpty else {
                throw GUPBenchError.environment(
                    "--vma \(vma): no mapping of process \(pid) starts at that address or has that name "
                    + "(see /proc/\(pid)/maps)")
            }
            return named
        }
        let chosen = maps.filter { $0.isAnonymous && Int($0.end - $0.start) >= minSize }
        guard !chosen.isEmpty else {
            throw GUPBenchError.environment(
                "--pid \(pid) has no anonymous mapping of at least \(ByteSize.format(minSize)); "
                + "lower --min-size or name one with --vma")
        }
        return chosen
    }
}
