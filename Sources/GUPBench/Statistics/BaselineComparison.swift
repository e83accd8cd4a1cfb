import Foundation

/// `gupbench compare --baseline old.json`: the same scenarios measured again, each result set
/// against its saved twin, with a verdict. Any result slower beyond noise makes the command
/// exit 3, for CI.
public struct BaselineComparison: Sendable {
    public struct Entry: Sendable {
        public let identity: String
        public let oldMedian: Double
        public let newMedian: Double
        /// Old time over new time: above 1 = the new run is faster.
        public let speedup: Double
        public let ci95Low: Double
        public let ci95High: Double
        public let pValue: Double
        public var verdict: Verdict { Verdict.decide(speedup: speedup, ciLow: ci95Low, ciHigh: ci95High) }
    }

    public let path: String
    public let entries: [Entry]
    public var anySlower: Bool { entries.contains { $0.verdict == .slower } }

    /// What makes two results the same scenario: the one list reports carry as `identity_keys`.
    static var identityKeys: [String] { ResultRecord.identityKeys }

    /// A saved result's identity, from its JSON object as Foundation decoded it.
    static func identity(_ fields: [String: Any]) -> String {
        identityKeys.map { key in
            "\(key)=\(canonical(fields[key] ?? ScenarioKey.valueInOlderReports[key] ?? NSNull()))"
        }.joined(separator: " ")
    }

    /// A result's identity, in the same form as a saved one's.
    static func identity(_ r: ResultRecord) -> String {
        let fields = Dictionary(r.identityFields(), uniquingKeysWith: { a, _ in a })
        return identityKeys.map { key in "\(key)=\(canonical(fields[key] ?? .null))" }.joined(separator: " ")
    }

    /// One spelling per value whichever side it came from: numbers and booleans as numbers
    /// (Foundation decodes `true` as the number 1), strings bare, absent as null.
    static func canonical(_ value: Any) -> String {
        switch value {
        case let s as String: return s
        case let n as NSNumber:
            let x = n.doubleValue
            return x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x)
        default: return "null"
        }
    }

    static func canonical(_ value: JSON) -> String {
        switch value {
        case .string(let s): return s
        case .bool(let b): return b ? "1" : "0"
        case .int(let i): return String(i)
        case .number(let x): return x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x)
        default: return "null"
        }
    }

    /// Loads a saved report: its per-result samples by scenario identity.
    public static func load(_ path: String) throws -> [String: [Double]] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GUPBenchError.usage("--baseline '\(path)' cannot be read; give a report written with --format json")
        }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              json["schema"] as? String == "gupbench/1", let results = json["results"] as? [[String: Any]] else {
            throw GUPBenchError.usage("--baseline '\(path)' is not a gupbench/1 JSON report")
        }
        var out: [String: [Double]] = [:]
        for r in results {
            guard let ns = r["ns_per_page"] as? [String: Any] else { continue }
            let samples = (ns["samples"] as? [Any])?.compactMap { ($0 as? NSNumber)?.doubleValue }
            let median = (ns["median"] as? NSNumber)?.doubleValue
            out[identity(r)] = samples ?? median.map { [$0] } ?? []
        }
        return out
    }

    /// Every new result must have its twin in the baseline; otherwise it is a usage error.
    public init(report: Report, baselinePath path: String) throws {
        let old = try Self.load(path)
        self.path = path
        entries = try report.results.map { r in
            let id = Self.identity(r)
            guard let before = old[id], !before.isEmpty else {
                throw GUPBenchError.usage(
                    "--baseline '\(path)' has different scenarios: nothing matches \(r.strategy.rawValue)/\(r.impl.rawValue) "
                    + "\(r.scenario.backing.rawValue) \(ByteSize.format(r.scenario.size)) \(r.scenario.threads) thread(s); "
                    + "run with the options that made it")
            }
            let s = Statistics.speedup(baseline: before, candidate: r.nsPerPageSamples)
            return Entry(identity: id, oldMedian: Statistics.median(before), newMedian: r.nsPerPage.median,
                         speedup: s.median, ci95Low: s.low, ci95High: s.high,
                         pValue: Statistics.mannWhitneyU(before, r.nsPerPageSamples).p)
        }
    }

    public func rendered() -> String {
        var table = TextTable(header: ["scenario", "before ns", "now ns", "change [95% CI]", "p", "verdict"])
        for e in entries {
            var f: [String: String] = [:]
            for pair in e.identity.split(separator: " ") {
                let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
                if kv.count == 2 { f[kv[0]] = kv[1] }
            }
            let defaults = ["detect": "off", "sharing": "disjoint", "layout": "sequential", "dirty": "none", "mem_policy": "bind"]
            var short = "\(f["strategy"] ?? "")/\(f["impl"] ?? "") \(f["backing"] ?? "") order \(f["folio_order"] ?? "")"
                + " \(Int(f["size_bytes"] ?? "").map(ByteSize.format) ?? "") t\(f["threads"] ?? "") batch \(f["batch"] ?? "")"
            for (key, usual) in defaults.sorted(by: { $0.key < $1.key }) where f[key] != usual { short += " \(f[key] ?? "")" }
            table.add([short, Fmt.ns(e.oldMedian), Fmt.ns(e.newMedian), Fmt.speedup(e.speedup, e.ci95Low, e.ci95High),
                       String(format: "%.2g", e.pValue), e.verdict.rawValue])
        }
        return "against baseline \(path) (change = before/now: above 1 is faster now)\n" + table.rendered() + "\n"
    }

    public var json: JSON {
        .object([
            ("path", .string(path)),
            ("entries", .array(entries.map { e in
                .object([("scenario", .string(e.identity)), ("before_ns_per_page", .num(e.oldMedian)),
                         ("now_ns_per_page", .num(e.newMedian)),
                         ("speedup", .object([("median", .num(e.speedup)), ("ci95_low", .num(e.ci95Low)), ("ci95_high", .num(e.ci95High))])),
                         ("p_value", .num(e.pValue)), ("verdict", .string(e.verdict.rawValue))])
            })),
        ])
    }
}
