import Foundation

extension Report {
    /// Rows per (backing, strategy, impl[, threads]) and value, with a bar per row scaled to the
    /// slowest. Thread sweeps add the aggregate rate and the linear-scaling figure beside it;
    /// other sweeps that ran more than one thread count get a threads column, so no two rows
    /// look alike.
    public func sweepTable(_ param: SweepParam, bars: Bool = true) -> TextTable {
        let slowest = results.map(\.nsPerPage.median).filter(\.isFinite).max() ?? 1
        let threadSweep = param == .threads
        let threadColumn = !threadSweep && Set(results.map(\.scenario.threads)).count > 1
        var header = ["backing", "strategy"] + (threadColumn ? ["threads"] : [])
        header += [param.rawValue, "ns/page (eff)", "95% CI"]
        if threadSweep { header += ["pages/s", "linear", "scaling"] }
        header += ["vs unpin-each"] + (bars ? [""] : [])
        var table = TextTable(header: header, labelColumns: threadColumn ? 3 : 2)
        func group(_ r: ResultRecord) -> String {
            "\(r.scenario.backingLabel) \(label(r.key))" + (threadColumn ? " t\(r.scenario.threads)" : "")
        }
        var groups: [String] = []
        for r in results where !groups.contains(group(r)) { groups.append(group(r)) }
        for g in groups {
            let rs = results.filter { group($0) == g }
            let one = rs.first { $0.scenario.threads == 1 }
            for (k, r) in rs.enumerated() {
                var cells = [k == 0 ? r.scenario.backingLabel : "", k == 0 ? label(r.key) : ""]
                if threadColumn { cells.append(k == 0 ? String(r.scenario.threads) : "") }
                cells += [param.format(param.value(of: r)), Self.costCell(r),
                          "\(Fmt.ns(r.nsPerPage.ci95Low))-\(Fmt.ns(r.nsPerPage.ci95High))"]
                if threadSweep {
                    let linear = one.map { $0.pagesPerSecond * Double(r.scenario.threads) }
                    cells += [Fmt.rate(r.pagesPerSecond), linear.map(Fmt.rate) ?? "-",
                              linear.map { Fmt.percent(r.pagesPerSecond / $0) } ?? "-"]
                }
                let vsEach = comparisons.first {
                    $0.scenario == r.scenario && $0.candidate == r.key && $0.baseline.strategy == .unpinEach && $0.baseline.detect == r.detect
                }
                cells.append(vsEach.map(Self.comparisonCell) ?? "")
                if bars { cells.append(Self.bar(r.nsPerPage.median / slowest, width: 24)) }
                table.add(cells)
            }
        }
        return table
    }

    func renderSweep(_ param: SweepParam) -> String {
        textPage(sweepTable(param).rendered())
    }

    /// A horizontal bar of unicode blocks, `fraction` of `width` cells, eighths included.
    static func bar(_ fraction: Double, width: Int) -> String {
        guard fraction.isFinite, fraction > 0 else { return "" }
        let eighths = Int((min(fraction, 1) * Double(width * 8)).rounded())
        let blocks = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
        return String(repeating: "█", count: eighths / 8) + blocks[eighths % 8]
    }
}
