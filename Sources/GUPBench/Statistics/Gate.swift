import Foundation

/// `--baseline FILE` (compare, run, sweep), `gupbench gate` and `gupbench ab`: each scenario of
/// a report set against its twin in a saved report. A scenario is called slower only when
///
/// - the slowdown is larger than the threshold (`--threshold`, default `defaultThreshold`); and
/// - it is significantly larger: the p-value of "the change is within the threshold" is below
///   α = 0.05 after Holm-Bonferroni over every scenario judged (family-wise), the p-value
///   coming from a hierarchical bootstrap over each side's rounds and repetitions, so the spread
///   between processes is in it.
///
/// Testing against the threshold rather than against no change keeps a process that ran a
/// little slower in a busier minute from being called slower (docs/gate.md).
///
/// Before any scenario, the machine: when the two reports' calibrations differ beyond what
/// unchanged machines do (`MachineState.changes`), nothing is called slower and the outcome is
/// inconclusive (exit 4). And no scenario passes unseen: every baseline scenario is judged or
/// listed with the reason it was not (missing now, too few repetitions whose threads all ran),
/// and any unjudged one makes the outcome inconclusive too.
public struct Gate: Sendable {
    /// Chosen from A/A runs of the default `compare` on this project's shared 2-CPU machine
    /// (docs/gate.md): at 8% one A/A pair in thirteen failed on a significant 8.7% slowdown of
    /// a process that ran in a busier minute; at 10% (the most the gate may allow) that went,
    /// and every synthetic 15% regression the 8% gate caught was still caught.
    public static let defaultThreshold = 0.10
    public static let alpha = 0.05
    /// Resamples for the p-values (tails too thin to count are read from the normal curve:
    /// `Statistics.countedTailMinimum`, so any family size can fail).
    public static let resamples = 4000
    /// The power `minDetectableChange` is quoted at.
    public static let power = 0.80
    /// A repetition counts when every thread was on its CPU for at least this share of its own
    /// timed windows (`threads_ran`).
    public static let ranAtLeast = 0.9

    /// One scenario of a report: its identity, a short label, its samples by round, and (more
    /// than one thread) per repetition the least share of its windows any thread spent on
    /// its CPU, shaped like the samples; older reports carry only the section's overlap.
    public struct Scenario: Sendable {
        public let identity: String
        public let label: String
        public let samples: RoundSamples
        public var threadOverlap: Double? = nil
        public var threadsRan: [[Double]]? = nil
    }

    /// A report as the gate reads it.
    public struct Side: Sendable {
        public let scenarios: [Scenario]
        public let machine: MachineState?
        public init(scenarios: [Scenario], machine: MachineState?) {
            self.scenarios = scenarios
            self.machine = machine
        }
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
        /// The smallest slowdown (a fraction) this scenario would be flagged for with 80%
        /// power at the spread it measured (`minDetectableChange`).
        public let minDetectableChange: Double
        /// Repetitions left out because a thread was off its CPU (before, now).
        public let dropped: (before: Int, now: Int)
        public var beforeMedian: Double { Statistics.median(before.all) }
        public var nowMedian: Double { Statistics.median(now.all) }
    }

    /// A baseline scenario that got no verdict, and why.
    public struct Unjudged: Sendable {
        public let identity: String
        public let label: String
        public let reason: String
    }

    public enum Outcome: String, Sendable {
        case unchanged, slower, inconclusive
        /// The command's exit status.
        public var exitCode: Int32 {
            switch self {
            case .unchanged: return 0
            case .slower: return 3
            case .inconclusive: return 4
            }
        }
    }

    public let baselinePath: String
    public let threshold: Double
    public let entries: [Entry]
    public let unjudged: [Unjudged]
    /// Scenarios measured now that the baseline does not have (not judged; they do not make
    /// the outcome inconclusive: there is nothing they could have regressed from).
    public let newScenarios: [String]
    /// Where the machine differs (empty: the same machine as far as the calibrations tell).
    public let machineChanges: [MachineState.Change]
    /// Why the machines could not be compared (a report without calibration), or nil.
    public let machineNote: String?

