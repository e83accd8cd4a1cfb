import Foundation

/// Number formats shared by every renderer.
public enum Fmt {
    /// ns with three significant figures: 0.123, 5.21, 38.4, 412.
    public static func ns(_ x: Double) -> String {
        guard x.isFinite else { return "-" }
        if x >= 100 { return String(format: "%.0f", x) }
        if x >= 10 { return String(format: "%.1f", x) }
        if x >= 1 { return String(format: "%.2f", x) }
        return String(format: "%.3f", x)
    }

    /// 3.81x [3.70-3.93]
    public static func speedup(_ m: Double, _ lo: Double, _ hi: Double) -> String {
        "\(ratio(m))x [\(bound(lo))-\(bound(hi))]"
    }

    /// A CI bound as `ratio` prints it, with more digits when those would put it on the other
    /// side of 1 or on 1 itself: 0.9996 is "0.9996", never "1.00" beside "slower".
    public static func bound(_ x: Double) -> String {
        let text = ratio(x)
        guard x.isFinite, x != 1, x < 10, let shown = Double(text), shown == 1 || (shown > 1) != (x > 1) else {
            return text
        }
        for digits in 3...9 {
            let more = String(format: "%.\(digits)f", x)
            if let v = Double(more), v != 1, (v > 1) == (x > 1) { return more }
        }
        return String(x)
    }

    public static func ratio(_ x: Double) -> String {
        guard x.isFinite else { return "-" }
        if x >= 100 { return String(format: "%.0f", x) }
        if x >= 10 { return String(format: "%.1f", x) }
        return String(format: "%.2f", x)
    }

    /// 1.4e8 pages/s → "140M/s"
    public static func rate(_ x: Double) -> String {
        guard x.isFinite else { return "-" }
        if x >= 1e9 { return String(format: "%.2fG/s", x / 1e9) }
        if x >= 1e6 { return String(format: "%.0fM/s", x / 1e6) }
        return String(format: "%.0fk/s", x / 1e3)
    }

    /// 0.0031, 0.42, 1: two significant digits, never rounded to 0.
    public static func pValue(_ x: Double) -> String {
        guard x.isFinite else { return "-" }
        return String(format: "%.2g", x)
    }

    public static func percent(_ x: Double) -> String {
        guard x.isFinite else { return "-" }
        return String(format: "%.0f%%", x * 100)
    }
}
