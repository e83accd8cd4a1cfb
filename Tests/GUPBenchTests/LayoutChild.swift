import CShims
import Foundation

/// scripts/layout-child.c compiled once with cc and run as a child that maps a known mix of
/// memory, for the layout tests. Lives until `stop()` (or deinit) closes its stdin. Started with
/// posix_spawn (Spawn), not Foundation's Process, whose run() leaks under AddressSanitizer.
final class LayoutChild {
    struct Mapping {
        let start: UInt64
        let pages: Int
        /// AnonHugePages of the VMA as the child's own smaps reported it.
        let anonHugeKB: Int
        var startHex: String { String(start, radix: 16) }
    }

    let pid: pid_t
    /// The write end of the child's stdin; -1 once closed.
    private var input: Int32
    let mappings: [String: Mapping]

    /// The package root, found from this file's path.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The child's binary, built at test time (the failure's reason when there is no C
    /// compiler) and removed when the test process exits.
    static let binary: Result<URL, LayoutChildError> = {
        let source = packageRoot.appendingPathComponent("scripts/layout-child.c")
        let out = URL(fileURLWithPath: layoutChildBinaryPath)
        atexit { unlink(layoutChildBinaryPath) }
        let cc: Spawned
        do {
            cc = try Spawn.run("/usr/bin/env", ["cc", "-O1", "-o", out.path, source.path])
        } catch {
            return .failure(LayoutChildError(reason: "cannot run cc: \(error)"))
        }
        guard cc.status == 0 else {
            return .failure(LayoutChildError(reason: "cc failed on scripts/layout-child.c: \(cc.stderr)"))
        }
        return .success(out)
    }()

    init(_ specs: [String]) throws {
        let child = try Spawn.start(try Self.binary.get().path, specs)
        pid = child.pid
        input = child.input
        defer { close(child.output) }
        var lines: [String] = []
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !lines.contains("ready") {
            let n = read(child.output, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                Self.finish(pid, input)
                throw LayoutChildError(reason: "layout-child \(specs) exited before it was ready")
            }
            buffer += chunk[0..<n]
            lines = String(decoding: buffer, as: UTF8.self).split(separator: "\n").map(String.init)
        }
        var found: [String: Mapping] = [:]
        for line in lines where line != "ready" {
            let f = line.split(separator: " ")
            found[String(f[0])] = Mapping(start: UInt64(f[1], radix: 16)!, pages: Int(f[2])!, anonHugeKB: Int(f[3])!)
        }
        mappings = found
    }

    /// Closes the child's stdin (its signal to exit) and waits for it.
    func stop() {
        guard input >= 0 else { return }
        Self.finish(pid, input)
        input = -1
    }

    private static func finish(_ pid: pid_t, _ input: Int32) {
        close(input)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
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
