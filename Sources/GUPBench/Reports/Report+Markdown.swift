import Foundation

extension Report {
    /// The compare table as GitHub markdown, the title in bold and the footer as a list.
    public func renderMarkdown() -> String {
        "**" + title().replacingOccurrences(of: "\n", with: "**  \n") + "\n\n"
            + compareTable().markdown() + "\n" + (lockTable().map { $0.markdown() + "\n" } ?? "")
            + footer().split(separator: "\n").map { "- " + $0 }.joined(separator: "\n") + "\n"
    }
}
