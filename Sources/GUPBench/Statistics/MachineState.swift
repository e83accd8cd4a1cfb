import Foundation

/// The machine a report was measured on, as the gate compares it: the host (CPU model, LLC,
/// kernel, THP mode) and every calibration figure with the range its calibrations spanned.
///
/// Two reports are only comparable when the machine under them was the same. A neighbour that
/// slows the memory system for a whole process slows every release loop of that process, and a
/// gate that compares anyway calls the code slower. The calibrations measure exactly those
/// resources (locked RMWs, descriptor lines, dependent loads, calls, locks) with loops that do
/// not change with the code under test, so a difference there is the machine's.
public struct MachineState: Sendable, Equatable {
    /// A calibration figure: the lowest of the run's calibrations and their range.
    public struct Figure: Sendable, Equatable {
        public let value: Double
        public let low: Double
        public let high: Double
    }

    /// cpu_model, llc_bytes, kernel, thp_mode as the report spells them.
    public let host: [String: String]
    /// Calibration figures by name (`CalibrationFigure.rawValue`); a memmap's as "memmap_line_ns@<bytes>".
    public let figures: [String: Figure]

    public init(host: [String: String], figures: [String: Figure]) {
        self.host = host
        self.figures = figures
    }

    static let hostKeys = ["cpu_model", "llc_bytes", "kernel", "thp_mode"]

    /// How far each figure may move between two processes of the same binary on an unchanged
    /// machine, by figure name (`CalibrationFigure.tolerance` says how they were found).
    public static let tolerance: [String: Double] = Dictionary(
        uniqueKeysWithValues: CalibrationFigure.allCases.compactMap { f in f.tolerance.map { (f.rawValue, $0) } })

    /// The state a saved report carries; nil when it has no calibration (a report saved by an
    /// older gupbench, or by a command that does not calibrate).
    public static func read(json: [String: Any]) -> MachineState? {
        guard let calibration = json["calibration"] as? [String: Any] else { return nil }
        let machine = json["machine"] as? [String: Any] ?? [:]
        var host: [String: String] = [:]
        for key in hostKeys where machine[key] != nil { host[key] = Gate.text(machine[key]) }
        var figures: [String: Figure] = [:]
        func add(_ fields: [String: Any], _ kinds: [CalibrationFigure], suffix: String) {
            let spread = fields["spread"] as? [String: Any] ?? [:]
            for kind in kinds {
                guard let value = fields[kind.jsonKey], let v = (value as? NSNumber)?.doubleValue,
                      !(value is String), v > 0 else { continue }
                let range = spread[kind.jsonKey] as? [String: Any]
                let low = (range?["min"] as? NSNumber)?.doubleValue ?? v
                let high = (range?["max"] as? NSNumber)?.doubleValue ?? v
                figures[kind.rawValue + suffix] = Figure(value: v, low: low, high: high)
            }
        }
        add(calibration, CalibrationFigure.scalars, suffix: "")
        for memmap in calibration["memmaps"] as? [[String: Any]] ?? [] {
            guard let bytes = (memmap["bytes"] as? NSNumber)?.intValue else { continue }
            add(memmap, [.memmapLine], suffix: "@" + ByteSize.format(bytes))
        }
        guard !figures.isEmpty else { return nil }
        return MachineState(host: host, figures: figures)
    }

    /// One way the machine differs between a baseline and now.
    public struct Change: Sendable, Equatable, CustomStringConvertible {
        public let resource: String
        public let before: String
        public let now: String
        /// now ÷ before for a figure (above 1: slower now); nil for the host.
        public let ratio: Double?
        public let tolerance: Double?

        public var description: String {
            guard let ratio, let tolerance else { return "\(resource): \(before) before, \(now) now" }
            return "\(resource): \(before) -> \(now) ns (x\(Fmt.ratio(ratio)); unchanged machines stay within "
                + "x\(Fmt.ratio(1 / tolerance))-x\(Fmt.ratio(tolerance)), and the two runs' calibrations do not overlap)"
        }
    }

    /// Where `now` differs from `before` beyond what unchanged machines do: another host, or a
    /// figure whose ratio is outside its tolerance and whose two ranges do not overlap (a
    /// figure that one calibration of each run measured alike has not changed, whatever the
    /// lowest ones say). Figures only one side has are not compared.
    public static func changes(before: MachineState, now: MachineState,
                               tolerance: [String: Double] = MachineState.tolerance) -> [Change] {
        var out: [Change] = []
        for key in hostKeys {
            if let b = before.host[key], let n = now.host[key], b != n {
                out.append(Change(resource: key, before: b, now: n, ratio: nil, tolerance: nil))
            }
        }
        guard out.isEmpty else { return out }  // another host: its figures say nothing more
        for name in before.figures.keys.sorted() {
            guard let b = before.figures[name], let n = now.figures[name],
                  let t = tolerance[toleranceKey(name)] else { continue }
            let ratio = n.value / b.value
            let outside = ratio > t || ratio < 1 / t
            let apart = n.low > b.high || b.low > n.high
            if outside && apart {
                out.append(Change(resource: name, before: Fmt.ns(b.value), now: Fmt.ns(n.value), ratio: ratio,
                                  tolerance: t))
            }
        }
        return out
    }

    /// A memmap figure's tolerance is its kind's, whatever the memmap's size.
    static func toleranceKey(_ name: String) -> String {
        name.split(separator: "@").first.map(String.init) ?? name
    }
}
