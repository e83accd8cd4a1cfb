import Foundation

extension Report {
    /// `gupbench run`'s figures as one row per result, for markdown: the percentiles, the
    /// aggregate rate, the work per page, the efficiency and the audit.
    public func detailTable() -> TextTable {
        var table = TextTable(header: ["strategy", "impl", "backing", "order", "threads", "median ns",
                                       "95% CI", "p90", "min", "max", "CV", "pages/s", "atomics/page",
                                       "efficiency", "per thread ns", "audit"], labelColumns: 5)
        for r in results {
            let s = r.scenario
            let n = r.nsPerPage
            table.add([r.strategy.rawValue, r.impl.rawValue, s.backingLabel,
                       String(s.folioOrder) + (s.forcedOrder ? " (forced)" : ""), String(s.threads),
                       Fmt.ns(n.median), "\(Fmt.ns(n.ci95Low))-\(Fmt.ns(n.ci95High))",
                       Fmt.ns(Statistics.percentile(r.nsPerPageSamples, 0.9)), Fmt.ns(n.min), Fmt.ns(n.max),
                       Fmt.percent(n.cv), Fmt.rate(r.pagesPerSecond), String(format: "%.3f", r.atomicsPerPage),
                       r.efficiency.map { Fmt.percent($0.median) } ?? "-",
                       r.perThreadNsPerPage.map(Fmt.ns).joined(separator: " "),
                       r.balanced ? "balanced" : "FAILED"])
        }
        return table
    }

    public func renderDetailMarkdown() -> String {
        "**" + title().replacingOccurrences(of: "\n", with: "**  \n") + "\n\n"
            + detailTable().markdown() + "\n"
            + footer().split(separator: "\n").map { "- " + $0 }.joined(separator: "\n") + "\n"
    }
}
