import Foundation
import Testing
@testable import GUPBench

/// `Strategy.allCases` is the only list of strategies: what names them elsewhere (the command
/// line, the README's table) is checked against it, so adding a strategy is its file plus one
/// line in the registry.
@Suite struct RegistryTests {
    static let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("README.md")

    /// The strategy names in the first column of the README's "strategies, in kernel terms" table.
    static func readmeStrategies() throws -> [String] {
        let text = try String(contentsOf: readme, encoding: .utf8)
        let section = try #require(text.components(separatedBy: "## The strategies, in kernel terms").dropFirst().first)
        let rows = section.split(separator: "\n").drop { !$0.hasPrefix("|") }.prefix { $0.hasPrefix("|") }
        return rows.dropFirst(2).compactMap { row in
            let cell = row.split(separator: "|").first.map(String.init) ?? ""
            guard let open = cell.firstIndex(of: "`"), let close = cell[cell.index(after: open)...].firstIndex(of: "`")
            else { return nil }
            return String(cell[cell.index(after: open)..<close])
        }
    }

    @Test func theREADMETableListsTheRegistryInOrder() throws {
        #expect(try Self.readmeStrategies() == Strategy.allCases.map(\.rawValue))
    }

    @Test func everyNameParsesBackToItsEntryAndNamesAreUnique() {
        for s in Strategy.allCases { #expect(Strategy(rawValue: s.rawValue) == s) }
        #expect(Set(Strategy.allCases.map(\.rawValue)).count == Strategy.allCases.count)
        #expect(Set(Strategy.allCases.map(\.shortName)).count == Strategy.allCases.count)
    }

    /// A strategy compared with another names one in the registry; --last-ref needs both loops.
    @Test func entriesAreCompleteOnTheirOwn() {
        for s in Strategy.allCases {
            if let other = s.comparedWith { #expect(Strategy(rawValue: other) != nil, "\(s) compares with \(other)") }
            #expect((s.lastRefSwiftLoop == nil) == (s.lastRefCLoop == nil), "\(s): --last-ref in one implementation only")
        }
        #expect(Strategy.defaultSet == Strategy.allCases.filter(\.runByDefault))
    }
}
