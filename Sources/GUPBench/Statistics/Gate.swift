import Foundation

/// `--baseline FILE` (compare, run, sweep) and `gupbench gate`: each scenario of a report set
/// against its twin in a saved report. A scenario is called slower only when
///
/// - the slowdown is larger than the threshold (`--threshold`, default `defaultThreshold`); and
/// - it is significantly larger: the p-value of "the change is within the threshold" is below
///   α = 0.05 after Holm-Bonferroni over every scenario compared (family-wise), the p-value
///   coming from a hierarchical bootstrap over each side's rounds and repetitions, so the spread
///   between processes is in it.
///
/// Testing against the threshold rather than against no change keeps a process that ran a
/// little slower in a busier minute from being called slower because its CI, which cannot hold
/// all of the spread between processes with three rounds a side, just excluded 1 while its median
/// was a hair past the threshold (docs/gate.md).
///
/// "faster" is decided the same way. A scenario whose threads ran together for under 90% of the
/// section on either side (`thread_overlap`) timed a queue rather than the scenario: it gets no
/// verdict and is left out of the correction. Any "slower" makes the command exit 3
/// (docs/gate.md).
public struct Gate: Sendable {
    /// Chosen from A/A runs of the default `compare` on this project's shared 2-CPU machine
    /// (docs/gate.md): at 8% one A/A pair in thirteen failed on a significant 8.7% slowdown of
    /// a process that ran in a busier minute; at 10% (the most the gate may allow) that went,
    /// and every synthetic 15% regression the 8% gate caught was still caught.
    public static let defaultThreshold = 0.10
    public static let alpha = 0.05
    /// Resamples for the p-values: 2/(n+1) must stay below α over the scenarios of a big report.
    public static let resamples = 4000

    /// One scenario of a report: its identity, a short label, its samples by round, and its
    /// threads' overlap (nil for one thread).
    public struct Scenario: Sendable {
        public let identity: String
        public let label: String
        public let samples: RoundSamples
        public var threadOverlap: Double? = nil
    }

    public struct Entry: Sendable {
        public let identity: String
        public let label: String
        public let before: RoundSamples
        public let now: RoundSamples
        /// Before time over now time: above 1 = faster now.
        public let speedup: Double
        public let ci95Low: Double
        public let ci95High: Double
        /// The p-value of "the change is within the threshold" (two-sided in the direction of
        /// the median: `Statistics.speedup(…, margin:)`).
        public let p: Double
        public let holmP: Double
        public let verdict: Verdict
        public var beforeMedian: Double { Statistics.median(before.all) }
        public var nowMedian: Double { Statistics.median(now.all) }
    }

    public let baselinePath: String
    public let threshold: Double
    public let entries: [Entry]
    public var anySlower: Bool { entries.contains { $0.verdict == .slower } }

    /// The gate's rule for one scenario.
    public static func verdict(speedup: Double, holmP: Double, threshold: Double, repetitions: Int) -> Verdict {
        guard repetitions >= 2, !holmP.isNaN else { return .notApplicable }
        guard holmP < alpha else { return .withinNoise }
        if speedup < 1 / (1 + threshold) { return .slower }
        if speedup > 1 + threshold { return .faster }
        return .withinNoise
    }

