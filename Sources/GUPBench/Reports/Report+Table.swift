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
    func varyingLabels() -> [ScenarioField] {
        let scenarios = rows.map(\.scenario)
        return ScenarioKey.fields.filter { f in
            f.key != "folio_order_forced" && (f.alwaysShown || Set(scenarios.map(f.text)).count > 1)
        }
    }

    /// Scenario fields that are the same in every row, as "name value" for the title.
    func fixedLabels() -> [String] {
        let varying = Set(varyingLabels().map(\.key))
        guard let s = rows.first?.scenario else { return [] }
        return ScenarioKey.fields.filter { !varying.contains($0.key) && $0.key != "folio_order_forced" }
            .compactMap { f -> String? in
                switch f.key {
                case "size_bytes": return f.text(s)
                case "folio_order": return s.forcedOrder ? "folio order \(f.text(s))" : nil  // from the backing otherwise
                case "mem_node", "cpu_node", "mem_policy": return nil  // in the placement column and footer
                case "last_ref": return s.lastRef ? "last reference (frees)" : nil
                case "layout_file_sha256": return s.layoutDigest == nil ? nil : "\(f.label) \(f.text(s))"
                default: return "\(f.label) \(f.text(s))"
                }
            }
    }

    /// Swift and C loops of the same strategies, as the default run has them: the C loops are
    /// the reference ("is Swift leaving time on the table?"), shown as swift÷c time ratios in a
    /// table of their own, and the compare table is the Swift loops'.
    var cReference: Bool { Set(results.map(\.impl)) == [.swift, .c] }

    /// Column label for a loop: the strategy, plus the impl and the detection mode when more
    /// than one of them was run.
    func label(_ key: LoopKey) -> String {
        var text = key.strategy.rawValue
        if Set(results.map(\.impl)).count > 1 && !cReference { text += "/" + key.impl.rawValue }
        if Set(results.map(\.detect)).count > 1 { text += "/" + key.detect.rawValue }
        return text
    }

    /// The label with the impl whenever more than one impl ran (footer lines name one loop).
    func fullLabel(_ key: LoopKey) -> String {
        cReference ? label(key) + "/" + key.impl.rawValue : label(key)
    }

    func comparisonLabel(_ c: ComparisonRecord) -> String {
        if c.baseline.detect != c.candidate.detect {
            return "\(c.candidate.detect.rawValue)÷off time \(c.candidate.strategy.shortName)"
                + (Set(results.map(\.impl)).count > 1 ? " (\(c.candidate.impl.rawValue))" : "")
        }
        if c.baseline.strategy == c.candidate.strategy {
            return "\(c.candidate.impl.rawValue)÷\(c.baseline.impl.rawValue) time \(c.candidate.strategy.shortName)"
        }
        let impl = Set(results.map(\.impl)).count > 1 && !cReference ? " (\(c.candidate.impl.rawValue))" : ""
        return "\(c.candidate.strategy.shortName) vs \(c.baseline.strategy.shortName)\(impl)"
    }

    /// ns per page per loop, speedups with CIs, THP, placement and audit, a row per scenario.
    public func compareTable() -> TextTable {
        let labels = varyingLabels()
        // With the C reference, the Swift loops and their comparisons; the ratios go to cTable().
        let loops = uniqueValues(results.map(\.key)).filter { !cReference || $0.impl == .swift }
        let shown = comparisons.filter { !cReference || ($0.baseline.impl == .swift && $0.candidate.impl == .swift) }
        let comparisonKinds = uniqueValues(shown.map(comparisonLabel))
        var header = labels.map(\.label) + loops.map(label)
        header += comparisonKinds + ["THP", "folios", "placed", "audit"]
        var table = TextTable(header: header, labelColumns: labels.count)
        for row in rows {
            var cells = labels.map { $0.text(row.scenario) }
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
            // Pages in verified folios of the order the backing asks for, and that order.
            cells.append("\(Fmt.percent(first.folioBackedFraction)) o\(first.scenario.backing.requestedOrder)")
            let node = first.placement.requestedNode.map { "n\($0)" } ?? "all"
            cells.append("\(Fmt.percent(first.placement.verifiedFraction)) \(node)")
            cells.append(row.results.allSatisfy(\.balanced) ? "ok" : "FAILED")
            table.add(cells)
        }
        return table
    }

    /// "7.15 (43%)": median ns per page, `~` when noisy, and the efficiency (floor ÷ measured,
    /// unclamped); "(beats floor: lines)" when the result is below its floor beyond its CI,
    /// naming the resource whose calibration is not the fastest way.
    static func costCell(_ r: ResultRecord) -> String {
        let ns = (r.noisy ? "~" : "") + Fmt.ns(r.nsPerPage.median)
        if r.beatsFloor, let bound = r.floors?.bound { return ns + " (beats floor: " + bound.rawValue + ")" }
        return r.efficiency.map { ns + " (" + Fmt.percent($0.median) + ")" } ?? ns
    }

    /// A speedup with its CI and its verdict; an implementation pair shows the time ratio
    /// instead (swift÷c time 1.03x = the Swift loop takes 3% longer), the inverse of its speedup.
    static func comparisonCell(_ c: ComparisonRecord) -> String {
        if c.verdict == .notApplicable { return Fmt.ratio(c.speedup) + "x " + c.verdict.mark }
        if c.baseline.strategy == c.candidate.strategy {  // impl or detection pair: a time ratio
            return Fmt.speedup(1 / c.speedup, 1 / c.ci95High, 1 / c.ci95Low)
        }
        return Fmt.speedup(c.speedup, c.ci95Low, c.ci95High) + " " + c.verdict.mark
    }

    /// The words above the table: what was run and how to read it.
    public func title() -> String {
        guard let partial else { return completeTitle() }
        return "PARTIAL REPORT: \(partial)\n" + completeTitle()
    }

    private func completeTitle() -> String {
        guard let r = results.first else { return "gupbench \(command): no results" }
        var fixed = fixedLabels()
        if Set(results.map(\.impl)).count == 1 { fixed.append("impl \(r.impl.rawValue)") }
        fixed.append("\(r.repetitions) reps")
        return "gupbench \(command): " + fixed.joined(separator: ", ")
            + "\nmedian ns per 4 KiB page per thread (efficiency = floor/measured); speedup ="
            + " baseline/candidate time with 95% CI, ≈ = within noise; ~ = noisy (CV > 10% or threads"
            + " overlapped < 90%)\n\(r.repetitions) repetitions in \(r.nsPerPageRounds.rounds.count) round(s), each on a"
            + " freshly mapped region; CIs cover rounds and repetitions (hierarchical bootstrap); "
            + windowsLine()
    }

    /// "each sample 1-120 windows of release (at least 1ms)".
    func windowsLine() -> String {
        let w = results.map(\.windowsPerSample)
        let range = w.min() == w.max() ? "\(w.min() ?? 1)" : "\(w.min() ?? 1)-\(w.max() ?? 1)"
        return "each sample \(range) window(s) of release" + (minTimeNs > 0 ? " (at least \(DurationText.format(minTimeNs)))" : "")
    }

    public func footer() -> String {
        var lines: [String] = []
        lines.append("machine: \(topology.cpuModel), \(topology.allowedCPUs.count) CPUs, "
            + "\(topology.nodes.count) NUMA node(s), LLC \(ByteSize.format(topology.llcBytes)), "
            + "THP \(topology.thpMode), kernel \(topology.kernel)")
        let cpus = Set(results.map { $0.cpus.map(String.init).joined(separator: ",") })
        lines.append("threads ran on CPUs: " + cpus.sorted().joined(separator: " | "))
        if let c = calibration {
            lines.append(Self.calibrationLine(c) + lockCalibration(c))
        }
        // One line, not one per result: the table marks each with ~, and `run` and the JSON
        // (noise_reasons) give every reason.
        let noisy = results.filter(\.noisy)
        if !noisy.isEmpty {
            let cv = noisy.filter { $0.nsPerPage.noisy }.count
            let apart = noisy.count - noisy.filter { $0.noiseReasons.allSatisfy { $0.hasPrefix("CV") } }.count
            lines.append("noisy (~): \(noisy.count) of \(results.count) results: \(cv) with a CV over "
                + "\(Fmt.percent(Summary.noisyCV)), \(apart) whose threads ran together for under "
                + "\(Fmt.percent(ThreadOverlap.noisyBelow)) of the section (reasons per result: --format json, noise_reasons)")
        }
        for r in results where r.beatsFloor {
            let f = r.floors!.binding!
            lines.append("floor not a lower bound: \(fullLabel(r.key)) \(r.scenario.backing.rawValue) "
                + "\(r.scenario.threads) thread(s) measured \(Fmt.ns(r.nsPerPage.median)) [\(Fmt.ns(r.nsPerPage.ci95Low))-"
                + "\(Fmt.ns(r.nsPerPage.ci95High))] ns/page under its \(f.resource.rawValue) floor of \(Fmt.ns(f.nsPerPage)); "
                + "\(f.calibration) is not the fastest way to do that")
        }
        for r in results where !r.balanced {
            lines.append("AUDIT FAILED: \(r.strategy.rawValue)/\(r.impl.rawValue) \(r.scenario.backingLabel) "
                + "\(r.scenario.threads) threads: \(r.auditDetail ?? "")")
        }
        for s in uniqueValues(skipped) { lines.append("note: " + s) }
        if let layoutFile { lines += layoutFile.reportLines }
        return lines.joined(separator: "\n")
    }

    /// "calibration (ns, lowest of 4 [range]): atomic 2.87 [2.87-3.10], ..."
    static func calibrationLine(_ c: CalibrationFigures) -> String {
        func term(_ label: String, _ figure: CalibrationFigure) -> String? {
            guard let value = c[figure] else { return nil }
            let range = c.spread[figure].map { c.samples > 1 ? " [\(Fmt.ns($0.lowerBound))-\(Fmt.ns($0.upperBound))]" : "" } ?? ""
            return "\(label) \(Fmt.ns(value))\(range)"
        }
        let parts = CalibrationFigure.allCases.compactMap { f in f.summaryLabel.flatMap { term($0, f) } }
        var line = "calibration (ns, lowest of \(c.samples) [range]; contended: median): " + parts.joined(separator: ", ")
        if c.rejectedContended > 0 {
            line += "; \(c.rejectedContended) contended figure(s) below the uncontended one rejected and repeated"
        }
        return line
    }

    /// `compare`'s table: the compare table, the swift÷c ratios and the locks between title and footer.
    func renderTable() -> String {
        let locks = lockTable().map { "\n\n" + $0.rendered() } ?? ""
        let c = cTable().map { "\n\nswift÷c time (the C loop as reference; 1.00x = as fast, above = Swift slower):\n"
            + $0.rendered() } ?? ""
        return textPage(compareTable().rendered() + c + locks)
    }

    /// The title, a body of tables, and the footer: the page of every plain-text view but `run`'s.
    func textPage(_ body: String) -> String {
        title() + "\n\n" + body + "\n\n" + footer() + "\n"
    }

    /// With the C reference: swift÷c time per strategy with its 95% CI, a row per scenario.
    public func cTable() -> TextTable? {
        guard cReference else { return nil }
        let labels = varyingLabels()
        let strategies = uniqueValues(results.map(\.strategy.rawValue))
        var table = TextTable(header: labels.map(\.label) + strategies, labelColumns: labels.count)
        for row in rows {
            var cells = labels.map { $0.text(row.scenario) }
            for name in strategies {
                let pair = row.comparisons.first {
                    $0.baseline.strategy.rawValue == name && $0.candidate.strategy.rawValue == name
                        && $0.baseline.impl != $0.candidate.impl && $0.baseline.detect == $0.candidate.detect
                }
                cells.append(pair.map(Self.comparisonCell) ?? "-")
            }
            table.add(cells)
        }
        return table
    }

    /// The lock figures, only when something was freed (--last-ref).
    func lockCalibration(_ c: CalibrationFigures) -> String {
        guard results.contains(where: { $0.locksPerPage != nil }), let pair = c.lockPairNs else { return "" }
        return String(format: ", lock pair %.2f ns", pair)
            + (c.contendedLockPairNs.map { String(format: ", lock handoff %.1f ns", $0) } ?? "")
    }

    /// --last-ref: the work per page behind each time — atomics, out-of-line calls (the free
    /// path's, FreePathCalls, among them), and the locks of the free path (lruvec, pcp, zone) — one
    /// row per scenario and loop; nil when nothing was freed.
    public func lockTable() -> TextTable? {
        let freeing = results.filter { $0.locksPerPage != nil }
        guard !freeing.isEmpty else { return nil }
        let labels = varyingLabels()
        var table = TextTable(header: labels.map(\.label) + ["loop", "atomics/page", "calls/page", "lruvec locks/page",
                                                             "pcp locks/page", "zone locks/page"],
                              labelColumns: labels.count + 1)
        for r in freeing {
            let l = r.locksPerPage!
            let numbers = [r.atomicsPerPage, r.kernelCallsPerPage?.calls ?? 0, l.lruvec, l.pcp, l.zone]
                .map { String(format: "%.4g", $0) }
            table.add(labels.map { $0.text(r.scenario) } + [fullLabel(r.key)] + numbers)
        }
        return table
    }
}
