import Foundation

/// One CSV table of results and comparisons, the same for every view. The gate's verdicts are
/// not rows of it: with --baseline the CSV is unchanged and the exit code carries the outcome.
struct CSVRenderer: FormatRenderer {
    func render(_ report: Report, _ view: ReportView, extra: [(String, JSON)]) -> String { report.renderCSV() }

    func render(_ report: Report, _ view: ReportView, extra: [(String, JSON)], verdicts: Gate) -> String {
        report.renderCSV()
    }
}

extension Report {
    /// One CSV table holding both results and comparisons, told apart by the first column,
    /// `kind` (`result` or `comparison`). The identity columns are the report's identity keys
    /// (`ResultRecord.identityKeys`); a comparison fills `strategy`, `impl` and `detect` with
    /// its candidate's and names its baseline loop in `baseline_*`.
    public static var csvHeader: [String] {
        ["kind"] + ResultRecord.identityKeys + [
            "pages", "repetitions", "ns_per_page_median", "ns_per_page_min", "ns_per_page_max",
            "ns_per_page_ci95_low", "ns_per_page_ci95_high", "ns_per_page_cv", "pages_per_second_median",
            "atomics_per_page", "lruvec_locks_per_page", "pcp_locks_per_page", "zone_locks_per_page",
            "floor_ns_per_page", "bound", "efficiency", "thp_backed_fraction",
            "folio_backed_fraction", "verified_fraction", "audit_balanced", "pins_acquired", "pins_released", "cpus",
            "baseline_strategy", "baseline_impl", "baseline_detect", "speedup_median",
            "speedup_ci95_low", "speedup_ci95_high", "verdict",
        ]
    }

    func renderCSV() -> String {
        let header = Self.csvHeader
        var lines = [header.joined(separator: ",")]
        func row(_ values: [String: String]) -> String {
            header.map { values[$0] ?? "" }.joined(separator: ",")
        }
        for r in results {
            var v = Self.csvCells(r.identityFields())
            v["kind"] = "result"
            let n = r.nsPerPage
            for (key, x) in [("ns_per_page_median", n.median), ("ns_per_page_min", n.min),
                             ("ns_per_page_max", n.max), ("ns_per_page_ci95_low", n.ci95Low),
                             ("ns_per_page_ci95_high", n.ci95High), ("ns_per_page_cv", n.cv),
                             ("pages_per_second_median", r.pagesPerSecond),
                             ("atomics_per_page", r.atomicsPerPage),
                             ("thp_backed_fraction", r.thpBackedFraction),
                             ("folio_backed_fraction", r.folioBackedFraction),
                             ("verified_fraction", r.placement.verifiedFraction)] {
                v[key] = Self.csvNumber(x)
            }
            v["floor_ns_per_page"] = Self.csvNumber(r.floorNsPerPage)
            v["bound"] = r.floors?.bound?.rawValue ?? ""
            if let l = r.locksPerPage {
                v["lruvec_locks_per_page"] = Self.csvNumber(l.lruvec)
                v["pcp_locks_per_page"] = Self.csvNumber(l.pcp)
                v["zone_locks_per_page"] = Self.csvNumber(l.zone)
            }
            v["efficiency"] = Self.csvNumber(r.efficiency?.median)
            v["pages"] = String(r.pages)
            v["repetitions"] = String(r.repetitions)
            v["audit_balanced"] = r.balanced ? "true" : "false"
            v["pins_acquired"] = String(r.pinsAcquired)
            v["pins_released"] = String(r.pinsReleased)
            v["cpus"] = "\"" + r.cpus.map(String.init).joined(separator: " ") + "\""
            lines.append(row(v))
        }
        for c in comparisons {
            var v = Self.csvCells(c.candidate.jsonFields() + c.scenario.jsonFields(pagesPerThread: c.pagesPerThread))
            v["kind"] = "comparison"
            v["baseline_strategy"] = c.baseline.strategy.rawValue
            v["baseline_impl"] = c.baseline.impl.rawValue
            v["baseline_detect"] = c.baseline.detect.rawValue
            v["speedup_median"] = Self.csvNumber(c.speedup)
            v["speedup_ci95_low"] = Self.csvNumber(c.ci95Low)
            v["speedup_ci95_high"] = Self.csvNumber(c.ci95High)
            v["verdict"] = c.verdict.rawValue
            lines.append(row(v))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func csvCells(_ fields: [(String, JSON)]) -> [String: String] {
        var out: [String: String] = [:]
        for (key, value) in fields {
            switch value {
            case .null: out[key] = ""
            case .string(let s): out[key] = s
            default: out[key] = value.serialized(pretty: false)
            }
        }
        return out
    }

    static func csvNumber(_ x: Double?) -> String {
        x.map { $0.isFinite ? String(format: "%.6g", $0) : "" } ?? ""
    }
}