    public var anySlower: Bool { entries.contains { $0.verdict == .slower } }

    /// Inconclusive when the machine changed (never "slower" then), else slower when any
    /// scenario is, else inconclusive when a baseline scenario went unjudged.
    public var outcome: Outcome {
        if !machineChanges.isEmpty { return .inconclusive }
        if anySlower { return .slower }
        return unjudged.isEmpty ? .unchanged : .inconclusive
    }

    /// The gate's rule for one scenario.
    public static func verdict(speedup: Double, holmP: Double, threshold: Double, repetitions: Int) -> Verdict {
        guard repetitions >= 2, !holmP.isNaN else { return .notApplicable }
        guard holmP < alpha else { return .withinNoise }
        if speedup < 1 / (1 + threshold) { return .slower }
        if speedup > 1 + threshold { return .faster }
        return .withinNoise
    }

    /// The smallest slowdown flagged with `power` when the log ratio's bootstrap spread is
    /// `logSE` and `family` scenarios share the correction: the median slowdown must clear
    /// 1 + threshold by the two-sided critical value of Holm's strictest step (α/family) plus
    /// the power quantile, in standard deviations of the log ratio:
    ///
    ///     (1 + threshold) × exp((z[1 − α/(2·family)] + z[power]) × logSE) − 1
    public static func minDetectableChange(logSE: Double, threshold: Double, family: Int) -> Double {
        guard logSE.isFinite, family > 0 else { return .nan }
        let z = Statistics.normalQuantile(1 - alpha / (2 * Double(family))) + Statistics.normalQuantile(power)
        return (1 + threshold) * exp(z * logSE) - 1
    }

    /// The repetitions that count: those whose threads were all on their CPUs
    /// (`threads_ran` >= `ranAtLeast`); every one when the report has no per-repetition record.
    static func counted(_ s: Scenario) -> (samples: RoundSamples, dropped: Int) {
        guard let ran = s.threadsRan, ran.map(\.count) == s.samples.rounds.map(\.count) else { return (s.samples, 0) }
        let kept = zip(s.samples.rounds, ran).map { round, shares in
            zip(round, shares).filter { $0.1 >= ranAtLeast }.map(\.0)
        }
        let samples = RoundSamples(kept)
        return (samples, s.samples.count - samples.count)
    }

    /// The fewest of `total` repetitions a side must keep to be judged: at least half, and two.
    static func minimumKept(of total: Int) -> Int { max(2, (total + 1) / 2) }

    /// Why a scenario cannot be judged from these repetitions, or nil.
    static func reasonUnjudged(before: Scenario, now: Scenario, counted: (RoundSamples, RoundSamples)) -> String? {
        for (side, s) in [("baseline", before), ("now", now)] where s.threadsRan == nil {
            if let overlap = s.threadOverlap, overlap < ThreadOverlap.noisyBelow {
                return "threads did not run together (\(Fmt.percent(overlap)) overlap \(side)); the report has no per-repetition record"
            }
        }
        for (side, s, kept) in [("baseline", before, counted.0), ("now", now, counted.1)] {
            let total = s.samples.count
            if total < 2 { return "\(total) repetition \(side): no spread to judge a change against" }
            if kept.count < minimumKept(of: total) {
                return "a thread was off its CPU in \(total - kept.count) of \(total) repetitions \(side): "
                    + "\(kept.count) left, at least \(minimumKept(of: total)) needed"
            }
        }
        return nil
    }

    init(baselinePath: String, threshold: Double, entries: [Entry], unjudged: [Unjudged], newScenarios: [String],
         machineChanges: [MachineState.Change], machineNote: String?) {
        self.baselinePath = baselinePath
        self.threshold = threshold
        self.entries = entries
        self.unjudged = unjudged
        self.newScenarios = newScenarios
        self.machineChanges = machineChanges
        self.machineNote = machineNote
    }

