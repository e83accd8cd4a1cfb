import ArgumentParser
import Foundation
import GUPBench

/// `gupbench layout`: capture the folio structure of a live process's memory into a layout
/// file that `compare`, `run` and `sweep` replay with `--layout-file`.
struct LayoutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "layout",
        abstract: "Capture a process's folio layout (orders, partial folios, holes) for --layout-file.",
        discussion: """
            Reads /proc/PID/maps, /proc/PID/pagemap and /proc/kpageflags (root only) and writes \
            the structure alone: no addresses, no PFNs, no contents.
            """)

    @Option(help: "The process to capture.")
    var pid: Int32

    @Option(help: "One mapping: its start address as /proc/PID/maps prints it (0x optional), or its name/path (e.g. [heap]).")
    var vma: String?

    @Option(name: .customLong("min-size"), help: "Without --vma: every anonymous mapping of at least this size.")
    var minSize = "2MiB"

    @Option(help: "Write the layout file (JSON, schema gupbench-layout/1) here.")
    var output: String?

    func validate() throws {
        guard pid > 0 else { throw ValidationError("--pid \(pid) is not a process id; give a positive number") }
        do {
            _ = try ByteSize.parse(minSize, option: "--min-size")
            if let output { try checkWritable(output) }
        } catch let error as GUPBenchError {
            throw ValidationError(error.description)
        }
        if vma != nil && minSize != "2MiB" {
            throw ValidationError("--min-size applies only without --vma; give one of them")
        }
    }

    func run() throws {
        let maps = try ProcMaps.read(pid: pid)
        let chosen = try ProcMaps.select(maps, vma: vma, minSize: try ByteSize.parse(minSize, option: "--min-size"), pid: pid)
        let layout = try LayoutCapture.capture(pid: pid, mappings: chosen)
        var lines = ["gupbench layout: pid \(pid), \(chosen.count) mapping(s)"] + layout.summary.lines
        if let output {
            try layout.write(to: output)
            lines.append("wrote \(output) (sha256 \(SHA256.hex(Array(layout.serialized().utf8))))")
        }
        print(lines.joined(separator: "\n"))
    }
}