    /// Every current scenario must have its twin in the baseline; otherwise a usage error.
    public init(current: [Scenario], baseline: [Scenario], baselinePath: String, threshold: Double) throws {
        self.baselinePath = baselinePath
        self.threshold = threshold
        var old: [String: Scenario] = [:]
        for s in baseline { old[s.identity] = s }
        let pairs = try current.map { now -> (Scenario, Scenario) in
            guard let before = old[now.identity], before.samples.count > 0 else {
                throw GUPBenchError.usage(
                    "--baseline '\(baselinePath)' has different scenarios: nothing matches \(now.label); "
                    + "run with the options that made it")
            }
            return (before, now)
        }
        let apart = pairs.map { pair in
            [pair.0.threadOverlap, pair.1.threadOverlap].contains { ($0 ?? 1) < ThreadOverlap.noisyBelow }
        }
        let tests = pairs.map {
            Statistics.speedup(baseline: $0.0.samples, candidate: $0.1.samples, paired: false,
                               resamples: Self.resamples, margin: threshold)
        }
        // Untested (NaN) p-values are not part of the family Holm corrects for.
        let adjusted = Statistics.holm(zip(tests, apart).map { $1 ? .nan : $0.pBeyond })
        entries = pairs.indices.map { k in
            let (before, now) = pairs[k]
            let t = tests[k]
            let verdict = apart[k] ? Verdict.threadsApart
                : Self.verdict(speedup: t.median, holmP: adjusted[k], threshold: threshold,
                               repetitions: min(before.samples.count, now.samples.count))
            return Entry(identity: now.identity, label: now.label, before: before.samples, now: now.samples,
                         speedup: t.median, ci95Low: t.low, ci95High: t.high, p: t.pBeyond, holmP: adjusted[k],
                         verdict: verdict)
        }
    }

    // MARK: reading reports

    /// What makes two results the same scenario: the one list reports carry as `identity_keys`
    /// (`ResultRecord.identityKeys`, from `ScenarioKey.fields`).
    static var identityKeys: [String] { ResultRecord.identityKeys }

    /// One spelling per value: numbers and booleans as numbers (Foundation decodes `true` as
    /// the number 1), strings bare, absent or null as null.
    static func text(_ value: Any?) -> String {
        guard let value, !(value is NSNull) else { return "null" }
        if type(of: value) == Bool.self, let b = value as? Bool { return b ? "1" : "0" }
        if let n = value as? NSNumber, !(value is String) {
            let d = n.doubleValue
            return d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
        }
        return "\(value)"
    }

    /// A key a report saved before it existed reads as the value runs had then
    /// (`ScenarioKey.valueInOlderReports`).
    static func identity(_ r: [String: Any]) -> String {
        identityKeys.map { "\($0)=\(text(r[$0] ?? ScenarioKey.valueInOlderReports[$0]))" }.joined(separator: " ")
    }

    /// "unpin-range/swift thp order 9 1GiB t2 batch 131072", plus what is not the default.
    static func label(_ r: [String: Any]) -> String {
        var out = "\(text(r["strategy"]))/\(text(r["impl"])) \(text(r["backing"])) order \(text(r["folio_order"]))"
        if let size = (r["size_bytes"] as? NSNumber)?.intValue { out += " " + ByteSize.format(size) }
        out += " t\(text(r["threads"])) batch \(text(r["batch"]))"
        let usual = ["detect": "off", "sharing": "disjoint", "layout": "sequential", "dirty": "none", "mem_policy": "bind"]
        for (key, value) in usual.sorted(by: { $0.key < $1.key }) where text(r[key]) != value { out += " " + text(r[key]) }
        return out
    }

    /// A result's ns-per-page samples by round: `ns_per_page.rounds`, else its `samples` as
    /// one round, else its median as one sample.
    static func samples(_ r: [String: Any]) -> RoundSamples {
        guard let ns = r["ns_per_page"] as? [String: Any] else { return RoundSamples([]) }
        func numbers(_ any: Any?) -> [Double]? { (any as? [Any])?.compactMap { ($0 as? NSNumber)?.doubleValue } }
        if let rounds = ns["rounds"] as? [Any] {
            return RoundSamples(rounds.compactMap(numbers))
        }
        if let xs = numbers(ns["samples"]) { return RoundSamples([xs]) }
        if let m = (ns["median"] as? NSNumber)?.doubleValue { return RoundSamples([[m]]) }
        return RoundSamples([])
    }

    /// The scenarios of a parsed gupbench/1 report.
    public static func scenarios(json: [String: Any]) -> [Scenario] {
        let results = json["results"] as? [[String: Any]] ?? []
        return results.map {
            Scenario(identity: identity($0), label: label($0), samples: samples($0),
                     threadOverlap: ($0["thread_overlap"] as? NSNumber)?.doubleValue)
        }
    }