    /// Judges `current` against `baseline`. A usage error when no scenario of one is in the
    /// other (another matrix altogether).
    public init(current: Side, baseline: Side, baselinePath: String, threshold: Double) throws {
        self.baselinePath = baselinePath
        self.threshold = threshold
        var now: [String: Scenario] = [:]
        for s in current.scenarios { now[s.identity] = s }
        let known = Set(baseline.scenarios.map(\.identity))
        guard current.scenarios.contains(where: { known.contains($0.identity) }) || current.scenarios.isEmpty else {
            throw GUPBenchError.usage(
                "--baseline '\(baselinePath)' has different scenarios: nothing matches \(current.scenarios[0].label); "
                + "run with the options that made it")
        }
        newScenarios = current.scenarios.filter { !known.contains($0.identity) }.map(\.label)
        var unjudged: [Unjudged] = []
        var judged: [(before: Scenario, now: Scenario, counted: (RoundSamples, RoundSamples), dropped: (Int, Int))] = []
        for before in baseline.scenarios {
            guard let after = now[before.identity] else {
                unjudged.append(Unjudged(identity: before.identity, label: before.label,
                                         reason: "missing now: this run did not measure it"))
                continue
            }
            let (b, lostBefore) = Self.counted(before), (n, lostNow) = Self.counted(after)
            if let reason = Self.reasonUnjudged(before: before, now: after, counted: (b, n)) {
                unjudged.append(Unjudged(identity: before.identity, label: after.label, reason: reason))
            } else {
                judged.append((before, after, (b, n), (lostBefore, lostNow)))
            }
        }
        self.unjudged = unjudged
        let tests = judged.map {
            Statistics.speedup(baseline: $0.counted.0, candidate: $0.counted.1, paired: false,
                               resamples: Self.resamples, margin: threshold)
        }
        let adjusted = Statistics.holm(tests.map(\.pBeyond))
        entries = judged.indices.map { k in
            let j = judged[k], t = tests[k]
            let verdict = Self.verdict(speedup: t.median, holmP: adjusted[k], threshold: threshold,
                                       repetitions: min(j.counted.0.count, j.counted.1.count))
            return Entry(identity: j.now.identity, label: j.now.label, before: j.counted.0, now: j.counted.1,
                         speedup: t.median, ci95Low: t.low, ci95High: t.high, p: t.pBeyond, holmP: adjusted[k],
                         verdict: verdict,
                         minDetectableChange: Self.minDetectableChange(logSE: t.logSE, threshold: threshold,
                                                                       family: judged.count),
                         dropped: j.dropped)
        }
        if let b = baseline.machine, let n = current.machine {
            machineChanges = MachineState.changes(before: b, now: n)
            machineNote = nil
        } else {
            machineChanges = []
            machineNote = "machine state not compared: \(baseline.machine == nil ? "the baseline" : "this report") has no calibration"
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

    /// The scenarios and machine of a parsed gupbench/1 report.
    public static func side(json: [String: Any]) -> Side {
        let results = json["results"] as? [[String: Any]] ?? []
        let scenarios = results.map {
            Scenario(identity: identity($0), label: label($0), samples: samples($0),
                     threadOverlap: ($0["thread_overlap"] as? NSNumber)?.doubleValue,
                     threadsRan: ($0["threads_ran"] as? [Any])?.map {
                         (($0 as? [Any]) ?? []).compactMap { ($0 as? NSNumber)?.doubleValue }
                     })
        }
        return Side(scenarios: scenarios, machine: MachineState.read(json: json))
    }

    /// A report measured in this process, read back exactly as a saved one is.
    public static func side(of report: Report) -> Side {
        let data = Data(report.json().serialized().utf8)
        return side(json: (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:])
    }

    /// Loads a saved report; `option` names where the path came from in errors.
    public static func load(_ path: String, option: String = "--baseline") throws -> Side {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GUPBenchError.usage("\(option) '\(path)' cannot be read; give a report written with --format json")
        }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              json["schema"] as? String == "gupbench/1", json["results"] is [[String: Any]] else {
            throw GUPBenchError.usage("\(option) '\(path)' is not a gupbench/1 JSON report")
        }
        return side(json: json)
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
}
