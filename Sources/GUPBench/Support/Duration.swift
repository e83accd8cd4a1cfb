/// A time given on the command line: "1ms", "500us", "250000ns", "0.002s", or a bare number of
/// seconds ("0" = none).
public enum DurationText {
    static let units: [(suffix: String, ns: Double)] = [("ns", 1), ("us", 1e3), ("ms", 1e6), ("s", 1e9)]

    /// Nanoseconds; throws a usage error naming the option, the value and what is valid.
    public static func parseNs(_ text: String, option: String, max: Double = 10e9) throws -> Double {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        // The longest suffix first: "ms" before "s".
        let unit = units.sorted { $0.suffix.count > $1.suffix.count }.first { t.hasSuffix($0.suffix) }
        let number = unit.map { String(t.dropLast($0.suffix.count)) } ?? t
        guard let value = Double(number), value.isFinite, value >= 0, value * (unit?.ns ?? 1e9) <= max else {
            throw GUPBenchError.usage("\(option) '\(text)' is not a time from 0 to \(format(max)); "
                + "write it as 1ms, 500us, 250000ns or 0.002s")
        }
        return value * (unit?.ns ?? 1e9)
    }

    /// "1ms", "500us", "2.5s": the largest unit that keeps the number at least 1.
    public static func format(_ ns: Double) -> String {
        if ns == 0 { return "0" }
        let unit = units.reversed().first { ns >= $0.ns } ?? units[0]
        let v = ns / unit.ns
        return (v == v.rounded() ? String(Int(v)) : String(format: "%g", v)) + unit.suffix
    }
}
