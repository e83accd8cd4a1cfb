import ArgumentParser
import Foundation
import GUPBench

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "The machine's limits: atomic RMW cost, contended atomics, spin lock pairs, descriptor streaming.")

    @Option(name: .customLong("mem-node"), help: "NUMA node of the streamed memory (default: local).")
    var memNode: Int?

    @Option(name: .customLong("cpu-node"), help: "NUMA node of the CPUs (default: the current one).")
    var cpuNode: Int?

    @OptionGroup var report: TableOrJSONOutput

    func validate() throws {
        // The same class as every measuring command: a node number that can never exist is a
        // usage error (2); one this machine lacks is an environment error (1), found in run().
        for (option, node) in [("--mem-node", memNode), ("--cpu-node", cpuNode)] {
            if let node, !(0...4095).contains(node) {
                throw ValidationError("\(option) \(node) is out of range; valid: 0-4095")
            }
        }
    }

    func run() throws {
        let topology = Topology.read()
        var config = BenchConfig()
        config.memNodes = [memNode]
        config.cpuNodes = [cpuNode]
        try config.validate(on: topology)
        let cpuNode = self.cpuNode ?? topology.localNode
        let cpus = Array((topology.node(cpuNode)?.cpus ?? []).prefix(2))
        let c = try Calibration.measure(topology: topology, memNode: memNode ?? cpuNode, cpus: cpus)
        let saved = Report(command: "calibrate", topology: topology, calibration: c)
        func line(_ label: String, _ figure: CalibrationFigure, _ unit: String) -> String {
            guard let value = c[figure] else { return "  \(label)- (one CPU)" }
            let range = c.spread[figure].map { "  [\(Fmt.ns($0.lowerBound))-\(Fmt.ns($0.upperBound))]" } ?? ""
            return "  \(label)\(Fmt.ns(value)) \(unit)\(range)"
        }
        try report.emit(table: """
            gupbench calibrate: CPUs \(cpus.map(String.init).joined(separator: ",")) of node \(cpuNode), memory on node \(memNode ?? cpuNode); lowest of \(c.samples) calibrations (contended: median) [range]
            \(line("atomic RMW, private line        ", .atomic, "ns"))
            \(line("atomic RMW, contended (\(cpus.count) CPUs)  ", .contendedAtomic, "ns per op per thread"))
            \(line("descriptor stream, in cache     ", .streamInCache, "ns per 64-byte descriptor"))
            \(line("descriptor stream, beyond LLC   ", .stream, "ns per 64-byte descriptor"))
            \(line("dependent load, in cache        ", .latencyInCache, "ns per descriptor"))
            \(line("dependent load, beyond LLC      ", .latency, "ns per descriptor"))
              spin lock + unlock, one CPU     \(c.lockPairNs.map { Fmt.ns($0) + " ns" } ?? "-")
              spin lock + unlock, contended   \(c.contendedLockPairNs.map { Fmt.ns($0) + " ns per handoff (\(min(cpus.count, 2)) CPUs in turn)" } ?? "- (one CPU)")
              LLC                             \(ByteSize.format(c.llcBytes))
            """ + (c.rejectedContended > 0 ? "\n  \(c.rejectedContended) contended figure(s) came out below the uncontended one and were measured again" : "") + "\n",
            json: saved.json())
    }
}
