import ArgumentParser
import Foundation
import GUPBench

/// A comma-separated option value: `--backing 4k,thp`, `--threads 1,2`. The parser hands over
/// the text; the items are checked here, against the option's name, so a bad item is one usage
/// line naming it and what is valid ("--backing '2m' is not valid; valid values: …"), an empty
/// item or a value given twice likewise.
struct CommaList: ExpressibleByArgument, ExpressibleByStringLiteral, CustomStringConvertible, Equatable {
    let text: String

    init?(argument: String) { text = argument }
    init(stringLiteral value: String) { text = value }

    var description: String { text }
    var defaultValueDescription: String { text }

    /// The items, trimmed; none empty, none twice.
    func items(_ option: String) throws -> [String] {
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmed }
        guard !items.isEmpty, !items.contains(where: \.isEmpty) else {
            throw GUPBenchError.usage("\(option) '\(text)' has an empty item; give a comma-separated list")
        }
        // A value twice would measure the same scenario twice under one label.
        if let twice = items.enumerated().first(where: { items[..<$0.offset].contains($0.element) })?.element {
            throw GUPBenchError.usage("\(option) '\(text)' names '\(twice)' twice; give each value once")
        }
        return items
    }

    /// Named choices: each item one of `E`'s spellings.
    func choices<E: CaseIterable & RawRepresentable>(_ option: String) throws -> [E] where E.RawValue == String {
        try items(option).map { try E.parse($0, option: option) }
    }

    /// Whole numbers in `range`; `single` refuses a list.
    func ints(_ option: String, range: ClosedRange<Int>, single: Bool = false) throws -> [Int] {
        let items = try items(option)
        if single && items.count > 1 {
            throw GUPBenchError.usage("\(option) '\(text)' takes one number, not a list")
        }
        return try items.map { item in
            guard let n = Int(item) else {
                throw GUPBenchError.usage("\(option) '\(item)' is not a whole number; valid: \(range.lowerBound)-\(range.upperBound)")
            }
            guard range.contains(n) else {
                throw GUPBenchError.usage("\(option) \(n) is out of range; valid: \(range.lowerBound)-\(range.upperBound)")
            }
            return n
        }
    }
}
