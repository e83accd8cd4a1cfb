import Foundation

/// A plain text table: a header row, data rows, columns padded; numbers right-aligned.
public struct TextTable {
    public var header: [String]
    public var rows: [[String]] = []
    /// The first `labelColumns` columns are labels: always left-aligned.
    public var labelColumns: Int

    public init(header: [String], labelColumns: Int = 1) {
        self.header = header
        self.labelColumns = labelColumns
    }

    public mutating func add(_ row: [String]) { rows.append(row) }

    public func rendered() -> String {
        let all = [header] + rows
        let widths = header.indices.map { c in all.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.indices.map { c in
                let cell = cells[c]
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                return c >= labelColumns && Self.looksNumeric(cell) ? pad + cell : cell + pad
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
        let rule = widths.map { String(repeating: "─", count: $0) }.joined(separator: "  ")
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
    }

    /// The same data as a GitHub-flavoured markdown table.
    public func markdown() -> String {
        let esc = { (s: String) in s.replacingOccurrences(of: "|", with: "\\|") }
        var out = "| " + header.map(esc).joined(separator: " | ") + " |\n"
        out += "|" + header.indices.map { c in
            c >= labelColumns && rows.allSatisfy { c < $0.count && Self.looksNumeric($0[c]) } ? "---:|" : "---|"
        }.joined() + "\n"
        for row in rows { out += "| " + row.map(esc).joined(separator: " | ") + " |\n" }
        return out
    }

    static func looksNumeric(_ s: String) -> Bool {
        guard let first = s.first else { return false }
        return first.isNumber || first == "~" || (first == "-" && s.count > 1) || first == "["
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
