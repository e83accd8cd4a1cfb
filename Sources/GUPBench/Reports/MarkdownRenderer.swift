import Foundation

/// GitHub markdown: each view's tables under the title in bold, the footer as a list; the bars
/// of the sweep left out. The gate's verdicts follow as the plain table.
struct MarkdownRenderer: FormatRenderer {
    func render(_ report: Report, _ view: ReportView, extra: [(String, JSON)]) -> String {
        switch view {
        case .compare: report.markdownPage([report.compareTable()] + [report.lockTable()].compactMap { $0 })
        case .detail: report.markdownPage([report.detailTable()])
        case .sweep(let param): report.markdownPage([report.sweepTable(param, bars: false)])
        }
    }

    func render(_ report: Report, _ view: ReportView, extra: [(String, JSON)], verdicts: Gate) -> String {
        render(report, view, extra: extra) + "\n" + verdicts.rendered()
    }
}

extension Report {
    func markdownPage(_ tables: [TextTable]) -> String {
        "**" + title().replacingOccurrences(of: "\n", with: "**  \n") + "\n\n"
            + tables.map { $0.markdown() + "\n" }.joined()
            + footer().split(separator: "\n").map { "- " + $0 }.joined(separator: "\n") + "\n"
    }
}
