/// The matrix a command runs: every list option of the measuring commands, expanded as a cross product.
public struct BenchConfig: Sendable {
    public var sizes: [Int] = [1 << 30]
    public var backings: [Backing] = [.fourK, .thp]
    /// nil = the order the verified backing gives.
    public var folioOrders: [Int?] = [nil]
    /// Empty = `1,<all CPUs of the CPU node>`.
    public var threads: [Int] = []
    public var sharings: [Sharing] = [.disjoint]
    public var layouts: [Layout] = [.sequential]
    /// nil = local (the node of the threads).
    public var memNodes: [Int?] = [nil]
    /// nil = the node this process runs on.
    public var cpuNodes: [Int?] = [nil]
    public var memPolicies: [MemPolicy] = [.bind]
    public var dirties: [DirtyMode] = [.none]
    /// nil = the whole share in one call.
    public var batches: [Int?] = [nil]
    public var strategies: [Strategy] = Strategy.defaultSet
    /// Swift (the product) and C (its reference, so swift÷c is in every default report).
    public var impls: [Impl] = [.swift, .c]
    public var detects: [DetectMode] = [.off]
    /// --last-ref: the mapping's reference is dropped before each timed release, so the release
    /// frees every folio (docs/last-reference.md).
    public var lastRef = false
    /// How the out-of-line release calls return; each is a scenario dimension.
    public var mitigations: [Mitigations] = [.off]
    public var repetitions = BenchConfig.defaultRepetitions
    /// Untimed repetitions at the start of every round.
    public var warmup = 1
    /// `--layout-file`: replay a captured layout instead of uniform memory (see `replay(_:)`).
    public var layoutFile: LayoutFile?
    /// `--layout pfn` lays each round's folios out on these page frames, per backing, instead of
    /// the round's own region's: `gupbench kernel` passes the frames of the region the kernel
    /// pinned, so its same loop walks descriptors spaced exactly as the kernel's were. Not a
    /// command-line option.
    public var framePfns: [Backing: [UInt64]] = [:]
    /// `gupbench kernel` holds its own region of each backing beside the model's, pinned and
    /// released in turn with the same loop's samples (KernelCompanion): counted in the memory
    /// budget. Not a command-line option.
    public var kernelRegionsBeside = false
    /// Rounds the repetitions are spread over, each on freshly mapped regions (Experiment).
    public var rounds = BenchConfig.defaultRounds
    /// The strategy whose one-thread loops also time the release of their first entry alone
    /// (ReleaseRunner.firstEntrySample): `gupbench kernel`'s same loop, for its fixed cost.
    public var firstEntryAloneOf: Strategy?
    /// The least timed release a sample adds up, in windows of pin (untimed) + release (timed):
    /// `--min-time` (Runner.windows).
    public var minTimeNs = BenchConfig.defaultMinTimeNs

    /// Chosen from measurements on this project's 2-CPU machine (docs/floors.md): one 1 GiB
    /// 4k release takes about 1-2 ms, a THP one 10-500 us, and the THP rows' spread fell to the
    /// 4k rows' once their samples lasted as long.
    public static let defaultMinTimeNs = 1e6

    /// Chosen on this project's 2-CPU shared machine (docs/gate.md): each round maps, faults
    /// in and verifies every region again (about 5 s of CPU for the default 2 GiB), so five
    /// rounds took the default run past 30 s; three keep it under, and give the hierarchical
    /// bootstrap three region/moment draws per side.
    public static let defaultRounds = 3

    /// Ten per round. A repetition of the default matrix costs about a millisecond per loop
    /// (the grab and audit around it about as much), a round's mapping seconds: so the
    /// repetitions are cheap, and ten per round keep one descheduled repetition from moving a
    /// round's median (with three or four per round it did, and a 33% regression went
    /// unnoticed on a loaded machine; docs/gate.md).
    public static let defaultRepetitions = 30

    /// Timed repetitions of each round: `repetitions` spread as evenly as they go, never more
    /// rounds than repetitions.
    public var repetitionsPerRound: [Int] {
        let n = max(1, min(rounds, repetitions))
        return (0..<n).map { repetitions / n + ($0 < repetitions % n ? 1 : 0) }
    }

    public init() {}

    /// Checks the matrix against this machine: nodes that exist, enough CPUs, enough memory.
    /// Usage errors (exit 2) are caught earlier, when options are parsed.
    public func validate(on topology: Topology) throws {
        func checkNode(_ node: Int, option: String, needsCPUs: Bool) throws {
            let valid = topology.nodes.filter { needsCPUs ? !$0.cpus.isEmpty : $0.hasMemory }
                .map { String($0.id) }.joined(separator: ", ")
            guard let n = topology.node(node), needsCPUs ? !n.cpus.isEmpty : n.hasMemory else {
                let what = needsCPUs ? "with CPUs" : "with memory"
                throw GUPBenchError.environment(
                    "\(option) \(node): no such NUMA node \(what) on this machine; valid: \(valid)")
            }
        }
        for node in memNodes.compactMap({ $0 }) { try checkNode(node, option: "--mem-node", needsCPUs: false) }
        for node in cpuNodes.compactMap({ $0 }) { try checkNode(node, option: "--cpu-node", needsCPUs: true) }
        for cpuNode in cpuNodes {
            let node = cpuNode ?? topology.localNode
            let available = topology.node(node)?.cpus.count ?? 0
            for t in threads where t > available {
                throw GUPBenchError.environment(
                    "--threads \(t): node \(node) has only \(available) CPUs this process may use, "
                    + "and each thread needs its own; valid: 1-\(available)")
            }
        }
        for size in sizes {
            for backing in backings where size % backing.sizeUnit != 0 {
                let which = backing == .thp || backing == .hugetlb ? "--backing thp and hugetlb need"
                    : "the \(backing.rawValue) folios of --backing \(backing.rawValue) need"
                throw GUPBenchError.usage(
                    "--size \(ByteSize.format(size)) is not a multiple of "
                    + "\(ByteSize.format(backing.sizeUnit)), which \(which)")
            }
        }
        // A size the kernel will not give: exit 1 with the sysfs commands, before any mapping.
        for backing in backings {
            if let problem = backing.environmentProblem() { throw GUPBenchError.environment(problem) }
        }
        // Against what is available now, not MemTotal: the data is faulted in at once, and a
        // size the machine cannot hold would end in the OOM killer rather than an error.
        try MemoryBudget.read().check(sizes: sizes, backings: backings, shape: memoryShape,
                                      calibrationBytes: Calibrator.chaseBufferBytes(llcBytes: topology.llcBytes))
    }

    /// What this matrix does that changes the memory it holds per page (MemoryBudget.Shape).
    public var memoryShape: MemoryBudget.Shape {
        MemoryBudget.Shape(
            scattered: layoutFile != nil || sharings.contains(.interleaved) || layouts.contains { $0 != .sequential },
            ledger: detects.contains(.ledger), lastRef: lastRef, frameSpaced: layouts.contains(.pfn),
            heldBeside: kernelRegionsBeside ? backings : [])
    }

    /// Threads for a CPU node: the option's list, or 1 and all of the node's CPUs.
    func threadCounts(cpuNodeCPUs: Int) -> [Int] {
        if !threads.isEmpty { return threads }
        return cpuNodeCPUs > 1 ? [1, cpuNodeCPUs] : [1]
    }
}
