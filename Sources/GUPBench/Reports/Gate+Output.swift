import Foundation

/// The gate's verdicts as the commands print them: the table after a report (table and
/// markdown), the `baseline` object of its JSON, and the line for standard error. Kept with the
/// other renderers so that every format's text is drawn in Reports/.
extension Gate {
    /// The verdicts alone (`gupbench gate`, `gupbench ab`).
    public var output: TableAndJSON { TableAndJSON(table: { rendered() }, json: { json }) }

    var rule: String {
        "slower/faster = a change significantly beyond \(Fmt.percent(threshold)) (--threshold): p of a change "
            + "within it, Holm-Bonferroni over \(entries.count) scenarios, below family-wise α \(Self.alpha); "
            + "detectable = the least slowdown flagged with \(Fmt.percent(Self.power)) power at this spread"
    }

    /// The verdict with the threshold it was judged against.
    func verdictText(_ e: Entry) -> String {
        switch e.verdict {
        case .slower, .faster: return "\(e.verdict.rawValue) (beyond \(Fmt.percent(threshold)))"
        case .withinNoise: return "within noise (±\(Fmt.percent(threshold)))"
        case .notApplicable: return e.verdict.rawValue
        }
    }

    /// The machine comparison, one line per resource that changed.
    var machineLines: [String] {
        if let machineNote { return [machineNote] }
        if machineChanges.isEmpty { return ["machine: the same host, every calibration within what unchanged machines do"] }
        return ["machine changed (no scenario can be called slower):"] + machineChanges.map { "  \($0)" }
    }

    /// The scenarios whose spread cannot reveal a slowdown of the threshold, and the worst.
    var powerLine: String? {
        let mdc = entries.map(\.minDetectableChange).filter(\.isFinite)
        guard !mdc.isEmpty, let worst = entries.filter({ $0.minDetectableChange.isFinite })
            .max(by: { $0.minDetectableChange < $1.minDetectableChange }) else { return nil }
        return "detectable: median \(Fmt.percent(Statistics.median(mdc))), largest \(Fmt.percent(worst.minDetectableChange)) "
            + "(\(worst.label)); a slowdown between --threshold \(Fmt.percent(threshold)) and a scenario's figure "
            + "can pass as within noise"
    }

    /// The last line: the outcome and why.
    var outcomeLine: String {
        let slower = entries.filter { $0.verdict == .slower }.count
        let faster = entries.filter { $0.verdict == .faster }.count
        var line = "gate: \(slower) slower, \(faster) faster, \(entries.count - slower - faster) unchanged, "
            + "\(unjudged.count) not judged at threshold \(Fmt.percent(threshold))"
        switch outcome {
        case .unchanged: line += ": no change"
        case .slower: line += ": slower (exit 3)"
        case .inconclusive:
            line += machineChanges.isEmpty ? ": inconclusive, not every baseline scenario was judged (exit 4)"
                : ": inconclusive, the machine changed (exit 4)"
        }
        return line
    }

    public func rendered() -> String {
        var table = TextTable(header: ["scenario", "before ns", "now ns", "change [95% CI]", "Holm p", "detectable", "verdict"])
        for e in entries {
            table.add([e.label, Fmt.ns(e.beforeMedian), Fmt.ns(e.nowMedian), Fmt.speedup(e.speedup, e.ci95Low, e.ci95High),
                       Fmt.pValue(e.holmP), Fmt.percent(e.minDetectableChange), verdictText(e)])
        }
        var lines = ["against baseline \(baselinePath) (change = before/now time: above 1 is faster now)"]
        lines += machineLines
        lines.append(rule)
        lines.append(table.rendered())
        if !unjudged.isEmpty {
            lines.append("not judged (\(unjudged.count) of the baseline's \(entries.count + unjudged.count)):")
            lines += unjudged.map { "  \($0.label): \($0.reason)" }
        }
        if !newScenarios.isEmpty {
            lines.append("new, not in the baseline (not judged): \(newScenarios.count) scenarios")
        }
        if let powerLine { lines.append(powerLine) }
        lines.append(outcomeLine)
        return lines.joined(separator: "\n") + "\n"
    }

    /// The one-line message for standard error when the outcome is not "unchanged".
    public var failureMessage: String? {
        switch outcome {
        case .unchanged: return nil
        case .slower: return "slower than baseline \(baselinePath) beyond \(Fmt.percent(threshold)) and noise"
        case .inconclusive where !machineChanges.isEmpty:
            return "inconclusive against baseline \(baselinePath): the machine changed ("
                + machineChanges.map(\.resource).joined(separator: ", ") + ")"
        case .inconclusive:
            return "inconclusive against baseline \(baselinePath): \(unjudged.count) of its scenarios not judged"
        }
    }

    public var json: JSON {
        .object([
            ("path", .string(baselinePath)),
            ("threshold", .num(threshold)),
            ("alpha", .num(Self.alpha)),
            ("correction", .string("holm-bonferroni")),
            ("outcome", .string(outcome.rawValue)),
            ("slower", .int(entries.filter { $0.verdict == .slower }.count)),
            ("machine_changes", .array(machineChanges.map { c in
                .object([("resource", .string(c.resource)), ("before", .string(c.before)), ("now", .string(c.now)),
                         ("ratio", c.ratio.map(JSON.num) ?? .null), ("tolerance", c.tolerance.map(JSON.num) ?? .null)])
            })),
            ("machine_note", machineNote.map(JSON.string) ?? .null),
            ("entries", .array(entries.map { e in
                .object([("scenario", .string(e.identity)), ("before_ns_per_page", .num(e.beforeMedian)),
                         ("now_ns_per_page", .num(e.nowMedian)),
                         ("speedup", .object([("median", .num(e.speedup)), ("ci95_low", .num(e.ci95Low)),
                                              ("ci95_high", .num(e.ci95High))])),
                         ("p_value", .num(e.p)), ("p_holm", .num(e.holmP)), ("verdict", .string(e.verdict.rawValue)),
                         ("min_detectable_change", .num(e.minDetectableChange)),
                         ("dropped_repetitions", .object([("before", .int(e.dropped.before)), ("now", .int(e.dropped.now))]))])
            })),
            ("unjudged", .array(unjudged.map {
                .object([("scenario", .string($0.identity)), ("label", .string($0.label)), ("reason", .string($0.reason))])
            })),
            ("new_scenarios", .array(newScenarios.map(JSON.string))),
        ])
    }
}
