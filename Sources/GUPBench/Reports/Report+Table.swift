import Foundation

extension Report {
    /// The rows of the compare table: one per scenario (everything but strategy and impl).
    struct Row {
        let scenario: ScenarioKey
        let results: [ResultRecord]
        let comparisons: [ComparisonRecord]
    }

    var rows: [Row] {
        var order: [ScenarioKey] = []
        var byScenario: [ScenarioKey: [ResultRecord]] = [:]
        for r in results {
            if byScenario[r.scenario] == nil { order.append(r.scenario) }
            byScenario[r.scenario, default: []].append(r)
        }
        return order.map { s in
            Row(scenario: s, results: byScenario[s]!, comparisons: comparisons.filter { $0.scenario == s })
        }
    }

    /// Scenario fields that differ between rows: they label the rows; the rest go in the title.
    func varyingLabels() -> [(name: String, value: (ScenarioKey) -> String)] {
        let candidates: [(String, (ScenarioKey) -> String)] = [
            ("size", { ByteSize.format($0.size) }),
            ("backing", { $0.backing.rawValue }),
            ("order", { String($0.folioOrder) }),
            ("threads", { String($0.threads) }),
            ("sharing", { $0.sharing.rawValue }),
            ("layout", { $0.layout.rawValue }),
            ("dirty", { $0.dirty.rawValue }),
            ("batch", { $0.batch.map(String.init) ?? "whole" }),
            ("mem", { $0.memNode.map(String.init) ?? "all" }),
            ("cpu", { String($0.cpuNode) }),
            ("policy", { $0.memPolicy.rawValue }),
        ]
        let scenarios = rows.map(\.scenario)
        let always: Set = ["backing", "threads"]
        return candidates.filter { c in always.contains(c.0) || Set(scenarios.map(c.1)).count > 1 }
    }

    /// Column label for a loop: the strategy, plus the impl and the detection mode when more
    /// than one of them was run.
    func label(_ key: LoopKey) -> String {
        var text = key.strategy.rawValue
        if Set(results.map(\.impl)).count > 1 { text += "/" + key.impl.rawValue }
        if Set(results.map(\.detect)).count > 1 { text += "/" + key.detect.rawValue }
        return text
    }

    static func short(_ s: Strategy) -> String { s.shortName }

    func comparisonLabel(_ c: ComparisonRecord) -> String {
        if c.baseline.detect != c.candidate.detect {
            return "\(c.candidate.detect.rawValue)÷off time \(Self.short(c.candidate.strategy))"
                + (Set(results.map(\.impl)).count > 1 ? " (\(c.candidate.impl.rawValue))" : "")
        }
        if c.baseline.strategy == c.candidate.strategy {
            return "\(c.candidate.impl.rawValue)÷\(c.baseline.impl.rawValue) time \(Self.short(c.candidate.strategy))"
        }
        let impl = Set(results.map(\.impl)).count > 1 ? " (\(c.candidate.impl.rawValue))" : ""
        return "\(Self.short(c.candidate.strategy)) vs \(Self.short(c.baseline.strategy))\(impl)"
    }

    /// ns per page per loop, speedups with CIs, THP, placement and audit, a row per scenario.
    public func compareTable() -> TextTable {
        let labels = varyingLabels()
        let loops = uniqueKeys(results.map(\.key))
        let comparisonKinds = uniqueStrings(comparisons.map(comparisonLabel))
        var header = labels.map(\.name) + loops.map(label)
        header += comparisonKinds + ["THP", "placed", "audit"]
        var table = TextTable(header: header, labelColumns: labels.count)
        for row in rows {
            var cells = labels.map { $0.value(row.scenario) }
            for key in loops {
                let r = row.results.first { $0.key == key }
                cells.append(r.map(Self.costCell) ?? "-")
            }
            for kind in comparisonKinds {
                let c = row.comparisons.first { comparisonLabel($0) == kind }
                cells.append(c.map(Self.comparisonCell) ?? "-")
            }
            let first = row.results.first!
            cells.append(Fmt.percent(first.thpBackedFraction))
            let node = first.placement.requestedNode.map { "n\($0)" } ?? "all"
            cells.append("\(Fmt.percent(first.placement.verifiedFraction)) \(node)")
            cells.append(row.results.allSatisfy(\.balanced) ? "ok" : "FAILED")
            table.add(cells)
        }
        return table
    }

    /// "7.15 (43%)": median ns per page, `~` when noisy, and the efficiency against the roofline.
    static func costCell(_ r: ResultRecord) -> String {
        let ns = (r.nsPerPage.noisy ? "~" : "") + Fmt.ns(r.nsPerPage.median)
        return r.efficiency.map { ns + " (" + Fmt.percent($0) + ")" } ?? ns
    }

    /// A speedup with its CI; an implementation pair shows the time ratio instead (swift÷c time
    /// 1.03x = the Swift loop takes 3% longer), the inverse of its speedup.
    static func comparisonCell(_ c: ComparisonRecord) -> String {
        if c.baseline.strategy == c.candidate.strategy {  // impl or detection pair: a time ratio
            return Fmt.speedup(1 / c.speedup, 1 / c.ci95High, 1 / c.ci95Low)
        }
        return Fmt.speedup(c.speedup, c.ci95Low, c.ci95High) + mark(c.verdict)
    }

    static func mark(_ v: Verdict) -> String {
        switch v {
        case .faster: return ""
        case .slower: return " slower"
        case .withinNoise: return " ≈"
        }
    }

