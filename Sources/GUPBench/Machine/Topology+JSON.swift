extension Topology {
    public var json: JSON {
        .object([
            ("cpu_model", .string(cpuModel)),
            ("kernel", .string(kernel)),
            ("numa_available", .bool(numaAvailable)),
            ("cpus", .array(allowedCPUs.map(JSON.int))),
            ("nodes", .array(nodes.map { n in
                .object([
                    ("id", .int(n.id)), ("cpus", .array(n.cpus.map(JSON.int))),
                    ("memory_bytes", .int(Int(n.memoryBytes))), ("free_bytes", .int(Int(n.freeBytes))),
                    ("has_memory", .bool(n.hasMemory)),
                ])
            })),
            ("distances", .array(distances.map { .array($0.map(JSON.int)) })),
            ("llc_bytes", .int(llcBytes)),
            ("thp_mode", .string(thpMode)),
            ("hugepages_total", .int(hugePagesTotal)),
            ("hugepages_free", .int(hugePagesFree)),
            ("hugepage_bytes", .int(hugePageBytes)),
        ])
    }
}
