import Foundation

extension Report {
    /// Rows per (backing, strategy, impl) and value, with a bar per row scaled to the slowest.
    /// Thread sweeps add the aggregate rate and the linear-scaling figure beside it.
    public func renderSweep(_ param: SweepParam) -> String {
        let slowest = results.map(\.nsPerPage.median).filter(\.isFinite).max() ?? 1
        let threadSweep = param == .threads
        var header = ["backing", "strategy", param.rawValue, "ns/page (eff)", "95% CI"]
        if threadSweep { header += ["pages/s", "linear", "scaling"] }
        header += ["vs unpin-each", ""]
        var table = TextTable(header: header, labelColumns: 2)
        var groups: [String] = []
        for r in results {
            let g = "\(r.scenario.backing.rawValue) \(label(r.key))"
            if !groups.contains(g) { groups.append(g) }
        }
        for g in groups {
            let rs = results.filter { "\($0.scenario.backing.rawValue) \(label($0.key))" == g }
            let one = rs.first { $0.scenario.threads == 1 }
            for (k, r) in rs.enumerated() {
                var cells = [k == 0 ? r.scenario.backing.rawValue : "", k == 0 ? label(r.key) : "",
                             param.format(param.value(of: r)), Self.costCell(r),
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
                cells.append(Self.bar(r.nsPerPage.median / slowest, width: 24))
                table.add(cells)
            }
        }
        return title() + "\n\n" + table.rendered() + "\n\n" + footer() + "\n"
    }

    /// A horizontal bar of unicode blocks, `fraction` of `width` cells, eighths included.
    static func bar(_ fraction: Double, width: Int) -> String {
        guard fraction.isFinite, fraction > 0 else { return "" }
        let eighths = Int((min(fraction, 1) * Double(width * 8)).rounded())
        let blocks = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
        return String(repeating: "█", count: eighths / 8) + blocks[eighths % 8]
    }
}
