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

    /// The widest line a table prints; a wider one wraps by columns (below).
    public static let maxWidth = 160

    /// The table as text. A table wider than `maxWidth` is printed as several tables one under
    /// another, each with the label columns and as many of the other columns as fit, so every
    /// scenario keeps its labels and no line is wider than a terminal's 160 columns.
    public func rendered(maxWidth: Int = TextTable.maxWidth) -> String {
        let all = [header] + rows
        let widths = header.indices.map { c in all.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
        let labels = Array(0..<min(labelColumns, header.count))
        let labelWidth = labels.map { widths[$0] + 2 }.reduce(0, +)
        if widths.map({ $0 + 2 }).reduce(0, +) - 2 <= maxWidth || labelColumns >= header.count {
            return renderedColumns(Array(header.indices), widths)
        }
        var groups: [[Int]] = []
        var current: [Int] = []
        var width = labelWidth
        for c in labelColumns..<header.count {
            if !current.isEmpty && width + widths[c] > maxWidth {
                groups.append(current)
                current = []
                width = labelWidth
            }
            current.append(c)
            width += widths[c] + 2
        }
        if !current.isEmpty { groups.append(current) }
        return groups.map { renderedColumns(labels + $0, widths) }.joined(separator: "\n\n")
    }

    private func renderedColumns(_ columns: [Int], _ widths: [Int]) -> String {
        func line(_ cells: [String]) -> String {
            columns.map { c in
                let cell = c < cells.count ? cells[c] : ""
                let pad = String(repeating: " ", count: max(0, widths[c] - cell.count))
                return c >= labelColumns && Self.looksNumeric(cell) ? pad + cell : cell + pad
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
        let rule = columns.map { String(repeating: "─", count: widths[$0]) }.joined(separator: "  ")
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
