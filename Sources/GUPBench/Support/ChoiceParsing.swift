import Foundation

extension CaseIterable where Self: RawRepresentable, RawValue == String {
    /// "4k, thp, hugetlb": the valid spellings, for error messages.
    public static var validList: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// Parses one spelling or throws a usage error naming the option, the value and the choices.
    public static func parse(_ text: String, option: String) throws -> Self {
        guard let value = Self(rawValue: text.trimmingCharacters(in: .whitespaces)) else {
            throw GUPBenchError.usage(
                "\(option) '\(text)' is not valid; valid values: \(validList)")
        }
        return value
    }
}
