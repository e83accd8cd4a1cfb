/// Plain text for a terminal: each command's view of the report, the gate's verdicts after it.
struct TableRenderer: TableAndJSONRenderer {
    func render(_ report: Report, _ view: ReportView, extra: [(String, JSON)]) -> String {
        switch view {
        case .compare: report.renderTable()
        case .detail: report.renderDetail()
        case .sweep(let param): report.renderSweep(param)
        }
    }

    func render(_ report: Report, _ view: ReportView, extra: [(String, JSON)], verdicts: Gate) -> String {
        render(report, view, extra: extra) + "\n" + verdicts.rendered()
    }

    func render(_ output: TableAndJSON) -> String { output.table() }
}
