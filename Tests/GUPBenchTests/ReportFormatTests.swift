import Foundation
import Testing
@testable import GUPBench

/// `OutputFormat` is the one list of formats: every case renders through the one dispatch
/// (`Report.render`, `OutputFormat.renderer`), and `--format` accepts exactly the list.
@Suite struct ReportFormatTests {
    /// Two loops on one scenario and their comparison, no calibration: no run needed.
    static func report() -> Report {
        var report = Report(command: "compare", topology: Topology.read(), calibration: nil)
        report.results = [Fixtures.result(.unpinEach, ns: 4), Fixtures.result(.unpinBatched, ns: 2)]
        report.comparisons = ComparisonRecord.pairs(in: report.results)
        return report
    }

    static let views: [ReportView] = [.compare, .detail, .sweep(.threads)]

    @Test(arguments: OutputFormat.allCases)
    func everyFormatRendersEveryView(_ format: OutputFormat) throws {
        let report = Self.report()
        #expect(!report.comparisons.isEmpty)
        let verdicts = try Gate(current: Gate.side(of: report), baseline: Gate.side(of: report),
                                baselinePath: "baseline.json", threshold: Gate.defaultThreshold)
        for view in Self.views {
            let text = report.render(format, view)
            #expect(!text.isEmpty, "\(format) \(view)")
            #expect(text.hasSuffix("\n"), "\(format) \(view)")
            #expect(!report.render(format, view, verdicts: verdicts).isEmpty, "\(format) \(view) with verdicts")
        }
    }

    /// Each format's own shape, so no case falls through to another's renderer.
    @Test func eachFormatIsItsOwn() throws {
        let report = Self.report()
        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.render(.json).utf8)) as? [String: Any])
        #expect(json["schema"] as? String == "gupbench/1")
        #expect(report.render(.csv).split(separator: "\n").first.map(String.init) == Report.csvHeader.joined(separator: ","))
        #expect(report.render(.markdown).hasPrefix("**gupbench compare: "))
        #expect(report.render(.table).hasPrefix("gupbench compare: "))
        #expect(Set(OutputFormat.allCases.map { report.render($0) }).count == OutputFormat.allCases.count)
    }

    /// The verdicts join table and markdown as their table, JSON as `baseline`; CSV stays as it is.
    @Test func verdictsJoinEachFormatItsWay() throws {
        let report = Self.report()
        let verdicts = try Gate(current: Gate.side(of: report), baseline: Gate.side(of: report),
                                baselinePath: "baseline.json", threshold: Gate.defaultThreshold)
        for format in [OutputFormat.table, .markdown] {
            #expect(report.render(format, verdicts: verdicts) == report.render(format) + "\n" + verdicts.rendered())
        }
        let json = try #require(try JSONSerialization.jsonObject(
            with: Data(report.render(.json, verdicts: verdicts).utf8)) as? [String: Any])
        #expect((json["baseline"] as? [String: Any])?["path"] as? String == "baseline.json")
        #expect(report.render(.csv, verdicts: verdicts) == report.render(.csv))
    }

    @Test func tableAndJSONOutputsTakeTheFormatsWhoseRendererDrawsThem() {
        #expect(OutputFormat.forTableAndJSON == [.table, .json])
        let output = TableAndJSON(table: { "a table\n" }, json: { .object([("key", .int(1))]) })
        #expect(OutputFormat.table.tableAndJSONRenderer?.render(output) == "a table\n")
        #expect(OutputFormat.json.tableAndJSONRenderer?.render(output) == JSON.object([("key", .int(1))]).serialized() + "\n")
    }

    /// The measuring commands accept every format and name the list when refusing one.
    @Test func measuringCommandsAcceptExactlyTheList() throws {
        let valid = OutputFormat.allCases.map(\.rawValue).joined(separator: ", ")
        let help = try CLITests.run(["compare", "--help"])
        #expect(help.stdout.contains("Report format: \(valid)."), "\(help.stdout)")
        for format in OutputFormat.allCases {
            let r = try CLITests.run(["compare", "--dry-run", "--size", "8MiB", "--backing", "4k", "--threads", "1",
                                      "--format", format.rawValue])
            #expect(r.status == 0, "--format \(format.rawValue): \(r.stderr)")
        }
        let refused = try CLITests.run(["compare", "--dry-run", "--format", "yaml"])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("--format 'yaml' is not valid; valid values: \(valid)"), "\(refused.stderr)")
    }

    /// The other commands accept `OutputFormat.forTableAndJSON`, and refuse the rest naming it.
    @Test func tableOrJSONCommandsAcceptExactlyTheirList() throws {
        let valid = OutputFormat.forTableAndJSON.map(\.rawValue).joined(separator: ", ")
        let help = try CLITests.run(["topology", "--help"])
        #expect(help.stdout.contains("Report format: \(valid)."), "\(help.stdout)")
        for format in OutputFormat.allCases {
            let r = try CLITests.run(["topology", "--format", format.rawValue])
            if OutputFormat.forTableAndJSON.contains(format) {
                #expect(r.status == 0, "--format \(format.rawValue): \(r.stderr)")
            } else {
                #expect(r.status == 2)
                #expect(r.stderr.contains("--format '\(format.rawValue)' is not valid here; valid values: \(valid)"),
                        "\(r.stderr)")
            }
        }
    }
}