    /// The scenarios of a report measured in this process, read back exactly as a saved one is.
    public static func scenarios(of report: Report) -> [Scenario] {
        let data = Data(report.json().serialized().utf8)
        return scenarios(json: (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:])
    }

    /// Loads a saved report; `option` names where the path came from in errors.
    public static func load(_ path: String, option: String = "--baseline") throws -> [Scenario] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GUPBenchError.usage("\(option) '\(path)' cannot be read; give a report written with --format json")
        }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              json["schema"] as? String == "gupbench/1", json["results"] is [[String: Any]] else {
            throw GUPBenchError.usage("\(option) '\(path)' is not a gupbench/1 JSON report")
        }
        return scenarios(json: json)
    }

    /// "8%" or "0.08": a fraction between 0 and 1 (exclusive).
    public static func parseThreshold(_ text: String) throws -> Double {
        let t = text.trimmingCharacters(in: .whitespaces)
        let value = t.hasSuffix("%") ? Double(t.dropLast()).map { $0 / 100 } : Double(t)
        guard let value, value > 0, value < 1 else {
            throw GUPBenchError.usage("--threshold '\(text)' is not valid; give a percentage like 8% or a fraction like 0.08, above 0 and below 100%")
        }
        return value
    }

    // MARK: output

    var rule: String {
        let tested = entries.filter { !$0.holmP.isNaN }.count
        return "slower/faster = a change significantly beyond \(Fmt.percent(threshold)) (--threshold): p of a change "
            + "within it, Holm-Bonferroni over \(tested) scenarios, below family-wise α \(Self.alpha)"
    }

    /// The verdict with the threshold it was judged against.
    func verdictText(_ e: Entry) -> String {
        switch e.verdict {
        case .slower, .faster: return "\(e.verdict.rawValue) (beyond \(Fmt.percent(threshold)))"
        case .withinNoise: return "within noise (±\(Fmt.percent(threshold)))"
        case .notApplicable: return e.verdict.rawValue
        case .threadsApart: return e.verdict.rawValue + " (overlap under \(Fmt.percent(ThreadOverlap.noisyBelow)))"
        }
    }

    public func rendered() -> String {
        var table = TextTable(header: ["scenario", "before ns", "now ns", "change [95% CI]", "p", "Holm p", "verdict"])
        for e in entries {
            table.add([e.label, Fmt.ns(e.beforeMedian), Fmt.ns(e.nowMedian), Fmt.speedup(e.speedup, e.ci95Low, e.ci95High),
                       Fmt.pValue(e.p), Fmt.pValue(e.holmP), verdictText(e)])
        }
        let slower = entries.filter { $0.verdict == .slower }.count
        let faster = entries.filter { $0.verdict == .faster }.count
        return "against baseline \(baselinePath) (change = before/now time: above 1 is faster now)\n"
            + rule + "\n" + table.rendered() + "\n"
            + "gate: \(slower) slower, \(faster) faster, \(entries.count - slower - faster) unchanged "
            + "at threshold \(Fmt.percent(threshold))\n"
    }

    public var json: JSON {
        .object([
            ("path", .string(baselinePath)),
            ("threshold", .num(threshold)),
            ("alpha", .num(Self.alpha)),
            ("correction", .string("holm-bonferroni")),
            ("slower", .int(entries.filter { $0.verdict == .slower }.count)),
            ("entries", .array(entries.map { e in
                .object([("scenario", .string(e.identity)), ("before_ns_per_page", .num(e.beforeMedian)),
                         ("now_ns_per_page", .num(e.nowMedian)),
                         ("speedup", .object([("median", .num(e.speedup)), ("ci95_low", .num(e.ci95Low)),
                                              ("ci95_high", .num(e.ci95High))])),
                         ("p_value", .num(e.p)), ("p_holm", .num(e.holmP)), ("verdict", .string(e.verdict.rawValue))])
            })),
        ])
    }
}
