import Foundation

/// Sizes as people write them: `64MiB`, `1GiB`, `2M`, `4096`.
public enum ByteSize {
    static let units: [(suffix: String, shift: Int)] = [
        ("KiB", 10), ("MiB", 20), ("GiB", 30), ("TiB", 40),
        ("K", 10), ("M", 20), ("G", 30), ("T", 40), ("B", 0),
    ]

    /// Parses a size for `option`; positive, a whole number of 4 KiB pages, at most 1 PiB.
    public static func parse(_ text: String, option: String = "--size") throws -> Int {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var digits = trimmed
        var shift = 0
        for unit in units where trimmed.hasSuffix(unit.suffix) {
            digits = String(trimmed.dropLast(unit.suffix.count))
            shift = unit.shift
            break
        }
        let hint = "use a positive number of bytes with an optional suffix KiB, MiB, GiB (e.g. 64MiB)"
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let value = Int(digits) else {
            throw GUPBenchError.usage("\(option) '\(text)' is not a size; \(hint)")
        }
        guard value > 0 else {
            throw GUPBenchError.usage("\(option) '\(text)' must be greater than zero; \(hint)")
        }
        guard value <= (1 << 50) >> shift else {
            throw GUPBenchError.usage("\(option) '\(text)' is absurdly large; at most 1PiB")
        }
        let bytes = value << shift
        guard bytes % 4096 == 0 else {
            throw GUPBenchError.usage(
                "\(option) '\(text)' is not a whole number of 4KiB pages; use a multiple of 4KiB")
        }
        return bytes
    }

    /// 1073741824 → "1GiB", 3145728 → "3MiB", 6144 → "6KiB".
    public static func format(_ bytes: Int) -> String {
        for (suffix, shift) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)]
        where bytes >= 1 << shift && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift)\(suffix)"
        }
        return "\(bytes)B"
    }
}
