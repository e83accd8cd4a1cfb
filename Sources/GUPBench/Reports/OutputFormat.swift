public enum OutputFormat: String, CaseIterable, Sendable, Codable {
    case table, json, csv, markdown
}
