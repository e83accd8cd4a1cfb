import CShims
import Foundation

/// scripts/layout-child.c compiled once with cc and run as a child that maps a known mix of
/// memory, for the layout tests. Lives until `stop()` (or deinit) closes its stdin.
final class LayoutChild {
    struct Mapping {
        let start: UInt64
        let pages: Int
        /// AnonHugePages of the VMA as the child's own smaps reported it.
        let anonHugeKB: Int
        var startHex: String { String(start, radix: 16) }
    }

    let process = Process()
    private let input = Pipe()
    let mappings: [String: Mapping]
    var pid: Int32 { process.processIdentifier }

    /// The package root, found from this file's path.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The child's binary, built at test time (the failure's reason when there is no C
    /// compiler) and removed when the test process exits.
    static let binary: Result<URL, LayoutChildError> = {
        let source = packageRoot.appendingPathComponent("scripts/layout-child.c")
        let out = URL(fileURLWithPath: layoutChildBinaryPath)
        atexit { unlink(layoutChildBinaryPath) }
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        cc.arguments = ["cc", "-O1", "-o", out.path, source.path]
        do {
            try cc.run()
            cc.waitUntilExit()
        } catch {
            return .failure(LayoutChildError(reason: "cannot run cc: \(error)"))
        }
        guard cc.terminationStatus == 0 else {
            return .failure(LayoutChildError(reason: "cc failed on scripts/layout-child.c"))
        }
        return .success(out)
    }()

    init(_ specs: [String]) throws {
        process.executableURL = try Self.binary.get()
        process.arguments = specs
        process.standardInput = input
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var lines: [String] = []
        var buffer = Data()
        let handle = output.fileHandleForReading
        while !lines.contains("ready") {
            let chunk = handle.availableData
            if chunk.isEmpty { throw LayoutChildError(reason: "layout-child \(specs) exited before it was ready") }
            buffer += chunk
            lines = String(decoding: buffer, as: UTF8.self).split(separator: "\n").map(String.init)
        }
        var found: [String: Mapping] = [:]
        for line in lines where line != "ready" {
            let f = line.split(separator: " ")
            found[String(f[0])] = Mapping(start: UInt64(f[1], radix: 16)!, pages: Int(f[2])!, anonHugeKB: Int(f[3])!)
        }
        mappings = found
    }

    func stop() {
        guard process.isRunning else { return }
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    deinit { stop() }

    /// PFNs and present flags of the child's pages, read from its pagemap (root only).
    func pagemap(_ m: Mapping) throws -> [UInt64] {
        var fd: Int32 = -1
        guard gb_pagemap_open(pid, &fd) == 0 else { throw LayoutChildError(reason: "cannot open the child's pagemap") }
        defer { close(fd) }
        var entries = [UInt64](repeating: 0, count: m.pages)
        guard gb_pagemap_read(fd, UInt(m.start), m.pages, &entries) == 0 else {
            throw LayoutChildError(reason: "short pagemap read")
        }
        return entries
    }
}

/// Where the test process builds scripts/layout-child.c (a global, so the atexit hook can name it).
let layoutChildBinaryPath = FileManager.default.temporaryDirectory
    .appendingPathComponent("gupbench-layout-child-\(getpid())").path

struct LayoutChildError: Error, CustomStringConvertible {
    let reason: String
    var description: String { reason }
}

/// One mTHP size switched to `madvise` for the duration of `body`, restored after it.
func withMTHP<T>(_ kib: Int, _ body: () throws -> T) throws -> T? {
    let path = "/sys/kernel/mm/transparent_hugepage/hugepages-\(kib)kB/enabled"
    guard geteuid() == 0, let current = try? String(contentsOfFile: path, encoding: .utf8),
          let open = current.firstIndex(of: "["), let close = current.firstIndex(of: "]")
    else { return nil }
    let previous = String(current[current.index(after: open)..<close])
    guard (try? "madvise".write(toFile: path, atomically: false, encoding: .utf8)) != nil else { return nil }
    defer { try? previous.write(toFile: path, atomically: false, encoding: .utf8) }
    return try body()
}

/// anon_fault_alloc of one mTHP size: how many folios of that size page faults allocated.
func mTHPFaultAllocs(_ kib: Int) -> Int {
    let path = "/sys/kernel/mm/transparent_hugepage/hugepages-\(kib)kB/stats/anon_fault_alloc"
    return Int((try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? -1
}
