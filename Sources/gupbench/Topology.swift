import ArgumentParser
import Foundation
import GUPBench

struct TopologyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "NUMA nodes, CPUs, memory, distances, LLC, THP and hugetlb state.")

    @OptionGroup var report: TableOrJSONOutput

    func run() throws {
        let t = Topology.read()
        try report.emit(table: Self.table(t) + "\n", json: t.json)
    }

    static func table(_ t: Topology) -> String {
        var nodes = TextTable(header: ["node", "cpus", "memory", "free"])
        for n in t.nodes {
            nodes.add(["\(n.id)", n.cpus.map(String.init).joined(separator: ","),
                       n.memoryBytes > 0 ? ByteSize.format(Int(n.memoryBytes / (1 << 20)) << 20) : "-",
                       n.freeBytes >= 0 ? ByteSize.format(Int(n.freeBytes / (1 << 20)) << 20) : "-"])
        }
        var distances = TextTable(header: ["distance"] + t.nodes.map { "n\($0.id)" })
        for (i, n) in t.nodes.enumerated() {
            distances.add(["n\(n.id)"] + t.distances[i].map(String.init))
        }
        return """
            \(t.cpuModel), kernel \(t.kernel)
            NUMA \(t.numaAvailable ? "available" : "not available (one node assumed)"), \
            \(t.nodes.count) node(s), \(t.allowedCPUs.count) CPUs allowed

            \(nodes.rendered())

            \(distances.rendered())

            LLC: \(ByteSize.format(t.llcBytes))
            THP: \(t.thpMode)
            hugetlb: \(t.hugePagesTotal) reserved, \(t.hugePagesFree) free, \(ByteSize.format(t.hugePageBytes)) each
            """
    }
}