    /// The words above the table: what was run and how to read it.
    public func title() -> String {
        let labels = Set(varyingLabels().map(\.name))
        guard let s = results.first?.scenario, let r = results.first else {
            return "gupbench \(command): no results"
        }
        var fixed: [String] = []
        if !labels.contains("size") { fixed.append(ByteSize.format(s.size)) }
        if !labels.contains("sharing") { fixed.append("sharing \(s.sharing.rawValue)") }
        if !labels.contains("layout") { fixed.append("layout \(s.layout.rawValue)") }
        if !labels.contains("dirty") { fixed.append("dirty \(s.dirty.rawValue)") }
        if !labels.contains("batch") { fixed.append("batch \(s.batch.map(String.init) ?? "whole")") }
        if Set(results.map(\.impl)).count == 1 { fixed.append("impl \(r.impl.rawValue)") }
        fixed.append("\(r.repetitions) reps")
        return "gupbench \(command): " + fixed.joined(separator: ", ")
            + "\nmedian ns per 4 KiB page per thread (efficiency = roofline/measured); speedup ="
            + " baseline/candidate time with 95% CI, ≈ = within noise; ~ = noisy (CV > 10%)"
    }

    public func footer() -> String {
        var lines: [String] = []
        lines.append("machine: \(topology.cpuModel), \(topology.allowedCPUs.count) CPUs, "
            + "\(topology.nodes.count) NUMA node(s), LLC \(ByteSize.format(topology.llcBytes)), "
            + "THP \(topology.thpMode), kernel \(topology.kernel)")
        let cpus = Set(results.map { $0.cpus.map(String.init).joined(separator: ",") })
        lines.append("threads ran on CPUs: " + cpus.sorted().joined(separator: " | "))
        if let c = calibration {
            lines.append(String(format: "calibration: atomic %.2f ns, descriptor stream %.2f ns (in cache %.2f)",
                                c.atomicNs, c.streamNsPerDescriptor, c.streamNsPerDescriptorInCache)
                + (c.contendedAtomicNs.map { String(format: ", contended atomic %.1f ns", $0) } ?? ""))
        }
        for r in results where !r.balanced {
            lines.append("AUDIT FAILED: \(r.strategy.rawValue)/\(r.impl.rawValue) \(r.scenario.backing.rawValue) "
                + "\(r.scenario.threads) threads: \(r.auditDetail ?? "")")
        }
        for s in uniqueStrings(skipped) { lines.append("note: " + s) }
        return lines.joined(separator: "\n")
    }

    public func renderTable() -> String {
        title() + "\n\n" + compareTable().rendered() + "\n\n" + footer() + "\n"
    }

    public func renderMarkdown() -> String {
        "**" + title().replacingOccurrences(of: "\n", with: "**  \n") + "\n\n"
            + compareTable().markdown() + "\n" + footer().split(separator: "\n").map { "- " + $0 }.joined(separator: "\n") + "\n"
    }

    public static let csvHeader = [
        "strategy", "impl", "backing", "folio_order", "size_bytes", "threads", "sharing", "layout",
        "dirty", "batch", "mem_node", "cpu_node", "mem_policy", "pages", "repetitions",
        "ns_per_page_median", "ns_per_page_min", "ns_per_page_max", "ns_per_page_ci95_low",
        "ns_per_page_ci95_high", "ns_per_page_cv", "pages_per_second_median", "atomics_per_page",
        "roofline_ns_per_page", "efficiency", "thp_backed_fraction", "verified_fraction",
        "audit_balanced", "pins_acquired", "pins_released", "cpus",
    ]

    /// One line per result, the columns of `csvHeader`.
    public func renderCSV() -> String {
        func num(_ x: Double?) -> String { x.map { $0.isFinite ? String(format: "%.6g", $0) : "" } ?? "" }
        var lines = [Self.csvHeader.joined(separator: ",")]
        for r in results {
            let s = r.scenario
            let identity: [String] = [
                r.strategy.rawValue, r.impl.rawValue, s.backing.rawValue, String(s.folioOrder),
                String(s.size), String(s.threads), s.sharing.rawValue, s.layout.rawValue,
                s.dirty.rawValue, String(s.batchPages(pagesPerThread: r.pagesPerThread)),
                s.memNode.map(String.init) ?? "", String(s.cpuNode), s.memPolicy.rawValue,
                String(r.pages), String(r.repetitions),
            ]
            let timing: [String] = [
                num(r.nsPerPage.median), num(r.nsPerPage.min), num(r.nsPerPage.max),
                num(r.nsPerPage.ci95Low), num(r.nsPerPage.ci95High), num(r.nsPerPage.cv),
                num(r.pagesPerSecond), num(r.atomicsPerPage), num(r.rooflineNsPerPage),
                num(r.efficiency),
            ]
            let cpuList = r.cpus.map(String.init).joined(separator: " ")
            let checks: [String] = [
                num(r.thpBackedFraction), num(r.placement.verifiedFraction),
                r.balanced ? "true" : "false", String(r.pinsAcquired), String(r.pinsReleased),
                "\"" + cpuList + "\"",
            ]
            lines.append((identity + timing + checks).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public func render(_ format: OutputFormat) -> String {
        switch format {
        case .table: return renderTable()
        case .markdown: return renderMarkdown()
        case .csv: return renderCSV()
        case .json: return json().serialized() + "\n"
        }
    }
}
