/// Schema gupbench/1 (Report+JSON.swift), the same for every view; with --baseline the gate's
/// verdicts are its `baseline` object.
struct JSONRenderer: TableAndJSONRenderer {
    func render(_ report: Report, _ view: ReportView, extra: [(String, JSON)]) -> String {
        Self.text(report.json(extra: extra))
    }

    func render(_ report: Report, _ view: ReportView, extra: [(String, JSON)], verdicts: Gate) -> String {
        Self.text(report.json(extra: extra + [("baseline", verdicts.json)]))
    }

    func render(_ output: TableAndJSON) -> String { Self.text(output.json()) }

    static func text(_ json: JSON) -> String { json.serialized() + "\n" }
}
